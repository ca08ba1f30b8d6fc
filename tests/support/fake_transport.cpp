// SPDX-License-Identifier: Apache-2.0
#include "vigil_test/fake_transport.h"


namespace vigil::uplink {

void FakeTransport::set_handlers(TransportHandlers h) {
  std::lock_guard lk(s_->mu);
  s_->h = std::move(h);
}

Status FakeTransport::connect() {
  TransportHandlers h;
  bool ok;
  std::string why;
  {
    std::lock_guard lk(s_->mu);
    ++s_->connect_calls;
    ok = s_->accept_connect;
    why = s_->refuse_reason;
    s_->connected = ok;
    h = s_->h;
  }
  if (h.on_status) h.on_status(ok, ok ? Status::Ok() : Status::Unavailable(why));
  return Status::Ok();
}

void FakeTransport::disconnect() {
  std::lock_guard lk(s_->mu);
  s_->connected = false;
}

Result<int> FakeTransport::publish(const std::string& topic, const std::string& payload, int qos) {
  std::lock_guard lk(s_->mu);
  if (!s_->connected) return Status::Unavailable("fake: not connected");
  int mid = s_->next_mid++;
  s_->published.push_back({mid, topic, payload, qos});
  return mid;
}

Result<int> FakeTransport::publish_retained(const std::string& topic, const std::string& payload, int qos) {
  std::lock_guard lk(s_->mu);
  if (!s_->connected) return Status::Unavailable("fake: not connected");
  int mid = s_->next_mid++;
  s_->published.push_back({mid, topic, payload, qos, true});
  return mid;
}

Status FakeTransport::subscribe(const std::string& filter, int) {
  std::lock_guard lk(s_->mu);
  if (!s_->connected) return Status::Unavailable("fake: not connected");
  s_->subscriptions.push_back(filter);
  return Status::Ok();
}

void FakeTransport::ack(State& s, int mid, int reason) {
  TransportHandlers h;
  {
    std::lock_guard lk(s.mu);
    h = s.h;
  }
  if (h.on_puback) h.on_puback(mid, reason);
}

void FakeTransport::ack_all(State& s) {
  std::vector<int> mids;
  {
    std::lock_guard lk(s.mu);
    for (const auto& p : s.published) mids.push_back(p.mid);
  }
  for (int m : mids) ack(s, m);  // acks of unknown/old mids are ignored by the uplink
}

void FakeTransport::drop_connection(State& s, const std::string& why) {
  TransportHandlers h;
  {
    std::lock_guard lk(s.mu);
    s.connected = false;
    h = s.h;
  }
  if (h.on_status) h.on_status(false, Status::Unavailable(why));
}

void FakeTransport::deliver(State& s, const std::string& topic, const std::string& payload) {
  TransportHandlers h;
  {
    std::lock_guard lk(s.mu);
    h = s.h;
  }
  if (h.on_message) h.on_message(topic, payload);
}

}  // namespace vigil::uplink
