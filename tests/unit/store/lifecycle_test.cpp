// SPDX-License-Identifier: Apache-2.0
// The fleet lifecycle in the store (store.h, "catalog lifecycle"): renames in
// place, archive and purge, moves, and history that follows positions.
#include <catch2/catch.hpp>

#include <algorithm>

#include "store/schema.h"
#include "vigil_test/store_scalar.h"
#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;

namespace {

struct Plant {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<Store> store;
  Id site = 0, asset = 0, de = 0, nde = 0, sensor = 0;

  Plant() {
    StoreOptions o;
    o.path = dir.file("p.db");
    o.clock = &clock;
    store = Store::open(o).value();
    site = store->upsert_site(Site{0, "North", "UTC"}).value();
    Asset a;
    a.site_id = site;
    a.name = "Pump 1";
    a.machine_class = "iso10816_class2";
    asset = store->upsert_asset(a).value();
    de = store->upsert_position(Position{0, asset, "Motor DE", PositionType::kMotor}).value();
    nde = store->upsert_position(Position{0, asset, "Motor NDE", PositionType::kMotor}).value();
    sensor = commission("AA:BB:CC:DD:EE:01", de);
  }
  Id commission(const std::string& address, std::optional<Id> position) {
    Sensor s;
    s.address = address;
    s.format = "vigil";
    s.position_id = position;
    s.commissioned_at = clock.now_ms();
    return store->commission_sensor(s, std::nullopt).value();
  }
  // What the ingest path does for one reading: the sensor's current series
  // for the metric, then the point.
  Id reading(Id sensor_id, double value, const std::string& metric = "velocity_rms_mm_s") {
    Id series = store->ensure_series(sensor_id, metric, "mm/s").value();
    clock.advance(60'000);
    SeriesPoint p{series, clock.now_ms(), value};
    REQUIRE(store->append({&p, 1}).ok());
    REQUIRE(store->flush().ok());
    return series;
  }
  std::vector<std::string> audit_actions() {
    auto log = store->audit_log(100);
    REQUIRE(log);
    std::vector<std::string> out;
    for (const auto& e : *log) out.push_back(e.action);
    return out;
  }
  std::int64_t count(const std::string& sql) { return vigil_test::scalar(*store, sql); }
};

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("rename keeps the asset id and is audited") {
  Plant p;
  REQUIRE(p.store->rename(CatalogKind::kAsset, p.asset, "Pump P-101", "alice").ok());
  auto assets = p.store->assets().value();
  REQUIRE(assets.size() == 1);
  CHECK(assets[0].id == p.asset);
  CHECK(assets[0].name == "Pump P-101");
  CHECK(assets[0].machine_class == "iso10816_class2");  // nothing else changes
  CHECK(p.store->positions(p.asset).value().size() == 2);
  auto log = p.store->audit_log(1).value();
  REQUIRE(log.size() == 1);
  CHECK(log[0].action == "asset.rename");
  CHECK(log[0].actor == "alice");
  CHECK(log[0].detail.find("Pump P-101") != std::string::npos);
}

TEST_CASE("renaming to a sibling's name is refused and changes nothing") {
  Plant p;
  auto st = p.store->rename(CatalogKind::kPosition, p.nde, "Motor DE", "alice");
  CHECK(st.code() == Status::Code::kAlreadyExists);
  CHECK(p.store->position(p.nde).value().name == "Motor NDE");
  CHECK(p.store->rename(CatalogKind::kSite, 999, "X", "alice").code() == Status::Code::kNotFound);
  CHECK(p.store->rename(CatalogKind::kSite, p.site, "", "alice").code() == Status::Code::kInvalidArgument);
  // The same name under another asset is fine.
  Asset b;
  b.site_id = p.site;
  b.name = "Pump 2";
  Id other = p.store->upsert_asset(b).value();
  Id pos = p.store->upsert_position(Position{0, other, "Shaft", PositionType::kPump}).value();
  CHECK(p.store->rename(CatalogKind::kPosition, pos, "Motor DE", "alice").ok());
}

TEST_CASE("an archived asset is hidden from the lists but its history stays readable") {
  Plant p;
  Id series = p.reading(p.sensor, 2.5);
  REQUIRE(p.store->archive(CatalogKind::kAsset, p.asset, "alice").ok());
  CHECK(p.store->assets().value().empty());
  CHECK(p.store->positions().value().empty());
  CHECK(p.store->sites().value().size() == 1);  // the site is not archived
  CHECK(p.store->archived(CatalogKind::kPosition, p.de).value());
  // Readable by id: the asset, the position's series and its points.
  CHECK(p.store->asset(p.asset).value().name == "Pump 1");
  auto s = p.store->series(p.de).value();
  REQUIRE(s.size() == 1);
  CHECK(s[0].id == series);
  CHECK(p.store->range(series, 0, p.clock.now_ms()).value().size() == 1);
  // The sensor on it is decommissioned.
  CHECK(p.store->sensor(p.sensor).value().decommissioned_at.has_value());
  CHECK(has(p.audit_actions(), "asset.archive"));
  // Archiving again is a no-op; creating it again by name brings it back.
  CHECK(p.store->archive(CatalogKind::kAsset, p.asset, "alice").ok());
  Asset again;
  again.site_id = p.site;
  again.name = "Pump 1";
  CHECK(p.store->upsert_asset(again).value() == p.asset);
  CHECK(p.store->assets().value().size() == 1);
}

TEST_CASE("purge needs the row's name and an archive first, then deletes the position's history") {
  Plant p;
  Id de_series = p.reading(p.sensor, 2.5);
  Id other_sensor = p.commission("AA:BB:CC:DD:EE:02", p.nde);
  Id nde_series = p.reading(other_sensor, 1.5);
  REQUIRE(p.store->checkpoint().ok());
  p.reading(p.sensor, 2.6);  // one more point still in the ingest log
  Measurement m;
  m.position_id = p.de;
  m.ts = p.clock.now_ms();
  REQUIRE(p.store->put_measurement(m));

  CHECK(p.store->purge(CatalogKind::kPosition, p.de, "Motor DE", "alice").code() ==
        Status::Code::kFailedPrecondition);  // not archived
  REQUIRE(p.store->archive(CatalogKind::kPosition, p.de, "alice").ok());
  CHECK(p.store->purge(CatalogKind::kPosition, p.de, "motor de", "alice").code() ==
        Status::Code::kFailedPrecondition);  // wrong confirmation
  CHECK(p.store->position(p.de).ok());

  REQUIRE(p.store->purge(CatalogKind::kPosition, p.de, "Motor DE", "alice").ok());
  CHECK(p.store->position(p.de).status().code() == Status::Code::kNotFound);
  CHECK(p.store->series(p.de).value().empty());
  CHECK_FALSE(p.store->latest(de_series).has_value());
  CHECK(p.count("SELECT count(*) FROM chunks WHERE series_id = " + std::to_string(de_series)) == 0);
  CHECK(p.count("SELECT count(*) FROM ingest_log WHERE series_id = " + std::to_string(de_series)) == 0);
  CHECK(p.count("SELECT count(*) FROM measurements WHERE position_id = " + std::to_string(p.de)) == 0);
  // The sensor stays, decommissioned and unassigned; the other position is untouched.
  auto s = p.store->sensor(p.sensor).value();
  CHECK_FALSE(s.position_id.has_value());
  CHECK(s.decommissioned_at.has_value());
  CHECK(p.store->latest(nde_series).has_value());
  CHECK(has(p.audit_actions(), "position.purge"));
  // A checkpoint after the purge writes nothing for the deleted series.
  REQUIRE(p.store->checkpoint().ok());
  CHECK(p.count("SELECT count(*) FROM chunks WHERE series_id = " + std::to_string(de_series)) == 0);
}

TEST_CASE("purging a site takes its assets and positions with it") {
  Plant p;
  p.reading(p.sensor, 2.5);
  REQUIRE(p.store->archive(CatalogKind::kSite, p.site, "alice").ok());
  REQUIRE(p.store->purge(CatalogKind::kSite, p.site, "North", "alice").ok());
  CHECK(p.count("SELECT count(*) FROM sites") == 0);
  CHECK(p.count("SELECT count(*) FROM assets") == 0);
  CHECK(p.count("SELECT count(*) FROM positions") == 0);
  CHECK(p.count("SELECT count(*) FROM series") == 0);
  CHECK(p.count("SELECT count(*) FROM sensors") == 1);
}

TEST_CASE("a purge hands what it deletes to the modules' hooks in its own transaction") {
  Plant p;
  // A module's own table that refers to positions and assets.
  REQUIRE(p.store->migrate("probe", {"CREATE TABLE probe_rows(position_id INTEGER, asset_id INTEGER);"}).ok());
  REQUIRE(p.store
              ->write_txn([&](sql::Db& db) {
                return db.exec("INSERT INTO probe_rows VALUES(" + std::to_string(p.de) + ", NULL), (" +
                               std::to_string(p.nde) + ", NULL), (NULL, " + std::to_string(p.asset) + ")");
              })
              .ok());
  Store::PurgedScope seen;
  bool fail = true;
  p.store->add_purge_hook("probe", [&](sql::Db& db, const Store::PurgedScope& scope) -> Status {
    seen = scope;
    for (Id pos : scope.positions)
      VIGIL_RETURN_IF_ERROR(db.exec("DELETE FROM probe_rows WHERE position_id = " + std::to_string(pos)));
    for (Id a : scope.assets)
      VIGIL_RETURN_IF_ERROR(db.exec("DELETE FROM probe_rows WHERE asset_id = " + std::to_string(a)));
    return fail ? Status::IoError("disk full") : Status::Ok();
  });
  REQUIRE(p.store->archive(CatalogKind::kAsset, p.asset, "alice").ok());

  // A failing hook rolls the whole purge back: nothing is half deleted.
  auto st = p.store->purge(CatalogKind::kAsset, p.asset, "Pump 1", "alice");
  CHECK(st.code() == Status::Code::kIoError);
  CHECK(st.message().find("probe") != std::string::npos);
  CHECK(p.store->position(p.de).ok());
  CHECK(p.count("SELECT count(*) FROM probe_rows") == 3);

  fail = false;
  REQUIRE(p.store->purge(CatalogKind::kAsset, p.asset, "Pump 1", "alice").ok());
  std::sort(seen.positions.begin(), seen.positions.end());
  CHECK(seen.positions == std::vector<Id>{p.de, p.nde});
  CHECK(seen.assets == std::vector<Id>{p.asset});
  CHECK(p.count("SELECT count(*) FROM probe_rows") == 0);
  CHECK(p.count("SELECT count(*) FROM positions") == 0);
}

TEST_CASE("moving a sensor leaves its past on the old position") {
  Plant p;
  Id old_series = p.reading(p.sensor, 2.0);
  p.reading(p.sensor, 2.1);
  REQUIRE(p.store->move_sensor(p.sensor, p.nde, "alice").ok());
  CHECK(p.store->sensor(p.sensor).value().position_id == p.nde);
  Id new_series = p.reading(p.sensor, 3.0);
  CHECK(new_series != old_series);
  auto at_de = p.store->series(p.de).value();
  REQUIRE(at_de.size() == 1);
  CHECK(at_de[0].id == old_series);
  CHECK(p.store->range(old_series, 0, p.clock.now_ms()).value().size() == 2);
  auto at_nde = p.store->series(p.nde).value();
  REQUIRE(at_nde.size() == 1);
  CHECK(at_nde[0].id == new_series);
  CHECK(p.store->range(new_series, 0, p.clock.now_ms()).value().size() == 1);
  CHECK(has(p.audit_actions(), "sensor.move"));
  // Moving to where it is changes nothing; an archived or unknown position is refused.
  CHECK(p.store->move_sensor(p.sensor, p.nde, "alice").ok());
  CHECK(p.store->ensure_series(p.sensor, "velocity_rms_mm_s", "mm/s").value() == new_series);
  CHECK(p.store->move_sensor(p.sensor, 999, "alice").code() == Status::Code::kNotFound);
  REQUIRE(p.store->archive(CatalogKind::kPosition, p.de, "alice").ok());
  CHECK(p.store->move_sensor(p.sensor, p.de, "alice").code() == Status::Code::kFailedPrecondition);
}

TEST_CASE("re-commissioning a sensor on another position also leaves its past behind") {
  Plant p;
  Id old_series = p.reading(p.sensor, 2.0);
  p.commission("AA:BB:CC:DD:EE:01", p.nde);
  Id new_series = p.reading(p.sensor, 3.0);
  CHECK(new_series != old_series);
  CHECK(p.store->series(p.de).value().size() == 1);
  CHECK(p.store->series(p.nde).value().size() == 1);
}

TEST_CASE("replacing a sensor keeps the history with the position and decommissions the old one") {
  Plant p;
  Id old_series = p.reading(p.sensor, 2.0);
  const std::vector<std::uint8_t> key(16, 0x42);
  auto fresh = p.store->replace_sensor(p.sensor, "AA:BB:CC:DD:EE:09", key, "alice");
  REQUIRE(fresh);
  CHECK(*fresh != p.sensor);
  auto old = p.store->sensor(p.sensor).value();
  CHECK(old.decommissioned_at.has_value());
  CHECK_FALSE(old.position_id.has_value());
  auto repl = p.store->sensor(*fresh).value();
  CHECK(repl.position_id == p.de);
  CHECK(repl.format == "vigil");  // takes the old one's format
  CHECK_FALSE(repl.decommissioned_at.has_value());
  Id new_series = p.reading(*fresh, 2.2);
  auto at_de = p.store->series(p.de).value();
  REQUIRE(at_de.size() == 2);
  CHECK(((at_de[0].id == old_series && at_de[1].id == new_series) ||
         (at_de[1].id == old_series && at_de[0].id == new_series)));
  CHECK(has(p.audit_actions(), "sensor.replace"));
  // The replaced sensor is on no position now: it cannot be replaced again.
  CHECK(p.store->replace_sensor(p.sensor, "AA:BB:CC:DD:EE:0A", std::nullopt, "alice").status().code() ==
        Status::Code::kFailedPrecondition);
}

TEST_CASE("decommissioning is audited once and keeps the sensor's rows") {
  Plant p;
  p.reading(p.sensor, 2.0);
  REQUIRE(p.store->decommission_sensor(p.sensor, "alice").ok());
  REQUIRE(p.store->decommission_sensor(p.sensor, "alice").ok());
  auto s = p.store->sensor(p.sensor).value();
  CHECK(s.decommissioned_at.has_value());
  CHECK(s.position_id == p.de);
  CHECK(p.store->series(p.de).value().size() == 1);
  auto actions = p.audit_actions();
  CHECK(std::count(actions.begin(), actions.end(), "sensor.decommission") == 1);
  CHECK(p.store->decommission_sensor(12345, "alice").code() == Status::Code::kNotFound);
}

TEST_CASE("moving an asset to another site keeps its id and refuses a name clash") {
  Plant p;
  Id south = p.store->upsert_site(Site{0, "South", "UTC"}).value();
  REQUIRE(p.store->move_asset(p.asset, south, "alice").ok());
  CHECK(p.store->asset(p.asset).value().site_id == south);
  CHECK(p.store->assets(south).value().size() == 1);
  Asset twin;
  twin.site_id = p.site;
  twin.name = "Pump 1";
  Id other = p.store->upsert_asset(twin).value();
  CHECK(p.store->move_asset(other, south, "alice").code() == Status::Code::kAlreadyExists);
  CHECK(p.store->asset(other).value().site_id == p.site);
}

namespace {
SensorImportRow row(int line, const std::string& address, const std::string& position,
                    std::optional<std::vector<std::uint8_t>> key = std::nullopt) {
  SensorImportRow r;
  r.line = line;
  r.address = address;
  r.position = position;
  r.key = std::move(key);
  return r;
}
}  // namespace

TEST_CASE("import with one bad row writes nothing") {
  Plant p;
  std::vector<SensorImportRow> rows = {row(2, "AA:BB:CC:DD:EE:10", std::to_string(p.de)),
                                       row(3, "AA:BB:CC:DD:EE:11", "North/Pump 1/Nowhere"),
                                       row(4, "AA:BB:CC:DD:EE:10", std::to_string(p.nde))};
  auto r = p.store->import_sensors(rows, false, "alice");
  REQUIRE(r);
  CHECK_FALSE(r->applied);
  REQUIRE(r->errors.size() == 2);
  CHECK(r->errors[0].line == 3);
  CHECK(r->errors[0].field == "position");
  CHECK(r->errors[1].line == 4);
  CHECK(r->errors[1].field == "address");
  CHECK(r->errors[1].message.find("line 2") != std::string::npos);
  CHECK(p.count("SELECT count(*) FROM sensors") == 1);
}

TEST_CASE("an import dry run says what would change and writes nothing; the real run does it") {
  Plant p;
  REQUIRE(p.store->decommission_sensor(p.sensor, "alice").ok());
  Id unchanged = p.commission("AA:BB:CC:DD:EE:05", p.nde);
  std::vector<SensorImportRow> rows = {row(2, "AA:BB:CC:DD:EE:20", "North/Pump 1/Motor DE", std::vector<std::uint8_t>(16, 1)),
                                       row(3, "AA:BB:CC:DD:EE:01", std::to_string(p.de)),
                                       row(4, "AA:BB:CC:DD:EE:05", std::to_string(p.nde))};
  auto dry = p.store->import_sensors(rows, true, "alice");
  REQUIRE(dry);
  CHECK(dry->errors.empty());
  CHECK_FALSE(dry->applied);
  REQUIRE(dry->rows.size() == 3);
  CHECK(dry->rows[0].action == "new");
  CHECK(dry->rows[0].position_id == p.de);
  CHECK(dry->rows[1].action == "recommissioned");
  CHECK(dry->rows[2].action == "unchanged");
  CHECK(dry->rows[2].sensor_id == unchanged);
  CHECK(p.count("SELECT count(*) FROM sensors") == 2);
  CHECK(p.store->sensor(p.sensor).value().decommissioned_at.has_value());

  auto real = p.store->import_sensors(rows, false, "alice");
  REQUIRE(real);
  CHECK(real->applied);
  CHECK(p.count("SELECT count(*) FROM sensors") == 3);
  CHECK_FALSE(p.store->sensor(p.sensor).value().decommissioned_at.has_value());
  auto added = p.store->sensor_by_address("AA:BB:CC:DD:EE:20").value();
  REQUIRE(added.has_value());
  CHECK(added->position_id == p.de);
  CHECK(added->format == "bthome");
  CHECK(has(p.audit_actions(), "sensor.import"));
  // Run again: everything unchanged.
  auto again = p.store->import_sensors(rows, false, "alice").value();
  for (const auto& o : again.rows) CHECK(o.action == "unchanged");
}

TEST_CASE("import refuses archived positions") {
  Plant p;
  REQUIRE(p.store->archive(CatalogKind::kPosition, p.nde, "alice").ok());
  auto r = p.store->import_sensors({row(2, "AA:BB:CC:DD:EE:30", std::to_string(p.nde)),
                                    row(3, "AA:BB:CC:DD:EE:31", "North/Pump 1/Motor NDE")},
                                   false, "alice")
               .value();
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].message.find("archived") != std::string::npos);
}

