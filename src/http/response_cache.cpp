// SPDX-License-Identifier: Apache-2.0
#include "http/response_cache.h"

#include <utility>

namespace vigil::http {

ResponseCache::ResponseCache(std::chrono::milliseconds max_age, SteadyNow now)
    : max_age_(max_age), now_(std::move(now)) {}

std::chrono::steady_clock::time_point ResponseCache::now() const {
  return now_ ? now_() : std::chrono::steady_clock::now();
}

Response ResponseCache::get(std::uint64_t generation, const std::function<Response()>& build) {
  std::lock_guard lk(mu_);
  const auto t = now();
  if (cached_ && generation_ == generation && t - built_at_ < max_age_) {
    ++hits_;
    return *cached_;
  }
  // Built under the lock: a burst of misses (50 dashboards after one new
  // reading) costs one build, not fifty.
  Response r = build();
  ++builds_;
  if (r.status == 200 && !r.is_stream) {
    cached_ = r;
    generation_ = generation;
    built_at_ = t;
  } else {
    cached_.reset();
  }
  return r;
}

std::uint64_t ResponseCache::hits() const {
  std::lock_guard lk(mu_);
  return hits_;
}

std::uint64_t ResponseCache::builds() const {
  std::lock_guard lk(mu_);
  return builds_;
}

}  // namespace vigil::http
