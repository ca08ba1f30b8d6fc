// SPDX-License-Identifier: Apache-2.0
// Machine classes: the ZoneTable's layers (built-in < config < user), the
// store behind the user layer, and scoring that follows a changed class.
#include <catch2/catch.hpp>

#include <map>

#include <fstream>
#include <sstream>

#include "vigil_test/temp_dir.h"
#include "analytics/backtest.h"
#include "analytics/machine_classes.h"
#include "analytics/pipeline.h"
#include "analytics/position.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
std::unique_ptr<Store> open_store(const TempDir& dir) {
  StoreOptions o;
  o.path = dir.file("vigil.db");
  auto s = Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

// A registry over a fresh store and a table of its own.
struct Registry {
  TempDir dir;
  std::unique_ptr<Store> store = open_store(dir);
  ZoneTable table;
  MachineClasses mc{*store, table};
  explicit Registry(const std::map<std::string, ZoneLimits>& configured = {}) {
    REQUIRE(mc.load(configured).ok());
  }
};

Id add_asset(Store& store, const std::string& name, const std::string& machine_class) {
  auto site = store.upsert_site(Site{0, "Plant", "UTC"});
  REQUIRE(site.ok());
  Asset a;
  a.site_id = *site;
  a.name = name;
  a.machine_class = machine_class;
  auto id = store.upsert_asset(a);
  REQUIRE(id.ok());
  return *id;
}
}  // namespace

TEST_CASE("a user class hides a configured one, which hides a built-in one", "[analytics]") {
  ZoneTable t;
  auto builtin = t.find("iso10816_class2");
  REQUIRE(builtin);
  CHECK(builtin->source == ClassSource::kBuiltin);
  CHECK_FALSE(builtin->hides);

  REQUIRE(t.set_layer(ClassSource::kConfig, {{"iso10816_class2", {1.0, 2.0, 6.0}}, {"fan_l3", {1, 2, 3}}}).ok());
  CHECK(t.find("iso10816_class2")->source == ClassSource::kConfig);
  CHECK(t.find("iso10816_class2")->hides == ClassSource::kBuiltin);
  CHECK(t.limits("iso10816_class2")->cd == 6.0);

  REQUIRE(t.register_class("iso10816_class2", {1.5, 3.0, 9.0}).ok());
  CHECK(t.find("iso10816_class2")->source == ClassSource::kUser);
  CHECK(t.find("iso10816_class2")->hides == ClassSource::kConfig);
  CHECK(t.limits("iso10816_class2")->cd == 9.0);

  CHECK(t.unregister_class("iso10816_class2"));
  CHECK(t.limits("iso10816_class2")->cd == 6.0);
  CHECK_FALSE(t.unregister_class("iso10816_class2"));  // no user class left
  CHECK(t.find("fan_l3")->source == ClassSource::kConfig);
  CHECK(t.list().size() == 9);
}

TEST_CASE("a layer is replaced as a whole, and not at all when one of its classes is bad", "[analytics]") {
  ZoneTable t;
  REQUIRE(t.set_layer(ClassSource::kConfig, {{"a", {1, 2, 3}}, {"b", {1, 2, 3}}}).ok());
  REQUIRE(t.set_layer(ClassSource::kConfig, {{"b", {2, 3, 4}}}).ok());
  CHECK_FALSE(t.find("a"));
  CHECK(t.limits("b")->ab == 2);
  CHECK(t.set_layer(ClassSource::kConfig, {{"c", {1, 2, 3}}, {"d", {3, 2, 1}}}).code() ==
        Status::Code::kInvalidArgument);
  CHECK(t.limits("b")->ab == 2);
  CHECK_FALSE(t.find("c"));
  CHECK(t.find("iso10816_class1"));  // other layers untouched
}

TEST_CASE("user classes survive a store reopen and keep precedence over configured ones", "[analytics]") {
  TempDir dir;
  {
    auto store = open_store(dir);
    ZoneTable t;
    MachineClasses mc(*store, t);
    REQUIRE(mc.load({{"fan_l3", {1, 2, 3}}}).ok());
    REQUIRE(mc.put("pump_l7", {2, 4, 8}).ok());
    REQUIRE(mc.put("fan_l3", {1.5, 2.5, 3.5}).ok());
    CHECK(mc.put("bad one", {1, 2, 3}).code() == Status::Code::kInvalidArgument);
    CHECK(mc.put("pump_l8", {4, 2, 8}).code() == Status::Code::kInvalidArgument);
  }
  auto store = open_store(dir);
  ZoneTable t;
  MachineClasses mc(*store, t);
  REQUIRE(mc.load({{"fan_l3", {1, 2, 3}}, {"iso10816_class4", {3, 8, 20}}}).ok());
  CHECK(mc.find("pump_l7")->source == ClassSource::kUser);
  CHECK(mc.find("pump_l7")->limits == ZoneLimits{2, 4, 8});
  CHECK(mc.find("fan_l3")->source == ClassSource::kUser);
  CHECK(mc.find("fan_l3")->hides == ClassSource::kConfig);
  CHECK(mc.find("fan_l3")->limits.ab == 1.5);
  CHECK(mc.find("iso10816_class4")->source == ClassSource::kConfig);
  CHECK_FALSE(mc.find("pump_l8"));
  CHECK_FALSE(mc.find("bad one"));
}

