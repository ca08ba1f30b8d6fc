// SPDX-License-Identifier: Apache-2.0
// Rules as JSON: parsing, validation (messages start with the member's path)
// and the JSON the API answers.
#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "rules/evaluator.h"
#include "rules/rule_util.h"
#include "rules/rules.h"

namespace vigil::rules {

std::string iso_time(TimestampMs ts) {
  using ms = std::chrono::milliseconds;
  ts = clamp_timestamp(ts);
  const date::sys_time<ms> t{ms{ts}};
  if (ts % 1000 == 0) return date::format("%FT%TZ", date::floor<std::chrono::seconds>(t));
  return date::format("%FT%TZ", t);
}

std::string fmt_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

namespace {

using Json = nlohmann::json;

constexpr double kMaxDurationS = 366.0 * 86400;  // for_s, per_s: at most a leap year
constexpr double kMaxMagnitude = 1e15;           // values and hystereses
constexpr std::size_t kMaxName = 200, kMaxMessage = 2000;

const char* const kOps[] = {"above", "below", "rate_above", "rate_below", "no_data", "state_held", "increase_above"};

Status bad(const std::string& path, const std::string& why) { return Status::InvalidArgument(path + ": " + why); }

Result<double> number(const Json& j, const std::string& path) {
  if (!j.is_number()) return bad(path, "must be a number");
  const double v = j.get<double>();
  if (!std::isfinite(v)) return bad(path, "must be a finite number");
  return v;
}

Result<std::optional<Id>> id_member(const Json& j, const std::string& path) {
  if (j.is_null()) return std::optional<Id>();
  if (!j.is_number_integer()) return bad(path, "must be a positive integer");
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<Id>::max()))
    return bad(path, "must be a positive integer");
  const Id v = j.get<Id>();
  if (v <= 0) return bad(path, "must be a positive integer");
  return std::optional<Id>(v);
}

Result<std::string> string_member(const Json& j, const std::string& path) {
  if (!j.is_string()) return bad(path, "must be a string");
  return j.get<std::string>();
}

// The path of an unknown member `key` under `parent` ("" = the rule): the
// member's own name when it is a plain name, else the parent's path with the
// name quoted (and cut) in the message.
Status unknown_member(const std::string& parent, const std::string& key, const std::string& hint = "") {
  const bool plain = !key.empty() && key.size() <= 64 &&
                     std::all_of(key.begin(), key.end(), [](char ch) {
                       return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                              ch == '_';
                     });
  const std::string suffix = hint.empty() ? "" : " (" + hint + ")";
  if (plain) return bad(parent.empty() ? key : parent + "." + key, "unknown member" + suffix);
  std::string shown;
  for (char ch : key.substr(0, 64)) shown += (ch >= 0x20 && ch < 0x7f && ch != '\'') ? ch : '?';
  return bad(parent.empty() ? "rule" : parent, "unknown member '" + shown + "'" + suffix);
}

bool is_op(const std::string& op) {
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

Status check_duration(double v, const std::string& path, bool positive) {
  if (!std::isfinite(v)) return bad(path, "must be a finite number");
  if (positive ? v <= 0 : v < 0) return bad(path, positive ? "must be > 0" : "must be >= 0");
  if (v > kMaxDurationS) return bad(path, "at most " + fmt_num(kMaxDurationS) + " s (366 days)");
  return Status::Ok();
}

// Two conditions that cannot hold at once on one position.
bool exclusive(const Condition& a, const Condition& b, std::string& why) {
  if (a.metric != b.metric || a.position_id != b.position_id || a.metric == "*") return false;
  auto pair = [&](const char* hi_op, const char* lo_op) -> bool {
    const Condition* hi = a.op == hi_op ? &a : (b.op == hi_op ? &b : nullptr);
    const Condition* lo = a.op == lo_op ? &a : (b.op == lo_op ? &b : nullptr);
    if (!hi || !lo || hi == lo) return false;
    if (hi->value < lo->value) return false;
    why = std::string(hi_op) + " " + fmt_num(hi->value) + " and " + lo_op + " " + fmt_num(lo->value) + " on " +
          a.metric;
    return true;
  };
  if (pair("above", "below") || pair("rate_above", "rate_below")) return true;
  if (a.op == "state_held" && b.op == "state_held" && a.value != b.value) {
    why = a.metric + " = 0 and = 1 at once";
    return true;
  }
  return false;
}

}  // namespace

