// SPDX-License-Identifier: Apache-2.0
//
// The fleet lifecycle (store.h, "catalog lifecycle"): rename, archive, purge
// and move sites, assets and positions; decommission, replace and move
// sensors; bulk import. Each is one transaction on the writer connection with
// its audit row. History follows positions: a sensor that leaves a position
// leaves its series there (retired) and opens new ones where it goes.
#include "store/lifecycle.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <variant>

#include "store/store_impl.h"

namespace vigil {
namespace {

// Binds a, b, … to parameters 1, 2, … of a cached statement.
template <typename... A>
Result<sql::Stmt*> prepared(sql::Db& db, const char* text, const A&... a) {
  auto q = db.prepare(text);
  if (!q) return q.status();
  int i = 1;
  ((*q)->bind(i++, a), ...);
  return *q;
}

template <typename... A>
Status run(sql::Db& db, const char* text, const A&... a) {
  auto q = prepared(db, text, a...);
  if (!q) return q.status();
  return (*q)->run();
}

// The first column of the first row (nullopt: no row, or NULL).
template <typename... A>
Result<std::optional<std::int64_t>> scalar(sql::Db& db, const char* text, const A&... a) {
  auto q = prepared(db, text, a...);
  if (!q) return q.status();
  auto r = (*q)->step();
  if (!r) return r.status();
  std::optional<std::int64_t> v;
  if (*r && !(*q)->is_null(0)) v = (*q)->i64(0);
  (*q)->reset();
  return v;
}

template <typename... A>
Result<std::vector<Id>> ids(sql::Db& db, const char* text, const A&... a) {
  auto q = prepared(db, text, a...);
  if (!q) return q.status();
  std::vector<Id> out;
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) break;
    out.push_back((*q)->i64(0));
  }
  (*q)->reset();
  return out;
}

// A site, asset or position as the lifecycle needs it.
struct Node {
  Id id = 0;
  std::optional<Id> parent;  // site of an asset, asset of a position
  std::string name;
  std::optional<TimestampMs> archived_at;
};

Result<Node> load_node(sql::Db& db, CatalogKind kind, Id id) {
  const char* text = kind == CatalogKind::kSite    ? "SELECT id, NULL, name, archived_at FROM sites WHERE id = ?"
                     : kind == CatalogKind::kAsset ? "SELECT id, site_id, name, archived_at FROM assets WHERE id = ?"
                                                   : "SELECT id, asset_id, name, archived_at FROM positions WHERE id = ?";
  auto q = prepared(db, text, id);
  if (!q) return q.status();
  auto r = (*q)->step();
  if (!r) return r.status();
  if (!*r) {
    (*q)->reset();
    return Status::NotFound(std::string(to_string(kind)) + " " + std::to_string(id) + " does not exist");
  }
  Node n{(*q)->i64(0), (*q)->opt_i64(1), (*q)->text(2), (*q)->opt_i64(3)};
  (*q)->reset();
  return n;
}

// Another row under the same parent with this name (archived ones count:
// they keep their name until purged).
Result<std::optional<std::int64_t>> sibling_named(sql::Db& db, CatalogKind kind, std::optional<Id> parent,
                                                  const std::string& name, Id except) {
  switch (kind) {
    case CatalogKind::kSite:
      return scalar(db, "SELECT id FROM sites WHERE name = ? AND id != ?", name, except);
    case CatalogKind::kAsset:
      return scalar(db, "SELECT id FROM assets WHERE site_id = ? AND name = ? AND id != ?", parent, name, except);
    case CatalogKind::kPosition:
      return scalar(db, "SELECT id FROM positions WHERE asset_id = ? AND name = ? AND id != ?", parent, name, except);
  }
  return std::optional<std::int64_t>{};
}

std::string parent_word(CatalogKind kind) {
  return kind == CatalogKind::kSite ? "" : kind == CatalogKind::kAsset ? " on this site" : " on this asset";
}

Status check_new_name(const std::string& name) {
  if (name.empty() || name.size() > 200) return Status::InvalidArgument("name must be 1–200 bytes");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("name must not contain control characters");
  return Status::Ok();
}

