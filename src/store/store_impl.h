// SPDX-License-Identifier: Apache-2.0
//
// Store internals shared by store.cpp (series engine, writer thread) and
// catalog.cpp (plant hierarchy, measurements, waveforms, audit).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "vigil/clock.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

namespace vigil {

// The wall clock of the store's own bookkeeping (checkpoint and integrity
// timers), never the injected clock that stamps data.
inline TimestampMs wall_ms() { return SystemClock::instance().now_ms(); }

// The writer's mutex. Every write to the database holds it, so each release
// counts as a possible change of what readers see (Store::generation()).
// Holders that only read writer-side bookkeeping lock quiet() instead.
// A holder that writes only data (readings, waveforms, measurements, other
// modules' tables through write_txn) calls data_only() so the catalog
// generation (plant, sensors, series, tags: Store::catalog_generation())
// stays: caches of the catalog survive the steady stream of readings.
//
// Group commit (StoreOptions::group_commit): lock() first commits the data
// path's open group transaction (the settle callback), so every write that
// takes the mutex the ordinary way starts from a committed state and its own
// BEGIN works; lock_joining() leaves the group open, for writes that join it.
class WriteMutex {
 public:
  // The generation moves when the mutex is taken as well as when it is
  // released: a thread woken by the holder (flush() waits for the writer's
  // commit, notified before the writer lets go) already sees a new value.
  void lock() {
    mu_.lock();
    generation_.fetch_add(1, std::memory_order_release);
    data_only_ = false;
    if (settle_) settle_();
  }
  void lock_joining() {
    mu_.lock();
    generation_.fetch_add(1, std::memory_order_release);
    data_only_ = false;
  }
  // Set once in Store::open, before any other thread sees the store.
  void set_settle(std::function<void()> fn) { settle_ = std::move(fn); }
  void unlock() {
    generation_.fetch_add(1, std::memory_order_release);
    if (!data_only_) catalog_generation_.fetch_add(1, std::memory_order_release);
    mu_.unlock();
  }
  void data_only() { data_only_ = true; }  // REQUIRES: held
  std::mutex& quiet() { return mu_; }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::uint64_t catalog_generation() const { return catalog_generation_.load(std::memory_order_acquire); }

 private:
  std::mutex mu_;
  bool data_only_ = false;  // guarded by mu_
  std::function<void()> settle_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> catalog_generation_{0};
};

// Holds a WriteMutex without committing the open group (lock_joining).
class JoiningLock {
 public:
  explicit JoiningLock(WriteMutex& mu) : mu_(mu) { mu_.lock_joining(); }
  ~JoiningLock() { mu_.unlock(); }
  JoiningLock(const JoiningLock&) = delete;
  JoiningLock& operator=(const JoiningLock&) = delete;

 private:
  WriteMutex& mu_;
};

struct Store::Impl {
  static constexpr std::size_t kChunkMaxPoints = 256;
  static constexpr TimestampMs kChunkMaxSpanMs = 7LL * 24 * 3600 * 1000;
  // A chunk's encoded bytes stay within what a b-tree cell holds on its own
  // page (SQLite spills a larger cell to overflow pages, each mostly
  // slack on small pages): set at open from the page size.
  std::size_t chunk_max_bytes = 970;
  // A sealed chunk: once a series' newest small chunks hold enough points,
  // the checkpoint re-encodes them as one chunk whose cell keeps a short
  // prefix in the leaf and the rest on exactly one full overflow page
  // (sealed_chunk_bytes_for_page): each chunk's fixed cost (key columns,
  // codec header, leaf slack) is paid some six times less often. 0 = never.
  std::size_t sealed_chunk_max_bytes = 0;
  static constexpr std::size_t kSealedChunkMaxPoints = 4096;
  // A seal is written only when it fills at least this share of its limit
  // (below ~84 % its overflow page stores less than five small cells).
  static constexpr double kSealedChunkMinFill = 0.9;

  StoreOptions opt;
  const Clock* clock = nullptr;
  ~Impl();  // closes the connections, then releases the lock (guard.cpp)

  // ---- the one writer connection ----
  WriteMutex write_mu;
  std::unique_ptr<sql::Db> writer;

  // ---- reader pool ----
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<sql::Db>> idle_readers;
  int readers_open = 0;
  Result<std::unique_ptr<sql::Db>> open_reader();
  Status with_reader(const std::function<Status(sql::Db&)>& fn);

  // ---- ingest queue (append → writer thread) ----
  std::mutex q_mu;
  std::condition_variable q_cv;     // writer waits for work
  std::condition_variable done_cv;  // flush() waits for commits
  std::deque<SeriesPoint> queue;
  std::uint64_t enqueued = 0;   // points ever enqueued
  std::uint64_t committed = 0;  // points ever committed
  bool flush_requested = false;
  bool stopping = false;
  std::thread writer_thread;
  void writer_loop();
  Status commit_batch(const std::vector<SeriesPoint>& batch);  // REQUIRES: write_mu held
  // Mirrors logged points into the heads (readable from there). REQUIRES: write_mu held
  void publish_heads(const std::vector<SeriesPoint>& batch);

