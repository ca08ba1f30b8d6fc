// SPDX-License-Identifier: Apache-2.0
#include "http/conn_limits.h"

#include <algorithm>

namespace vigil::http {
namespace {
bool evictable(ConnPhase p) { return p != ConnPhase::kBusy; }
bool is_in_flight(ConnPhase p) { return p == ConnPhase::kReadingBody || p == ConnPhase::kBusy; }
}  // namespace

ConnectionLimiter::ConnectionLimiter(std::size_t max_total, std::size_t max_per_client)
    : max_total_(std::max<std::size_t>(1, max_total)), max_per_client_(std::max<std::size_t>(1, max_per_client)) {}

void ConnectionLimiter::index(std::uint64_t id, const Entry& e) {
  if (is_in_flight(e.phase)) ++in_flight_;
  if (!evictable(e.phase)) return;
  evictable_.insert(key_of(id, e));
  clients_[e.client].evictable.insert(key_of(id, e));
}

void ConnectionLimiter::unindex(std::uint64_t id, const Entry& e) {
  if (is_in_flight(e.phase)) --in_flight_;
  if (!evictable(e.phase)) return;
  evictable_.erase(key_of(id, e));
  auto c = clients_.find(e.client);
  if (c != clients_.end()) c->second.evictable.erase(key_of(id, e));
}

void ConnectionLimiter::forget(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  unindex(id, it->second);
  auto c = clients_.find(it->second.client);
  if (c != clients_.end() && --c->second.count == 0) clients_.erase(c);
  entries_.erase(it);
}

Admission ConnectionLimiter::admit(const std::string& client, std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  Admission a;
  auto c = clients_.find(client);
  const std::size_t mine = c == clients_.end() ? 0 : c->second.count;
  if (mine >= max_per_client_) {
    a.cap = ConnCap::kPerClient;
    if (c->second.evictable.empty()) return a;  // every one of its connections is busy
    a.evicted = std::get<2>(*c->second.evictable.begin());
  } else if (entries_.size() >= max_total_) {
    a.cap = ConnCap::kTotal;
    if (evictable_.empty()) return a;  // every slot is busy
    a.evicted = std::get<2>(*evictable_.begin());
  }
  if (a.evicted) forget(*a.evicted);
  a.admitted = true;
  a.id = next_id_++;
  Entry e{client, ConnPhase::kAwaitingHead, now_ms};
  clients_[client].count++;
  index(a.id, e);
  entries_.emplace(a.id, std::move(e));
  return a;
}

bool ConnectionLimiter::set_phase(std::uint64_t id, ConnPhase phase, std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  if (e.phase == phase) return true;  // keep `since`: the wait goes on
  unindex(id, e);
  e.phase = phase;
  e.since = now_ms;
  index(id, e);
  return true;
}

void ConnectionLimiter::release(std::uint64_t id) {
  std::lock_guard lk(mu_);
  forget(id);
}

std::size_t ConnectionLimiter::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

std::size_t ConnectionLimiter::in_flight() const {
  std::lock_guard lk(mu_);
  return in_flight_;
}

std::size_t ConnectionLimiter::client_connections(const std::string& client) const {
  std::lock_guard lk(mu_);
  auto c = clients_.find(client);
  return c == clients_.end() ? 0 : c->second.count;
}

}  // namespace vigil::http