// Positions under a node (the node itself for a position).
Result<std::vector<Id>> positions_under(sql::Db& db, CatalogKind kind, Id id) {
  switch (kind) {
    case CatalogKind::kSite:
      return ids(db, "SELECT p.id FROM positions p JOIN assets a ON a.id = p.asset_id WHERE a.site_id = ?", id);
    case CatalogKind::kAsset:
      return ids(db, "SELECT id FROM positions WHERE asset_id = ?", id);
    case CatalogKind::kPosition:
      return std::vector<Id>{id};
  }
  return std::vector<Id>{};
}

struct SensorRow {
  Id id = 0;
  std::string address, name, format;
  std::optional<Id> position_id;
  std::optional<TimestampMs> decommissioned_at;
  std::optional<std::vector<std::uint8_t>> key;
};

Result<std::optional<SensorRow>> load_sensor(sql::Db& db, const char* where_text, const std::string& address,
                                             Id id) {
  // where_text is one of the two fixed statements below.
  auto q = db.prepare(where_text);
  if (!q) return q.status();
  if (address.empty()) (*q)->bind(1, id);
  else (*q)->bind(1, address);
  auto r = (*q)->step();
  if (!r) return r.status();
  std::optional<SensorRow> out;
  if (*r) {
    SensorRow s;
    s.id = (*q)->i64(0);
    s.address = (*q)->text(1);
    s.name = (*q)->text(2);
    s.format = (*q)->text(3);
    s.position_id = (*q)->opt_i64(4);
    s.decommissioned_at = (*q)->opt_i64(5);
    if (!(*q)->is_null(6)) {
      auto b = (*q)->blob(6);
      s.key = std::vector<std::uint8_t>(b.begin(), b.end());
    }
    out = std::move(s);
  }
  (*q)->reset();
  return out;
}
constexpr const char* kSensorById =
    "SELECT id, address, name, format, position_id, decommissioned_at, key FROM sensors WHERE id = ?";
constexpr const char* kSensorByAddress =
    "SELECT id, address, name, format, position_id, decommissioned_at, key FROM sensors WHERE address = ?";

Result<SensorRow> sensor_by_id(sql::Db& db, Id id) {
  auto s = load_sensor(db, kSensorById, "", id);
  if (!s) return s.status();
  if (!*s) return Status::NotFound("sensor " + std::to_string(id) + " does not exist");
  return **s;
}

// A position a sensor may be put on: exists and is not archived.
Status check_target_position(sql::Db& db, Id position_id) {
  auto n = load_node(db, CatalogKind::kPosition, position_id);
  if (!n) return n.status();
  if (n->archived_at)
    return Status::FailedPrecondition("position " + std::to_string(position_id) + " is archived");
  return Status::Ok();
}

Status retire_current_series(sql::Db& db, Id sensor_id, TimestampMs now) {
  return run(db, "UPDATE series SET retired_at = ? WHERE sensor_id = ? AND retired_at IS NULL", now, sensor_id);
}

std::string opt_id_text(std::optional<Id> id) { return id ? std::to_string(*id) : std::string("none"); }

}  // namespace

namespace store_detail {

Status retire_series_if_moving(sql::Db& db, const std::string& address, std::optional<Id> new_position,
                               TimestampMs now) {
  auto s = load_sensor(db, kSensorByAddress, address, 0);
  if (!s) return s.status();
  if (!*s || (*s)->position_id == new_position) return Status::Ok();
  return retire_current_series(db, (*s)->id, now);
}

}  // namespace store_detail

const char* to_string(CatalogKind k) {
  switch (k) {
    case CatalogKind::kSite: return "site";
    case CatalogKind::kAsset: return "asset";
    case CatalogKind::kPosition: return "position";
  }
  return "?";
}

Result<Site> Store::site(Id id) {
  std::optional<Site> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = prepared(db, "SELECT id, name, timezone FROM sites WHERE id = ?", id);
    if (!q) return q.status();
    auto r = (*q)->step();
    if (!r) return r.status();
    if (*r) out = Site{(*q)->i64(0), (*q)->text(1), (*q)->text(2)};
    (*q)->reset();
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("site " + std::to_string(id) + " does not exist");
  return *out;
}

