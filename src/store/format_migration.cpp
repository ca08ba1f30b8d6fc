// SPDX-License-Identifier: Apache-2.0
//
// Online migration of chunks and roll-ups written in format v1 to v2
// (store/chunk_codec.h). A checkpoint only rewrites the newest chunk of a
// series, so without this a database from an earlier vigil would keep its
// closed v1 chunks (about 11 bytes a point) for its whole raw retention.
//
// The maintenance thread calls migrate_formats_step() every
// StoreOptions::format_migration_interval_ms: each step converts up to
// kBatch rows in one short writer transaction, walking the primary keys
// from a cursor, so readers never wait (WAL) and ingest waits at most one
// step. Progress is logged every 10 % and the storage report counts the
// rows still in v1. When the walk ends, meta 'formats_v2_at' records it and
// later starts skip the walk.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <vector>

#include "store/chunk_codec.h"
#include "store/store_impl.h"

namespace vigil {
namespace {
constexpr int kBatch = 256;
constexpr std::uint8_t kV1 = 1;

// One table of the walk: its rows in primary-key order after the cursor,
// and how a v1 blob becomes a v2 one.
struct Walk {
  const char* select;  // (series_id, key, data) after (?, ?), LIMIT ?
  const char* update;  // data = ?1 WHERE series_id = ?2 AND key = ?3
  std::vector<std::uint8_t> (*reencode)(std::span<const std::uint8_t> v1, Status& error);
};

std::vector<std::uint8_t> reencode_chunk(std::span<const std::uint8_t> v1, Status& error) {
  std::vector<Point> pts;
  error = store_detail::decode_chunk(v1, pts);
  return error.ok() ? store_detail::encode_chunk(pts) : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> reencode_rollup(std::span<const std::uint8_t> v1, Status& error) {
  std::vector<store_detail::HourAggregate> hours;
  error = store_detail::decode_rollup_day(v1, hours);
  return error.ok() ? store_detail::encode_rollup_day(hours) : std::vector<std::uint8_t>{};
}

const Walk kChunks{"SELECT series_id, t0, data FROM chunks WHERE (series_id, t0) > (?, ?) ORDER BY series_id, t0 LIMIT ?",
                   "UPDATE chunks SET data = ? WHERE series_id = ? AND t0 = ?", reencode_chunk};
const Walk kRollups{
    "SELECT series_id, day, data FROM rollup_daily WHERE (series_id, day) > (?, ?) ORDER BY series_id, day LIMIT ?",
    "UPDATE rollup_daily SET data = ? WHERE series_id = ? AND day = ?", reencode_rollup};

}  // namespace

Status Store::Impl::start_format_migration() {
  auto q = writer->prepare("SELECT value FROM meta WHERE key = 'formats_v2_at'");
  if (!q) return q.status();
  auto row = (*q)->step();
  if (!row) return row.status();
  migration.done = *row;
  (*q)->reset();
  if (migration.done) return Status::Ok();
  auto n = writer->prepare(
      "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM rollup_daily)");
  if (!n) return n.status();
  auto r = (*n)->step();
  if (!r) return r.status();
  migration.total = (*n)->i64(0) + (*n)->i64(1);
  (*n)->reset();
  return Status::Ok();
}

// One step: the next kBatch rows of chunks, then of rollup_daily, after the
// cursor; v1 blobs among them re-encoded as v2. Returns true while rows remain.
Result<bool> Store::Impl::migrate_formats_step() {
  std::lock_guard wl(write_mu);
  write_mu.data_only();
  if (migration.done) return false;
  auto& db = *writer;
  sql::Transaction txn(db);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  int seen = 0, converted = 0;
  const Walk& walk = migration.chunks_done ? kRollups : kChunks;
  auto q = db.prepare(walk.select);
  if (!q) return q.status();
  (*q)->bind(1, migration.series).bind(2, migration.key).bind(3, kBatch);
  auto up = db.prepare(walk.update);
  if (!up) return up.status();
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) break;
    ++seen;
    migration.series = (*q)->i64(0);
    migration.key = (*q)->i64(1);
    auto blob = (*q)->blob(2);
    if (blob.empty() || blob[0] != kV1) continue;
    Status bad;
    auto v2 = walk.reencode(blob, bad);
    if (!bad.ok()) {
      ++migration.failed;  // left as it is: the reader reports it where it is read
      continue;
    }
    (*up)->bind_blob(1, v2.data(), v2.size()).bind(2, migration.series).bind(3, migration.key);
    VIGIL_RETURN_IF_ERROR((*up)->run());
    ++converted;
  }
  (*q)->reset();
  if (seen < kBatch && !migration.chunks_done) {  // chunks walked: roll-ups next
    migration.chunks_done = true;
    migration.series = INT64_MIN;
    migration.key = INT64_MIN;
  } else if (seen < kBatch) {
    auto m = db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('formats_v2_at', ?)");
    if (!m) return m.status();
    VIGIL_RETURN_IF_ERROR((*m)->bind(1, std::to_string(clock->now_ms())).run());
    migration.done = true;
  }
  VIGIL_RETURN_IF_ERROR(txn.commit());
  migration.scanned += seen;
  migration.converted += converted;
  migration.total = std::max(migration.total, migration.scanned);  // rows added since the start
  const int decile = migration.total > 0 ? static_cast<int>(10 * migration.scanned / migration.total) : 10;
  if (migration.converted > 0 && (decile > migration.logged_decile || migration.done)) {
    migration.logged_decile = decile;
    spdlog::info("store: converting stored chunks and roll-ups to format v2: {} of {} rows checked, {} converted{}",
                 migration.scanned, migration.total, migration.converted,
                 migration.failed ? fmt::format(", {} unreadable left as they are", migration.failed) : "");
  }
  return !migration.done;
}

