// SPDX-License-Identifier: Apache-2.0
//
// Clock: the one seam through which vigil reads time. Production uses
// SystemClock; tests and the demo's accelerated plant use ManualClock or
// ScaledClock so logic that depends on time is deterministic.
//
// Timestamps everywhere in vigil are int64 milliseconds since the Unix epoch,
// UTC (TimestampMs). Thread-safety: all implementations are safe to call from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace vigil {

using TimestampMs = std::int64_t;

// The timestamps vigil stores and accepts in a range: years 0001 to 9999.
// Any range a client chooses is clamped to these first, so differences and
// roundings of two timestamps (to - from, floor to the hour) cannot overflow.
inline constexpr TimestampMs kMinTimestampMs = -62135596800000LL;  // 0001-01-01T00:00:00Z
inline constexpr TimestampMs kMaxTimestampMs = 253402300799999LL;  // 9999-12-31T23:59:59.999Z
constexpr TimestampMs clamp_timestamp(TimestampMs t) {
  return t < kMinTimestampMs ? kMinTimestampMs : (t > kMaxTimestampMs ? kMaxTimestampMs : t);
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimestampMs now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampMs start = 0) : t_(start) {}
  TimestampMs now_ms() const override { return t_.load(); }
  void set(TimestampMs t) { t_.store(t); }
  void advance(TimestampMs d) { t_.fetch_add(d); }

 private:
  std::atomic<TimestampMs> t_;
};

// Runs `factor` times faster than real time from `origin` (the demo plant).
// Elapsed time is measured on the monotonic clock, so a step of the wall
// clock (NTP, an operator's `date -s`) neither rewinds nor jumps the plant.
class ScaledClock final : public Clock {
 public:
  ScaledClock(TimestampMs origin, double factor)
      : origin_(origin), factor_(factor), start_(std::chrono::steady_clock::now()) {}
  TimestampMs now_ms() const override {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
    return origin_ + static_cast<TimestampMs>(static_cast<double>(elapsed) * factor_);
  }
  double factor() const { return factor_; }

 private:
  TimestampMs origin_;
  double factor_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vigil
