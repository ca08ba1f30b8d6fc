// SPDX-License-Identifier: Apache-2.0
#include "store/schema.h"

namespace vigil::store_detail {

const std::vector<std::string>& core_migrations() {
  static const std::vector<std::string> kMigrations = {
      // v1: the plant, time series, measurements, waveforms, audit.
      // (Until the modules took them over, v1 also created health_states
      // and alerts; now the analytics and alerts migrations create them, IF
      // NOT EXISTS, so databases that got them here keep working.)
      R"sql(
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
CREATE TABLE audit_log(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '');
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
      // v2: machine classes added or overridden at runtime (REST, MQTT); the
      // built-in and configured ones are not stored.
      R"sql(
CREATE TABLE machine_classes(
  name TEXT PRIMARY KEY,
  ab REAL NOT NULL,
  bc REAL NOT NULL,
  cd REAL NOT NULL) WITHOUT ROWID;
)sql",
      // v3: an asset's envelope (demodulation) band in Hz; 0, 0 = automatic.
      R"sql(
ALTER TABLE assets ADD COLUMN envelope_lo_hz REAL NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN envelope_hi_hz REAL NOT NULL DEFAULT 0;
)sql",
      // v4: the fleet lifecycle. Sites, assets and positions can be archived
      // (hidden, history kept). History follows positions, not sensors: a
      // series belongs to (sensor, position, metric); when a sensor leaves a
      // position its series there are retired (retired_at) and keep that
      // position, and the sensor's next reading opens a new one. SQLite
      // cannot drop the old UNIQUE(sensor_id, metric), so the table is
      // rebuilt (the quoted name is the old table, only inside this script).
      R"sql(
ALTER TABLE sites ADD COLUMN archived_at INTEGER;
ALTER TABLE assets ADD COLUMN archived_at INTEGER;
ALTER TABLE positions ADD COLUMN archived_at INTEGER;
DROP INDEX IF EXISTS series_position;
ALTER TABLE series RENAME TO "series_v3";
CREATE TABLE series(
  id INTEGER PRIMARY KEY,
  sensor_id INTEGER NOT NULL REFERENCES sensors(id),
  position_id INTEGER REFERENCES positions(id),
  metric TEXT NOT NULL,
  unit TEXT NOT NULL DEFAULT '',
  retired_at INTEGER);
INSERT INTO series(id, sensor_id, position_id, metric, unit)
  SELECT id, sensor_id, position_id, metric, unit FROM "series_v3";
DROP TABLE "series_v3";
CREATE INDEX series_position ON series(position_id);
CREATE UNIQUE INDEX series_current ON series(sensor_id, metric) WHERE retired_at IS NULL;
)sql",
      // v5: waveforms stored compressed (codec 1, store/waveform_codec.h);
      // rows of older vigils stay plain int16 (codec 0) and read as before.
      R"sql(
ALTER TABLE waveforms ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE waveforms ADD COLUMN n_samples INTEGER;
)sql",
      // v6: tags (key=value) on sensors, assets and positions for the fleet
      // search, and the firmware version a sensor last advertised.
      R"sql(
CREATE TABLE catalog_tags(
  kind TEXT NOT NULL,
  id INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(kind, id, key)) WITHOUT ROWID;
CREATE INDEX catalog_tags_kv ON catalog_tags(key, value);
ALTER TABLE sensors ADD COLUMN firmware TEXT;
)sql",
  };
  return kMigrations;
}

Status apply_migrations(sql::Db& db, const std::string& module,
                        const std::vector<std::string>& migrations) {
  VIGIL_RETURN_IF_ERROR(db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations(module TEXT PRIMARY KEY, version INTEGER NOT NULL)"));
  auto q = db.prepare("SELECT version FROM schema_migrations WHERE module = ?");
  if (!q) return q.status();
  (*q)->bind(1, module);
  auto row = (*q)->step();
  if (!row) return row.status();
  std::int64_t have = *row ? (*q)->i64(0) : 0;
  (*q)->reset();
  const auto known = static_cast<std::int64_t>(migrations.size());
  if (have > known) {
    return Status::InvalidArgument("schema of module '" + module + "' is version " +
                                   std::to_string(have) + ", newer than this vigil knows (" +
                                   std::to_string(known) + "); upgrade vigil");
  }
  for (std::int64_t v = have; v < known; ++v) {
    sql::Transaction txn(db);
    VIGIL_RETURN_IF_ERROR(txn.begin());
    VIGIL_RETURN_IF_ERROR(db.exec(migrations[static_cast<std::size_t>(v)])
                              .Annotate("migration " + module + " v" + std::to_string(v + 1)));
    auto up = db.prepare(
        "INSERT INTO schema_migrations(module, version) VALUES(?, ?) "
        "ON CONFLICT(module) DO UPDATE SET version = excluded.version");
    if (!up) return up.status();
    VIGIL_RETURN_IF_ERROR((*up)->bind(1, module).bind(2, v + 1).run());
    if (module == "core") VIGIL_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(v + 1)));
    VIGIL_RETURN_IF_ERROR(txn.commit());
  }
  return Status::Ok();
}

}  // namespace vigil::store_detail
