// SPDX-License-Identifier: Apache-2.0
#include <array>

#include "vigil/ingest.h"

namespace vigil {
namespace {
// Ranges are physical plausibility limits, not alarm levels: a value outside
// them is a broken sensor or a decoding error, never a machine state.
constexpr std::array<MetricInfo, 24> kMetrics{{
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
    {"count", "", 0, 4.3e9},
    {"dewpoint_c", "°C", -80, 100},
    {"acceleration_m_s2", "m/s²", 0, 20000},
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
