// SPDX-License-Identifier: Apache-2.0
// What the scanner reads and writes in the database, against a real store:
// the commissioned sensors (read) and the ble_sensor_health table (the ble
// module's own), including the replay counter and the key it belongs to.
#include <catch2/catch.hpp>

#include "ble/commissioned_sensors.h"
#include "ble/ble_service.h"
#include "ble/frame_router.h"
#include "ble/sensor_health_table.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using namespace vigil::ble;

namespace {

constexpr const char* kMac = "C0:FF:EE:00:00:01";
const std::vector<std::uint8_t> kKeyBytes = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                             0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

struct Rig {
  TempDir dir;
  ManualClock clock{1767225600000};
  std::unique_ptr<Store> store;
  Id position = 0, asset = 0;

  Rig() {
    StoreOptions so;
    so.path = dir.file("vigil.db");
    so.clock = &clock;
    auto s = Store::open(so);
    REQUIRE(s.ok());
    store = std::move(*s);
    REQUIRE(migrate_sensor_health_table(*store).ok());
    auto site = store->upsert_site({0, "plant", "UTC"});
    REQUIRE(site.ok());
    Asset a;
    a.site_id = *site;
    a.name = "pump 1";
    auto as = store->upsert_asset(a);
    REQUIRE(as.ok());
    asset = *as;
    auto pos = store->upsert_position({0, asset, "motor DE", PositionType::kMotor});
    REQUIRE(pos.ok());
    position = *pos;
  }
  Id commission(const std::string& address, std::optional<std::vector<std::uint8_t>> key,
                std::optional<Id> pos = std::nullopt) {
    Sensor s;
    s.address = address;
    s.format = "vigil";
    s.position_id = pos;
    s.commissioned_at = clock.now_ms();
    auto id = store->commission_sensor(s, key);
    REQUIRE(id.ok());
    return *id;
  }
};

StoredSensorHealth row(Id id, std::optional<std::uint32_t> counter, std::optional<std::string> key) {
  StoredSensorHealth r;
  r.health.sensor_id = id;
  r.health.address = kMac;
  r.health.last_seen = 1767225600000;
  r.health.rssi_dbm = -61;
  r.health.battery_pct = 88.5;
  r.health.expected_interval_ms = 10000;
  r.health.adverts = 12;
  r.health.frames_accepted = 10;
  r.health.rejected["replay"] = 2;
  r.health.last_counter = counter;
  r.health.last_error = "replay: counter 3 <= 9";
  r.counter_key = std::move(key);
  return r;
}

}  // namespace

TEST_CASE("Commissioned BLE sensors are read with their key and place; decommissioned and simulated ones are not") {
  Rig r;
  r.commission("c0:ff:ee:00:00:01", kKeyBytes, r.position);
  r.commission("AA:BB:CC:DD:EE:02", std::nullopt);
  r.commission("sim:pump-1-de", std::nullopt);
  Id gone = r.commission("AA:BB:CC:DD:EE:03", std::nullopt);
  REQUIRE(r.store
              ->write_txn([&](sql::Db& d) -> Status {
                auto q = d.prepare("UPDATE sensors SET decommissioned_at = 1 WHERE id = ?");
                if (!q) return q.status();
                return (*q)->bind(1, gone).run();
              })
              .ok());
  auto sensors = load_commissioned_sensors(*r.store);
  REQUIRE(sensors.ok());
  REQUIRE(sensors->size() == 2);
  const auto& s = sensors->at(kMac);  // normalised
  REQUIRE(s.key);
  CHECK(std::equal(s.key->begin(), s.key->end(), kKeyBytes.begin()));
  CHECK(s.position_id == r.position);
  CHECK(s.asset_id == r.asset);
  CHECK(s.format == "vigil");
  CHECK_FALSE(sensors->at("AA:BB:CC:DD:EE:02").key);
}

TEST_CASE("Sensor health rows round-trip through ble_sensor_health") {
  Rig r;
  Id id = r.commission(kMac, kKeyBytes);
  REQUIRE(save_sensor_health(*r.store, {row(id, 9, "k1")}, r.clock.now_ms()).ok());
  auto rows = load_sensor_health(*r.store);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  const auto& h = (*rows)[0].health;
  CHECK(h.sensor_id == id);
  CHECK(h.address == kMac);
  CHECK(h.rssi_dbm == -61);
  CHECK(h.battery_pct == Approx(88.5));
  CHECK(h.expected_interval_ms == 10000);
  CHECK(h.adverts == 12);
  CHECK(h.frames_accepted == 10);
  CHECK(h.rejected.at("replay") == 2);
  CHECK(h.last_counter == 9u);
  CHECK((*rows)[0].counter_key == "k1");
  CHECK(h.last_error == "replay: counter 3 <= 9");

  auto api = persisted_health(*r.store, id);
  REQUIRE(api.ok());
  CHECK((*api)["frames_accepted"] == 10);
  CHECK((*api)["decommissioned"] == false);
  CHECK(api->dump().find("key") == std::string::npos);  // no key, no counter_key
}

TEST_CASE("A row saved without a counter keeps the stored one under the same key and drops it under another") {
  Rig r;
  Id id = r.commission(kMac, kKeyBytes);
  REQUIRE(save_sensor_health(*r.store, {row(id, 9, "k1")}, 1).ok());
  REQUIRE(save_sensor_health(*r.store, {row(id, std::nullopt, "k1")}, 2).ok());
  auto rows = load_sensor_health(*r.store);
  REQUIRE(rows.ok());
  CHECK((*rows)[0].health.last_counter == 9u);
  REQUIRE(save_sensor_health(*r.store, {row(id, std::nullopt, "k2")}, 3).ok());
  rows = load_sensor_health(*r.store);
  REQUIRE(rows.ok());
  CHECK_FALSE((*rows)[0].health.last_counter);
  CHECK((*rows)[0].counter_key == "k2");
}

TEST_CASE("An unknown sensor has no persisted health") {
  Rig r;
  auto api = persisted_health(*r.store, 999);
  REQUIRE(api.ok());
  CHECK(api->is_null());
}
