// SPDX-License-Identifier: Apache-2.0
//
// Sensor-health alerts: what the BLE scanner raises and hands to whoever
// owns the `alerts` table (the alerts module; the gateway wires the sink).
//
// Contract. The scanner raises a SensorAlert each time it (re)detects a
// condition, at most once per condition and sensor per hour
// (ScannerOptions::sensor_alert_min_gap_s). A condition is a kind, and for
// "spoofing" also the rejection reason (bad_mic, replay, downgrade: each has
// its own title). The scanner does not deduplicate: opening one alert and
// updating it on repeats is the sink's job. It calls the sink on the BLE
// worker thread, never while holding the scanner's lock, so a sink may call
// the scanner's snapshot accessors; it must not block for long (adverts
// queue behind it). A non-ok Status is logged. With no sink set, the scanner
// logs the alert at warn. Either way vigil_ble_alerts_total counts it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::ble {

struct SensorAlert {
  std::string address;  // the sensor's MAC, "AA:BB:CC:DD:EE:FF"
  std::optional<Id> sensor_id, position_id, asset_id;
  std::string kind;      // "silent" | "battery_low" | "spoofing"
  std::string severity;  // "warning" | "alarm"
  std::string title;     // names the sensor and the condition; stable per condition
  std::string explanation;
};

using SensorAlertSink = std::function<Status(const SensorAlert&)>;

}  // namespace vigil::ble
