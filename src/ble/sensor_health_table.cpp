// SPDX-License-Identifier: Apache-2.0
#include "ble/sensor_health_table.h"

#include <nlohmann/json.hpp>

#include "ble/ble_service.h"

namespace vigil::ble {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE ble_sensor_health(
  sensor_id INTEGER PRIMARY KEY REFERENCES sensors(id),
  address TEXT NOT NULL,
  last_seen INTEGER,
  rssi_dbm INTEGER,
  battery_pct REAL,
  advert_rate_per_min REAL NOT NULL DEFAULT 0,
  expected_interval_ms INTEGER,
  adverts INTEGER NOT NULL DEFAULT 0,
  frames_accepted INTEGER NOT NULL DEFAULT 0,
  readings_rejected INTEGER NOT NULL DEFAULT 0,
  counter_resets INTEGER NOT NULL DEFAULT 0,
  rejected_json TEXT NOT NULL DEFAULT '{}',
  waveforms INTEGER NOT NULL DEFAULT 0,
  waveform_failures INTEGER NOT NULL DEFAULT 0,
  last_waveform INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL);
)sql",
    // The decoder's replay state: the last accepted counter per sensor,
    // restored at start so frames recorded before a restart stay replays.
    "ALTER TABLE ble_sensor_health ADD COLUMN last_counter INTEGER;",
    // Which key last_counter was accepted under (key_fingerprint): a counter
    // is meaningless under another key, so a re-keyed sensor starts afresh.
    "ALTER TABLE ble_sensor_health ADD COLUMN counter_key TEXT;",
    // Desired and reported sensor configuration (sensor_config.h).
    R"sql(
CREATE TABLE ble_sensor_config(
  sensor_id INTEGER PRIMARY KEY REFERENCES sensors(id),
  address TEXT NOT NULL,
  seq INTEGER NOT NULL,
  measurement_interval_s INTEGER NOT NULL,
  waveform_interval_min INTEGER NOT NULL,
  tx_power_dbm INTEGER NOT NULL,
  desired_at INTEGER NOT NULL,
  desired_by TEXT NOT NULL,
  reported_seq INTEGER,
  reported_measurement_interval_s INTEGER,
  reported_waveform_interval_min INTEGER,
  reported_tx_power_dbm INTEGER,
  reported_firmware INTEGER,
  reported_at INTEGER,
  state TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL);
)sql"};

}  // namespace

Status migrate_sensor_health_table(Store& store) { return store.migrate("ble", kMigrations); }