Status validate_rule(const Rule& r, const std::function<bool(const std::string&)>& known_metric) {
  const std::string name = trim(r.name);
  if (name.empty()) return bad("name", "must not be empty");
  if (r.name.size() > kMaxName) return bad("name", "at most " + std::to_string(kMaxName) + " characters");
  if (r.severity != "warning" && r.severity != "alarm") return bad("severity", "must be warning or alarm");
  if (r.message.size() > kMaxMessage) return bad("message", "at most " + std::to_string(kMaxMessage) + " characters");
  const int scopes = !!r.scope.position_id + !!r.scope.asset_id + !!r.scope.site_id;
  if (scopes > 1) return bad("scope", "give at most one of position_id, asset_id, site_id");
  if (r.scope.position_id && *r.scope.position_id <= 0) return bad("scope.position_id", "must be a positive integer");
  if (r.scope.asset_id && *r.scope.asset_id <= 0) return bad("scope.asset_id", "must be a positive integer");
  if (r.scope.site_id && *r.scope.site_id <= 0) return bad("scope.site_id", "must be a positive integer");
  if (r.conditions.empty()) return bad("conditions", "give at least one condition");
  if (r.conditions.size() > kMaxConditions)
    return bad("conditions", "at most " + std::to_string(kMaxConditions) + " conditions");
  for (std::size_t i = 0; i < r.conditions.size(); ++i) {
    const Condition& c = r.conditions[i];
    const std::string p = "conditions[" + std::to_string(i) + "]";
    if (!is_op(c.op))
      return bad(p + ".op", "unknown op '" + c.op +
                                "' (one of above, below, rate_above, rate_below, no_data, state_held, increase_above)");
    const bool nd = c.op == "no_data";
    if (c.metric == "*") {
      if (!nd) return bad(p + ".metric", "'*' (any metric) only with no_data");
    } else if (!valid_metric_name(c.metric)) {
      return bad(p + ".metric", "not a metric name");
    } else if (known_metric && !known_metric(c.metric)) {
      return bad(p + ".metric", "unknown metric '" + c.metric + "'");
    }
    if (!std::isfinite(c.value)) return bad(p + ".value", "must be a finite number");
    if (std::fabs(c.value) > kMaxMagnitude) return bad(p + ".value", "at most 1e15 in magnitude");
    if (!std::isfinite(c.hysteresis) || c.hysteresis < 0) return bad(p + ".hysteresis", "must be >= 0");
    if (c.hysteresis > kMaxMagnitude) return bad(p + ".hysteresis", "at most 1e15");
    VIGIL_RETURN_IF_ERROR(check_duration(c.for_s, p + ".for_s", nd));
    VIGIL_RETURN_IF_ERROR(check_duration(c.per_s, p + ".per_s", true));
    if (c.op == "increase_above") {
      if (c.window != "day" && c.window != "week" && c.window != "month")
        return bad(p + ".window", "must be day, week or month");
    } else if (!c.window.empty()) {
      return bad(p + ".window", "only for increase_above");
    }
    if (c.position_id && *c.position_id <= 0) return bad(p + ".position_id", "must be a positive integer");
    if (c.position_id && r.scope.position_id && *c.position_id != *r.scope.position_id)
      return bad(p + ".position_id", "the rule's scope is position " + std::to_string(*r.scope.position_id) +
                                         ", so a condition on position " + std::to_string(*c.position_id) +
                                         " can never hold");
    const MetricInfo* mi = c.metric == "*" ? nullptr : find_metric(c.metric);
    if (c.op == "state_held") {
      if (c.value != 0 && c.value != 1) return bad(p + ".value", "state_held needs 0 or 1");
      if (mi && !(mi->min == 0 && mi->max == 1))
        return bad(p + ".metric", "state_held needs a binary (0/1) metric; " + c.metric + " is not");
    }
    if (mi && c.op == "above" && c.value >= mi->max)
      return bad(p + ".value", c.metric + " never exceeds " + fmt_num(mi->max) + ", so 'above " + fmt_num(c.value) +
                                   "' can never hold");
    if (mi && c.op == "below" && c.value <= mi->min)
      return bad(p + ".value", c.metric + " is never below " + fmt_num(mi->min) + ", so 'below " +
                                   fmt_num(c.value) + "' can never hold");
    for (std::size_t k = 0; k < i; ++k) {
      std::string why;
      if (exclusive(r.conditions[k], c, why))
        return bad(p, "can never hold together with conditions[" + std::to_string(k) + "] (" + why + ")");
    }
  }
  return Status::Ok();
}

