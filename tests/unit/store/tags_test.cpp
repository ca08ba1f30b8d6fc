// SPDX-License-Identifier: Apache-2.0
// Tags on sensors, assets and positions (store.h, core v6): validated,
// replaced as a whole, audited, gone with a purged row; the firmware version.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;

namespace {
struct Rig {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<Store> store;
  Id site = 0, asset = 0, pos = 0, sensor = 0;
  Rig() {
    StoreOptions o;
    o.path = dir.file("t.db");
    o.clock = &clock;
    store = Store::open(o).value();
    site = store->upsert_site(Site{0, "North", "UTC"}).value();
    Asset a;
    a.site_id = site;
    a.name = "Pump 1";
    asset = store->upsert_asset(a).value();
    pos = store->upsert_position(Position{0, asset, "DE", PositionType::kMotor}).value();
    Sensor s;
    s.address = "AA:BB:CC:DD:EE:01";
    s.format = "vigil";
    s.position_id = pos;
    s.commissioned_at = clock.now_ms();
    sensor = store->commission_sensor(s, std::nullopt).value();
  }
};
}  // namespace

TEST_CASE("Tags are replaced as a whole, audited and listed") {
  Rig r;
  REQUIRE(r.store->set_tags(TagKind::kAsset, r.asset, {{"line", "2"}, {"criticality", "A"}}, "ann").ok());
  REQUIRE(r.store->set_tags(TagKind::kAsset, r.asset, {{"line", "3"}}, "ann").ok());
  CHECK(r.store->tags(TagKind::kAsset, r.asset).value() == Tags{{"line", "3"}});
  REQUIRE(r.store->set_tags(TagKind::kSensor, r.sensor, {{"batch", "7"}}, "ann").ok());
  auto all = r.store->all_tags().value();
  CHECK(all.size() == 2);
  auto log = r.store->audit_log(5).value();
  REQUIRE_FALSE(log.empty());
  CHECK(log.front().action == "sensor.tags");
  CHECK(log.front().detail == "batch=7");
  CHECK(r.store->set_tags(TagKind::kPosition, 999, {{"a", "b"}}, "ann").code() == Status::Code::kNotFound);
  CHECK(r.store->tags(TagKind::kPosition, 999).status().code() == Status::Code::kNotFound);
}

TEST_CASE("Bad tags are refused and nothing is written") {
  Rig r;
  Tags many;
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  CHECK(r.store->set_tags(TagKind::kAsset, r.asset, many, "a").code() == Status::Code::kInvalidArgument);
  CHECK(r.store->set_tags(TagKind::kAsset, r.asset, {{"a b", "x"}}, "a").code() == Status::Code::kInvalidArgument);
  CHECK(r.store->set_tags(TagKind::kAsset, r.asset, {{"k", std::string(65, 'v')}}, "a").code() ==
        Status::Code::kInvalidArgument);
  CHECK(r.store->set_tags(TagKind::kAsset, r.asset, {{"k", "a\nb"}}, "a").code() == Status::Code::kInvalidArgument);
  CHECK(r.store->all_tags().value().empty());
}

TEST_CASE("Purging an asset deletes its tags and its positions' tags") {
  Rig r;
  REQUIRE(r.store->set_tags(TagKind::kAsset, r.asset, {{"line", "2"}}, "a").ok());
  REQUIRE(r.store->set_tags(TagKind::kPosition, r.pos, {{"side", "DE"}}, "a").ok());
  REQUIRE(r.store->set_tags(TagKind::kSensor, r.sensor, {{"batch", "1"}}, "a").ok());
  REQUIRE(r.store->archive(CatalogKind::kAsset, r.asset, "a").ok());
  REQUIRE(r.store->purge(CatalogKind::kAsset, r.asset, "Pump 1", "a").ok());
  auto all = r.store->all_tags().value();
  REQUIRE(all.size() == 1);  // the sensor stays (decommissioned), with its tags
  CHECK(all[0].kind == TagKind::kSensor);
}

TEST_CASE("The firmware version a sensor advertised is kept, per sensor") {
  Rig r;
  CHECK(r.store->sensor_firmware().value().empty());
  REQUIRE(r.store->set_sensor_firmware("AA:BB:CC:DD:EE:01", "1.2.0").ok());
  REQUIRE(r.store->set_sensor_firmware("AA:BB:CC:DD:EE:01", "1.3.0").ok());
  CHECK(r.store->sensor_firmware().value() == std::map<Id, std::string>{{r.sensor, "1.3.0"}});
  CHECK(r.store->set_sensor_firmware("AA:BB:CC:DD:EE:99", "1.0").code() == Status::Code::kNotFound);
}
