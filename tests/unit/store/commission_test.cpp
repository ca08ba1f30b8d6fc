// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;

namespace {
std::optional<std::vector<std::uint8_t>> stored_key(Store& store, Id id) {
  std::optional<std::vector<std::uint8_t>> key;
  REQUIRE(store.read([&](sql::Db& db) -> Status {
                 auto q = db.prepare("SELECT key FROM sensors WHERE id = ?");
                 if (!q) return q.status();
                 (*q)->bind(1, id);
                 auto r = (*q)->step();
                 if (!r) return r.status();
                 if (*r && !(*q)->is_null(0)) {
                   auto b = (*q)->blob(0);
                   key.emplace(b.begin(), b.end());
                 }
                 (*q)->reset();
                 return Status::Ok();
               })
              .ok());
  return key;
}
}  // namespace

TEST_CASE("commissioning writes the sensor and its key together and ends a decommissioning") {
  TempDir dir;
  StoreOptions o;
  o.path = dir.file("c.db");
  auto store = Store::open(o).value();
  Sensor s;
  s.address = "AA:BB:CC:DD:EE:01";
  s.format = "bthome";
  s.decommissioned_at = 5;
  auto first = store->upsert_sensor(s);
  REQUIRE(first);
  const std::vector<std::uint8_t> key(16, 0xab);
  s.decommissioned_at.reset();
  auto id = store->commission_sensor(s, key);
  REQUIRE(id);
  CHECK(*id == *first);
  CHECK(stored_key(*store, *id) == key);
  auto back = store->sensor_by_address(s.address);
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK_FALSE((*back)->decommissioned_at.has_value());
  // Re-commissioned without a key: the old key does not linger.
  REQUIRE(store->commission_sensor(s, std::nullopt));
  CHECK_FALSE(stored_key(*store, *id).has_value());
}
