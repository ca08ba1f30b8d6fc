// SPDX-License-Identifier: Apache-2.0
//
// The values the BLE scanner is configured with and shows to others
// (REST, /api/v1/health): options, the scanner's state, a discovered device,
// a commissioned sensor's health, and their JSON. Plain values, no threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vigil/clock.h"
#include "vigil/model.h"

namespace vigil::ble {

struct ScannerOptions {
  std::string adapter = "hci0";  // adapter name; object path /org/bluez/<name>
  int discovery_silence_restart_s = 120;
  int stale_device_s = 900;
  int waveform_pull_interval_s = 3600;
  int missed_intervals_alert = 3;
  int sensor_poll_s = 5;          // re-read the sensors table (commissioning while running)
  int bluez_retry_s = 5;          // retry GetManagedObjects/StartDiscovery after a failure
  int health_flush_s = 30;        // persist ble_sensor_health
  int waveform_first_delay_s = 5;  // first pull after a sensor is first heard
  int waveform_retry_s = 60;
  int waveform_max_attempts = 3;
  int waveform_trigger_min_gap_s = 300;       // at most one triggered pull per 5 min
  double waveform_trigger_velocity_mm_s = 4.5;  // ISO 10816 class II zone B/C
  double battery_low_pct = 15;
  double battery_ok_pct = 25;  // re-arms the low-battery alert
  int sensor_alert_min_gap_s = 3600;  // one alert per condition and sensor at most this often
  int rssi_reading_interval_s = 60;  // rssi_dbm readings per sensor
  TimestampMs interval_min_gap_ms = 1000;  // gaps below this are one burst
  std::size_t max_devices = 8192;        // device table bound
  // Relayed adverts a second per relay (ble.relay_rate_per_s; applied by
  // BleService before the scanner sees them).
  int relay_rate_per_s = 1000;
  std::size_t max_removals_per_tick = 64;
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds connect_timeout{15000};
  std::chrono::milliseconds gatt_timeout{5000};
  std::chrono::milliseconds services_resolve_wait{5000};  // after Connect, for the GATT characteristics
};

enum class BleState { kStarting, kNoBus, kBluezUnavailable, kNoAdapter, kAdapterOff, kScanning, kDiscoveryFailed };
const char* to_string(BleState s);

struct DiscoveredDevice {
  std::string address;
  std::string name;
  std::optional<int> rssi_dbm;
  std::string format = "unknown";  // bthome | vigil | unknown
  TimestampMs first_seen = 0, last_seen = 0;
  std::uint64_t adverts = 0;
  bool commissioned = false;
  bool decommissioned = false;  // a decommissioned sensor's: ignored, not "discovered"
};

struct SensorHealth {
  Id sensor_id = 0;
  std::string address;
  std::string name;
  std::optional<Id> position_id;
  TimestampMs last_seen = 0;
  std::optional<int> rssi_dbm;  // of the last advert, by whichever radio heard it
  std::string heard_via;        // "radio" | "relay:<topic>"; empty = not heard since start
  std::optional<double> battery_pct;
  double advert_rate_per_min = 0;
  std::optional<TimestampMs> expected_interval_ms;
  std::uint64_t adverts = 0;
  std::uint64_t frames_accepted = 0;
  std::uint64_t readings_rejected = 0;  // by ingest
  std::uint64_t counter_resets = 0;
  std::optional<std::uint32_t> last_counter;  // replay state, persisted
  // Frames lost between the sensor and this gateway since start: gaps in the
  // frame counter (or plain BTHome packet id) of accepted frames; see
  // SensorHealthTracker::on_frame. Not persisted.
  std::uint64_t frames_lost = 0;
  // frames_lost / (frames_lost + frames in sequence since start); empty until
  // two frames with a counter or packet id were accepted.
  std::optional<double> loss_ratio;
  std::map<std::string, std::uint64_t> rejected;  // protocol reject reason → count
  std::uint64_t waveforms = 0, waveform_failures = 0;
  TimestampMs last_waveform = 0;
  std::string last_error;
};

nlohmann::json to_json(const DiscoveredDevice& d);
nlohmann::json to_json(const SensorHealth& h);
std::string iso8601_utc(TimestampMs ts);

}  // namespace vigil::ble
