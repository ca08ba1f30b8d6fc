// SPDX-License-Identifier: Apache-2.0
//
// ResponseCache: one cached GET response for a handler whose answer depends
// only on the database (and the time, coarsely), such as the fleet overview
// that every dashboard polls. The body is rebuilt when the data generation
// moves (Store::generation()) or the cached copy is older than max_age
// (writes by other processes, in-memory state, the response's own clock
// fields). Only 200 responses are kept.
//
// Thread-safety: every method may be called from any thread. Concurrent
// misses build once: the others wait for that build and share it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "http/http_types.h"

namespace vigil::http {

class ResponseCache {
 public:
  using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;
  // REQUIRES: max_age > 0. `now` is for tests; default steady_clock::now.
  explicit ResponseCache(std::chrono::milliseconds max_age, SteadyNow now = {});

  // The cached response when it was built at `generation` less than max_age
  // ago; otherwise build()'s response (cached when its status is 200).
  Response get(std::uint64_t generation, const std::function<Response()>& build);

  std::uint64_t hits() const;
  std::uint64_t builds() const;

 private:
  std::chrono::steady_clock::time_point now() const;

  const std::chrono::milliseconds max_age_;
  const SteadyNow now_;
  mutable std::mutex mu_;  // held across a build: misses build once
  std::optional<Response> cached_;
  std::uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point built_at_{};
  std::uint64_t hits_ = 0, builds_ = 0;
};

}  // namespace vigil::http
