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

// ---- alert families (one abnormality per position and family) ----
// The family of an alert's model column: vibrationISO and vibrationML are
// "vibration", temperatureML is "temperature"; every other model
// (metric:<name>, sensorHealth, rule, gateway, …) is its own family.
std::string alert_family(std::string_view model);
// The model columns of one family ({"vibrationISO", "vibrationML"} for
// "vibration", {"temperatureML"} for "temperature", else {family}).
std::vector<std::string> family_models(std::string_view family);

// ---- which models a close-out re-learns (docs/ARCHITECTURE.md, "Close-out") ----
// The learned models a maintenance action re-learns on an alert of `family`:
//   ADJUST, CLEAN, LUBRICATE   the family's learned model only: vibration →
//                              vibrationML (vibrationISO learns nothing),
//                              temperature → temperatureML, metric:<n> → itself;
//                              sensorHealth, rule, gateway and other families → none
//   MODIFY, OVERHAUL, REPLACE  every learned model of the position
//                              (`position_models`: vibrationML, temperatureML,
//                              metric:<n>; vibrationISO and "overall" are skipped)
//   NO_ACTION, OTHER           none
// The result is in the order of the table, without duplicates.
std::vector<std::string> models_to_relearn(std::string_view action, std::string_view family,
                                           const std::vector<std::string>& position_models);

// ---- titles in plant words ----
// "<asset>, <position>: <what>", e.g. "P-101 pump, drive end: vibration above
// its learned normal (bearing outer-race pattern rising)". `what` comes from
// the model and the leading part of its explanation (plant_words); a missing
// asset or position name reads "asset <id>" / "position <id>" in the caller.
std::string plant_title(const std::string& asset_name, const std::string& position_name, const std::string& model,
                        const std::string& explanation);
// What an analytics model found, in plant words (the part after the colon).
std::string plant_words(const std::string& model, const std::string& explanation);

}  // namespace vigil::alerts
