// SPDX-License-Identifier: Apache-2.0
#include "ble/scanner_types.h"

#include <cstdio>
#include <ctime>

namespace vigil::ble {
namespace {

using json = nlohmann::json;

json opt_ts(TimestampMs t) { return t ? json(iso8601_utc(t)) : json(nullptr); }
template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

const char* to_string(BleState s) {
  switch (s) {
    case BleState::kStarting: return "starting";
    case BleState::kNoBus: return "no_dbus";
    case BleState::kBluezUnavailable: return "bluez_unavailable";
    case BleState::kNoAdapter: return "no_adapter";
    case BleState::kAdapterOff: return "adapter_off";
    case BleState::kScanning: return "scanning";
    case BleState::kDiscoveryFailed: return "discovery_failed";
  }
  return "unknown";
}

std::string iso8601_utc(TimestampMs ts) {
  std::time_t t = static_cast<std::time_t>(ts / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ts % 1000));
  return buf;
}

json to_json(const DiscoveredDevice& d) {
  return {{"address", d.address},   {"name", d.name},
          {"rssi_dbm", opt(d.rssi_dbm)}, {"format", d.format},
          {"first_seen", opt_ts(d.first_seen)}, {"last_seen", opt_ts(d.last_seen)},
          {"adverts", d.adverts},   {"commissioned", d.commissioned},
          {"decommissioned", d.decommissioned}};
}

json to_json(const SensorHealth& h) {
  return {{"sensor_id", h.sensor_id},
          {"address", h.address},
          {"name", h.name},
          {"position_id", opt(h.position_id)},
          {"last_seen", opt_ts(h.last_seen)},
          {"rssi_dbm", opt(h.rssi_dbm)},
          {"heard_via", h.heard_via.empty() ? json(nullptr) : json(h.heard_via)},
          {"battery_pct", opt(h.battery_pct)},
          {"advert_rate_per_min", h.advert_rate_per_min},
          {"expected_interval_s", h.expected_interval_ms ? json(static_cast<double>(*h.expected_interval_ms) / 1000.0)
                                                         : json(nullptr)},
          {"adverts", h.adverts},
          {"frames_accepted", h.frames_accepted},
          {"readings_rejected", h.readings_rejected},
          {"counter_resets", h.counter_resets},
          {"frames_lost", h.frames_lost},
          {"loss_ratio", opt(h.loss_ratio)},
          {"frames_rejected", h.rejected},
          {"waveforms", h.waveforms},
          {"waveform_failures", h.waveform_failures},
          {"last_waveform", opt_ts(h.last_waveform)},
          {"last_error", h.last_error}};
}

}  // namespace vigil::ble
