// SPDX-License-Identifier: Apache-2.0
//
// The plant hierarchy, series registry, measurements, waveforms and audit log:
// small synchronous writes on the writer connection, reads from the pool.
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "store/lifecycle.h"
#include "store/store_impl.h"
#include "store/waveform_codec.h"

namespace vigil {
namespace {

template <typename T, typename RowFn>
Result<std::vector<T>> collect(sql::Stmt& q, RowFn row) {
  std::vector<T> out;
  for (;;) {
    auto r = q.step();
    if (!r) return r.status();
    if (!*r) break;
    out.push_back(row(q));
  }
  q.reset();
  return out;
}

// Runs an upsert returning the row id (RETURNING works for both branches).
Result<Id> upsert_on(sql::Db& db, const std::string& sqltext, const std::function<void(sql::Stmt&)>& bind) {
  auto q = db.prepare(sqltext);
  if (!q) return q.status();
  bind(**q);
  auto r = (*q)->step();
  if (!r) return r.status();
  if (!*r) return Status::Internal("upsert returned no row");
  Id id = (*q)->i64(0);
  (*q)->reset();
  return id;
}
Result<Id> upsert_returning(WriteMutex& mu, sql::Db& db, const std::string& sqltext,
                            const std::function<void(sql::Stmt&)>& bind) {
  std::lock_guard lk(mu);
  return upsert_on(db, sqltext, bind);
}

std::string bearing_to_json(const std::optional<BearingGeometry>& b) {
  if (!b) return {};
  return nlohmann::json{{"rolling_elements", b->rolling_elements},
                        {"element_diameter_mm", b->element_diameter_mm},
                        {"pitch_diameter_mm", b->pitch_diameter_mm},
                        {"contact_angle_deg", b->contact_angle_deg}}
      .dump();
}
std::optional<BearingGeometry> bearing_from_json(const std::string& s) {
  if (s.empty()) return std::nullopt;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  BearingGeometry b;
  b.rolling_elements = j.value("rolling_elements", 0);
  b.element_diameter_mm = j.value("element_diameter_mm", 0.0);
  b.pitch_diameter_mm = j.value("pitch_diameter_mm", 0.0);
  b.contact_angle_deg = j.value("contact_angle_deg", 0.0);
  return b;
}

Asset asset_row(sql::Stmt& q) {
  Asset a;
  a.id = q.i64(0);
  a.site_id = q.i64(1);
  a.name = q.text(2);
  a.machine_class = q.text(3);
  a.shaft_rpm = q.f64(4);
  a.bearing = bearing_from_json(q.text(5));
  a.envelope_lo_hz = q.f64(6);
  a.envelope_hi_hz = q.f64(7);
  return a;
}
constexpr const char* kAssetCols =
    "id, site_id, name, machine_class, shaft_rpm, bearing_json, envelope_lo_hz, envelope_hi_hz";
Sensor sensor_row(sql::Stmt& q) {
  Sensor s;
  s.id = q.i64(0);
  s.address = q.text(1);
  s.name = q.text(2);
  s.format = q.text(3);
  s.position_id = q.opt_i64(4);
  s.commissioned_at = q.i64(5);
  s.decommissioned_at = q.opt_i64(6);
  return s;
}
constexpr const char* kSensorCols =
    "id, address, name, format, position_id, commissioned_at, decommissioned_at";

}  // namespace

Result<Id> Store::upsert_site(const Site& s) {
  return upsert_returning(impl_->write_mu, *impl_->writer,
                          "INSERT INTO sites(name, timezone) VALUES(?, ?) ON CONFLICT(name) DO UPDATE "
                          "SET timezone = excluded.timezone, archived_at = NULL RETURNING id",
                          [&](sql::Stmt& q) { q.bind(1, s.name).bind(2, s.timezone); });
}

Result<Id> Store::upsert_asset(const Asset& a) {
  return upsert_returning(
      impl_->write_mu, *impl_->writer,
      "INSERT INTO assets(site_id, name, machine_class, shaft_rpm, bearing_json, envelope_lo_hz, envelope_hi_hz) "
      "VALUES(?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT(site_id, name) DO UPDATE SET machine_class = excluded.machine_class, "
      "shaft_rpm = excluded.shaft_rpm, bearing_json = excluded.bearing_json, "
      "envelope_lo_hz = excluded.envelope_lo_hz, envelope_hi_hz = excluded.envelope_hi_hz, archived_at = NULL "
      "RETURNING id",
      [&](sql::Stmt& q) {
        q.bind(1, a.site_id).bind(2, a.name).bind(3, a.machine_class).bind(4, a.shaft_rpm);
        auto bj = bearing_to_json(a.bearing);
        if (bj.empty()) q.bind_null(5); else q.bind(5, bj);
        q.bind(6, a.envelope_lo_hz).bind(7, a.envelope_hi_hz);
      });
}

Result<Id> Store::upsert_position(const Position& p) {
  return upsert_returning(impl_->write_mu, *impl_->writer,
                          "INSERT INTO positions(asset_id, name, type) VALUES(?, ?, ?) "
                          "ON CONFLICT(asset_id, name) DO UPDATE SET type = excluded.type, archived_at = NULL RETURNING id",
                          [&](sql::Stmt& q) { q.bind(1, p.asset_id).bind(2, p.name).bind(3, to_string(p.type)); });
}

Result<Id> Store::upsert_sensor(const Sensor& s) {
  std::lock_guard lk(impl_->write_mu);
  auto& db = *impl_->writer;
  sql::Transaction txn(db);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  VIGIL_RETURN_IF_ERROR(store_detail::retire_series_if_moving(db, s.address, s.position_id, impl_->clock->now_ms()));
  auto id = upsert_on(
      db,
      "INSERT INTO sensors(address, name, format, position_id, commissioned_at, decommissioned_at) "
      "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(address) DO UPDATE SET name = excluded.name, "
      "format = excluded.format, position_id = excluded.position_id, "
      "decommissioned_at = excluded.decommissioned_at RETURNING id",
      [&](sql::Stmt& q) {
        q.bind(1, s.address).bind(2, s.name).bind(3, s.format).bind(4, s.position_id);
        q.bind(5, s.commissioned_at).bind(6, s.decommissioned_at);
      });
  if (!id) return id;
  VIGIL_RETURN_IF_ERROR(txn.commit());
  return id;
}

Result<Id> Store::commission_sensor(const Sensor& s, const std::optional<std::vector<std::uint8_t>>& key) {
  Id id = 0;
  auto st = impl_->catalog_txn([&](sql::Db& db) -> Status {
    // History follows positions: moving, the sensor leaves its series behind.
    VIGIL_RETURN_IF_ERROR(store_detail::retire_series_if_moving(db, s.address, s.position_id, impl_->clock->now_ms()));
    auto q = db.prepare(
        "INSERT INTO sensors(address, name, format, position_id, commissioned_at, decommissioned_at, key) "
        "VALUES(?, ?, ?, ?, ?, NULL, ?) ON CONFLICT(address) DO UPDATE SET name = excluded.name, "
        "format = excluded.format, position_id = excluded.position_id, decommissioned_at = NULL, "
        "key = excluded.key RETURNING id");
    if (!q) return q.status();
    (*q)->bind(1, s.address).bind(2, s.name).bind(3, s.format).bind(4, s.position_id).bind(5, s.commissioned_at);
    if (key) (*q)->bind_blob(6, key->data(), key->size());
    else (*q)->bind_null(6);
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) return Status::Internal("commissioning returned no row");
    id = (*q)->i64(0);
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::vector<Site>> Store::sites() {
  std::vector<Site> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, name, timezone FROM sites WHERE archived_at IS NULL ORDER BY id");
    if (!q) return q.status();
    auto r = collect<Site>(**q, [](sql::Stmt& s) { return Site{s.i64(0), s.text(1), s.text(2)}; });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<Asset>> Store::assets(std::optional<Id> site_id) {
  std::vector<Asset> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kAssetCols +
                        " FROM assets WHERE (?1 IS NULL OR site_id = ?1) AND archived_at IS NULL ORDER BY id");
    if (!q) return q.status();
    (*q)->bind(1, site_id);
    auto r = collect<Asset>(**q, asset_row);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<Asset> Store::asset(Id id) {
  std::optional<Asset> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kAssetCols + " FROM assets WHERE id = ?");
    if (!q) return q.status();
    (*q)->bind(1, id);
    auto r = collect<Asset>(**q, asset_row);
    if (!r) return r.status();
    if (!r->empty()) out = r->front();
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("asset " + std::to_string(id) + " does not exist");
  return *out;
}

Result<std::vector<Position>> Store::positions(std::optional<Id> asset_id) {
  std::vector<Position> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT id, asset_id, name, type FROM positions WHERE (?1 IS NULL OR asset_id = ?1) AND archived_at IS NULL "
        "ORDER BY id");
    if (!q) return q.status();
    (*q)->bind(1, asset_id);
    auto r = collect<Position>(**q, [](sql::Stmt& s) {
      return Position{s.i64(0), s.i64(1), s.text(2),
                      position_type_from_string(s.text(3)).value_or(PositionType::kOther)};
    });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<Sensor>> Store::sensors() {
  std::vector<Sensor> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kSensorCols + " FROM sensors ORDER BY id");
    if (!q) return q.status();
    auto r = collect<Sensor>(**q, sensor_row);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<Sensor>> Store::sensor_by_address(const std::string& address) {
  std::optional<Sensor> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kSensorCols + " FROM sensors WHERE address = ?");
    if (!q) return q.status();
    (*q)->bind(1, address);
    auto r = collect<Sensor>(**q, sensor_row);
    if (!r) return r.status();
    if (!r->empty()) out = r->front();
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<MachineClass>> Store::machine_classes() {
  std::vector<MachineClass> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT name, ab, bc, cd FROM machine_classes ORDER BY name");
    if (!q) return q.status();
    auto r = collect<MachineClass>(**q, [](sql::Stmt& s) {
      return MachineClass{s.text(0), {s.f64(1), s.f64(2), s.f64(3)}, ClassSource::kUser, std::nullopt};
    });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<MachineClass>> Store::machine_classes_at(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::vector<MachineClass>{};
  auto db = sql::Db::open(path, sql::Db::Mode::kReadOnly);
  if (!db) return db.status().Annotate(path);
  auto t = (*db)->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'machine_classes'");
  if (!t) return t.status().Annotate(path);
  auto row = (*t)->step();
  if (!row) return row.status().Annotate(path);
  const bool present = *row && (*t)->i64(0) > 0;
  (*t)->reset();
  if (!present) return std::vector<MachineClass>{};
  auto q = (*db)->prepare("SELECT name, ab, bc, cd FROM machine_classes ORDER BY name");
  if (!q) return q.status().Annotate(path);
  return collect<MachineClass>(**q, [](sql::Stmt& s) {
    return MachineClass{s.text(0), {s.f64(1), s.f64(2), s.f64(3)}, ClassSource::kUser, std::nullopt};
  });
}

Status Store::put_machine_class(const std::string& name, const ZoneLimits& l) {
  VIGIL_RETURN_IF_ERROR(check_machine_class(name, l));
  std::lock_guard lk(impl_->write_mu);
  auto q = impl_->writer->prepare(
      "INSERT INTO machine_classes(name, ab, bc, cd) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(name) DO UPDATE SET ab = excluded.ab, bc = excluded.bc, cd = excluded.cd");
  if (!q) return q.status();
  return (*q)->bind(1, name).bind(2, l.ab).bind(3, l.bc).bind(4, l.cd).run();
}

Result<bool> Store::delete_machine_class(const std::string& name) {
  std::lock_guard lk(impl_->write_mu);
  auto q = impl_->writer->prepare("DELETE FROM machine_classes WHERE name = ?");
  if (!q) return q.status();
  VIGIL_RETURN_IF_ERROR((*q)->bind(1, name).run());
  return impl_->writer->changes() > 0;
}

Result<Id> Store::ensure_series(Id sensor_id, const std::string& metric, const std::string& unit) {
  return upsert_returning(
      impl_->write_mu, *impl_->writer,
      "INSERT INTO series(sensor_id, position_id, metric, unit) "
      "VALUES(?1, (SELECT position_id FROM sensors WHERE id = ?1), ?2, ?3) "
      "ON CONFLICT(sensor_id, metric) WHERE retired_at IS NULL DO UPDATE SET unit = excluded.unit RETURNING id",
      [&](sql::Stmt& q) { q.bind(1, sensor_id).bind(2, metric).bind(3, unit); });
}

Result<std::vector<Series>> Store::series(std::optional<Id> position_id) {
  std::vector<Series> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT id, sensor_id, position_id, metric, unit FROM series "
        "WHERE ?1 IS NULL OR position_id = ?1 ORDER BY id");
    if (!q) return q.status();
    (*q)->bind(1, position_id);
    auto r = collect<Series>(**q, [](sql::Stmt& s) {
      return Series{s.i64(0), s.i64(1), s.opt_i64(2), s.text(3), s.text(4)};
    });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<Id> Store::put_waveform(const Waveform& w) {
  if (w.axes < 1 || w.samples.size() % static_cast<std::size_t>(w.axes) != 0)
    return Status::InvalidArgument("waveform: samples are not a whole number of axes");
  // Compressed outside the writer lock (store/waveform_codec.h: lossless,
  // about half of plain int16 on vibration data).
  const auto blob = store_detail::encode_waveform(w.samples, w.axes);
  Id id = 0;
  VIGIL_RETURN_IF_ERROR(data_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO waveforms(position_id, ts, sample_rate_hz, axes, scale, samples, codec, n_samples) "
        "VALUES(?, ?, ?, ?, ?, ?, 1, ?)");
    if (!q) return q.status();
    (*q)->bind(1, w.position_id).bind(2, w.ts).bind(3, w.sample_rate_hz).bind(4, w.axes).bind(5, w.scale);
    (*q)->bind_blob(6, blob.data(), blob.size());
    (*q)->bind(7, static_cast<std::int64_t>(w.samples.size()));
    VIGIL_RETURN_IF_ERROR((*q)->run());
    id = db.last_insert_id();
    // The newest waveforms_per_position stay at full rate; beyond them, with
    // waveforms_keep_daily, the first of each UTC day stays (until raw
    // retention removes it), so a year of history keeps one snapshot a day to
    // compare spectra with at a fraction of the space.
    auto prune = db.prepare(
        impl_->opt.waveforms_keep_daily
            ? "DELETE FROM waveforms WHERE position_id = ?1 AND id NOT IN "
              "(SELECT id FROM waveforms WHERE position_id = ?1 ORDER BY ts DESC LIMIT ?2) "
              "AND id NOT IN (SELECT id FROM (SELECT id, min(ts) FROM waveforms WHERE position_id = ?1 "
              "GROUP BY ts / 86400000))"
            : "DELETE FROM waveforms WHERE position_id = ?1 AND id NOT IN "
              "(SELECT id FROM waveforms WHERE position_id = ?1 ORDER BY ts DESC LIMIT ?2)");
    if (!prune) return prune.status();
    return (*prune)->bind(1, w.position_id).bind(2, impl_->opt.waveforms_per_position).run();
  }));
  return id;
}

namespace {
// One row of `waveforms` (id, position_id, ts, sample_rate_hz, axes, scale,
// samples, codec, n_samples): codec 0 = plain int16 little-endian (vigils
// before storage v5), 1 = store/waveform_codec.h.
Result<Waveform> read_waveform_row(sql::Stmt& q) {
  Waveform w;
  w.id = q.i64(0);
  w.position_id = q.i64(1);
  w.ts = q.i64(2);
  w.sample_rate_hz = q.f64(3);
  w.axes = static_cast<int>(q.i64(4));
  w.scale = q.f64(5);
  auto b = q.blob(6);
  if (q.i64(7) == 1) {
    VIGIL_RETURN_IF_ERROR(store_detail::decode_waveform(b, static_cast<std::size_t>(std::max<std::int64_t>(0, q.i64(8))),
                                                        w.samples)
                              .Annotate("waveform " + std::to_string(w.id)));
  } else {
    w.samples.resize(b.size() / 2);
    if (!w.samples.empty()) std::memcpy(w.samples.data(), b.data(), w.samples.size() * 2);
  }
  return w;
}
}  // namespace

Result<std::optional<Waveform>> Store::latest_waveform(Id position_id) {
  return waveform(position_id, std::nullopt, std::nullopt);
}

Result<std::optional<Waveform>> Store::waveform(Id position_id, std::optional<Id> waveform_id,
                                                std::optional<TimestampMs> at_or_before) {
  std::optional<Waveform> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT id, position_id, ts, sample_rate_hz, axes, scale, samples, codec, n_samples FROM waveforms "
        "WHERE position_id = ?1 AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR ts <= ?3) "
        "ORDER BY ts DESC LIMIT 1");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, waveform_id).bind(3, at_or_before);
    auto r = (*q)->step();
    if (!r) return r.status();
    Status st = Status::Ok();
    if (*r) {
      auto w = read_waveform_row(**q);
      if (w) out = std::move(*w);
      else st = w.status();
    }
    (*q)->reset();
    return st;
  }));
  return out;
}