  // ---- group commit (StoreOptions::group_commit); all guarded by write_mu ----
  // The writer connection's open transaction that the data path's writes
  // join, each in a savepoint. Committed by the writer thread once it is
  // batch_max_delay_ms old, by flush(), and by any other write (settle).
  bool group_open = false;
  TimestampMs group_opened_wall = 0;
  std::vector<SeriesPoint> group_points;  // logged in the open group
  std::uint64_t group_uncounted = 0;      // of them, not yet in `committed`
  std::uint64_t group_other_writes = 0;   // waveforms, measurements, data_txn
  // Points whose group was rolled back by a failed commit: already in the
  // heads (readable, checkpointed from there), logged again by the next group
  // so a crash cannot lose them either.
  std::vector<SeriesPoint> relog;
  std::uint64_t relog_uncounted = 0;
  std::atomic<std::uint64_t> group_commits{0}, group_writes_lost{0};
  // Runs fn in a savepoint of the open group (opening it first).
  Status join_group(const std::function<Status(sql::Db&)>& fn);
  // Logs points (and relog) into the group and publishes them to the heads.
  Status log_into_group(const std::vector<SeriesPoint>& batch);
  Status commit_group();  // no-op when none is open
  void settle_group();    // commit_group for WriteMutex::lock(): logs a failure
  void group_lost(const Status& why);  // SQLite rolled the group back
  // Points that now sit in chunks (a checkpoint took every head) need no relog.
  void forget_relog();

  // ---- heads: committed points not yet checkpointed, plus latest values ----
  struct Head {
    std::vector<Point> pending;
    std::optional<Point> latest;
  };
  mutable std::shared_mutex heads_mu;
  std::unordered_map<Id, Head> heads;
  std::size_t log_points = 0;  // guarded by write_mu

  // Writer-side knowledge of each series' newest chunk (guarded by write_mu).
  struct OpenChunk {
    TimestampMs t0 = 0, t1 = 0;
    std::int64_t n = 0;
  };
  std::unordered_map<Id, std::optional<OpenChunk>> open_chunks;
  Status checkpoint_locked();  // REQUIRES: write_mu held; checks the file, records the outcome
  Status checkpoint_unchecked();  // REQUIRES: write_mu held
  Status write_points(Id series, std::vector<Point>& pts);  // into chunks
  // Merges points into the hourly roll-ups (rollup_daily): only for points
  // that leave the chunks (retention). Sorts pts. REQUIRES: write_mu held.
  Status roll_up(Id series, std::vector<Point>& pts);
  Status retention_locked();
  Status replay_log();
  // The chunks' points of a series in [from, to] (REQUIRES: from, to clamped).
  static Status read_chunk_points(sql::Db& db, Id series_id, TimestampMs from, TimestampMs to,
                                  std::vector<Point>& out);
  // The heads' points of a series in [from, to], appended, then `out` sorted
  // by time. REQUIRES: heads_mu held (shared) since the chunks were read.
  void add_pending(Id series_id, TimestampMs from, TimestampMs to, std::vector<Point>& out) const;
  Status load_latest();
  TimestampMs last_checkpoint_wall = 0;
  TimestampMs last_retention_wall = 0;

  // ---- purge hooks of other modules (Store::add_purge_hook) ----
  std::mutex hooks_mu;
  std::vector<std::pair<std::string, PurgeHook>> purge_hooks;  // guarded by hooks_mu

  // ---- stats ----
  std::atomic<std::uint64_t> batches{0}, checkpoints{0}, write_errors{0};
  mutable std::mutex err_mu;
  // The current failure of each writer-thread operation; cleared by its next
  // success. Guarded by err_mu.
  Status batch_error, checkpoint_error;
  void record_write(bool checkpoint, const Status& s);

  // ---- ownership and health (guard.cpp) ----
  int lock_fd = -1;  // flock(LOCK_EX) on "<path>.lock" while open
  dev_t file_dev = 0;
  ino_t file_ino = 0;
  std::atomic<int> file_state{0};  // StoreHealth::File
  // stat() of the path against the file opened; updates file_state. Not ok
  // (kFailedPrecondition) while the file is deleted or replaced.
  Status check_file() const;
  std::atomic<TimestampMs> newest_ts{INT64_MIN};  // newest point seen (heads)
  void note_newest(TimestampMs ts) {
    TimestampMs cur = newest_ts.load(std::memory_order_relaxed);
    while (ts > cur && !newest_ts.compare_exchange_weak(cur, ts, std::memory_order_relaxed)) {}
  }
  mutable std::mutex health_mu;
  StoreHealth::Integrity integrity = StoreHealth::Integrity::kUnchecked;  // guarded by health_mu
  TimestampMs integrity_at = 0;
  int integrity_problems = 0;
  Status quick_check(sql::Db& db);  // runs it on db and records the result

