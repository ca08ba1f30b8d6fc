// SPDX-License-Identifier: Apache-2.0
//
// Domain value types shared by every module: the plant hierarchy
// (site → asset → position ← sensor), machine classes, readings, health
// states. Plain structs; no behaviour beyond string conversion and the
// validity rules of a machine class and of an envelope band.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/clock.h"
#include "vigil/status.h"

namespace vigil {

using Id = std::int64_t;

// Health states, lower case everywhere (API, DB, CSV). Ordered by severity
// for the states a running machine can be in.
enum class HealthState { kUnknown, kInitializing, kHealthy, kWarning, kAlarm, kNotRunning };
const char* to_string(HealthState s);
std::optional<HealthState> health_state_from_string(std::string_view s);
// Severity rank for roll-ups (asset = worst position): alarm > warning > healthy > ...
int severity(HealthState s);

enum class PositionType { kBearing, kCompressor, kFan, kGearbox, kMotor, kPump, kOther };
const char* to_string(PositionType t);
std::optional<PositionType> position_type_from_string(std::string_view s);

struct Site {
  Id id = 0;
  std::string name;
  std::string timezone = "UTC";
};

// Bearing geometry for defect frequencies (docs: domain.md).
struct BearingGeometry {
  int rolling_elements = 0;
  double element_diameter_mm = 0;
  double pitch_diameter_mm = 0;
  double contact_angle_deg = 0;
  friend bool operator==(const BearingGeometry&, const BearingGeometry&) = default;
};

struct Asset {
  Id id = 0;
  Id site_id = 0;
  std::string name;
  std::string machine_class = "iso10816_class2";  // key into the zone table
  double shaft_rpm = 0;                            // 0 = unknown / variable
  std::optional<BearingGeometry> bearing;
  // Envelope (demodulation) band, Hz: where this machine's housing or sensor
  // resonance rings, set by a reliability engineer. Both 0 = automatic (the
  // analytics' default band). See check_envelope_band.
  double envelope_lo_hz = 0, envelope_hi_hz = 0;
};

// The rule for an envelope band wherever one is set (REST, a dataset
// manifest): both 0 (automatic), or 100 <= lo < hi <= 50000 Hz.
// kInvalidArgument with a sentence naming what is wrong. The limit that
// needs the sample rate (hi <= 0.45·fs) is applied when a waveform is
// analysed (analytics::envelope_band_for).
inline constexpr double kMinEnvelopeHz = 100;
inline constexpr double kMaxEnvelopeHz = 50000;
Status check_envelope_band(double lo_hz, double hi_hz);

// ISO 10816 / 20816 velocity zone boundaries of a machine class: velocity
// RMS in mm/s where zone A ends (ab), B ends (bc) and C ends (cd).
struct ZoneLimits {
  double ab = 0, bc = 0, cd = 0;
  friend bool operator==(const ZoneLimits&, const ZoneLimits&) = default;
};

// Where a machine class comes from. A class of the same name in a later
// layer hides the earlier one: built-in < configuration
// (analytics.machine_classes) < user (added at runtime, kept in the store).
enum class ClassSource { kBuiltin, kConfig, kUser };
const char* to_string(ClassSource s);  // "builtin" | "config" | "user"

struct MachineClass {
  std::string name;
  ZoneLimits limits;
  ClassSource source = ClassSource::kUser;
  std::optional<ClassSource> hides;  // the layer beneath it with the same name
};

// The one rule for a machine class, wherever it comes from: a name of 1..64
// characters [A-Za-z0-9._-] and limits 0 < ab < bc < cd <= 1000 mm/s.
// kInvalidArgument with a sentence naming what is wrong.
inline constexpr double kMaxZoneLimitMmS = 1000;
bool valid_machine_class_name(std::string_view name);
Status check_machine_class(std::string_view name, const ZoneLimits& limits);

struct Position {
  Id id = 0;
  Id asset_id = 0;
  std::string name;
  PositionType type = PositionType::kOther;
};

struct Sensor {
  Id id = 0;
  std::string address;  // BLE MAC "AA:BB:CC:DD:EE:FF" or "sim:<name>"
  std::string name;
  std::string format;   // "vigil", "bthome", "sim"
  std::optional<Id> position_id;
  TimestampMs commissioned_at = 0;
  std::optional<TimestampMs> decommissioned_at;
};

// One value of one metric from one source at one time: the unit every source
// (simulator, BLE, replay) hands to the ingest path.
struct Reading {
  std::string source;  // sensor address
  std::string metric;  // e.g. "velocity_rms_mm_s", "temperature_c"
  TimestampMs ts = 0;
  double value = 0;
};

struct Series {
  Id id = 0;
  Id sensor_id = 0;
  std::optional<Id> position_id;
  std::string metric;
  std::string unit;
};

struct Point {
  TimestampMs ts = 0;
  double value = 0;
};

// A downsampled bucket (range queries with a point budget, hourly roll-ups).
struct Bucket {
  TimestampMs ts = 0;  // bucket start
  std::int64_t count = 0;
  double min = 0, max = 0, mean = 0;
};

// A raw waveform snapshot (all axes, interleaved per axis).
struct Waveform {
  Id id = 0;
  Id position_id = 0;
  TimestampMs ts = 0;
  double sample_rate_hz = 0;
  int axes = 1;
  double scale = 1.0;                 // physical units (g) per count
  std::vector<std::int16_t> samples;  // [axes][n]
};

}  // namespace vigil
