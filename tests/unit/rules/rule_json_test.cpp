// SPDX-License-Identifier: Apache-2.0
// Rules as JSON: what is accepted, and refusals that name the member.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "rules/rules.h"

using namespace vigil;
using namespace vigil::rules;
using nlohmann::json;

namespace {

json freezer() {
  return json::parse(R"({
    "name": "Freezer too warm", "enabled": true, "severity": "warning", "scope": {"asset_id": 4},
    "conditions": [{"metric": "temperature_c", "op": "above", "value": -18, "hysteresis": 0.5, "for_s": 600}],
    "message": "Check the door seal and the compressor."})");
}

// The refusal's message for `j`, which must be kInvalidArgument.
std::string refusal(const json& j, const std::function<bool(const std::string&)>& known = {}) {
  auto r = rule_from_json(j, known);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.status().code() == Status::Code::kInvalidArgument);
  return r.status().message();
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST_CASE("the documented example rule is accepted as written", "[rules][json]") {
  auto r = rule_from_json(freezer());
  REQUIRE(r.ok());
  CHECK(r->name == "Freezer too warm");
  CHECK(r->scope.asset_id == 4);
  REQUIRE(r->conditions.size() == 1);
  CHECK(r->conditions[0].op == "above");
  CHECK(r->conditions[0].value == -18);
  CHECK(r->conditions[0].hysteresis == 0.5);
  CHECK(r->conditions[0].for_s == 600);
}

TEST_CASE("a rule written by to_json reads back unchanged", "[rules][json]") {
  auto r = rule_from_json(freezer());
  REQUIRE(r.ok());
  Rule x = *r;
  x.id = 7;
  x.created_at = 1000;
  x.conditions.push_back({"energy_kwh", "increase_above", 24, 0, 0, 60, "day", 9});
  x.conditions.push_back({"*", "no_data", 0, 0, 300, 60, "", std::nullopt});
  x.conditions.push_back({"temperature_c", "rate_above", 2, 0, 0, 30, "", std::nullopt});
  auto back = rule_from_json(to_json(x));
  REQUIRE(back.ok());
  CHECK(to_json(*back)["conditions"] == to_json(x)["conditions"]);
  CHECK(back->message == x.message);
  CHECK(back->conditions[1].position_id == 9);
  CHECK(back->conditions[3].per_s == 30);
}

TEST_CASE("refuses a rule that can never fire naming the field", "[rules][json]") {
  auto j = freezer();
  j["conditions"] = json::parse(R"([{"metric": "temperature_c", "op": "above", "value": 5},
                                    {"metric": "temperature_c", "op": "below", "value": 3}])");
  const auto m = refusal(j);
  CHECK(starts_with(m, "conditions[1]: can never hold together with conditions[0]"));
  CHECK(m.find("above 5 and below 3 on temperature_c") != std::string::npos);

  SECTION("on different pinned positions the same pair can hold") {
    j["conditions"][0]["position_id"] = 1;
    j["conditions"][1]["position_id"] = 2;
    j["scope"] = json::object();
    CHECK(rule_from_json(j).ok());
  }
  SECTION("a value beyond the metric's physical range") {
    j["conditions"] = json::parse(R"([{"metric": "temperature_c", "op": "above", "value": 500}])");
    CHECK(starts_with(refusal(j), "conditions[0].value: temperature_c never exceeds 400"));
  }
  SECTION("a door both open and closed") {
    j["conditions"] = json::parse(R"([{"metric": "door_open", "op": "state_held", "value": 1},
                                      {"metric": "door_open", "op": "state_held", "value": 0}])");
    CHECK(starts_with(refusal(j), "conditions[1]: can never hold"));
  }
  SECTION("no conditions at all") {
    j["conditions"] = json::array();
    CHECK(starts_with(refusal(j), "conditions: give at least one condition"));
  }
  SECTION("a pinned position outside the rule's position scope") {
    j["scope"] = {{"position_id", 3}};
    j["conditions"] = json::parse(R"([{"metric": "temperature_c", "op": "above", "value": 5, "position_id": 4}])");
    CHECK(starts_with(refusal(j), "conditions[0].position_id: the rule's scope is position 3"));
  }
}

