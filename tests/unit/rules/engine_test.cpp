// SPDX-License-Identifier: Apache-2.0
// The live rules engine against a real temporary Store and a manual clock:
// CRUD with audit, readings through the ingest observer, tick(), alerts
// through the sink, pending state across a restart, preview over history.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <nlohmann/json.hpp>

#include "rules/rules.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::rules;

namespace {

constexpr TimestampMs kMin = 60'000;
constexpr TimestampMs kT0 = 1'780'000'000'000LL;

struct Rig {
  TempDir dir;
  ManualClock clock{kT0};
  std::unique_ptr<Store> store;
  std::unique_ptr<RulesEngine> engine;
  std::vector<alerts::ExternalAlert> raised;
  Id site = 0, freezer = 0, pump = 0, freezer_pos = 0, pump_pos = 0, pump_pos2 = 0;

  Rig() {
    StoreOptions o;
    o.path = dir.file("vigil.db");
    o.clock = &clock;
    auto s = Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
    site = *store->upsert_site({0, "plant", "Europe/Berlin"});
    Asset a;
    a.site_id = site;
    a.name = "Freezer 1";
    freezer = *store->upsert_asset(a);
    a.name = "Pump 2";
    pump = *store->upsert_asset(a);
    freezer_pos = *store->upsert_position({0, freezer, "cabinet", PositionType::kOther});
    pump_pos = *store->upsert_position({0, pump, "motor", PositionType::kMotor});
    pump_pos2 = *store->upsert_position({0, pump, "pump", PositionType::kPump});
    start();
  }
  void start() {
    auto e = RulesEngine::create(*store, clock, [this](const alerts::ExternalAlert& a) {
      raised.push_back(a);
      return Status::Ok();
    });
    REQUIRE(e.ok());
    engine = std::move(*e);
  }
  void restart() {
    engine.reset();
    start();
  }
  ~Rig() {
    engine.reset();
    store.reset();
  }
  void reading(Id position, const std::string& metric, double v, TimestampMs ts) {
    AcceptedReading r;
    r.reading = {"sim:x", metric, ts, v};
    r.position_id = position;
    engine->on_readings(std::span<const AcceptedReading>(&r, 1));
  }
  Id add(const std::string& json_text) {
    auto r = rule_from_json(nlohmann::json::parse(json_text));
    REQUIRE(r.ok());
    auto id = engine->add(*r, "alice");
    REQUIRE(id.ok());
    return *id;
  }
};

const char* kFreezerRule = R"({"name": "Freezer too warm", "scope": {"asset_id": 1},
  "conditions": [{"metric": "temperature_c", "op": "above", "value": -18, "for_s": 600}],
  "message": "Check the door seal."})";

}  // namespace

TEST_CASE("a firing rule raises one alert naming the rule and the asset", "[rules][engine]") {
  Rig r;
  REQUIRE(r.freezer == 1);
  const Id id = r.add(kFreezerRule);
  r.reading(r.freezer_pos, "temperature_c", -15, kT0);
  r.clock.set(kT0 + 9 * kMin);
  r.engine->tick();
  CHECK(r.raised.empty());
  r.clock.set(kT0 + 10 * kMin);
  r.engine->tick();
  REQUIRE(r.raised.size() == 1);
  const auto& a = r.raised[0];
  CHECK(a.source == "rule:" + std::to_string(id));
  CHECK(a.kind == "rule");
  CHECK(a.model == "rule");
  CHECK(a.severity == "warning");
  CHECK(a.title == "Freezer too warm on Freezer 1");
  CHECK(a.asset_id == r.freezer);
  CHECK(a.position_id == r.freezer_pos);
  CHECK(a.explanation.find("temperature_c -15") != std::string::npos);
  CHECK(a.explanation.find("Check the door seal.") != std::string::npos);
  // Still too warm: no storm of alerts.
  r.reading(r.freezer_pos, "temperature_c", -14, kT0 + 11 * kMin);
  r.clock.set(kT0 + 30 * kMin);
  r.engine->tick();
  CHECK(r.raised.size() == 1);
}

TEST_CASE("pending duration survives a restart", "[rules][engine]") {
  Rig r;
  r.add(kFreezerRule);
  r.reading(r.freezer_pos, "temperature_c", -15, kT0);
  r.clock.set(kT0 + 5 * kMin);
  r.engine->tick();  // writes the pending state
  r.restart();
  r.clock.set(kT0 + 10 * kMin);
  r.engine->tick();
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].explanation.find("since") != std::string::npos);
  SECTION("and a rule that fired does not fire again after a restart") {
    r.clock.set(kT0 + 11 * kMin);
    r.engine->tick();
    r.restart();
    r.clock.set(kT0 + 20 * kMin);
    r.engine->tick();
    CHECK(r.raised.size() == 1);
  }
}

TEST_CASE("a rule only sees readings on positions in its scope", "[rules][engine]") {
  Rig r;
  r.add(R"({"name": "Pump hot", "scope": {"asset_id": 2},
            "conditions": [{"metric": "temperature_c", "op": "above", "value": 80}]})");
  r.reading(r.freezer_pos, "temperature_c", 90, kT0);
  CHECK(r.raised.empty());
  r.reading(r.pump_pos2, "temperature_c", 90, kT0 + 1000);
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].title == "Pump hot on Pump 2");
  CHECK(r.raised[0].position_id == r.pump_pos2);
}