Result<Position> Store::position(Id id) {
  std::optional<Position> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = prepared(db, "SELECT id, asset_id, name, type FROM positions WHERE id = ?", id);
    if (!q) return q.status();
    auto r = (*q)->step();
    if (!r) return r.status();
    if (*r)
      out = Position{(*q)->i64(0), (*q)->i64(1), (*q)->text(2),
                     position_type_from_string((*q)->text(3)).value_or(PositionType::kOther)};
    (*q)->reset();
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("position " + std::to_string(id) + " does not exist");
  return *out;
}

Result<Sensor> Store::sensor(Id id) {
  std::optional<Sensor> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = prepared(db,
                      "SELECT id, address, name, format, position_id, commissioned_at, decommissioned_at "
                      "FROM sensors WHERE id = ?",
                      id);
    if (!q) return q.status();
    auto r = (*q)->step();
    if (!r) return r.status();
    if (*r) {
      Sensor s;
      s.id = (*q)->i64(0);
      s.address = (*q)->text(1);
      s.name = (*q)->text(2);
      s.format = (*q)->text(3);
      s.position_id = (*q)->opt_i64(4);
      s.commissioned_at = (*q)->i64(5);
      s.decommissioned_at = (*q)->opt_i64(6);
      out = std::move(s);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("sensor " + std::to_string(id) + " does not exist");
  return *out;
}

Status Store::rename(CatalogKind kind, Id id, const std::string& name, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(check_new_name(name));
  const TimestampMs now = impl_->clock->now_ms();
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto n = load_node(db, kind, id);
    if (!n) return n.status();
    if (n->name == name) return Status::Ok();
    auto clash = sibling_named(db, kind, n->parent, name, id);
    if (!clash) return clash.status();
    if (*clash)
      return Status::AlreadyExists(std::string(to_string(kind)) + " " + std::to_string(**clash) + parent_word(kind) +
                                   " is already named '" + name + "'");
    const char* text = kind == CatalogKind::kSite    ? "UPDATE sites SET name = ? WHERE id = ?"
                       : kind == CatalogKind::kAsset ? "UPDATE assets SET name = ? WHERE id = ?"
                                                     : "UPDATE positions SET name = ? WHERE id = ?";
    VIGIL_RETURN_IF_ERROR(run(db, text, name, id));
    return audit(db, now, actor, std::string(to_string(kind)) + ".rename", std::to_string(id),
                 "'" + n->name + "' → '" + name + "'");
  });
}

Result<bool> Store::archived(CatalogKind kind, Id id) {
  bool out = false;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto n = load_node(db, kind, id);
    if (!n) return n.status();
    out = n->archived_at.has_value();
    return Status::Ok();
  }));
  return out;
}

Status Store::archive(CatalogKind kind, Id id, const std::string& actor) {
  const TimestampMs now = impl_->clock->now_ms();
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto n = load_node(db, kind, id);
    if (!n) return n.status();
    if (n->archived_at) return Status::Ok();
    // Everything under it first (rows archived earlier keep their time).
    if (kind == CatalogKind::kSite) {
      VIGIL_RETURN_IF_ERROR(run(db,
                                "UPDATE positions SET archived_at = ? WHERE archived_at IS NULL AND asset_id IN "
                                "(SELECT id FROM assets WHERE site_id = ?)",
                                now, id));
      VIGIL_RETURN_IF_ERROR(
          run(db, "UPDATE assets SET archived_at = ? WHERE archived_at IS NULL AND site_id = ?", now, id));
      VIGIL_RETURN_IF_ERROR(run(db, "UPDATE sites SET archived_at = ? WHERE id = ?", now, id));
    } else if (kind == CatalogKind::kAsset) {
      VIGIL_RETURN_IF_ERROR(
          run(db, "UPDATE positions SET archived_at = ? WHERE archived_at IS NULL AND asset_id = ?", now, id));
      VIGIL_RETURN_IF_ERROR(run(db, "UPDATE assets SET archived_at = ? WHERE id = ?", now, id));
    } else {
      VIGIL_RETURN_IF_ERROR(run(db, "UPDATE positions SET archived_at = ? WHERE id = ?", now, id));
    }
    // Sensors on archived positions measure nothing any more.
    VIGIL_RETURN_IF_ERROR(run(db,
                              "UPDATE sensors SET decommissioned_at = ? WHERE decommissioned_at IS NULL AND "
                              "position_id IN (SELECT id FROM positions WHERE archived_at IS NOT NULL)",
                              now));
    const int decommissioned = db.changes();
    return audit(db, now, actor, std::string(to_string(kind)) + ".archive", std::to_string(id),
                 "'" + n->name + "'" +
                     (decommissioned ? "; " + std::to_string(decommissioned) + " sensor(s) decommissioned" : ""));
  });
}