TEST_CASE("removing a user class restores the class it overrode", "[analytics]") {
  Registry r;
  REQUIRE(r.mc.put("iso10816_class2", {2, 4, 8}).ok());
  add_asset(*r.store, "Pump", "iso10816_class2");  // the built-in class stays beneath
  REQUIRE(r.mc.remove("iso10816_class2").ok());
  CHECK(r.mc.find("iso10816_class2")->source == ClassSource::kBuiltin);
  CHECK(r.mc.find("iso10816_class2")->limits.ab == 1.12);
  CHECK(r.store->machine_classes()->empty());
}

TEST_CASE("built-in and configured classes cannot be removed, and unknown ones are not found", "[analytics]") {
  Registry r({{"fan_l3", {1, 2, 3}}});
  auto b = r.mc.remove("iso10816_class1");
  CHECK(b.code() == Status::Code::kFailedPrecondition);
  CHECK(b.message().find("built in") != std::string::npos);
  auto c = r.mc.remove("fan_l3");
  CHECK(c.code() == Status::Code::kFailedPrecondition);
  CHECK(c.message().find("analytics.machine_classes") != std::string::npos);
  CHECK(r.mc.remove("nothing_here").code() == Status::Code::kNotFound);
  CHECK(r.mc.find("fan_l3"));
}

TEST_CASE("a class an asset still names is kept, and the refusal names the asset", "[analytics]") {
  Registry r;
  REQUIRE(r.mc.put("pump_l7", {2, 4, 8}).ok());
  Id id = add_asset(*r.store, "Cooling pump", "pump_l7");
  auto s = r.mc.remove("pump_l7");
  CHECK(s.code() == Status::Code::kFailedPrecondition);
  CHECK(s.message().find("'Cooling pump' (id " + std::to_string(id) + ")") != std::string::npos);
  CHECK(r.mc.find("pump_l7"));
  CHECK(r.store->machine_classes()->size() == 1);
}

TEST_CASE("a stored class that no longer passes the rule is skipped at load", "[analytics]") {
  Registry r;
  REQUIRE(r.store->write_txn([](sql::Db& db) {
                   return db.exec("INSERT INTO machine_classes VALUES('fine', 1, 2, 3), ('upside_down', 3, 2, 1)");
                 }).ok());
  REQUIRE(r.mc.load_user().ok());
  CHECK(r.mc.find("fine"));
  CHECK_FALSE(r.mc.find("upside_down"));
}

TEST_CASE("an analyzer scores by its class's new limits once they are reloaded", "[analytics]") {
  REQUIRE(ZoneTable::global().register_class("test_reload_cls", {1, 2, 4}).ok());
  MachineInfo m;
  m.machine_class = "test_reload_cls";
  PositionAnalyzer pa(m, AnalyticsOptions{});
  TimestampMs t = 1'700'000'000'000;
  CHECK(*pa.assess_vibration(t += 3'600'000, {{"velocity_rms_mm_s", 3.0}}).zone == Zone::kC);
  REQUIRE(ZoneTable::global().register_class("test_reload_cls", {4, 5, 6}).ok());
  pa.reload_zone_limits();
  CHECK(*pa.assess_vibration(t += 3'600'000, {{"velocity_rms_mm_s", 3.0}}).zone == Zone::kA);
  ZoneTable::global().unregister_class("test_reload_cls");
  pa.reload_zone_limits();
  CHECK_FALSE(pa.assess_vibration(t += 3'600'000, {{"velocity_rms_mm_s", 3.0}}).zone);
}

