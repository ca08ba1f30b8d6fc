// SPDX-License-Identifier: Apache-2.0
#include "uplink/outbox.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace vigil::uplink {

namespace {
constexpr std::array<Kind, 4> kEvictionOrder = {Kind::kHeartbeat, Kind::kRaw, Kind::kSummary, Kind::kState};
constexpr std::array<Kind, 6> kAllKinds = {Kind::kAlert,     Kind::kState, Kind::kSummary,
                                           Kind::kHeartbeat, Kind::kRaw,   Kind::kReply};
}  // namespace

const char* to_string(Kind k) {
  switch (k) {
    case Kind::kAlert: return "alert";
    case Kind::kState: return "state";
    case Kind::kSummary: return "summary";
    case Kind::kHeartbeat: return "heartbeat";
    case Kind::kRaw: return "raw";
    case Kind::kReply: return "reply";
  }
  return "unknown";
}

std::optional<Kind> kind_from_string(std::string_view s) {
  for (Kind k : kAllKinds)
    if (s == to_string(k)) return k;
  return std::nullopt;
}

bool evictable(Kind k) { return k != Kind::kAlert && k != Kind::kReply; }

std::string uuid_v4() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

Status Outbox::migrate(Store& store) {
  return store.migrate("uplink", {
      "CREATE TABLE uplink_outbox("
      "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  msg_id TEXT NOT NULL,"
      "  kind TEXT NOT NULL,"
      "  topic TEXT NOT NULL,"
      "  payload BLOB NOT NULL,"
      "  bytes INTEGER NOT NULL,"
      "  created_at INTEGER NOT NULL);"
      "CREATE INDEX uplink_outbox_kind ON uplink_outbox(kind, seq);"
      "CREATE TABLE uplink_kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
      // v2 (once): copied zone limits from "zone:<class>" keys into the
      // store's machine_classes table in SQL. The store owns that table, so
      // the move is now move_legacy_zone_limits(), through Store's typed
      // API, at every open; v2 stays as a no-op so numbering holds.
      "UPDATE uplink_kv SET value = value WHERE 0;",
  });
}

Outbox::Outbox(Store& store, std::size_t max_bytes, MetricsRegistry& metrics)
    : store_(store), max_bytes_(max_bytes), metrics_(metrics) {
  for (Kind k : kAllKinds)
    dropped_[k] = metrics_.counter("vigil_uplink_dropped_total",
                                   "Uplink messages dropped because the outbox was full, by kind",
                                   std::string("kind=\"") + to_string(k) + "\"");
}

namespace {
// Zone limits set by `threshold` commands of vigils before the store kept
// user machine classes were stored here as "zone:<class>" keys. They move to
// the store (a class stored there already wins; an unusable row is logged
// and dropped), then leave uplink_kv. Idempotent: a crash in between
// repeats the move at the next open.
Status move_legacy_zone_limits(Store& store) {
  std::vector<std::pair<std::string, std::string>> rows;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT key, value FROM uplink_kv WHERE key LIKE 'zone:%'");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      rows.emplace_back((*q)->text(0), (*q)->text(1));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  if (rows.empty()) return Status::Ok();
  auto existing = store.machine_classes();
  if (!existing) return existing.status();
  for (const auto& [key, value] : rows) {
    const std::string name = key.substr(5);
    const bool stored = std::any_of(existing->begin(), existing->end(),
                                    [&](const MachineClass& c) { return c.name == name; });
    if (stored) continue;
    const auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    auto num = [&](const char* k) -> std::optional<double> {
      if (!j.is_object() || !j.contains(k) || !j[k].is_number()) return std::nullopt;
      return j[k].get<double>();
    };
    auto ab = num("ab"), bc = num("bc"), cd = num("cd");
    if (!ab || !bc || !cd) {
      spdlog::warn("uplink: dropping zone limits of an older version for class '{}': not usable ({})", name, value);
      continue;
    }
    if (auto st = store.put_machine_class(name, ZoneLimits{*ab, *bc, *cd}); !st.ok())
      spdlog::warn("uplink: dropping zone limits of an older version for class '{}': {}", name, st.ToString());
  }
  return store.write_txn([](sql::Db& db) { return db.exec("DELETE FROM uplink_kv WHERE key LIKE 'zone:%'"); });
}
}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::open(Store& store, std::size_t max_bytes, MetricsRegistry& metrics) {
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("uplink: outbox"));
  VIGIL_RETURN_IF_ERROR(move_legacy_zone_limits(store).Annotate("uplink: moving zone limits of an older version"));
  std::unique_ptr<Outbox> o(new Outbox(store, max_bytes, metrics));
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*), coalesce(sum(bytes), 0) FROM uplink_outbox");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    o->rows_ = static_cast<std::size_t>((*q)->i64(0));
    o->bytes_ = static_cast<std::size_t>((*q)->i64(1));
    (*q)->reset();
    return Status::Ok();
  }));
  return o;
}