void Store::add_purge_hook(std::string module, PurgeHook hook) {
  std::lock_guard lk(impl_->hooks_mu);
  impl_->purge_hooks.emplace_back(std::move(module), std::move(hook));
}

Status Store::purge(CatalogKind kind, Id id, const std::string& confirm_name, const std::string& actor) {
  // Points appended before now reach the log first, so none lands after
  // the delete with a series id that no longer exists.
  VIGIL_RETURN_IF_ERROR(flush());
  const TimestampMs now = impl_->clock->now_ms();
  std::lock_guard lk(impl_->write_mu);
  auto& db = *impl_->writer;
  sql::Transaction txn(db);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  auto n = load_node(db, kind, id);
  if (!n) return n.status();
  const std::string what = std::string(to_string(kind)) + " " + std::to_string(id);
  if (confirm_name != n->name)
    return Status::FailedPrecondition("purging " + what + " deletes its history: confirm with its name '" + n->name +
                                      "'");
  if (!n->archived_at) return Status::FailedPrecondition(what + " is not archived: archive it before purging");
  auto positions = positions_under(db, kind, id);
  if (!positions) return positions.status();
  std::vector<Id> all_series;
  std::int64_t measurements = 0;
  for (Id p : *positions) {
    auto series = ids(db, "SELECT id FROM series WHERE position_id = ?", p);
    if (!series) return series.status();
    for (Id s : *series) {
      VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM chunks WHERE series_id = ?", s));
      VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM rollup_daily WHERE series_id = ?", s));
      VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM ingest_log WHERE series_id = ?", s));
      all_series.push_back(s);
    }
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM series WHERE position_id = ?", p));
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM measurements WHERE position_id = ?", p));
    measurements += db.changes();
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM waveforms WHERE position_id = ?", p));
    VIGIL_RETURN_IF_ERROR(run(db,
                              "UPDATE sensors SET position_id = NULL, decommissioned_at = "
                              "coalesce(decommissioned_at, ?) WHERE position_id = ?",
                              now, p));
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM positions WHERE id = ?", p));
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM catalog_tags WHERE kind = 'position' AND id = ?", p));
  }
  PurgedScope scope;
  scope.positions = *positions;
  if (kind == CatalogKind::kAsset) scope.assets.push_back(id);
  if (kind == CatalogKind::kSite) {
    auto assets = ids(db, "SELECT id FROM assets WHERE site_id = ?", id);
    if (!assets) return assets.status();
    scope.assets = *assets;
  }
  {
    std::lock_guard hk(impl_->hooks_mu);
    for (auto& [module, hook] : impl_->purge_hooks)
      VIGIL_RETURN_IF_ERROR(hook(db, scope).Annotate("purge: the " + module + " module's rows"));
  }
  // Tags go with their rows (ids may be reused).
  if (kind == CatalogKind::kSite)
    VIGIL_RETURN_IF_ERROR(run(db,
                              "DELETE FROM catalog_tags WHERE kind = 'asset' AND id IN "
                              "(SELECT id FROM assets WHERE site_id = ?)",
                              id));
  else if (kind == CatalogKind::kAsset)
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM catalog_tags WHERE kind = 'asset' AND id = ?", id));
  if (kind == CatalogKind::kSite) {
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM assets WHERE site_id = ?", id));
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM sites WHERE id = ?", id));
  } else if (kind == CatalogKind::kAsset) {
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM assets WHERE id = ?", id));
  }
  VIGIL_RETURN_IF_ERROR(audit(db, now, actor, std::string(to_string(kind)) + ".purge", std::to_string(id),
                              "'" + n->name + "': " + std::to_string(positions->size()) + " position(s), " +
                                  std::to_string(all_series.size()) + " series, " + std::to_string(measurements) +
                                  " measurement(s)"));
  // The in-memory heads of the deleted series go with the commit.
  std::unique_lock hl(impl_->heads_mu);
  VIGIL_RETURN_IF_ERROR(txn.commit());
  for (Id s : all_series) {
    if (auto it = impl_->heads.find(s); it != impl_->heads.end()) {
      impl_->log_points -= std::min(impl_->log_points, it->second.pending.size());
      impl_->heads.erase(it);
    }
    impl_->open_chunks.erase(s);
  }
  return Status::Ok();
}