TEST_CASE("a site-wide no_data rule fires in tick for the asset that fell silent", "[rules][engine]") {
  Rig r;
  r.add(R"({"name": "Silent", "severity": "alarm", "scope": {"site_id": 1},
            "conditions": [{"metric": "*", "op": "no_data", "for_s": 900}]})");
  for (int m = 0; m <= 20; m += 5) {
    r.clock.set(kT0 + m * kMin);
    r.reading(r.pump_pos, "velocity_rms_mm_s", 1.0, kT0 + m * kMin);
    r.engine->tick();
  }
  REQUIRE(r.raised.size() == 1);  // the freezer said nothing for 15 minutes
  CHECK(r.raised[0].asset_id == r.freezer);
  CHECK(r.raised[0].severity == "alarm");
  CHECK(r.raised[0].title == "Silent on Freezer 1");
}

TEST_CASE("rules are created, read, replaced and deleted, each audited", "[rules][engine]") {
  Rig r;
  const Id id = r.add(kFreezerRule);
  auto got = r.engine->get(id);
  REQUIRE(got.ok());
  CHECK(got->name == "Freezer too warm");
  CHECK(got->created_at == kT0);
  auto changed = *got;
  changed.name = "Freezer warm";
  changed.severity = "alarm";
  r.clock.set(kT0 + 1000);
  REQUIRE(r.engine->update(id, changed, "bob").ok());
  CHECK(r.engine->get(id)->severity == "alarm");
  CHECK(r.engine->get(id)->updated_at == kT0 + 1000);
  CHECK(r.engine->list()->size() == 1);
  r.restart();
  REQUIRE(r.engine->list()->size() == 1);
  CHECK(r.engine->get(id)->name == "Freezer warm");
  REQUIRE(r.engine->remove(id, "carol").ok());
  CHECK(r.engine->get(id).status().code() == Status::Code::kNotFound);
  CHECK(r.engine->remove(id, "carol").code() == Status::Code::kNotFound);
  CHECK(r.engine->update(id, changed, "bob").code() == Status::Code::kNotFound);
  auto log = r.store->audit_log(10);
  REQUIRE(log.ok());
  std::vector<std::string> actions;
  for (const auto& e : *log)
    if (e.target == "rule/" + std::to_string(id)) actions.push_back(e.action + " " + e.actor);
  CHECK(actions == std::vector<std::string>{"rule.delete carol", "rule.update bob", "rule.create alice"});
}

TEST_CASE("the engine refuses a scope or a pinned position that does not exist, naming the field",
          "[rules][engine]") {
  Rig r;
  auto rule = rule_from_json(nlohmann::json::parse(kFreezerRule));
  REQUIRE(rule.ok());
  rule->scope.asset_id = 99;
  auto s = r.engine->add(*rule, "alice");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().rfind("scope.asset_id: no asset 99", 0) == 0);
  rule->scope.asset_id = r.freezer;
  rule->conditions[0].position_id = r.pump_pos;
  s = r.engine->add(*rule, "alice");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().rfind("conditions[0].position_id: position", 0) == 0);
  rule->conditions[0].position_id.reset();
  rule->conditions[0].metric = "no_such_metric";
  s = r.engine->add(*rule, "alice");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().rfind("conditions[0].metric: unknown metric", 0) == 0);
}

TEST_CASE("a metric of a stored series is a known metric", "[rules][engine]") {
  Rig r;
  CHECK(r.engine->known_metric("temperature_c"));
  CHECK_FALSE(r.engine->known_metric("oil_quality"));
  Sensor sn;
  sn.address = "sim:oil";
  sn.format = "sim";
  sn.position_id = r.pump_pos;
  auto sid = r.store->upsert_sensor(sn);
  REQUIRE(sid.ok());
  REQUIRE(r.store->ensure_series(*sid, "oil_quality", "").ok());
  CHECK(r.engine->known_metric("oil_quality"));
}

TEST_CASE("preview counts the times a rule would have fired over stored history", "[rules][engine]") {
  Rig r;
  Sensor sn;
  sn.address = "sim:freezer";
  sn.format = "sim";
  sn.position_id = r.freezer_pos;
  auto sid = r.store->upsert_sensor(sn);
  REQUIRE(sid.ok());
  auto series = r.store->ensure_series(*sid, "temperature_c", "°C");
  REQUIRE(series.ok());
  // Three warm spells of 20 minutes and one of 5, a minute apart each reading.
  std::vector<SeriesPoint> pts;
  TimestampMs t = kT0;
  for (int spell : {20, 5, 20, 20}) {
    for (int m = 0; m < spell; ++m) pts.push_back({*series, t += kMin, -10});
    for (int m = 0; m < 30; ++m) pts.push_back({*series, t += kMin, -20});
  }
  REQUIRE(r.store->append(pts).ok());
  REQUIRE(r.store->flush().ok());
  r.clock.set(t + kMin);
  auto rule = rule_from_json(nlohmann::json::parse(kFreezerRule));
  REQUIRE(rule.ok());
  auto fires = r.engine->preview(*rule, kT0, t);
  REQUIRE(fires.ok());
  CHECK(fires->size() == 3);
  CHECK((*fires)[0].ts == kT0 + 11 * kMin);  // 10 minutes after the first warm reading
  CHECK((*fires)[0].asset_id == r.freezer);
  CHECK(r.raised.empty());  // a preview raises nothing
  auto none = r.engine->preview(*rule, t, kT0);
  CHECK(none.status().code() == Status::Code::kInvalidArgument);
}
