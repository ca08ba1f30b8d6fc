// SPDX-License-Identifier: Apache-2.0
#include "alerts/codes.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

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

std::string alert_family(std::string_view model) {
  if (model == "vibrationISO" || model == "vibrationML") return "vibration";
  if (model == "temperatureML") return "temperature";
  return std::string(model);
}

std::vector<std::string> family_models(std::string_view family) {
  if (family == "vibration") return {"vibrationISO", "vibrationML"};
  if (family == "temperature") return {"temperatureML"};
  return {std::string(family)};
}

std::vector<std::string> models_to_relearn(std::string_view action, std::string_view family,
                                           const std::vector<std::string>& position_models) {
  std::vector<std::string> out;
  auto add = [&](const std::string& m) {
    if (!is_one_of(out, m)) out.push_back(m);
  };
  if (action == "MODIFY" || action == "OVERHAUL" || action == "REPLACE") {
    for (const auto& m : position_models)
      if (m != "vibrationISO" && m != "overall" && !m.empty()) add(m);
    return out;
  }
  if (action == "ADJUST" || action == "CLEAN" || action == "LUBRICATE") {
    if (family == "vibration") add("vibrationML");
    else if (family == "temperature") add("temperatureML");
    else if (family.rfind("metric:", 0) == 0 && family.size() > 7) add(std::string(family));
  }
  return out;
}

namespace {
// The leading part of a learned model's explanation: "BPFO envelope band
// 6.2× baseline" or "kurtosis +1.5 vs baseline" → what moved, and which way.
std::string leading_feature(const std::string& explanation) {
  std::string lead = explanation.substr(0, explanation.find(", "));
  std::string label, direction;
  if (auto x = lead.find("× baseline"); x != std::string::npos) {
    auto sp = lead.rfind(' ', x);
    if (sp == std::string::npos) return lead;
    label = lead.substr(0, sp);
    const double ratio = std::atof(lead.substr(sp + 1, x - sp - 1).c_str());
    direction = ratio >= 1 ? "rising" : "falling";
  } else if (auto v = lead.find(" vs baseline"); v != std::string::npos) {
    auto sp = lead.rfind(' ', v - 1);
    if (sp == std::string::npos) return lead;
    label = lead.substr(0, sp);
    direction = lead.compare(sp + 1, 1, "-") == 0 ? "falling" : "rising";
  } else {
    return lead;
  }
  static const std::pair<const char*, const char*> kPlain[] = {
      {"BPFO envelope band", "bearing outer-race pattern"},
      {"BPFI envelope band", "bearing inner-race pattern"},
      {"BSF envelope band", "rolling-element pattern"},
      {"FTF envelope band", "bearing cage pattern"},
      {"envelope RMS", "bearing impacts"},
      {"1× running speed", "vibration at running speed (1×)"},
      {"2× running speed", "vibration at twice running speed (2×)"},
      {"3× running speed", "vibration at three times running speed (3×)"},
      {"velocity RMS", "overall vibration"},
      {"acceleration RMS", "overall acceleration"},
      {"acceleration peak", "acceleration peaks"},
      {"kurtosis", "impacting (kurtosis)"},
      {"crest factor", "impacting (crest factor)"},
  };
  for (const auto& [from, to] : kPlain)
    if (label == from) {
      label = to;
      break;
    }
  return label + " " + direction;
}
}  // namespace

std::string plant_words(const std::string& model, const std::string& explanation) {
  if (model == "vibrationML") {
    const std::string lead = explanation.empty() ? "" : leading_feature(explanation);
    return "vibration above its learned normal" + (lead.empty() ? std::string() : " (" + lead + ")");
  }
  if (model == "vibrationISO") {
    double v = 0;
    char zone = 0;
    if (std::sscanf(explanation.c_str(), "velocity RMS %lf mm/s, zone %c", &v, &zone) == 2) {
      const char* meaning = zone == 'D' ? "damage likely" : zone == 'C' ? "not for long-term operation" : "acceptable";
      char buf[128];
      std::snprintf(buf, sizeof buf, "vibration %.2f mm/s, ISO zone %c (%s)", v, zone, meaning);
      return buf;
    }
    return "vibration above its ISO zone limit";
  }
  if (model == "temperatureML") {
    char metric[64] = {0};
    double v = 0, expected = 0;
    if (std::sscanf(explanation.c_str(), "%63s %lf vs expected %lf", metric, &v, &expected) == 3) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "temperature %s its learned normal (%.1f °C, expected %.1f °C)",
                    v >= expected ? "above" : "below", v, expected);
      return buf;
    }
    return "temperature outside its learned normal";
  }
  if (model.rfind("metric:", 0) == 0)
    return model.substr(7) + " outside its learned normal" + (explanation.empty() ? "" : " (" + explanation + ")");
  return model + (explanation.empty() ? "" : ": " + explanation);
}

std::string plant_title(const std::string& asset_name, const std::string& position_name, const std::string& model,
                        const std::string& explanation) {
  return asset_name + ", " + position_name + ": " + plant_words(model, explanation);
}

}  // namespace vigil::alerts