Status Store::move_asset(Id asset_id, Id site_id, const std::string& actor) {
  const TimestampMs now = impl_->clock->now_ms();
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto a = load_node(db, CatalogKind::kAsset, asset_id);
    if (!a) return a.status();
    auto s = load_node(db, CatalogKind::kSite, site_id);
    if (!s) return s.status();
    if (s->archived_at) return Status::FailedPrecondition("site " + std::to_string(site_id) + " is archived");
    if (a->parent == site_id) return Status::Ok();
    auto clash = sibling_named(db, CatalogKind::kAsset, site_id, a->name, asset_id);
    if (!clash) return clash.status();
    if (*clash)
      return Status::AlreadyExists("site " + std::to_string(site_id) + " already has an asset named '" + a->name + "'");
    VIGIL_RETURN_IF_ERROR(run(db, "UPDATE assets SET site_id = ? WHERE id = ?", site_id, asset_id));
    return audit(db, now, actor, "asset.move", std::to_string(asset_id),
                 "site " + opt_id_text(a->parent) + " → site " + std::to_string(site_id));
  });
}

Status Store::decommission_sensor(Id sensor_id, const std::string& actor) {
  const TimestampMs now = impl_->clock->now_ms();
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto s = sensor_by_id(db, sensor_id);
    if (!s) return s.status();
    if (s->decommissioned_at) return Status::Ok();
    VIGIL_RETURN_IF_ERROR(run(db, "UPDATE sensors SET decommissioned_at = ? WHERE id = ?", now, sensor_id));
    return audit(db, now, actor, "sensor.decommission", s->address, "position " + opt_id_text(s->position_id));
  });
}

Result<Id> Store::replace_sensor(Id old_sensor_id, const std::string& address,
                                 const std::optional<std::vector<std::uint8_t>>& key, const std::string& actor) {
  const TimestampMs now = impl_->clock->now_ms();
  Id new_id = 0;
  auto st = impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto old = sensor_by_id(db, old_sensor_id);
    if (!old) return old.status();
    if (!old->position_id)
      return Status::FailedPrecondition("sensor " + std::to_string(old_sensor_id) +
                                        " is on no position: commission the new sensor instead");
    if (old->address == address) return Status::InvalidArgument("the replacement must be another sensor");
    const Id pos = *old->position_id;
    VIGIL_RETURN_IF_ERROR(check_target_position(db, pos));
    // The old one leaves: its series stay with the position, retired.
    VIGIL_RETURN_IF_ERROR(retire_current_series(db, old->id, now));
    VIGIL_RETURN_IF_ERROR(run(db,
                              "UPDATE sensors SET position_id = NULL, decommissioned_at = "
                              "coalesce(decommissioned_at, ?) WHERE id = ?",
                              now, old->id));
    VIGIL_RETURN_IF_ERROR(store_detail::retire_series_if_moving(db, address, pos, now));
    auto q = db.prepare(
        "INSERT INTO sensors(address, name, format, position_id, commissioned_at, decommissioned_at, key) "
        "VALUES(?, '', ?, ?, ?, NULL, ?) ON CONFLICT(address) DO UPDATE SET position_id = excluded.position_id, "
        "decommissioned_at = NULL, key = excluded.key RETURNING id");
    if (!q) return q.status();
    (*q)->bind(1, address).bind(2, old->format).bind(3, pos).bind(4, now);
    if (key) (*q)->bind_blob(5, key->data(), key->size());
    else (*q)->bind_null(5);
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) return Status::Internal("replacement returned no row");
    new_id = (*q)->i64(0);
    (*q)->reset();
    return audit(db, now, actor, "sensor.replace", old->address,
                 "by " + address + " on position " + std::to_string(pos) + (key ? " (with key)" : " (without key)"));
  });
  if (!st.ok()) return st;
  return new_id;
}

