// SPDX-License-Identifier: Apache-2.0
//
// Whole-database operations for the admin commands that run beside a live
// gateway: the storage report, an online backup copy, and replacing a
// database with a restored one.
//
// None of these writes a database that a `vigil serve` owns: the report and
// the backup read through a read-only connection (no lock, a consistent WAL
// snapshot, so they work while the gateway ingests); replace_database takes
// the store's lock and is refused while a server holds it.
//
// Thread-safety: free functions, each with its own connections.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil {
namespace sql {
class Db;
}

// What `vigil storage report` prints (docs/storage.md explains each figure).
struct StorageReport {
  std::int64_t series = 0;
  std::int64_t points = 0;          // raw points: in chunks plus the ingest log
  std::int64_t chunk_points = 0;
  std::int64_t log_points = 0;      // awaiting the next checkpoint
  std::int64_t chunks = 0;
  std::int64_t chunk_bytes = 0;     // pages the chunks table occupies (dbstat), or its payload
  std::int64_t rollup_bytes = 0;    // hourly roll-ups
  std::int64_t log_bytes = 0;
  double bytes_per_point = 0;       // (chunks + roll-ups + log) / points
  std::int64_t waveforms = 0;
  std::int64_t waveform_bytes = 0;  // pages the waveforms table occupies
  std::int64_t waveform_raw_bytes = 0;  // the same snapshots as plain int16
  double bytes_per_waveform = 0;
  std::int64_t measurements = 0;
  std::int64_t db_file_bytes = 0;   // the database file
  std::int64_t wal_file_bytes = 0;  // its write-ahead log
  std::int64_t page_size = 0;
  std::int64_t free_pages = 0;
  std::optional<TimestampMs> oldest_ts, newest_ts;  // stored points
  std::int64_t disk_total_bytes = 0, disk_free_bytes = 0;  // the file system holding it
  // Bytes the stored data grows by per day: what it occupies over the days
  // of data it holds (0 below one day of data).
  double growth_bytes_per_day = 0;
  std::optional<double> days_until_full;  // disk_free / growth
  bool exact_sizes = true;  // false: dbstat unavailable, payload bytes only
  // Chunks and roll-ups still in format v1, converted in the background by
  // a running gateway (docs/storage.md, "Format migration").
  std::int64_t old_format_rows = 0;
};

// The report for the database at `path`, read-only. kNotFound when there is
// no file; kCorruption when it is not a vigil database.
Result<StorageReport> storage_report(const std::string& path);

// Writes a consistent copy of the database at `db_path` to `dest_path`
// through SQLite's online backup API, from a read-only connection, in one
// step inside one read transaction: a WAL snapshot, so the gateway keeps
// ingesting and the copy is never restarted by its commits. `dest` must not
// exist. progress(done_pages, total_pages) is called before and after.
Status backup_database(const std::string& db_path, const std::string& dest_path,
                       const std::function<void(int, int)>& progress = {});

// PRAGMA integrity_check on the file, read-only; kCorruption naming the first
// problems. Also checks it is a vigil database (schema_migrations "core").
Status check_database(const std::string& path);

// The core schema version this vigil creates and reads (newer: refused).
std::int64_t known_core_schema_version();

// The schema versions a vigil database records, by module.
Result<std::vector<std::pair<std::string, std::int64_t>>> schema_versions(const std::string& path);

// Replaces the database at `db_path` by the file `staged_path` (on the same
// file system), under the store's lock: refused (kFailedPrecondition) while
// a gateway holds the database. The previous database and its WAL are kept
// beside it as "<db_path>.before-restore-<UTC stamp>" (returned), so a
// restore never destroys data; a stale -shm is removed.
Result<std::string> replace_database(const std::string& db_path, const std::string& staged_path,
                                     const std::string& who);

// ---- export (vigil export, GET /api/v1/export) ----

// Which points to export: every non-empty filter narrows (ids of the
// catalog; archived rows included, their history is still theirs).
struct ExportFilter {
  std::optional<Id> site_id, asset_id, position_id;
  std::string metric;  // empty = all
  TimestampMs from = std::numeric_limits<TimestampMs>::min();
  TimestampMs to = std::numeric_limits<TimestampMs>::max();
};

