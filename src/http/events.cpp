// SPDX-License-Identifier: Apache-2.0
#include "http/events.h"

#include <algorithm>

namespace vigil::http {

std::string sse_frame(std::uint64_t id, const std::string& type, const std::string& data) {
  std::string out = "id: " + std::to_string(id) + "\nevent: " + type + "\n";
  std::size_t i = 0;
  while (true) {
    auto j = data.find('\n', i);
    out += "data: " + data.substr(i, j == std::string::npos ? std::string::npos : j - i) + "\n";
    if (j == std::string::npos) break;
    i = j + 1;
  }
  out += "\n";
  return out;
}

std::size_t EventHub::publish(const std::string& type, const std::string& json_data) {
  std::lock_guard lk(mu_);
  const std::uint64_t id = next_id_++;
  std::string frame = sse_frame(id, type, json_data);
  replay_.emplace_back(id, frame);
  while (replay_.size() > replay_max_) replay_.pop_front();
  std::size_t sent = 0;
  auto it = std::remove_if(sinks_.begin(), sinks_.end(), [&](const std::shared_ptr<StreamSink>& s) {
    if (s->send(frame)) {
      ++sent;
      return false;
    }
    ++dropped_;
    return true;
  });
  sinks_.erase(it, sinks_.end());
  return sent;
}

void EventHub::subscribe(std::shared_ptr<StreamSink> sink, std::uint64_t last_event_id) {
  std::lock_guard lk(mu_);
  if (!sink->send("retry: 3000\n: connected\n\n")) return;
  if (last_event_id > 0) {
    for (const auto& [id, frame] : replay_)
      if (id > last_event_id && !sink->send(frame)) return;
  }
  sinks_.push_back(std::move(sink));
}

std::size_t EventHub::clients() const {
  std::lock_guard lk(mu_);
  return sinks_.size();
}
std::uint64_t EventHub::published() const {
  std::lock_guard lk(mu_);
  return next_id_ - 1;
}
std::uint64_t EventHub::dropped() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

}  // namespace vigil::http