void Outbox::count_drop(Kind k, std::uint64_t n) {
  if (n) dropped_.at(k)->inc(n);
}

// Inside the write transaction: deletes the oldest evictable rows (in
// kEvictionOrder) until `need` more bytes fit. Updates rows_/bytes_ only
// through the returned counts (the caller commits first).
Status Outbox::evict_for(sql::Db& db, std::size_t need, Kind incoming, int& evicted, bool& fits) {
  fits = bytes_ + need <= max_bytes_;
  for (Kind k : kEvictionOrder) {
    if (fits) break;
    // Never evict a kind that matters more than the incoming droppable one
    // would: a summary does not push out state transitions.
    if (evictable(incoming) && k == Kind::kState && incoming != Kind::kState) break;
    auto q = db.prepare("SELECT seq, bytes FROM uplink_outbox WHERE kind = ? ORDER BY seq LIMIT 256");
    if (!q) return q.status();
    auto del = db.prepare("DELETE FROM uplink_outbox WHERE seq = ?");
    if (!del) return del.status();
    while (!fits) {
      std::vector<std::pair<std::int64_t, std::size_t>> victims;
      (*q)->bind(1, to_string(k));
      while (true) {
        auto row = (*q)->step();
        if (!row) return row.status();
        if (!*row) break;
        victims.emplace_back((*q)->i64(0), static_cast<std::size_t>((*q)->i64(1)));
      }
      (*q)->reset();
      if (victims.empty()) break;
      for (auto [seq, b] : victims) {
        VIGIL_RETURN_IF_ERROR((*del)->bind(1, seq).run());
        bytes_ -= std::min(bytes_, b);
        rows_ -= rows_ ? 1 : 0;
        ++evicted;
        ++pending_drops_[k];
        fits = bytes_ + need <= max_bytes_;
        if (fits) break;
      }
    }
  }
  return Status::Ok();
}

