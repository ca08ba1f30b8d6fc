// SPDX-License-Identifier: Apache-2.0
//
// SelfMonitor: the gateway watching itself. Each check() reads a few probes
// and raises an alert (model "gateway", source "gateway") through the alert
// service for a condition that has lasted long enough:
//   disk_low        free space on the database's disk below the warning
//                   (alarm) percentage
//   uplink_down     the uplink enabled and not connected for N minutes
//   ble_down        BLE enabled and the adapter missing/off/unusable for N minutes
//   writer_behind   readings queued for the store's writer and none committed
//                   for N seconds (the disk stalls, or writes fail)
//   clock_jump      the wall clock moved against the monotonic clock by more
//                   than N seconds between two checks (NTP step, RTC reset)
// A condition still present is raised again (the alert service updates the
// open alert's explanation and time rather than opening another); a person
// closes it, as every alert. Probes are plain functions (the seam): the
// gateway wires the real disk, uplink, BLE and store; tests wire fakes.
//
// Thread-safety: check() from one thread (the gateway's control strand).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "alerts/alerts.h"
#include "config/config.h"
#include "vigil/store.h"

namespace vigil::app {

struct SelfProbes {
  std::function<std::optional<double>()> disk_free_pct;     // nullopt: unknown
  std::function<std::optional<bool>()> uplink_connected;    // nullopt: uplink off
  std::function<std::optional<std::string>()> ble_problem;  // nullopt: fine or BLE off; else what is wrong
  std::function<StoreStats()> store_stats;
  std::function<TimestampMs()> wall_ms;       // CLOCK_REALTIME
  std::function<std::int64_t()> monotonic_ms;  // CLOCK_MONOTONIC
};

class SelfMonitor {
 public:
  using Sink = std::function<Status(const alerts::ExternalAlert&)>;
  SelfMonitor(MonitoringConfig config, SelfProbes probes, Sink sink);
  void check();
  // Conditions raised since start (for /metrics and tests).
  std::uint64_t raised() const { return raised_; }

 private:
  void raise(const char* kind, const std::string& severity, const std::string& title, const std::string& why);
  // How long (monotonic ms) a condition has held; resets when it stops.
  std::int64_t held(std::optional<std::int64_t>& since, bool now_bad, std::int64_t now);

  MonitoringConfig cfg_;
  SelfProbes p_;
  Sink sink_;
  std::optional<std::int64_t> uplink_since_, ble_since_, writer_since_;
  std::uint64_t last_committed_ = 0;
  std::optional<std::pair<TimestampMs, std::int64_t>> last_clock_;  // wall, monotonic at the last check
  std::uint64_t raised_ = 0;
};

}  // namespace vigil::app
