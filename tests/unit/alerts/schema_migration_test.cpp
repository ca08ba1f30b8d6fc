// SPDX-License-Identifier: Apache-2.0
// The alerts and health_states tables moved from the store's core schema to
// the migrations of their owners (alerts, analytics). A database made by the
// previous schema, which has both tables from the store, must open and work
// as before; a fresh one must get the same tables from the owners.
#include <catch2/catch.hpp>

#include "vigil_test/open_store.h"
#include "vigil_test/store_scalar.h"
#include "vigil_test/temp_dir.h"

#include <set>

#include "alerts/alerts.h"
#include "analytics/pipeline.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::alerts;

namespace {

// The store's core schema v1..v3 as vigil wrote it before the alerts module
// and the analytics owned their tables (verbatim, from src/store/schema.cpp).
constexpr const char* kPreviousCoreSchema = R"sql(
CREATE TABLE sites(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  timezone TEXT NOT NULL DEFAULT 'UTC');
CREATE TABLE assets(
  id INTEGER PRIMARY KEY,
  site_id INTEGER NOT NULL REFERENCES sites(id),
  name TEXT NOT NULL,
  machine_class TEXT NOT NULL,
  shaft_rpm REAL NOT NULL DEFAULT 0,
  bearing_json TEXT,
  UNIQUE(site_id, name));
CREATE TABLE positions(
  id INTEGER PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES assets(id),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  UNIQUE(asset_id, name));
CREATE TABLE sensors(
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL,
  key BLOB,
  position_id INTEGER REFERENCES positions(id),
  commissioned_at INTEGER NOT NULL,
  decommissioned_at INTEGER);
CREATE TABLE series(
  id INTEGER PRIMARY KEY,
  sensor_id INTEGER NOT NULL REFERENCES sensors(id),
  position_id INTEGER REFERENCES positions(id),
  metric TEXT NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  UNIQUE(sensor_id, metric));
CREATE INDEX series_position ON series(position_id);
-- Append-only, unindexed: the ingest hot path. Emptied by each checkpoint.
CREATE TABLE ingest_log(
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL);
CREATE TABLE chunks(
  series_id INTEGER NOT NULL,
  t0 INTEGER NOT NULL,
  t1 INTEGER NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, t0)) WITHOUT ROWID;
-- Hourly count/min/max/sum, one row per series and UTC day (chunk_codec.h).
CREATE TABLE rollup_daily(
  series_id INTEGER NOT NULL,
  day INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(series_id, day)) WITHOUT ROWID;
CREATE TABLE waveforms(
  id INTEGER PRIMARY KEY,
  position_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  sample_rate_hz REAL NOT NULL,
  axes INTEGER NOT NULL,
  scale REAL NOT NULL,
  samples BLOB NOT NULL);
CREATE INDEX waveforms_position_ts ON waveforms(position_id, ts);
CREATE TABLE measurements(
  id INTEGER PRIMARY KEY,
  position_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  features TEXT NOT NULL,
  score REAL,
  state TEXT NOT NULL DEFAULT 'unknown',
  explanation TEXT NOT NULL DEFAULT '',
  waveform_id INTEGER);
CREATE INDEX measurements_position_ts ON measurements(position_id, ts);
CREATE TABLE health_states(
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('position','asset')),
  scope_id INTEGER NOT NULL,
  model TEXT NOT NULL,
  ts INTEGER NOT NULL,
  pointwise TEXT NOT NULL,
  persistent TEXT NOT NULL);
CREATE INDEX health_states_scope ON health_states(scope, scope_id, model, ts);
CREATE TABLE alerts(
  id INTEGER PRIMARY KEY,
  asset_id INTEGER,
  position_id INTEGER,
  model TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER,
  title TEXT NOT NULL,
  explanation TEXT NOT NULL DEFAULT '',
  measurement_id INTEGER,
  failure_mode TEXT,
  failure_cause TEXT,
  action_taken TEXT,
  closed_by TEXT,
  notes TEXT);
CREATE INDEX alerts_status ON alerts(status, opened_at);
CREATE TABLE audit_log(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '');
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE machine_classes(
  name TEXT PRIMARY KEY,
  ab REAL NOT NULL,
  bc REAL NOT NULL,
  cd REAL NOT NULL) WITHOUT ROWID;