Status Store::move_sensor(Id sensor_id, Id position_id, const std::string& actor) {
  const TimestampMs now = impl_->clock->now_ms();
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto s = sensor_by_id(db, sensor_id);
    if (!s) return s.status();
    VIGIL_RETURN_IF_ERROR(check_target_position(db, position_id));
    if (s->position_id == position_id) return Status::Ok();
    VIGIL_RETURN_IF_ERROR(retire_current_series(db, sensor_id, now));
    VIGIL_RETURN_IF_ERROR(run(db, "UPDATE sensors SET position_id = ? WHERE id = ?", position_id, sensor_id));
    return audit(db, now, actor, "sensor.move", s->address,
                 "position " + opt_id_text(s->position_id) + " → position " + std::to_string(position_id));
  });
}

Result<SensorImportResult> Store::import_sensors(const std::vector<SensorImportRow>& rows, bool dry_run,
                                                 const std::string& actor) {
  static constexpr std::size_t kMaxRows = 10000;
  if (rows.size() > kMaxRows)
    return Status::InvalidArgument("at most " + std::to_string(kMaxRows) + " sensors per import");
  const TimestampMs now = impl_->clock->now_ms();
  SensorImportResult res;
  std::lock_guard lk(impl_->write_mu);
  auto& db = *impl_->writer;
  sql::Transaction txn(db);
  VIGIL_RETURN_IF_ERROR(txn.begin());  // one snapshot for checking and writing

  std::map<std::string, std::variant<Id, std::string>> resolved;  // reference → id or why not
  auto resolve = [&](const std::string& ref) -> Result<std::variant<Id, std::string>> {
    if (auto it = resolved.find(ref); it != resolved.end()) return it->second;
    std::variant<Id, std::string> out;
    const bool numeric = !ref.empty() && ref.size() <= 18 &&
                         std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      const Id id = std::stoll(ref);
      auto n = load_node(db, CatalogKind::kPosition, id);
      if (!n && n.status().code() != Status::Code::kNotFound) return n.status();
      if (!n) out = "position " + ref + " does not exist";
      else if (n->archived_at) out = "position " + ref + " is archived";
      else out = id;
    } else {
      const auto a = ref.find('/');
      const auto b = a == std::string::npos ? a : ref.find('/', a + 1);
      if (a == std::string::npos || b == std::string::npos || ref.find('/', b + 1) != std::string::npos || a == 0 ||
          b == a + 1 || b + 1 == ref.size()) {
        out = "position must be a position id or Site/Asset/Position";
      } else {
        auto id = scalar(db,
                         "SELECT p.id FROM positions p JOIN assets a ON a.id = p.asset_id JOIN sites s ON "
                         "s.id = a.site_id WHERE s.name = ? AND a.name = ? AND p.name = ? AND p.archived_at IS NULL",
                         ref.substr(0, a), ref.substr(a + 1, b - a - 1), ref.substr(b + 1));
        if (!id) return id.status();
        if (*id) out = **id;
        else out = "no position '" + ref + "' (site/asset/position names, case as written)";
      }
    }
    resolved.emplace(ref, out);
    return out;
  };

  std::map<std::string, int> first_line;  // address → line
  std::vector<std::size_t> row_of;  // res.rows[j] comes from rows[row_of[j]]
  std::size_t counts[3] = {0, 0, 0};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    auto [it, fresh] = first_line.emplace(row.address, row.line);
    if (!fresh) {
      res.errors.push_back({row.line, "address", "duplicate address " + row.address + " (first on line " +
                                                     std::to_string(it->second) + ")"});
      continue;
    }
    if (!row.format.empty() && row.format != "bthome" && row.format != "vigil") {
      res.errors.push_back({row.line, "format", "format must be bthome or vigil"});
      continue;
    }
    auto pos = resolve(row.position);
    if (!pos) return pos.status();
    if (auto* why = std::get_if<std::string>(&*pos)) {
      res.errors.push_back({row.line, "position", *why});
      continue;
    }
    const Id position_id = std::get<Id>(*pos);
    auto k = load_sensor(db, kSensorByAddress, row.address, 0);
    if (!k) return k.status();
    SensorImportOutcome o{row.line, row.address, position_id, "new", std::nullopt};
    if (*k) {
      const SensorRow& s = **k;
      o.sensor_id = s.id;
      const bool same = !s.decommissioned_at && s.position_id == position_id && s.key == row.key &&
                        (row.name.empty() || row.name == s.name) && (row.format.empty() || row.format == s.format);
      o.action = same ? "unchanged" : "recommissioned";
    }
    counts[o.action == "new" ? 0 : o.action == "recommissioned" ? 1 : 2]++;
    res.rows.push_back(std::move(o));
    row_of.push_back(i);
  }
  if (dry_run || !res.errors.empty()) return res;  // rolled back: nothing written

  for (std::size_t j = 0; j < res.rows.size(); ++j) {
    auto& o = res.rows[j];
    if (o.action == "unchanged") continue;
    const SensorImportRow& row = rows[row_of[j]];
    VIGIL_RETURN_IF_ERROR(store_detail::retire_series_if_moving(db, row.address, o.position_id, now));
    auto q = db.prepare(
        "INSERT INTO sensors(address, name, format, position_id, commissioned_at, decommissioned_at, key) "
        "VALUES(?1, ?2, ?3, ?4, ?5, NULL, ?6) ON CONFLICT(address) DO UPDATE SET "
        "name = CASE WHEN ?2 = '' THEN name ELSE ?2 END, format = CASE WHEN ?7 = '' THEN format ELSE ?3 END, "
        "position_id = excluded.position_id, decommissioned_at = NULL, key = excluded.key RETURNING id");
    if (!q) return q.status();
    (*q)->bind(1, row.address).bind(2, row.name).bind(3, row.format.empty() ? std::string("bthome") : row.format);
    (*q)->bind(4, o.position_id).bind(5, now).bind(7, row.format);
    if (row.key) (*q)->bind_blob(6, row.key->data(), row.key->size());
    else (*q)->bind_null(6);
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) return Status::Internal("import returned no row");
    o.sensor_id = (*q)->i64(0);
    (*q)->reset();
  }
  VIGIL_RETURN_IF_ERROR(audit(db, now, actor, "sensor.import", std::to_string(rows.size()) + " row(s)",
                              std::to_string(counts[0]) + " new, " + std::to_string(counts[1]) +
                                  " recommissioned, " + std::to_string(counts[2]) + " unchanged"));
  VIGIL_RETURN_IF_ERROR(txn.commit());
  res.applied = true;
  return res;
}

