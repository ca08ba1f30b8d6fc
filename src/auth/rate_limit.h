// SPDX-License-Identifier: Apache-2.0
//
// A sliding-window failure counter for login attempts, keyed by user name
// and, separately, by client address: after `max_failures` failures within
// `window_ms` a key is locked until the oldest failure leaves the window.
// A success clears the user's key (not the address's).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "vigil/clock.h"

namespace vigil::auth {

class RateLimiter {
 public:
  RateLimiter(int max_failures = 5, std::int64_t window_ms = 15 * 60 * 1000)
      : max_(max_failures), window_(window_ms) {}
  // Milliseconds until `key` may try again; 0 = allowed now.
  std::int64_t retry_after_ms(const std::string& key, TimestampMs now);
  void failure(const std::string& key, TimestampMs now);
  void success(const std::string& key);

 private:
  void prune(std::deque<TimestampMs>& q, TimestampMs now) const;
  std::mutex mu_;
  int max_;
  std::int64_t window_;
  std::map<std::string, std::deque<TimestampMs>> failures_;
};

}  // namespace vigil::auth
