// SPDX-License-Identifier: Apache-2.0
#include "app/self_monitor.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>

namespace vigil::app {

SelfMonitor::SelfMonitor(MonitoringConfig config, SelfProbes probes, Sink sink)
    : cfg_(config), p_(std::move(probes)), sink_(std::move(sink)) {}

void SelfMonitor::raise(const char* kind, const std::string& severity, const std::string& title,
                        const std::string& why) {
  alerts::ExternalAlert e;
  e.source = "gateway";
  e.kind = kind;
  e.model = "gateway";
  e.severity = severity;
  e.title = title;
  e.explanation = why;
  auto s = sink_(e);
  if (!s.ok()) spdlog::warn("self-monitoring: {}: alert not raised: {}", kind, s.ToString());
  ++raised_;
}

std::int64_t SelfMonitor::held(std::optional<std::int64_t>& since, bool now_bad, std::int64_t now) {
  if (!now_bad) {
    since.reset();
    return -1;
  }
  if (!since) since = now;
  return now - *since;
}

namespace {
std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
}  // namespace

void SelfMonitor::check() {
  const std::int64_t mono = p_.monotonic_ms ? p_.monotonic_ms() : 0;

  if (p_.disk_free_pct && (cfg_.disk_free_warning_pct > 0 || cfg_.disk_free_alarm_pct > 0)) {
    if (auto free = p_.disk_free_pct()) {
      const bool alarm = cfg_.disk_free_alarm_pct > 0 && *free < cfg_.disk_free_alarm_pct;
      if (alarm || *free < cfg_.disk_free_warning_pct)
        raise("disk_low", alarm ? "alarm" : "warning", "Gateway disk nearly full",
              fmt1(*free) + " % free on the database's disk (warning below " + fmt1(cfg_.disk_free_warning_pct) +
                  " %, alarm below " + fmt1(cfg_.disk_free_alarm_pct) + " %); old raw data is kept until retention "
                  "removes it — free space or shorten storage.raw_retention_days");
    }
  }

  if (p_.uplink_connected && cfg_.uplink_down_alert_min > 0) {
    auto up = p_.uplink_connected();
    const std::int64_t h = held(uplink_since_, up.has_value() && !*up, mono);
    if (h >= cfg_.uplink_down_alert_min * 60'000LL)
      raise("uplink_down", "warning", "Gateway uplink disconnected",
            "the MQTT uplink has been disconnected for " + std::to_string(h / 60'000) +
                " min; alerts and summaries wait in the outbox");
  }

  if (p_.ble_problem && cfg_.ble_down_alert_min > 0) {
    auto problem = p_.ble_problem();
    const std::int64_t h = held(ble_since_, problem.has_value(), mono);
    if (h >= cfg_.ble_down_alert_min * 60'000LL)
      raise("ble_down", "alarm", "Gateway Bluetooth adapter down",
            *problem + " for " + std::to_string(h / 60'000) + " min: no sensor is being heard");
  }

  if (p_.store_stats && cfg_.writer_lag_alert_s > 0) {
    const StoreStats st = p_.store_stats();
    const bool progressing = st.points_committed != last_committed_;
    last_committed_ = st.points_committed;
    const std::int64_t h = held(writer_since_, st.queued_points > 0 && !progressing, mono);
    if (h >= cfg_.writer_lag_alert_s * 1000LL)
      raise("writer_behind", "alarm", "Gateway store writer falling behind",
            std::to_string(st.queued_points) + " readings queued and none stored for " + std::to_string(h / 1000) +
                " s" + (st.last_error.empty() ? std::string() : ": " + st.last_error));
  }

  if (p_.wall_ms && p_.monotonic_ms && cfg_.clock_jump_alert_s > 0) {
    const TimestampMs wall = p_.wall_ms();
    if (last_clock_) {
      const double drift_s =
          static_cast<double>((wall - last_clock_->first) - (mono - last_clock_->second)) / 1000.0;
      if (std::fabs(drift_s) > cfg_.clock_jump_alert_s)
        raise("clock_jump", "warning", "Gateway clock jumped",
              "the wall clock moved " + fmt1(drift_s) + " s against the monotonic clock between two checks; "
              "readings around this time may carry wrong timestamps (check NTP and the RTC)");
    }
    last_clock_ = {wall, mono};
  }
}

}  // namespace vigil::app