// ---- tags (core v6) ----

const char* to_string(TagKind k) {
  switch (k) {
    case TagKind::kSensor: return "sensor";
    case TagKind::kAsset: return "asset";
    case TagKind::kPosition: return "position";
  }
  return "sensor";
}

bool valid_tag_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxTagBytes) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status check_tags(const Tags& tags) {
  if (tags.size() > kMaxTags)
    return Status::InvalidArgument("at most " + std::to_string(kMaxTags) + " tags (got " +
                                   std::to_string(tags.size()) + ")");
  for (const auto& [k, v] : tags) {
    if (!valid_tag_key(k))
      return Status::InvalidArgument("tag key '" + k.substr(0, kMaxTagBytes) + "': 1 to " +
                                     std::to_string(kMaxTagBytes) + " characters of A-Z a-z 0-9 _ - .");
    if (v.empty() || v.size() > kMaxTagBytes)
      return Status::InvalidArgument("tag '" + k + "': the value must be 1 to " + std::to_string(kMaxTagBytes) +
                                     " bytes");
    for (unsigned char c : v)
      if (c < 0x20 || c == 0x7f || c == ' ')
        return Status::InvalidArgument("tag '" + k + "': the value must not contain spaces or control characters");
  }
  return Status::Ok();
}

namespace {

TagKind tag_kind_of(const std::string& s) {
  if (s == "asset") return TagKind::kAsset;
  if (s == "position") return TagKind::kPosition;
  return TagKind::kSensor;
}

Status require_tag_target(sql::Db& db, TagKind kind, Id id) {
  const char* text = kind == TagKind::kSensor  ? "SELECT 1 FROM sensors WHERE id = ?"
                     : kind == TagKind::kAsset ? "SELECT 1 FROM assets WHERE id = ?"
                                               : "SELECT 1 FROM positions WHERE id = ?";
  auto r = scalar(db, text, id);
  if (!r) return r.status();
  if (!*r) return Status::NotFound(std::string(to_string(kind)) + " " + std::to_string(id) + " does not exist");
  return Status::Ok();
}

}  // namespace

