// SPDX-License-Identifier: Apache-2.0
//
// Logging set-up. vigil logs through spdlog to stderr. Under systemd
// (JOURNAL_STREAM set) each line starts with a syslog "<N>" priority prefix,
// which journald turns into the entry's priority, and omits the timestamp
// journald already records.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "vigil/status.h"

namespace vigil::log {

// level: trace|debug|info|warn|error|off. Safe to call again (SIGHUP reload).
Status setup(const std::string& level);

// Keeps a flood of the same complaint (a hostile peer, a broken relay) from
// filling the journal: allow(key) is true for the first event of `key` in
// each period, false for the rest, which the caller logs at debug level
// (they are counted in metrics anyway). suppressed(key) is how many were
// held back since the last allowed one. Keys must come from a small fixed
// set (reasons, not peer-chosen text): at most kMaxKeys are tracked.
// Thread-safe.
class Throttle {
 public:
  static constexpr std::size_t kMaxKeys = 64;
  explicit Throttle(std::chrono::seconds period = std::chrono::seconds(60)) : period_(period) {}
  // True: log it now (at warn); `held_back` gets the events skipped since the last one.
  bool allow(const std::string& key, std::uint64_t* held_back = nullptr) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(mu_);
    auto it = last_.find(key);
    if (it == last_.end()) {
      if (last_.size() >= kMaxKeys) return false;
      it = last_.emplace(key, Entry{}).first;
    } else if (now - it->second.at < period_) {
      ++it->second.held;
      return false;
    }
    if (held_back) *held_back = it->second.held;
    it->second = Entry{now, 0};
    return true;
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point at{};
    std::uint64_t held = 0;
  };
  std::chrono::seconds period_;
  std::mutex mu_;
  std::map<std::string, Entry> last_;
};

}  // namespace vigil::log