Result<Id> Store::put_measurement(const Measurement& m) {
  Id id = 0;
  VIGIL_RETURN_IF_ERROR(data_txn([&](sql::Db& db) -> Status {
    auto r = put_measurement(db, m);
    if (!r) return r.status();
    id = *r;
    return Status::Ok();
  }));
  return id;
}

Result<Id> Store::put_measurement(sql::Db& db, const Measurement& m) {
  auto q = db.prepare(
      "INSERT INTO measurements(position_id, ts, features, score, state, explanation, waveform_id) "
      "VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!q) return q.status();
  (*q)->bind(1, m.position_id).bind(2, m.ts).bind(3, m.features_json).bind(4, m.score);
  (*q)->bind(5, to_string(m.state)).bind(6, m.explanation).bind(7, m.waveform_id);
  auto r = (*q)->step();
  if (!r) return r.status();
  if (!*r) return Status::Internal("measurement insert returned no row");
  Id id = (*q)->i64(0);
  (*q)->reset();
  return id;
}

Result<std::vector<Measurement>> Store::measurements(Id position_id, TimestampMs from, TimestampMs to,
                                                     int limit) {
  std::vector<Measurement> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT id, position_id, ts, features, score, state, explanation, waveform_id FROM measurements "
        "WHERE position_id = ? AND ts BETWEEN ? AND ? ORDER BY ts DESC LIMIT ?");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, from).bind(3, to).bind(4, limit);
    auto r = collect<Measurement>(**q, [](sql::Stmt& s) {
      Measurement m;
      m.id = s.i64(0);
      m.position_id = s.i64(1);
      m.ts = s.i64(2);
      m.features_json = s.text(3);
      if (!s.is_null(4)) m.score = s.f64(4);
      m.state = health_state_from_string(s.text(5)).value_or(HealthState::kUnknown);
      m.explanation = s.text(6);
      m.waveform_id = s.opt_i64(7);
      return m;
    });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Status Store::audit(const std::string& actor, const std::string& action, const std::string& target,
                    const std::string& detail) {
  std::lock_guard lk(impl_->write_mu);
  return audit(*impl_->writer, impl_->clock->now_ms(), actor, action, target, detail);
}

Status Store::audit(sql::Db& db, TimestampMs ts, const std::string& actor, const std::string& action,
                    const std::string& target, const std::string& detail) {
  auto q = db.prepare("INSERT INTO audit_log(ts, actor, action, target, detail) VALUES(?, ?, ?, ?, ?)");
  if (!q) return q.status();
  return (*q)->bind(1, ts).bind(2, actor).bind(3, action).bind(4, target).bind(5, detail).run();
}

Result<std::vector<AuditEntry>> Store::audit_log(int limit) {
  std::vector<AuditEntry> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, ts, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?");
    if (!q) return q.status();
    (*q)->bind(1, limit);
    auto r = collect<AuditEntry>(**q, [](sql::Stmt& s) {
      return AuditEntry{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.text(5)};
    });
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

}  // namespace vigil
