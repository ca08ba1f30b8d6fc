// SPDX-License-Identifier: Apache-2.0
//
// The quantity catalog: every metric name vigil knows (what a sensor
// measures, e.g. velocity_rms_mm_s), its unit and its physical range. Not to
// be confused with the Prometheus registry of the process's own counters
// (vigil/metrics_registry.h).
#include <array>

#include "vigil/ingest.h"

namespace vigil {
namespace {
// Ranges are physical plausibility limits, not alarm levels: a value outside
// them is a broken sensor or a decoding error, never a machine state.
constexpr std::array<MetricInfo, 69> kMetrics{{
    {"velocity_rms_mm_s", "mm/s", 0, 2000},
    {"accel_rms_g", "g", 0, 500},
    {"accel_peak_g", "g", 0, 2000},
    {"crest_factor", "", 0, 1000},
    {"kurtosis", "", 0, 100000},
    {"temperature_c", "°C", -80, 400},
    {"battery_pct", "%", 0, 100},
    {"battery_v", "V", 0, 10},
    {"rssi_dbm", "dBm", -130, 20},
    {"humidity_pct", "%", 0, 100},
    {"pressure_hpa", "hPa", 0, 20000},
    {"illuminance_lux", "lx", 0, 200000},
    {"power_w", "W", -1e7, 1e7},
    {"energy_kwh", "kWh", 0, 1e9},
    {"voltage_v", "V", -1e5, 1e5},
    {"current_a", "A", -1e5, 1e5},
    {"door_open", "", 0, 1},
    {"motion", "", 0, 1},
    {"running", "", 0, 1},
    {"speed_rpm", "rpm", 0, 200000},
    {"co2_ppm", "ppm", 0, 100000},
    {"count", "", -2.2e9, 4.3e9},
    {"dewpoint_c", "°C", -80, 100},
    {"acceleration_m_s2", "m/s²", 0, 20000},
    // BTHome v2 objects (src/protocol/bthome.cpp maps object ids to these).
    {"mass_kg", "kg", 0, 1e6},
    {"mass_lb", "lb", 0, 2.2e6},
    {"pm25_ug_m3", "µg/m³", 0, 100000},
    {"pm10_ug_m3", "µg/m³", 0, 100000},
    {"tvoc_ug_m3", "µg/m³", 0, 100000},
    {"moisture_pct", "%", 0, 100},
    {"rotation_deg", "°", -3600, 3600},
    {"distance_m", "m", 0, 100000},
    {"duration_s", "s", 0, 1e8},
    {"speed_m_s", "m/s", -10000, 10000},
    {"uv_index", "", 0, 30},
    {"volume_l", "L", 0, 1e10},
    {"volume_flow_m3_h", "m³/h", 0, 1e6},
    {"gas_m3", "m³", 0, 1e10},
    {"water_l", "L", 0, 1e10},
    {"volume_storage_l", "L", 0, 1e10},
    {"gyroscope_deg_s", "°/s", -100000, 100000},
    {"conductivity_us_cm", "µS/cm", 0, 100000},
    {"direction_deg", "°", 0, 360},
    {"precipitation_mm", "mm", 0, 100000},
    // BTHome binary sensors: 0/1 as sent (0x1F lock: 1 = unlocked).
    {"binary", "", 0, 1},
    {"power_on", "", 0, 1},
    {"opening", "", 0, 1},
    {"battery_low", "", 0, 1},
    {"charging", "", 0, 1},
    {"co_detected", "", 0, 1},
    {"cold", "", 0, 1},
    {"connectivity", "", 0, 1},
    {"garage_door_open", "", 0, 1},
    {"gas_detected", "", 0, 1},
    {"heat", "", 0, 1},
    {"light", "", 0, 1},
    {"unlocked", "", 0, 1},
    {"moisture_detected", "", 0, 1},
    {"moving", "", 0, 1},
    {"occupancy", "", 0, 1},
    {"plug", "", 0, 1},
    {"presence", "", 0, 1},
    {"problem", "", 0, 1},
    {"safety", "", 0, 1},
    {"smoke", "", 0, 1},
    {"sound", "", 0, 1},
    {"tamper", "", 0, 1},
    {"vibration", "", 0, 1},
    {"window_open", "", 0, 1},
}};
}  // namespace

bool valid_metric_name(std::string_view m) {
  if (m.empty() || m.size() > 64) return false;
  if (!(m[0] >= 'a' && m[0] <= 'z')) return false;
  for (char c : m) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

const MetricInfo* find_metric(std::string_view metric) {
  // Per-axis variants share the base metric's range: "velocity_rms_mm_s.x".
  auto dot = metric.find('.');
  std::string_view base = dot == std::string_view::npos ? metric : metric.substr(0, dot);
  for (const auto& m : kMetrics)
    if (base == m.name) return &m;
  return nullptr;
}

}  // namespace vigil