TEST_CASE("the pipeline scores with a class's changed limits after invalidate_machines", "[analytics]") {
  TempDir dir;
  auto store = open_store(dir);
  MachineClasses mc(*store);  // the global table the pipeline reads
  REQUIRE(mc.put("test_pipeline_cls", {1, 2, 4}).ok());
  Id asset = add_asset(*store, "Fan", "test_pipeline_cls");
  auto pos = store->upsert_position(Position{0, asset, "DE", PositionType::kFan});
  REQUIRE(pos.ok());
  auto p = Pipeline::create(*store, PipelineOptions{});
  REQUIRE(p.ok());
  auto iso_pointwise = [&](TimestampMs ts) {
    AcceptedReading r{{"sim:fan", "velocity_rms_mm_s", ts, 3.0}, 1, 1, *pos};
    REQUIRE((*p)->submit_readings(std::span<const AcceptedReading>(&r, 1)));
    (*p)->drain();
    auto h = (*p)->position_health(*pos);
    REQUIRE(h.ok());
    for (auto& m : h->models)
      if (m.model == kVibrationIso) return m.pointwise;
    return HealthState::kUnknown;
  };
  TimestampMs t = 1'700'000'000'000;
  CHECK(iso_pointwise(t += 600'000) == HealthState::kWarning);  // 3 mm/s in zone C
  REQUIRE(mc.put("test_pipeline_cls", {4, 5, 6}).ok());
  (*p)->invalidate_machines();
  CHECK(iso_pointwise(t += 600'000) == HealthState::kHealthy);  // now zone A
  p->reset();
  REQUIRE(store->write_txn([](sql::Db& db) { return db.exec("UPDATE assets SET machine_class = 'iso10816_class2'"); })
              .ok());
  REQUIRE(mc.remove("test_pipeline_cls").ok());
}

TEST_CASE("moving an asset to another class changes its ISO zones but keeps its learned baseline", "[analytics]") {
  TempDir dir;
  auto store = open_store(dir);
  Id asset = add_asset(*store, "Pump", "iso10816_class2");
  auto pos = store->upsert_position(Position{0, asset, "DE", PositionType::kPump});
  REQUIRE(pos.ok());
  PipelineOptions o;
  o.analytics.learn_count = 12;
  auto p = Pipeline::create(*store, o);
  REQUIRE(p.ok());
  TimestampMs t = 1'700'000'000'000;
  auto states = [&](double v) {
    AcceptedReading r{{"sim:pump", "velocity_rms_mm_s", t += 600'000, v}, 1, 1, *pos};
    REQUIRE((*p)->submit_readings(std::span<const AcceptedReading>(&r, 1)));
    (*p)->drain();
    std::map<std::string, HealthState> out;
    auto h = (*p)->position_health(*pos);
    REQUIRE(h.ok());
    for (auto& m : h->models) out[m.model] = m.persistent;
    return out;
  };
  for (int i = 0; i < 16; ++i) states(3.0 + 0.05 * (i % 3));  // 3 mm/s: zone B of class II
  REQUIRE(states(3.05)[kVibrationMl] == HealthState::kHealthy);
  // Class I (small machines) puts 3 mm/s in zone C.
  REQUIRE(store->write_txn([&](sql::Db& db) {
                 return db.exec("UPDATE assets SET machine_class = 'iso10816_class1' WHERE id = " +
                                std::to_string(asset));
               }).ok());
  (*p)->invalidate_machines();
  states(3.0);
  auto after = states(3.05);
  CHECK(after[kVibrationIso] == HealthState::kWarning);
  CHECK(after[kVibrationMl] == HealthState::kHealthy);  // not back to initializing
}

TEST_CASE("vigil backtest --config scores with the configured machine classes", "[analytics]") {
  TempDir dir;
  {
    std::ofstream csv(dir.file("in.csv"));
    csv << "timestamp,velocity_rms_mm_s\n";
    for (int i = 0; i < 5; ++i) csv << 1'700'000'000 + i * 600 << ",3.0\n";
    std::ofstream cfg(dir.file("vigil.json"));
    cfg << R"({"analytics": {"machine_classes": {"iso10816_class2": {"ab": 4, "bc": 5, "cd": 6}}}})";
  }
  auto first_zone = [&](const std::string& config) {
    BacktestOptions b;
    b.csv = dir.file("in.csv");
    b.out = dir.file("out.csv");
    b.config = config;
    std::ostringstream out, err;
    REQUIRE(run_backtest(b, out, err) == 0);
    std::ifstream in(b.out);
    std::string header, row;
    std::getline(in, header);
    std::getline(in, row);
    REQUIRE(header.rfind("timestamp,score,state,iso_state,iso_zone,", 0) == 0);
    std::vector<std::string> cells;
    std::stringstream ss(row);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    REQUIRE(cells.size() > 4);
    return cells[4];
  };
  CHECK(first_zone("") == "C");  // the built-in class II: 3 mm/s is above B/C 2.8
  CHECK(first_zone(dir.file("vigil.json")) == "A");
  REQUIRE(ZoneTable::global().set_layer(ClassSource::kConfig, {}).ok());
}
