// SPDX-License-Identifier: Apache-2.0
#include "auth/rate_limit.h"

namespace vigil::auth {

void RateLimiter::prune(std::deque<TimestampMs>& q, TimestampMs now) const {
  while (!q.empty() && q.front() <= now - window_) q.pop_front();
}

std::int64_t RateLimiter::retry_after_ms(const std::string& key, TimestampMs now) {
  std::lock_guard lk(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return 0;
  prune(it->second, now);
  if (static_cast<int>(it->second.size()) < max_) {
    if (it->second.empty()) failures_.erase(it);
    return 0;
  }
  return it->second.front() + window_ - now;
}

void RateLimiter::failure(const std::string& key, TimestampMs now) {
  std::lock_guard lk(mu_);
  auto& q = failures_[key];
  prune(q, now);
  q.push_back(now);
  // Bound memory against address-spraying: keep at most max_ per key and
  // forget the whole table if it grows absurdly.
  while (static_cast<int>(q.size()) > max_) q.pop_front();
  if (failures_.size() > 100000) failures_.clear();
}

void RateLimiter::success(const std::string& key) {
  std::lock_guard lk(mu_);
  failures_.erase(key);
}

}  // namespace vigil::auth