TEST_CASE("a database from before the lifecycle keeps its series and their ids") {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    auto db = sql::Db::open(path, sql::Db::Mode::kReadWriteCreate).value();
    std::vector<std::string> v3(store_detail::core_migrations().begin(), store_detail::core_migrations().begin() + 3);
    REQUIRE(store_detail::apply_migrations(*db, "core", v3).ok());
    REQUIRE(db->exec("INSERT INTO sites(id, name) VALUES(1, 'S'); "
                     "INSERT INTO assets(id, site_id, name, machine_class) VALUES(1, 1, 'A', 'c'); "
                     "INSERT INTO positions(id, asset_id, name, type) VALUES(1, 1, 'P', 'motor'); "
                     "INSERT INTO sensors(id, address, format, position_id, commissioned_at) "
                     "VALUES(1, 'AA:BB:CC:DD:EE:01', 'vigil', 1, 0); "
                     "INSERT INTO series(id, sensor_id, position_id, metric, unit) VALUES(7, 1, 1, 'temperature_c', 'C');")
                .ok());
  }
  StoreOptions o;
  o.path = path;
  auto store = Store::open(o).value();
  auto s = store->series(1).value();
  REQUIRE(s.size() == 1);
  CHECK(s[0].id == 7);
  CHECK(store->ensure_series(1, "temperature_c", "C").value() == 7);
  CHECK(store->positions().value().size() == 1);
}
