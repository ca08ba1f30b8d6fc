// SPDX-License-Identifier: Apache-2.0
#include "vigil/model.h"

#include <array>
#include <utility>

namespace vigil {
namespace {
constexpr std::array<std::pair<HealthState, const char*>, 6> kStates{{
    {HealthState::kUnknown, "unknown"},
    {HealthState::kInitializing, "initializing"},
    {HealthState::kHealthy, "healthy"},
    {HealthState::kWarning, "warning"},
    {HealthState::kAlarm, "alarm"},
    {HealthState::kNotRunning, "not_running"},
}};
constexpr std::array<std::pair<PositionType, const char*>, 7> kTypes{{
    {PositionType::kBearing, "bearing"},
    {PositionType::kCompressor, "compressor"},
    {PositionType::kFan, "fan"},
    {PositionType::kGearbox, "gearbox"},
    {PositionType::kMotor, "motor"},
    {PositionType::kPump, "pump"},
    {PositionType::kOther, "other"},
}};
}  // namespace

const char* to_string(HealthState s) {
  for (auto& [k, v] : kStates) if (k == s) return v;
  return "unknown";
}
std::optional<HealthState> health_state_from_string(std::string_view s) {
  for (auto& [k, v] : kStates) if (s == v) return k;
  return std::nullopt;
}
int severity(HealthState s) {
  switch (s) {
    case HealthState::kAlarm: return 5;
    case HealthState::kWarning: return 4;
    case HealthState::kHealthy: return 3;
    case HealthState::kInitializing: return 2;
    case HealthState::kNotRunning: return 1;
    case HealthState::kUnknown: return 0;
  }
  return 0;
}
const char* to_string(PositionType t) {
  for (auto& [k, v] : kTypes) if (k == t) return v;
  return "other";
}
std::optional<PositionType> position_type_from_string(std::string_view s) {
  for (auto& [k, v] : kTypes) if (s == v) return k;
  return std::nullopt;
}

}  // namespace vigil
