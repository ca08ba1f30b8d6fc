// SPDX-License-Identifier: Apache-2.0
#include "vigil/model.h"

#include <array>
#include <cmath>
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

const char* to_string(ClassSource s) {
  switch (s) {
    case ClassSource::kBuiltin: return "builtin";
    case ClassSource::kConfig: return "config";
    case ClassSource::kUser: return "user";
  }
  return "user";
}

bool valid_machine_class_name(std::string_view name) {
  auto name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && name_char(c);
  return ok;
}

Status check_machine_class(std::string_view name, const ZoneLimits& l) {
  if (!valid_machine_class_name(name))
    return Status::InvalidArgument("a machine class name is 1..64 characters of A-Z a-z 0-9 . _ -");
  const std::string who = "machine class '" + std::string(name) + "': ";
  if (!std::isfinite(l.ab) || !std::isfinite(l.bc) || !std::isfinite(l.cd))
    return Status::InvalidArgument(who + "zone limits must be numbers");
  if (!(l.ab > 0 && l.ab < l.bc && l.bc < l.cd))
    return Status::InvalidArgument(who + "zone limits must ascend above zero: 0 < ab < bc < cd (mm/s)");
  if (l.cd > kMaxZoneLimitMmS) return Status::InvalidArgument(who + "zone limits must be at most 1000 mm/s");
  return Status::Ok();
}

Status check_envelope_band(double lo, double hi) {
  if (lo == 0 && hi == 0) return Status::Ok();
  if (!std::isfinite(lo) || !std::isfinite(hi))
    return Status::InvalidArgument("envelope band limits must be numbers");
  if (!(lo >= kMinEnvelopeHz && lo < hi && hi <= kMaxEnvelopeHz))
    return Status::InvalidArgument(
        "envelope band must be [lo, hi] Hz with 100 <= lo < hi <= 50000 (or absent for automatic)");
  return Status::Ok();
}

}  // namespace vigil