Result<PushResult> Outbox::push(Kind kind, const std::string& topic,
                                const std::function<std::string(std::int64_t, const std::string&)>& make_payload,
                                TimestampMs now) {
  std::lock_guard lk(mu_);
  PushResult r;
  r.msg_id = uuid_v4();
  const std::size_t saved_rows = rows_, saved_bytes = bytes_;
  pending_drops_.clear();
  std::size_t row_bytes = 0;
  auto s = store_.write_txn([&](sql::Db& db) -> Status {
    if (kind == Kind::kHeartbeat) {
      auto q = db.prepare("SELECT count(*), coalesce(sum(bytes), 0) FROM uplink_outbox WHERE kind = 'heartbeat'");
      if (!q) return q.status();
      auto row = (*q)->step();
      if (!row) return row.status();
      std::size_t n = static_cast<std::size_t>((*q)->i64(0)), b = static_cast<std::size_t>((*q)->i64(1));
      (*q)->reset();
      if (n) {
        auto d = db.prepare("DELETE FROM uplink_outbox WHERE kind = 'heartbeat'");
        if (!d) return d.status();
        VIGIL_RETURN_IF_ERROR((*d)->run());
        rows_ -= std::min(rows_, n);
        bytes_ -= std::min(bytes_, b);
      }
    }
    auto ins = db.prepare(
        "INSERT INTO uplink_outbox(msg_id, kind, topic, payload, bytes, created_at) VALUES(?, ?, ?, '', 0, ?)");
    if (!ins) return ins.status();
    VIGIL_RETURN_IF_ERROR((*ins)->bind(1, r.msg_id).bind(2, to_string(kind)).bind(3, topic).bind(4, now).run());
    r.seq = db.last_insert_id();
    std::string payload = make_payload(r.seq, r.msg_id);
    row_bytes = payload.size() + topic.size() + kRowOverhead;
    bool fits = true;
    VIGIL_RETURN_IF_ERROR(evict_for(db, row_bytes, kind, r.evicted, fits));
    if (!fits && evictable(kind)) {
      auto d = db.prepare("DELETE FROM uplink_outbox WHERE seq = ?");
      if (!d) return d.status();
      VIGIL_RETURN_IF_ERROR((*d)->bind(1, r.seq).run());
      r.seq = 0;
      return Status::Ok();
    }
    auto up = db.prepare("UPDATE uplink_outbox SET payload = ?, bytes = ? WHERE seq = ?");
    if (!up) return up.status();
    (*up)->bind_blob(1, payload.data(), payload.size());
    VIGIL_RETURN_IF_ERROR((*up)->bind(2, static_cast<std::int64_t>(row_bytes)).bind(3, r.seq).run());
    return Status::Ok();
  });
  if (!s.ok()) {
    // Rolled back: restore the bookkeeping and un-count evictions.
    rows_ = saved_rows;
    bytes_ = saved_bytes;
    return s.Annotate("uplink: outbox");
  }
  for (auto& [k, n] : pending_drops_) count_drop(k, n);
  if (r.seq == 0) {
    count_drop(kind, 1);
  } else {
    ++rows_;
    bytes_ += row_bytes;
  }
  return r;
}

Result<std::vector<OutboxRow>> Outbox::peek(std::int64_t after_seq, int n) {
  std::vector<OutboxRow> out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT seq, msg_id, kind, topic, payload, created_at FROM uplink_outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!q) return q.status();
    (*q)->bind(1, after_seq).bind(2, n);
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      OutboxRow r;
      r.seq = (*q)->i64(0);
      r.msg_id = (*q)->text(1);
      r.kind = kind_from_string((*q)->text(2)).value_or(Kind::kSummary);
      r.topic = (*q)->text(3);
      auto b = (*q)->blob(4);
      r.payload.assign(reinterpret_cast<const char*>(b.data()), b.size());
      r.created_at = (*q)->i64(5);
      out.push_back(std::move(r));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status Outbox::remove(std::int64_t seq) {
  std::lock_guard lk(mu_);
  std::size_t removed_bytes = 0;
  bool removed = false;
  auto s = store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT bytes FROM uplink_outbox WHERE seq = ?");
    if (!q) return q.status();
    (*q)->bind(1, seq);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      removed = true;
      removed_bytes = static_cast<std::size_t>((*q)->i64(0));
    }
    (*q)->reset();
    if (!removed) return Status::Ok();
    auto d = db.prepare("DELETE FROM uplink_outbox WHERE seq = ?");
    if (!d) return d.status();
    return (*d)->bind(1, seq).run();
  });
  if (!s.ok()) return s.Annotate("uplink: outbox remove");
  if (removed) {
    rows_ -= std::min<std::size_t>(rows_, 1);
    bytes_ -= std::min(bytes_, removed_bytes);
  }
  return Status::Ok();
}

std::size_t Outbox::rows() const {
  std::lock_guard lk(mu_);
  return rows_;
}
std::size_t Outbox::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}
std::uint64_t Outbox::dropped(Kind k) const { return dropped_.at(k)->value(); }
std::map<std::string, std::uint64_t> Outbox::dropped_by_kind() const {
  std::map<std::string, std::uint64_t> m;
  for (auto& [k, c] : dropped_)
    if (evictable(k)) m[to_string(k)] = c->value();
  return m;
}

}  // namespace vigil::uplink
