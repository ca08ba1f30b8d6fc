// SPDX-License-Identifier: Apache-2.0
#include "auth/rate_limit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vigil::auth {

std::string client_key(const std::string& remote) {
  in6_addr a6{};
  if (remote.find(':') == std::string::npos || inet_pton(AF_INET6, remote.c_str(), &a6) != 1) return remote;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(a6.s6_addr, kMapped, sizeof kMapped) == 0) {
    in_addr a4{};
    std::memcpy(&a4, a6.s6_addr + 12, 4);
    if (inet_ntop(AF_INET, &a4, buf, sizeof buf) != nullptr) return buf;
    return remote;
  }
  std::memset(a6.s6_addr + 8, 0, 8);
  if (inet_ntop(AF_INET6, &a6, buf, sizeof buf) == nullptr) return remote;
  return std::string(buf) + "/64";
}

std::int64_t TokenBucketLimiter::take(const std::string& key, TimestampMs now) {
  std::lock_guard lk(mu_);
  Bucket& b = table_.touch(key);
  if (b.tokens < 0) {
    b.tokens = p_.burst;
  } else if (now > b.at) {
    b.tokens = std::min(p_.burst, b.tokens + static_cast<double>(now - b.at) / 1000.0 * p_.per_second);
  }
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  if (p_.per_second <= 0) return 60000;  // no refill: try again in a minute
  const double ms = std::ceil((1.0 - b.tokens) / p_.per_second * 1000.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(ms));
}

void TokenBucketLimiter::give_back(const std::string& key) {
  std::lock_guard lk(mu_);
  if (Bucket* b = table_.find(key); b && b->tokens >= 0) b->tokens = std::min(p_.burst, b->tokens + 1);
}

std::size_t TokenBucketLimiter::size() {
  std::lock_guard lk(mu_);
  return table_.size();
}

std::int64_t FailureBackoff::wait_after(int failures) const {
  if (failures < p_.free_failures) return 0;
  const int k = failures - p_.free_failures;
  if (k >= 40) return p_.max_ms;
  const std::int64_t w = p_.base_ms << k;
  return std::min(w, p_.max_ms);
}

std::int64_t FailureBackoff::retry_after_ms(const std::string& key, TimestampMs now) {
  std::lock_guard lk(mu_);
  Entry* e = table_.find(key);
  if (!e) return 0;
  if (now - e->last >= p_.forget_after_ms) {
    table_.erase(key);
    return 0;
  }
  const std::int64_t until = e->last + wait_after(e->failures);
  return until > now ? until - now : 0;
}

void FailureBackoff::failure(const std::string& key, TimestampMs now) {
  std::lock_guard lk(mu_);
  Entry& e = table_.touch(key);
  if (e.failures > 0 && now - e.last >= p_.forget_after_ms) e.failures = 0;
  if (e.failures < 1000) ++e.failures;
  e.last = now;
}

void FailureBackoff::success(const std::string& key) {
  std::lock_guard lk(mu_);
  table_.erase(key);
}

std::size_t FailureBackoff::size() {
  std::lock_guard lk(mu_);
  return table_.size();
}

ConcurrencyLimit::Slot ConcurrencyLimit::try_acquire() {
  int cur = n_.load();
  while (cur < max_) {
    if (n_.compare_exchange_weak(cur, cur + 1)) return Slot(&n_);
  }
  return Slot();
}

}  // namespace vigil::auth