Result<std::vector<StoredSensorHealth>> load_sensor_health(Store& store) {
  std::vector<StoredSensorHealth> out;
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT sensor_id, address, last_seen, rssi_dbm, battery_pct, expected_interval_ms, adverts, frames_accepted, "
        "readings_rejected, counter_resets, rejected_json, waveforms, waveform_failures, last_waveform, last_error, "
        "last_counter, counter_key, advert_rate_per_min FROM ble_sensor_health");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      auto& s = **q;
      StoredSensorHealth r;
      auto& h = r.health;
      h.sensor_id = s.i64(0);
      h.address = s.text(1);
      h.last_seen = s.is_null(2) ? 0 : s.i64(2);
      if (!s.is_null(3)) h.rssi_dbm = static_cast<int>(s.i64(3));
      if (!s.is_null(4)) h.battery_pct = s.f64(4);
      if (!s.is_null(5)) h.expected_interval_ms = s.i64(5);
      h.adverts = static_cast<std::uint64_t>(s.i64(6));
      h.frames_accepted = static_cast<std::uint64_t>(s.i64(7));
      h.readings_rejected = static_cast<std::uint64_t>(s.i64(8));
      h.counter_resets = static_cast<std::uint64_t>(s.i64(9));
      auto rj = json::parse(s.text(10), nullptr, false);
      if (rj.is_object())
        for (auto& [k, v] : rj.items())
          if (v.is_number_unsigned()) h.rejected[k] = v.get<std::uint64_t>();
      h.waveforms = static_cast<std::uint64_t>(s.i64(11));
      h.waveform_failures = static_cast<std::uint64_t>(s.i64(12));
      h.last_waveform = s.is_null(13) ? 0 : s.i64(13);
      h.last_error = s.text(14);
      if (!s.is_null(15)) h.last_counter = static_cast<std::uint32_t>(s.i64(15));
      if (!s.is_null(16)) r.counter_key = s.text(16);
      h.advert_rate_per_min = s.f64(17);
      out.push_back(std::move(r));
    }
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status save_sensor_health(Store& store, const std::vector<StoredSensorHealth>& rows, TimestampMs now) {
  if (rows.empty()) return Status::Ok();
  return store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO ble_sensor_health(sensor_id, address, last_seen, rssi_dbm, battery_pct, advert_rate_per_min, "
        "expected_interval_ms, adverts, frames_accepted, readings_rejected, counter_resets, rejected_json, waveforms, "
        "waveform_failures, last_waveform, last_error, updated_at, last_counter, counter_key) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(sensor_id) DO UPDATE SET address=excluded.address, last_seen=excluded.last_seen, "
        "rssi_dbm=excluded.rssi_dbm, battery_pct=excluded.battery_pct, advert_rate_per_min=excluded.advert_rate_per_min, "
        "expected_interval_ms=excluded.expected_interval_ms, adverts=excluded.adverts, "
        "frames_accepted=excluded.frames_accepted, readings_rejected=excluded.readings_rejected, "
        "counter_resets=excluded.counter_resets, rejected_json=excluded.rejected_json, waveforms=excluded.waveforms, "
        "waveform_failures=excluded.waveform_failures, last_waveform=excluded.last_waveform, "
        "last_error=excluded.last_error, updated_at=excluded.updated_at, "
        "last_counter=CASE WHEN excluded.counter_key IS ble_sensor_health.counter_key "
        "THEN COALESCE(excluded.last_counter, ble_sensor_health.last_counter) ELSE excluded.last_counter END, "
        "counter_key=excluded.counter_key");
    if (!q) return q.status();
    for (const auto& row : rows) {
      const auto& h = row.health;
      std::optional<std::int64_t> rssi;
      if (h.rssi_dbm) rssi = *h.rssi_dbm;
      std::optional<std::int64_t> last_wf;
      if (h.last_waveform) last_wf = h.last_waveform;
      (*q)->bind(1, h.sensor_id)
          .bind(2, h.address)
          .bind(3, h.last_seen)
          .bind(4, rssi)
          .bind(5, h.battery_pct)
          .bind(6, h.advert_rate_per_min)
          .bind(7, h.expected_interval_ms)
          .bind(8, static_cast<std::int64_t>(h.adverts))
          .bind(9, static_cast<std::int64_t>(h.frames_accepted))
          .bind(10, static_cast<std::int64_t>(h.readings_rejected))
          .bind(11, static_cast<std::int64_t>(h.counter_resets))
          .bind(12, json(h.rejected).dump())
          .bind(13, static_cast<std::int64_t>(h.waveforms))
          .bind(14, static_cast<std::int64_t>(h.waveform_failures))
          .bind(15, last_wf)
          .bind(16, h.last_error)
          .bind(17, now);
      if (h.last_counter) (*q)->bind(18, static_cast<std::int64_t>(*h.last_counter));
      else (*q)->bind_null(18);
      (*q)->bind(19, row.counter_key);
      VIGIL_RETURN_IF_ERROR((*q)->run());
    }
    return Status::Ok();
  });
}

// Reads the ble module's own table (ble_sensor_health) with the sensor row.
Result<nlohmann::json> persisted_health(Store& store, Id sensor_id) {
  nlohmann::json j = nullptr;
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT s.address, s.name, s.position_id, s.decommissioned_at, h.last_seen, h.rssi_dbm, h.battery_pct, "
        "h.adverts, h.frames_accepted, h.counter_resets, h.rejected_json, h.waveforms, h.last_waveform "
        "FROM sensors s LEFT JOIN ble_sensor_health h ON h.sensor_id = s.id WHERE s.id = ?");
    if (!q) return q.status();
    (*q)->bind(1, sensor_id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      auto& s = **q;
      auto rej = nlohmann::json::parse(s.is_null(10) ? std::string("{}") : s.text(10), nullptr, false);
      j = {{"sensor_id", sensor_id},
           {"address", s.text(0)},
           {"name", s.text(1)},
           {"position_id", s.is_null(2) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(2))},
           {"decommissioned", !s.is_null(3)},
           {"last_seen", s.is_null(4) || s.i64(4) == 0 ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(4)))},
           {"rssi_dbm", s.is_null(5) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(5))},
           {"battery_pct", s.is_null(6) ? nlohmann::json(nullptr) : nlohmann::json(s.f64(6))},
           {"adverts", s.is_null(7) ? 0 : s.i64(7)},
           {"frames_accepted", s.is_null(8) ? 0 : s.i64(8)},
           {"counter_resets", s.is_null(9) ? 0 : s.i64(9)},
           {"frames_rejected", rej.is_object() ? rej : nlohmann::json::object()},
           {"waveforms", s.is_null(11) ? 0 : s.i64(11)},
           {"last_waveform", s.is_null(12) ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(12)))}};
    }
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return j;
}

}  // namespace vigil::ble
