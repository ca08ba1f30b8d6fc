// SPDX-License-Identifier: Apache-2.0
//
// Monitron-compatible alert close-out codes (exact strings, docs/domain.md):
// failure mode, failure cause, action taken, the models that flagged, and
// the closer's verdict on the alert (feedback).
// Thread-safety: constant data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::alerts {

const std::vector<std::string>& failure_modes();  // NO_ISSUE, BLOCKAGE, …, UNDETERMINED
const std::vector<std::string>& failure_causes();  // ADMINISTRATION, …, UNDETERMINED
const std::vector<std::string>& actions_taken();   // ADJUST, …, OTHER
const std::vector<std::string>& model_names();     // vibrationISO, vibrationML, temperatureML
const std::vector<std::string>& feedback_values(); // confirmed, false_alarm, unsure (was the alert right?)

bool is_one_of(const std::vector<std::string>& list, std::string_view s);
// Actions after which the machine's behaviour legitimately changed: the
// closure re-baselines the models (ADJUST, CLEAN, LUBRICATE, MODIFY,
// OVERHAUL, REPLACE).
bool is_maintenance_action(std::string_view action);

}  // namespace vigil::alerts