Status Store::set_tags(TagKind kind, Id id, const Tags& tags, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(check_tags(tags));
  const TimestampMs now = impl_->clock->now_ms();
  const std::string k = to_string(kind);
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(require_tag_target(db, kind, id));
    VIGIL_RETURN_IF_ERROR(run(db, "DELETE FROM catalog_tags WHERE kind = ? AND id = ?", k, id));
    std::string detail;
    for (const auto& [key, value] : tags) {
      VIGIL_RETURN_IF_ERROR(
          run(db, "INSERT INTO catalog_tags(kind, id, key, value) VALUES(?, ?, ?, ?)", k, id, key, value));
      detail += (detail.empty() ? "" : " ") + key + "=" + value;
    }
    return audit(db, now, actor, k + ".tags", std::to_string(id), detail.empty() ? "(none)" : detail);
  });
}

Result<Tags> Store::tags(TagKind kind, Id id) {
  Tags out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(require_tag_target(db, kind, id));
    auto q = prepared(db, "SELECT key, value FROM catalog_tags WHERE kind = ? AND id = ? LIMIT 64",
                      std::string(to_string(kind)), id);
    if (!q) return q.status();
    for (;;) {
      auto r = (*q)->step();
      if (!r) return r.status();
      if (!*r) break;
      out[(*q)->text(0)] = (*q)->text(1);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<TagRow>> Store::all_tags() {
  std::vector<TagRow> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT kind, id, key, value FROM catalog_tags");
    if (!q) return q.status();
    for (;;) {
      auto r = (*q)->step();
      if (!r) return r.status();
      if (!*r) break;
      out.push_back({tag_kind_of((*q)->text(0)), (*q)->i64(1), (*q)->text(2), (*q)->text(3)});
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status Store::set_sensor_firmware(const std::string& address, const std::string& version) {
  if (version.empty() || version.size() > kMaxTagBytes)
    return Status::InvalidArgument("firmware version must be 1 to 64 bytes");
  return impl_->catalog_txn([&](sql::Db& db) -> Status {
    auto id = scalar(db, "SELECT id FROM sensors WHERE address = ?", address);
    if (!id) return id.status();
    if (!*id) return Status::NotFound("sensor " + address + " does not exist");
    return run(db, "UPDATE sensors SET firmware = ? WHERE id = ? AND firmware IS NOT ?", version, **id, version);
  });
}

Result<std::map<Id, std::string>> Store::sensor_firmware() {
  std::map<Id, std::string> out;
  VIGIL_RETURN_IF_ERROR(impl_->with_reader([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, firmware FROM sensors WHERE firmware IS NOT NULL");
    if (!q) return q.status();
    for (;;) {
      auto r = (*q)->step();
      if (!r) return r.status();
      if (!*r) break;
      out[(*q)->i64(0)] = (*q)->text(1);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

}  // namespace vigil