Result<Rule> rule_from_json(const Json& j, const std::function<bool(const std::string&)>& known_metric) {
  if (!j.is_object()) return bad("rule", "must be a JSON object");
  Rule r;
  bool have_name = false, have_conditions = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "name") {
      auto s = string_member(v, "name");
      if (!s) return s.status();
      r.name = *s;
      have_name = true;
    } else if (k == "enabled") {
      if (!v.is_boolean()) return bad("enabled", "must be true or false");
      r.enabled = v.get<bool>();
    } else if (k == "severity") {
      auto s = string_member(v, "severity");
      if (!s) return s.status();
      r.severity = *s;
    } else if (k == "message") {
      if (v.is_null()) continue;
      auto s = string_member(v, "message");
      if (!s) return s.status();
      r.message = *s;
    } else if (k == "scope") {
      if (v.is_null()) continue;
      if (!v.is_object()) return bad("scope", "must be an object");
      for (auto s = v.begin(); s != v.end(); ++s) {
        const std::string path = "scope." + s.key();
        std::optional<Id>* dst = s.key() == "position_id" ? &r.scope.position_id
                                 : s.key() == "asset_id"  ? &r.scope.asset_id
                                 : s.key() == "site_id"   ? &r.scope.site_id
                                                          : nullptr;
        if (!dst) return unknown_member("scope", s.key(), "position_id, asset_id or site_id");
        auto id = id_member(s.value(), path);
        if (!id) return id.status();
        *dst = *id;
      }
    } else if (k == "conditions") {
      if (!v.is_array()) return bad("conditions", "must be an array");
      if (v.size() > kMaxConditions)
        return bad("conditions", "at most " + std::to_string(kMaxConditions) + " conditions");
      have_conditions = true;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const Json& cj = v[i];
        const std::string p = "conditions[" + std::to_string(i) + "]";
        if (!cj.is_object()) return bad(p, "must be an object");
        Condition c;
        bool have_metric = false, have_op = false, have_value = false;
        for (auto m = cj.begin(); m != cj.end(); ++m) {
          const std::string path = p + "." + m.key();
          const std::string& mk = m.key();
          if (mk == "metric" || mk == "op" || mk == "window") {
            auto s = string_member(m.value(), path);
            if (!s) return s.status();
            (mk == "metric" ? c.metric : mk == "op" ? c.op : c.window) = *s;
            have_metric |= mk == "metric";
            have_op |= mk == "op";
          } else if (mk == "value" || mk == "hysteresis" || mk == "for_s" || mk == "per_s") {
            auto d = number(m.value(), path);
            if (!d) return d.status();
            (mk == "value" ? c.value : mk == "hysteresis" ? c.hysteresis : mk == "for_s" ? c.for_s : c.per_s) = *d;
            have_value |= mk == "value";
          } else if (mk == "position_id") {
            auto id = id_member(m.value(), path);
            if (!id) return id.status();
            c.position_id = *id;
          } else {
            return unknown_member(p, mk);
          }
        }
        if (!have_metric) return bad(p + ".metric", "required");
        if (!have_op) return bad(p + ".op", "required");
        if (!have_value && c.op != "no_data" && is_op(c.op)) return bad(p + ".value", "required");
        r.conditions.push_back(std::move(c));
      }
    } else if (k == "id" || k == "created_at" || k == "updated_at") {
      // read-only members of a rule the API answered; ignored
    } else {
      return unknown_member("", k);
    }
  }
  if (!have_name) return bad("name", "required");
  if (!have_conditions) return bad("conditions", "required");
  VIGIL_RETURN_IF_ERROR(validate_rule(r, known_metric));
  return r;
}

Json to_json(const Rule& r) {
  Json scope = Json::object();
  if (r.scope.position_id) scope["position_id"] = *r.scope.position_id;
  if (r.scope.asset_id) scope["asset_id"] = *r.scope.asset_id;
  if (r.scope.site_id) scope["site_id"] = *r.scope.site_id;
  Json conds = Json::array();
  for (const auto& c : r.conditions) {
    Json o{{"metric", c.metric}, {"op", c.op}};
    if (c.op != "no_data") o["value"] = c.value;
    if (c.op != "no_data" && c.op != "state_held") o["hysteresis"] = c.hysteresis;
    o["for_s"] = c.for_s;
    if (c.op == "rate_above" || c.op == "rate_below") o["per_s"] = c.per_s;
    if (c.op == "increase_above") o["window"] = c.window;
    if (c.position_id) o["position_id"] = *c.position_id;
    conds.push_back(std::move(o));
  }
  Json j{{"name", r.name},       {"enabled", r.enabled},       {"severity", r.severity},
         {"scope", scope},       {"conditions", conds},        {"message", r.message},
         {"created_at", r.created_at}, {"updated_at", r.updated_at}};
  if (r.id) j["id"] = r.id;
  return j;
}

}  // namespace vigil::rules