ALTER TABLE assets ADD COLUMN envelope_lo_hz REAL NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN envelope_hi_hz REAL NOT NULL DEFAULT 0;
)sql";

// Makes `path` the database a previous vigil left: core schema v3 (and the
// analytics' v1) with an
// open analytics alert, an open sensor alert as the old BLE scanner wrote it
// (no source), a closed alert with plain-text notes, and a health state.
void make_previous_database(const std::string& path) {
  auto db = sql::Db::open(path, sql::Db::Mode::kReadWriteCreate);
  REQUIRE(db.ok());
  REQUIRE((*db)->exec(kPreviousCoreSchema).ok());
  REQUIRE((*db)->exec(R"sql(
CREATE TABLE schema_migrations(module TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO schema_migrations(module, version) VALUES('core', 3);
PRAGMA user_version = 3;
-- The analytics' v1 (spectra), as a gateway that ran the analytics has it.
CREATE TABLE spectra(
  measurement_id INTEGER NOT NULL,
  position_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  df_hz REAL NOT NULL,
  bins BLOB NOT NULL,
  PRIMARY KEY(measurement_id, kind));
CREATE INDEX spectra_position_kind_ts ON spectra(position_id, kind, ts);
INSERT INTO schema_migrations(module, version) VALUES('analytics', 1);
INSERT INTO alerts(id, asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation)
  VALUES(1, 7, 5, 'vibrationML', 'warning', 'open', 1000, 1000, 'Warning: vibrationML on position 5', 'x');
INSERT INTO alerts(id, asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation)
  VALUES(2, 7, 5, 'sensorHealth', 'warning', 'open', 2000, 2000,
         'Sensor AA:BB:CC:DD:EE:01: battery low', '18 %');
INSERT INTO alerts(id, asset_id, position_id, model, severity, status, opened_at, updated_at, closed_at, title,
                   failure_mode, failure_cause, action_taken, closed_by, notes)
  VALUES(3, 7, 5, 'vibrationISO', 'alarm', 'closed', 500, 900, 900, 'Alarm: vibrationISO on position 5',
         'IMBALANCE', 'WEAR', 'ADJUST', 'alice', 'rebalanced the fan');
INSERT INTO health_states(scope, scope_id, model, ts, pointwise, persistent)
  VALUES('position', 5, 'vibrationML', 1000, 'warning', 'warning');
)sql").ok());
}

using vigil_test::open_store;

std::set<std::string> tables(Store& store) {
  std::set<std::string> out;
  REQUIRE(store.read([&](sql::Db& db) -> Status {
                 auto q = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
                 if (!q) return q.status();
                 for (;;) {
                   auto row = (*q)->step();
                   if (!row) return row.status();
                   if (!*row) break;
                   out.insert((*q)->text(0));
                 }
                 (*q)->reset();
                 return Status::Ok();
               }).ok());
  return out;
}

// "name type notnull default" of every column, in order.
std::vector<std::string> columns(Store& store, const std::string& table) {
  std::vector<std::string> out;
  REQUIRE(store.read([&](sql::Db& db) -> Status {
                 auto q = db.prepare("SELECT name, type, \"notnull\", coalesce(dflt_value, '') FROM pragma_table_info(?)");
                 if (!q) return q.status();
                 (*q)->bind(1, table);
                 for (;;) {
                   auto row = (*q)->step();
                   if (!row) return row.status();
                   if (!*row) break;
                   out.push_back((*q)->text(0) + " " + (*q)->text(1) + " " + std::to_string((*q)->i64(2)) + " " +
                                 (*q)->text(3));
                 }
                 (*q)->reset();
                 return Status::Ok();
               }).ok());
  return out;
}

std::int64_t count(Store& store, const std::string& sql) { return vigil_test::scalar(store, sql); }

}  // namespace

TEST_CASE("a fresh database gets the alerts and health_states tables from their owners' migrations, not the store's",
          "[alerts][migrations]") {
  TempDir dir;
  ManualClock clock(1'700'000'000'000);
  auto store = open_store(dir.file("vigil.db"), clock);
  auto before = tables(*store);
  CHECK(before.count("sites") == 1);
  CHECK(before.count("alerts") == 0);
  CHECK(before.count("health_states") == 0);

  auto svc = AlertService::create(*store, clock);
  REQUIRE(svc.ok());
  REQUIRE(analytics::Pipeline::migrate(*store).ok());
  auto after = tables(*store);
  CHECK(after.count("alerts") == 1);
  CHECK(after.count("health_states") == 1);
  // Migrations are idempotent: a second service on the same store is fine.
  CHECK(AlertService::create(*store, clock).ok());
  CHECK(analytics::Pipeline::migrate(*store).ok());
}

TEST_CASE("a database made by the previous schema opens, keeps its alerts and states, and works as a fresh one",
          "[alerts][migrations]") {
  TempDir dir;
  ManualClock clock(1'700'000'000'000);
  make_previous_database(dir.file("old.db"));
  auto old_store = open_store(dir.file("old.db"), clock);
  auto old_svc = AlertService::create(*old_store, clock);
  REQUIRE(old_svc.ok());
  REQUIRE(analytics::Pipeline::migrate(*old_store).ok());
  AlertService& svc = **old_svc;

  // The rows the previous vigil wrote read as before.
  auto a = svc.get(1);
  REQUIRE(a.ok());
  CHECK(a->model == "vibrationML");
  CHECK(a->status == "open");
  CHECK(a->source.empty());
  auto closed = svc.get(3);
  REQUIRE(closed.ok());
  CHECK(closed->notes == "rebalanced the fan");  // plain-text notes of older closures
  CHECK(closed->feedback.empty());
  CHECK(closed->closed_by == "alice");
  CHECK(count(*old_store, "SELECT count(*) FROM health_states WHERE scope_id = 5") == 1);

  // The lifecycle works on them: a state change finds the open alert, the
  // old sensor alert is the same condition as a new report of it.
  analytics::StateChange c;
  c.position_id = 5;
  c.asset_id = 7;
  c.model = "vibrationML";
  c.ts = 5000;
  c.pointwise = c.persistent = HealthState::kAlarm;
  c.explanation = "now alarm";
  auto esc = svc.on_state_change(c);
  REQUIRE(esc.ok());
  CHECK(*esc == std::optional<Id>(1));
  CHECK(svc.get(1)->severity == "alarm");
  ExternalAlert e;
  e.asset_id = 7;
  e.position_id = 5;
  e.source = "sensor:AA:BB:CC:DD:EE:01";
  e.kind = "battery_low";
  e.model = kSensorHealthModel;
  e.severity = "warning";
  e.title = "Sensor AA:BB:CC:DD:EE:01: battery low";
  e.explanation = "12 %";
  auto r = svc.raise(e);
  REQUIRE(r.ok());
  CHECK(*r == 2);
  CHECK(svc.get(2)->explanation == "12 %");
  CHECK(svc.get(2)->source == "sensor:AA:BB:CC:DD:EE:01");
  REQUIRE(svc.close(1, {"IMBALANCE", "WEAR", "ADJUST", "tech", "balanced"}).ok());
  CHECK(svc.get(1)->notes == "balanced");

  // Upgraded and fresh databases end with the same alerts and health_states tables.
  auto fresh_store = open_store(dir.file("fresh.db"), clock);
  REQUIRE(AlertService::create(*fresh_store, clock).ok());
  REQUIRE(analytics::Pipeline::migrate(*fresh_store).ok());
  for (const char* t : {"alerts", "health_states"}) {
    INFO(t);
    CHECK(columns(*old_store, t) == columns(*fresh_store, t));
  }
  CHECK(count(*old_store, "SELECT version FROM schema_migrations WHERE module = 'alerts'") ==
        count(*fresh_store, "SELECT version FROM schema_migrations WHERE module = 'alerts'"));
  CHECK(count(*old_store, "SELECT version FROM schema_migrations WHERE module = 'analytics'") ==
        count(*fresh_store, "SELECT version FROM schema_migrations WHERE module = 'analytics'"));
}