  // The maintenance thread: file identity and scheduled quick_check.
  std::thread maint_thread;
  std::mutex maint_mu;
  std::condition_variable maint_cv;
  std::atomic<bool> maint_stop{false};  // also interrupts a running quick_check
  void maintenance_loop();
  void stop_maintenance();

  // ---- online migration of v1 chunks/roll-ups (format_migration.cpp) ----
  // Touched only by the maintenance thread, under write_mu.
  struct FormatMigration {
    bool done = false, chunks_done = false;
    std::int64_t series = INT64_MIN, key = INT64_MIN;  // cursor: last primary key seen
    std::int64_t total = 0, scanned = 0, converted = 0, failed = 0;
    int logged_decile = 0;
  } migration;
  Status start_format_migration();   // in open(), before the threads start
  // Once per database, in open(): roll-up hours still covered by chunks go
  // (roll-ups are written at retention only; format_migration.cpp).
  Status trim_checkpoint_rollups();

  // Store::write_txn for the store's own catalog writes: it moves the
  // catalog generation (the public write_txn is other modules' data).
  Status catalog_txn(const std::function<Status(sql::Db&)>& fn) {
    std::lock_guard lk(write_mu);
    sql::Transaction txn(*writer);
    VIGIL_RETURN_IF_ERROR(txn.begin());
    VIGIL_RETURN_IF_ERROR(fn(*writer));
    return txn.commit();
  }
  Result<bool> migrate_formats_step();  // true while rows remain
};

namespace store_detail {
// "<path>.lock" and "<path>.created".
std::string lock_path(const std::string& db_path);
std::string created_marker_path(const std::string& db_path);
// Takes the lock of db_path (see StoreOptions): returns the lock file's
// descriptor, or kFailedPrecondition naming the holder.
Result<int> acquire_lock(const StoreOptions& o);
void release_lock(int fd);
std::optional<DbOwner> lock_holder(const std::string& db_path);
// Before SQLite creates anything: refuses a missing database whose marker
// exists (unless allow_new_database, which clears stale -wal/-shm files).
Status check_existing(const StoreOptions& o);
// After a successful open: writes the marker if it is missing.
void write_created_marker(const std::string& db_path);

// The most encoded bytes a chunk may take on pages of `page` bytes. chunks
// is WITHOUT ROWID (an index b-tree): a cell whose payload exceeds SQLite's
// largest local payload there, (U - 12) * 64 / 255 - 23, spills to an
// overflow page, mostly slack on small pages. Under that limit, the size at
// which whole cells fill a leaf (U - 8 bytes; a cell is its record plus a
// 2-byte size varint and a 2-byte pointer), for the number of cells per
// page that stores the most point data once each chunk's fixed cost (the
// record's header and key columns, ~22 B, and the codec's header, ~14 B)
// is paid: 177 B on 1 KiB pages (5 to a page; 201 B cells went 4 to a page,
// 11 % of it slack), 791 B on 4 KiB pages.
inline std::size_t chunk_bytes_for_page(std::int64_t page) {
  constexpr std::int64_t kRecord = 22, kCodecHeader = 14, kCell = 4;
  const std::int64_t max_local = (page - 12) * 64 / 255 - 23, leaf = page - 8;
  const std::int64_t fewest = (leaf + max_local + kCell - 1) / (max_local + kCell);
  std::int64_t best = 0, best_data = -1;
  for (std::int64_t cells = fewest; cells <= fewest + 2; ++cells) {
    const std::int64_t payload = std::min(max_local, leaf / cells - kCell);
    const std::int64_t data = cells * (payload - kRecord - kCodecHeader);
    if (data > best_data) best_data = data, best = payload - kRecord;
  }
  return static_cast<std::size_t>(std::max<std::int64_t>(64, best));
}
// The most encoded bytes of a sealed chunk on pages of `page` bytes: a
// payload larger than the largest local one spills, and SQLite then keeps
// min_local = (U - 12) * 32 / 255 - 23 bytes in the leaf plus whatever
// makes the overflow part whole pages of U - 4 bytes. A record of
// min_local + U - 4 bytes (1,123 B on 1 KiB pages: a 1,101 B blob and
// ~22 B of record header and key columns) therefore fills one overflow
// page exactly and leaves a ~112 B cell in the leaf (9 to a page).
inline std::size_t sealed_chunk_bytes_for_page(std::int64_t page) {
  constexpr std::int64_t kRecord = 22;
  const std::int64_t min_local = (page - 12) * 32 / 255 - 23;
  return static_cast<std::size_t>(min_local + (page - 4) - kRecord);
}
}  // namespace store_detail

}  // namespace vigil
