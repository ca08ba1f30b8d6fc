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

}  // namespace vigil
