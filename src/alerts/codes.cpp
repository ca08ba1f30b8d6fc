// SPDX-License-Identifier: Apache-2.0
#include "alerts/codes.h"

#include <algorithm>

namespace vigil::alerts {

const std::vector<std::string>& failure_modes() {
  static const std::vector<std::string> v = {
      "NO_ISSUE", "BLOCKAGE", "CAVITATION", "CORROSION", "DEPOSIT", "IMBALANCE", "LUBRICATION",
      "MISALIGNMENT", "RESONANCE", "ROTATING_LOOSENESS", "STRUCTURAL_LOOSENESS", "TRANSMITTED_FAULT",
      "OTHER", "UNDETERMINED"};
  return v;
}
const std::vector<std::string>& failure_causes() {
  static const std::vector<std::string> v = {"ADMINISTRATION", "DESIGN", "FABRICATION", "MAINTENANCE", "OPERATION",
                                             "QUALITY", "WEAR", "OTHER", "UNDETERMINED"};
  return v;
}
const std::vector<std::string>& actions_taken() {
  static const std::vector<std::string> v = {"ADJUST", "CLEAN", "LUBRICATE", "MODIFY",
                                             "NO_ACTION", "OVERHAUL", "REPLACE", "OTHER"};
  return v;
}
const std::vector<std::string>& model_names() {
  static const std::vector<std::string> v = {"vibrationISO", "vibrationML", "temperatureML"};
  return v;
}
const std::vector<std::string>& feedback_values() {
  static const std::vector<std::string> v = {"confirmed", "false_alarm", "unsure"};
  return v;
}
bool is_one_of(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}
bool is_maintenance_action(std::string_view a) {
  return a == "ADJUST" || a == "CLEAN" || a == "LUBRICATE" || a == "MODIFY" || a == "OVERHAUL" || a == "REPLACE";
}

}  // namespace vigil::alerts