// One exported point with the plant words it belongs to.
struct ExportRow {
  std::string site, asset, position, sensor, metric, unit;
  Id series_id = 0;
  TimestampMs ts = 0;
  double value = 0;
};

// How many series and (at most) points an export would produce, without
// decoding: for limits and progress (points are counted from chunk headers
// and the ingest log, so a chunk straddling `from`/`to` counts whole).
struct ExportEstimate {
  std::int64_t series = 0;
  std::int64_t points = 0;
};
Result<ExportEstimate> estimate_export(const std::string& db_path, const ExportFilter& filter);

// One read-only snapshot of the database (a read transaction on its own
// connection, held until destruction) that an export is estimated, counted
// and read from, so the count a client is told and the rows it gets agree
// although the gateway keeps writing. Meanwhile the WAL cannot be
// checkpointed past the snapshot: it grows for as long as the export runs.
//
// Thread-safety: one thread at a time (it may be handed to another thread
// between calls).
class ExportSnapshot {
 public:
  // kNotFound when there is no database at db_path.
  static Result<std::unique_ptr<ExportSnapshot>> open(const std::string& db_path);
  ~ExportSnapshot();
  ExportSnapshot(const ExportSnapshot&) = delete;
  ExportSnapshot& operator=(const ExportSnapshot&) = delete;

  // As estimate_export(), from this snapshot.
  Result<ExportEstimate> estimate(const ExportFilter& filter);
  // Exactly how many rows points() will produce for `filter`: chunk headers
  // for chunks wholly inside from/to, decoding only the (at most two per
  // series) chunks that straddle a bound.
  Result<std::int64_t> count_points(const ExportFilter& filter);
  // As export_points(), from this snapshot.
  Status points(const ExportFilter& filter, const std::function<Status(const ExportRow&)>& sink);

 private:
  explicit ExportSnapshot(std::unique_ptr<sql::Db> db);
  std::unique_ptr<sql::Db> db_;
};

// Streams the matching points, series by series in time order, to `sink`
// from one read-only snapshot of the database at db_path (the gateway keeps
// writing). Stops with sink's error when it returns one.
Status export_points(const std::string& db_path, const ExportFilter& filter,
                     const std::function<Status(const ExportRow&)>& sink);

// The file formats: CSV with a header (timestamp in UTC ISO 8601 with ms,
// ts_ms, site, asset, position, sensor, metric, unit, value; RFC 4180
// quoting) or JSON Lines with the same keys. Non-finite values are empty
// (CSV) or null (JSON).
enum class ExportFormat { kCsv, kJsonLines };
std::string export_header(ExportFormat f);
void append_export_row(std::string& out, const ExportRow& row, ExportFormat f);

// A gzip member (RFC 1952) of `data`, for exports asked for compressed.
std::string gzip_compress(const std::string& data);

// An export's bytes, produced a part at a time for a streamed download:
// the header, then each row, formatted as append_export_row() does and, on
// request, compressed into one gzip member (RFC 1952). Whenever about
// `part_bytes` of text are buffered they go to `out` as one part (gzip:
// deflated with Z_SYNC_FLUSH, so every part can be decompressed as soon as
// it arrives); finish() sends the rest (gzip: and the member's trailer).
// The parts concatenated equal export_header() + every row (plain) or
// decompress to it (gzip). An error from `out` stops the encoder: add() and
// finish() return it from then on.
//
// Thread-safety: one thread at a time.
class ExportEncoder {
 public:
  using Out = std::function<Status(std::string part)>;
  ExportEncoder(ExportFormat format, bool gzip, Out out, std::size_t part_bytes = 64 << 10);
  ~ExportEncoder();
  ExportEncoder(const ExportEncoder&) = delete;
  ExportEncoder& operator=(const ExportEncoder&) = delete;

  Status add(const ExportRow& row);
  Status finish();
  std::int64_t rows() const { return rows_; }
  // Bytes handed to `out` so far (compressed when gzip).
  std::int64_t bytes_out() const { return bytes_out_; }

 private:
  Status flush(bool last);
  struct Deflate;
  ExportFormat format_;
  Out out_;
  std::size_t part_bytes_;
  std::unique_ptr<Deflate> z_;  // null: plain
  std::string buf_;
  std::int64_t rows_ = 0, bytes_out_ = 0;
  Status failed_;
  bool finished_ = false;
};

}  // namespace vigil