// ---- roll-ups written by retention only (once per database) ----
//
// Until this version every checkpoint also merged its points into the hourly
// roll-ups, so a database holds roll-up hours for points that are still in
// chunks. Now roll-ups hold exactly the points retention has dropped from the
// chunks (downsampling adds both), so those hours would count twice: each
// series' roll-up hours from the hour of its oldest chunk on are removed, in
// one transaction at open, and meta.rollups_at_retention_at records it. The
// hour that holds the oldest chunk's first point may also have held points
// dropped before it: their aggregate goes with it (at most that one hour per
// series, at the raw-retention edge; none on a database younger than its raw
// retention).
Status Store::Impl::trim_checkpoint_rollups() {
  constexpr TimestampMs kHour = 3'600'000, kDay = 24 * kHour;
  auto done = writer->prepare("SELECT 1 FROM meta WHERE key = 'rollups_at_retention_at'");
  if (!done) return done.status();
  auto row = (*done)->step();
  if (!row) return row.status();
  (*done)->reset();
  if (*row) return Status::Ok();
  sql::Transaction txn(*writer);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  // Series with roll-ups and chunks: the oldest chunk's start.
  auto q = writer->prepare(
      "SELECT r.series_id, (SELECT min(t0) FROM chunks c WHERE c.series_id = r.series_id) AS t "
      "FROM (SELECT DISTINCT series_id FROM rollup_daily) r WHERE t IS NOT NULL");
  if (!q) return q.status();
  std::vector<std::pair<Id, TimestampMs>> cuts;
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) break;
    const TimestampMs t = (*q)->i64(1);
    const TimestampMs hour = t / kHour * kHour - ((t < 0 && t % kHour) ? kHour : 0);
    cuts.emplace_back((*q)->i64(0), hour);
  }
  (*q)->reset();
  auto del = writer->prepare("DELETE FROM rollup_daily WHERE series_id = ? AND day > ?");
  if (!del) return del.status();
  auto get = writer->prepare("SELECT data FROM rollup_daily WHERE series_id = ? AND day = ?");
  if (!get) return get.status();
  auto put = writer->prepare("UPDATE rollup_daily SET data = ? WHERE series_id = ? AND day = ?");
  if (!put) return put.status();
  auto drop = writer->prepare("DELETE FROM rollup_daily WHERE series_id = ? AND day = ?");
  if (!drop) return drop.status();
  std::vector<store_detail::HourAggregate> hours;
  std::int64_t trimmed = 0;
  for (auto [series, hour] : cuts) {
    const TimestampMs day = hour / kDay * kDay - ((hour < 0 && hour % kDay) ? kDay : 0);
    VIGIL_RETURN_IF_ERROR((*del)->bind(1, series).bind(2, day).run());
    trimmed += writer->changes();
    (*get)->bind(1, series).bind(2, day);
    auto r = (*get)->step();
    if (!r) return r.status();
    if (!*r) {
      (*get)->reset();
      continue;
    }
    Status ds = store_detail::decode_rollup_day((*get)->blob(0), hours);
    (*get)->reset();
    if (!ds.ok()) return ds.Annotate("store: roll-up trim, series " + std::to_string(series));
    const int first_kept_out = static_cast<int>((hour - day) / kHour);
    std::erase_if(hours, [&](const store_detail::HourAggregate& h) { return h.hour >= first_kept_out; });
    if (hours.empty()) {
      VIGIL_RETURN_IF_ERROR((*drop)->bind(1, series).bind(2, day).run());
    } else {
      auto blob = store_detail::encode_rollup_day(hours);
      (*put)->bind_blob(1, blob.data(), blob.size());
      VIGIL_RETURN_IF_ERROR((*put)->bind(2, series).bind(3, day).run());
    }
    ++trimmed;
  }
  auto mark = writer->prepare("INSERT INTO meta(key, value) VALUES('rollups_at_retention_at', ?)");
  if (!mark) return mark.status();
  VIGIL_RETURN_IF_ERROR((*mark)->bind(1, std::to_string(wall_ms())).run());
  VIGIL_RETURN_IF_ERROR(txn.commit());
  if (trimmed) spdlog::info("store: {} roll-up days now read from chunks instead (roll-ups are written at retention)", trimmed);
  return Status::Ok();
}

}  // namespace vigil
