// SPDX-License-Identifier: Apache-2.0
//
// A sensor's configuration, desired and reported side by side (issue 18):
// measurement interval, waveform interval and advertising power.
//
// The table ble_sensor_config belongs to the ble module (its "ble"
// migrations, sensor_health_table.cpp); these functions are the only
// writers. A desired configuration is stored as pending; the
// SensorConfigApplier writes it over GATT (dfu_client.h config_apply) at the
// sensor's next connection window — the gateway just heard an advert, so
// the sensor listens — and stores what the sensor reports back: applied
// when it reports the desired seq, failed after kMaxConfigAttempts radio
// failures (retries back off from 30 s to an hour) or at once when the
// sensor refuses the value.
//
// Threading: blocking store calls; the applier runs on the BLE worker
// thread (BleService), the REST handlers on HTTP workers.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "protocol/dfu.h"
#include "vigil/store.h"

namespace vigil::ble {

class Scanner;

enum class ConfigState { kPending, kApplied, kFailed };
const char* config_state_name(ConfigState s);

struct SensorConfigRecord {
  Id sensor_id = 0;
  std::string address;
  protocol::SensorConfig desired;  // desired.seq counts the changes asked for
  TimestampMs desired_at = 0;
  std::string desired_by;
  std::optional<protocol::SensorConfig> reported;
  std::optional<std::uint32_t> reported_firmware;
  TimestampMs reported_at = 0;
  ConfigState state = ConfigState::kPending;
  std::string error;
  int attempts = 0;
  TimestampMs next_attempt_at = 0;
};
nlohmann::json to_json(const SensorConfigRecord& r);

inline constexpr int kMaxConfigAttempts = 5;

// The record of a sensor, or nullopt when no configuration was ever asked.
Result<std::optional<SensorConfigRecord>> load_sensor_config(Store& store, Id sensor_id);
// Stores `desired` (seq = the previous seq + 1) as pending, with an audit
// row, in one transaction. kInvalidArgument (naming the field) when out of
// the firmware's ranges: nothing stored.
Result<SensorConfigRecord> set_desired_config(Store& store, Id sensor_id, const std::string& address,
                                              protocol::SensorConfig desired, const std::string& actor,
                                              TimestampMs now);
// Pending records whose next attempt is due at `now`.
Result<std::vector<SensorConfigRecord>> due_sensor_configs(Store& store, TimestampMs now);
// The outcome of one attempt for the record's desired seq (ignored when a
// newer desired configuration was stored meanwhile).
Status record_config_attempt(Store& store, const SensorConfigRecord& attempted,
                             const Result<protocol::ReportedConfig>& outcome, TimestampMs now);

// Each sensor's reported waveform interval in seconds (address → seconds),
// for the waveform pull schedule; sensors that never reported one (or report
// 0) are absent and keep the gateway's ble.waveform_pull_interval_s.
Result<std::map<std::string, int>> reported_waveform_intervals(Store& store);

// Applies due configurations, one sensor per tick. Eligible: the sensor was
// heard within `window_ms` (its connection window is open after an advert).
class SensorConfigApplier {
 public:
  explicit SensorConfigApplier(TimestampMs window_ms = 30'000) : window_ms_(window_ms) {}
  // On the BLE worker thread. Checks the table at most every 5 s; hands the
  // scanner the reported waveform intervals at the first tick, after every
  // attempt and every minute (a change made elsewhere: a restore).
  void tick(Scanner& scanner, Store& store, TimestampMs now);

 private:
  void refresh_intervals(Scanner& scanner, Store& store, TimestampMs now);
  TimestampMs window_ms_;
  TimestampMs next_check_ = 0;
  TimestampMs next_intervals_ = 0;
};

}  // namespace vigil::ble