TEST_CASE("malformed rules are refused with the member's path first", "[rules][json]") {
  struct Case {
    const char* member;  // JSON pointer into conditions[0] or the rule
    json value;
    const char* prefix;
  };
  const std::vector<Case> cases = {
      {"/conditions/0/op", "between", "conditions[0].op: unknown op 'between'"},
      {"/conditions/0/for_s", -1, "conditions[0].for_s: must be >= 0"},
      {"/conditions/0/for_s", 1e12, "conditions[0].for_s: at most"},
      {"/conditions/0/for_s", "600", "conditions[0].for_s: must be a number"},
      {"/conditions/0/hysteresis", -0.5, "conditions[0].hysteresis: must be >= 0"},
      {"/conditions/0/per_s", 0, "conditions[0].per_s: must be > 0"},
      {"/conditions/0/window", "day", "conditions[0].window: only for increase_above"},
      {"/conditions/0/metric", "temp erature", "conditions[0].metric: not a metric name"},
      {"/conditions/0/metric", "*", "conditions[0].metric: '*' (any metric) only with no_data"},
      {"/conditions/0/position_id", -3, "conditions[0].position_id: must be a positive integer"},
      {"/conditions/0/for", 600, "conditions[0].for: unknown member"},
      {"/severity", "critical", "severity: must be warning or alarm"},
      {"/scope", json{{"asset_id", 1}, {"site_id", 2}}, "scope: give at most one of"},
      {"/scope", json{{"machine_id", 1}}, "scope.machine_id: unknown member"},
      {"/name", "  ", "name: must not be empty"},
      {"/enabled", "yes", "enabled: must be true or false"},
      {"/conditions", json::object(), "conditions: must be an array"},
      {"/colour", "red", "colour: unknown member"},
  };
  for (const auto& c : cases) {
    auto j = freezer();
    j[json::json_pointer(c.member)] = c.value;
    INFO(c.member << " = " << c.value.dump());
    CHECK(starts_with(refusal(j), c.prefix));
  }
  SECTION("increase_above needs a calendar window") {
    auto j = freezer();
    j["conditions"] = json::parse(R"([{"metric": "energy_kwh", "op": "increase_above", "value": 50, "window": "year"}])");
    CHECK(starts_with(refusal(j), "conditions[0].window: must be day, week or month"));
  }
  SECTION("state_held needs 0 or 1 and a binary metric") {
    auto j = freezer();
    j["conditions"] = json::parse(R"([{"metric": "door_open", "op": "state_held", "value": 2}])");
    CHECK(starts_with(refusal(j), "conditions[0].value: state_held needs 0 or 1"));
    j["conditions"] = json::parse(R"([{"metric": "temperature_c", "op": "state_held", "value": 1}])");
    CHECK(starts_with(refusal(j), "conditions[0].metric: state_held needs a binary"));
  }
  SECTION("no_data needs a silence longer than zero") {
    auto j = freezer();
    j["conditions"] = json::parse(R"([{"metric": "*", "op": "no_data"}])");
    CHECK(starts_with(refusal(j), "conditions[0].for_s: must be > 0"));
  }
  SECTION("an unknown metric, as the engine knows them") {
    auto j = freezer();
    j["conditions"][0]["metric"] = "tempreature_c";
    CHECK(starts_with(refusal(j, [](const std::string& m) { return m == "temperature_c"; }),
                      "conditions[0].metric: unknown metric 'tempreature_c'"));
  }
  SECTION("not an object") { CHECK(starts_with(refusal(json::array()), "rule: must be a JSON object")); }
  SECTION("an unknown member whose name is not a plain name is quoted after its parent's path") {
    auto j = freezer();
    j[": name"] = 1;
    CHECK(starts_with(refusal(j), "rule: unknown member ': name'"));
    j = freezer();
    j["conditions"][0]["a.b"] = 1;
    CHECK(starts_with(refusal(j), "conditions[0]: unknown member 'a.b'"));
  }
}

TEST_CASE("a rule built in code with NaN or infinite numbers is refused naming the field", "[rules][json]") {
  auto r = rule_from_json(freezer());
  REQUIRE(r.ok());
  Rule x = *r;
  x.conditions[0].for_s = std::numeric_limits<double>::quiet_NaN();
  auto s = validate_rule(x);
  CHECK(starts_with(s.message(), "conditions[0].for_s: must be a finite number"));
  x = *r;
  x.conditions[0].value = std::numeric_limits<double>::infinity();
  CHECK(starts_with(validate_rule(x).message(), "conditions[0].value: must be a finite number"));
}
