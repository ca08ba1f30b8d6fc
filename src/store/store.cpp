// SPDX-License-Identifier: Apache-2.0
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <utility>

#include "store/chunk_codec.h"
#include "store/schema.h"
#include "store/store_impl.h"

namespace vigil {

using store_detail::decode_chunk;
using store_detail::encode_chunk;

namespace {
constexpr TimestampMs kHourMs = 3600 * 1000;
constexpr TimestampMs kDayMs = 24 * kHourMs;
TimestampMs floor_to(TimestampMs t, TimestampMs unit) {
  TimestampMs h = t / unit * unit;
  return (t < 0 && h != t) ? h - unit : h;
}
TimestampMs floor_hour(TimestampMs t) { return floor_to(t, kHourMs); }
TimestampMs floor_day(TimestampMs t) { return floor_to(t, kDayMs); }
}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  namespace fs = std::filesystem;
  auto impl = std::make_unique<Impl>();
  impl->opt = options;
  impl->write_mu.set_settle([raw = impl.get()] { raw->settle_group(); });
  impl->clock = options.clock ? options.clock : &SystemClock::instance();
  const std::string& path = options.path;
  if (path.empty()) return Status::InvalidArgument("store: storage.path is empty");

  // Clear messages for the common deployment mistakes before SQLite's generic ones.
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::IoError("store: data directory " + dir.string() + " does not exist");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::PermissionDenied("store: data directory " + dir.string() +
                                    " is not writable by this user");
  }
  if (fs::exists(path, ec) && ::access(path.c_str(), R_OK | W_OK) != 0) {
    return Status::PermissionDenied("store: database " + path + " is not readable and writable");
  }
  // One owner: the lock comes before anything touches the files (guard.cpp).
  auto lock = store_detail::acquire_lock(options);
  if (!lock) return lock.status().Annotate("store");
  impl->lock_fd = *lock;
  VIGIL_RETURN_IF_ERROR(store_detail::check_existing(options).Annotate("store"));

  auto w = sql::Db::open(path, sql::Db::Mode::kReadWriteCreate);
  if (!w) return w.status().Annotate("store");
  impl->writer = std::move(*w);
  auto& db = *impl->writer;
  // The identity of the file SQLite has just opened (we hold the lock, so
  // nothing of ours replaced it in between): check_file() compares the path
  // against it.
  {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Status::IoError("store: " + path + " vanished while opening");
    impl->file_dev = st.st_dev;
    impl->file_ino = st.st_ino;
  }
  // Reading the schema is the first thing that touches the file's pages: a
  // file that is not a database fails here.
  auto check = db.exec("SELECT count(*) FROM sqlite_master");
  if (!check.ok()) {
    return Status::Corruption("store: " + path + " is not a usable SQLite database (" +
                              check.message() + ")");
  }
  // The page size only takes on a database that has no pages yet.
  if (options.page_size > 0) VIGIL_RETURN_IF_ERROR(db.exec("PRAGMA page_size=" + std::to_string(options.page_size)));
  auto wal = db.exec("PRAGMA journal_mode=WAL");
  if (!wal.ok()) return wal.Annotate("store: " + path);
  // NORMAL in WAL mode: a committed transaction survives a process crash
  // (kill -9); only an OS crash or power loss can lose the newest commits.
  VIGIL_RETURN_IF_ERROR(db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                                "PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY;"));
  {
    auto ps = db.prepare("PRAGMA page_size");
    if (!ps) return ps.status();
    auto row = (*ps)->step();
    if (!row) return row.status();
    const std::int64_t page = *row ? std::max<std::int64_t>(512, (*ps)->i64(0)) : 4096;
    (*ps)->reset();
    impl->chunk_max_bytes = store_detail::chunk_bytes_for_page(page);
    impl->sealed_chunk_max_bytes = options.seal_chunks ? store_detail::sealed_chunk_bytes_for_page(page) : 0;
    if (options.wal_autocheckpoint_bytes > 0) {
      VIGIL_RETURN_IF_ERROR(db.exec("PRAGMA wal_autocheckpoint=" +
                                    std::to_string(std::max<std::int64_t>(16, options.wal_autocheckpoint_bytes / page))));
    }
  }
  // A damaged page does not stop the start (what is intact stays readable);
  // it is logged and /api/v1/health reports it.
  if (options.integrity_check_at_open) (void)impl->quick_check(db);
  VIGIL_RETURN_IF_ERROR(store_detail::apply_migrations(db, "core", store_detail::core_migrations())
                            .Annotate("store: " + path));
  VIGIL_RETURN_IF_ERROR(impl->trim_checkpoint_rollups().Annotate("store: " + path));
  VIGIL_RETURN_IF_ERROR(impl->replay_log());
  if (auto s = impl->load_latest(); !s.ok()) {
    spdlog::error("store: {} (latest values of some series are unknown until new points arrive)", s.ToString());
  }
  store_detail::write_created_marker(path);
  if (auto s = impl->start_format_migration(); !s.ok()) {
    spdlog::warn("store: format migration not started: {}", s.ToString());
    impl->migration.done = true;
  }
  impl->last_checkpoint_wall = wall_ms();
  impl->last_retention_wall = 0;
  Impl* raw = impl.get();
  impl->writer_thread = std::thread([raw] { raw->writer_loop(); });
  impl->maint_thread = std::thread([raw] { raw->maintenance_loop(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::~Store() {
  if (!impl_) return;
  impl_->stop_maintenance();
  {
    std::lock_guard lk(impl_->q_mu);
    impl_->stopping = true;
  }
  impl_->q_cv.notify_all();
  if (impl_->writer_thread.joinable()) impl_->writer_thread.join();
  std::lock_guard wl(impl_->write_mu);
  auto s = impl_->checkpoint_locked();
  if (!s.ok()) spdlog::warn("store: final checkpoint failed: {}", s.ToString());
}

const std::string& Store::path() const { return impl_->opt.path; }

// ------------------------------------------------------------------ readers

Result<std::unique_ptr<sql::Db>> Store::Impl::open_reader() {
  auto r = sql::Db::open(opt.path, sql::Db::Mode::kReadOnly);
  if (!r) return r.status();
  VIGIL_RETURN_IF_ERROR((*r)->exec("PRAGMA query_only=ON; PRAGMA cache_size=-4000;"));
  return r;
}

Status Store::Impl::with_reader(const std::function<Status(sql::Db&)>& fn) {
  std::unique_ptr<sql::Db> db;
  {
    std::unique_lock lk(pool_mu);
    pool_cv.wait(lk, [&] { return !idle_readers.empty() || readers_open < opt.reader_connections; });
    if (!idle_readers.empty()) {
      db = std::move(idle_readers.back());
      idle_readers.pop_back();
    } else {
      ++readers_open;
    }
  }
  if (!db) {
    auto r = open_reader();
    if (!r) {
      std::lock_guard lk(pool_mu);
      --readers_open;
      pool_cv.notify_one();
      return r.status();
    }
    db = std::move(*r);
  }
  Status s = fn(*db);
  // A statement left mid-iteration (an early error return) would pin this
  // connection's read snapshot: reset every busy one before pooling it.
  for (sqlite3_stmt* st = sqlite3_next_stmt(db->raw(), nullptr); st; st = sqlite3_next_stmt(db->raw(), st)) {
    if (sqlite3_stmt_busy(st)) sqlite3_reset(st);
  }
  if (sqlite3_get_autocommit(db->raw()) == 0) (void)db->exec("ROLLBACK");
  {
    std::lock_guard lk(pool_mu);
    idle_readers.push_back(std::move(db));
  }
  pool_cv.notify_one();
  return s;
}

Status Store::read(const std::function<Status(sql::Db&)>& fn) { return impl_->with_reader(fn); }

Status Store::write_txn(const std::function<Status(sql::Db&)>& fn) {
  std::lock_guard lk(impl_->write_mu);
  impl_->write_mu.data_only();  // other modules' tables, never the catalog
  sql::Transaction txn(*impl_->writer);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  VIGIL_RETURN_IF_ERROR(fn(*impl_->writer));
  return txn.commit();
}

Status Store::data_txn(const std::function<Status(sql::Db&)>& fn) {
  if (!impl_->opt.group_commit) return write_txn(fn);
  JoiningLock lk(impl_->write_mu);
  impl_->write_mu.data_only();
  VIGIL_RETURN_IF_ERROR(impl_->join_group(fn));
  ++impl_->group_other_writes;
  return Status::Ok();
}

Status Store::migrate(const std::string& module, const std::vector<std::string>& migrations) {
  std::lock_guard lk(impl_->write_mu);
  return store_detail::apply_migrations(*impl_->writer, module, migrations);
}

// ------------------------------------------------------------------ ingest

Status Store::append(std::span<const SeriesPoint> points) {
  if (points.empty()) return Status::Ok();
  {
    std::lock_guard lk(impl_->q_mu);
    if (impl_->stopping) return Status::Unavailable("store: shutting down");
    if (impl_->queue.size() + points.size() > static_cast<std::size_t>(impl_->opt.queue_max_rows)) {
      return Status::ResourceExhausted("store: ingest queue full (" +
                                       std::to_string(impl_->queue.size()) + " points waiting)");
    }
    impl_->queue.insert(impl_->queue.end(), points.begin(), points.end());
    impl_->enqueued += points.size();
    if (impl_->queue.size() < static_cast<std::size_t>(impl_->opt.batch_max_rows)) return Status::Ok();
  }
  impl_->q_cv.notify_one();
  return Status::Ok();
}

Status Store::flush() {
  // Points cannot reach a deleted or replaced file: say so now, not in 30 s.
  if (impl_->file_state.load() != static_cast<int>(StoreHealth::File::kOk)) {
    VIGIL_RETURN_IF_ERROR(impl_->check_file());
  }
  std::unique_lock lk(impl_->q_mu);
  const std::uint64_t target = impl_->enqueued;
  impl_->flush_requested = true;
  impl_->q_cv.notify_one();
  bool done = impl_->done_cv.wait_for(lk, std::chrono::seconds(30),
                                      [&] { return impl_->committed >= target; });
  if (!done) {
    std::lock_guard el(impl_->err_mu);
    return Status::Unavailable("store: flush timed out; last write error: " + impl_->batch_error.ToString());
  }
  lk.unlock();
  if (!impl_->opt.group_commit) return Status::Ok();
  // Waveforms, measurements and data_txn rows written before the call.
  JoiningLock wl(impl_->write_mu);
  impl_->write_mu.data_only();
  return impl_->commit_group();
}

namespace {
// Appends points to the ingest log (inside the caller's transaction).
Status insert_log_rows(sql::Db& db, std::span<const SeriesPoint> points) {
  auto ins = db.prepare("INSERT INTO ingest_log(series_id, ts, value) VALUES(?, ?, ?)");
  if (!ins) return ins.status();
  sql::Stmt& st = **ins;
  for (const auto& p : points) {
    sqlite3_bind_int64(st.raw(), 1, p.series_id);
    sqlite3_bind_int64(st.raw(), 2, p.ts);
    sqlite3_bind_double(st.raw(), 3, p.value);
    int rc = sqlite3_step(st.raw());
    sqlite3_reset(st.raw());
    if (rc != SQLITE_DONE) return db.error("append to ingest_log");
  }
  return Status::Ok();
}
}  // namespace

void Store::Impl::publish_heads(const std::vector<SeriesPoint>& batch) {
  std::unique_lock hl(heads_mu);
  for (const auto& p : batch) {
    auto& h = heads[p.series_id];
    h.pending.push_back({p.ts, p.value});
    if (!h.latest || p.ts >= h.latest->ts) h.latest = Point{p.ts, p.value};
    note_newest(p.ts);
  }
  log_points += batch.size();
}

Status Store::Impl::commit_batch(const std::vector<SeriesPoint>& batch) {
  VIGIL_RETURN_IF_ERROR(check_file());  // never into a file nobody will open again
  sql::Transaction txn(*writer);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  VIGIL_RETURN_IF_ERROR(insert_log_rows(*writer, batch));
  VIGIL_RETURN_IF_ERROR(txn.commit());
  publish_heads(batch);  // only once durable
  return Status::Ok();
}

// ------------------------------------------------------------------ group commit

Status Store::Impl::join_group(const std::function<Status(sql::Db&)>& fn) {
  if (!group_open) {
    VIGIL_RETURN_IF_ERROR(check_file());  // never into a file nobody will open again
    VIGIL_RETURN_IF_ERROR(writer->exec("BEGIN IMMEDIATE"));
    group_open = true;
    group_opened_wall = wall_ms();
  }
  VIGIL_RETURN_IF_ERROR(writer->exec("SAVEPOINT data_write"));
  Status s = fn(*writer);
  if (s.ok()) s = writer->exec("RELEASE data_write");
  if (s.ok()) return s;
  // Only this write is undone; what the group holds from others stays.
  if (sqlite3_get_autocommit(writer->raw()) != 0) {
    group_lost(s);  // SQLite rolled the whole transaction back (I/O error, full disk)
  } else {
    (void)writer->exec("ROLLBACK TO data_write");
    (void)writer->exec("RELEASE data_write");
  }
  return s;
}

Status Store::Impl::log_into_group(const std::vector<SeriesPoint>& batch) {
  std::vector<SeriesPoint> again;
  again.swap(relog);
  const std::uint64_t again_uncounted = relog_uncounted;
  relog_uncounted = 0;
  Status s = join_group([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(insert_log_rows(db, again));
    return insert_log_rows(db, batch);
  });
  if (!s.ok()) {
    // The relog stays pending (ahead of anything a lost group added); the
    // caller puts `batch` back in the queue.
    again.insert(again.end(), relog.begin(), relog.end());
    relog = std::move(again);
    relog_uncounted += again_uncounted;
    return s;
  }
  group_points.insert(group_points.end(), again.begin(), again.end());
  group_points.insert(group_points.end(), batch.begin(), batch.end());
  group_uncounted += again_uncounted + batch.size();
  // Readable at once (latest, range, checkpoint read the heads); durable at
  // the group's commit. A relogged point is in the heads already.
  publish_heads(batch);
  return Status::Ok();
}

Status Store::Impl::commit_group() {
  if (!group_open) return Status::Ok();
  Status s = writer->exec("COMMIT");
  if (!s.ok()) {
    // SQLite keeps the transaction after some failures (busy) and rolls it
    // back after others (full disk, I/O error): retry the one, relog the other.
    if (sqlite3_get_autocommit(writer->raw()) != 0) group_lost(s);
    return s.Annotate("store: group commit");
  }
  group_open = false;
  group_points.clear();
  group_other_writes = 0;
  group_commits.fetch_add(1);
  batches.fetch_add(1);
  {
    std::lock_guard lk(q_mu);
    committed += group_uncounted;
  }
  group_uncounted = 0;
  done_cv.notify_all();
  return Status::Ok();
}

void Store::Impl::group_lost(const Status& why) {
  group_open = false;
  relog.insert(relog.end(), group_points.begin(), group_points.end());
  relog_uncounted += group_uncounted;
  group_points.clear();
  group_uncounted = 0;
  if (group_other_writes > 0) {
    group_writes_lost.fetch_add(group_other_writes);
    spdlog::error("store: a failed commit lost {} waveform/measurement/module writes of the last {} ms: {}",
                  group_other_writes, opt.batch_max_delay_ms, why.ToString());
  }
  group_other_writes = 0;
}

void Store::Impl::settle_group() {
  if (!group_open) return;
  Status s = commit_group();
  record_write(false, s);
  if (!s.ok()) spdlog::error("store: {}", s.ToString());
}

void Store::Impl::forget_relog() {
  if (relog.empty() && relog_uncounted == 0) return;
  relog.clear();
  {
    std::lock_guard lk(q_mu);
    committed += relog_uncounted;
  }
  relog_uncounted = 0;
  done_cv.notify_all();
}

// ------------------------------------------------------------------ writer thread

void Store::Impl::writer_loop() {
  const bool grouped = opt.group_commit;
  // With group commit the writer takes points often (they become readable
  // from the heads) and commits once per batch_max_delay_ms.
  const int wait_ms = grouped ? std::min(opt.batch_max_delay_ms, 250) : opt.batch_max_delay_ms;
  std::vector<SeriesPoint> batch;
  int backoff_ms = 50;
  for (;;) {
    bool flush_now = false, stop_now = false;
    {
      std::unique_lock lk(q_mu);
      q_cv.wait_for(lk, std::chrono::milliseconds(wait_ms), [&] {
        return stopping || flush_requested ||
               queue.size() >= static_cast<std::size_t>(opt.batch_max_rows);
      });
      flush_now = flush_requested;
      stop_now = stopping;
      if (queue.empty() && !grouped) {
        flush_requested = false;
        done_cv.notify_all();
        if (stopping) return;
      }
      std::size_t n = std::min(queue.size(), static_cast<std::size_t>(opt.batch_max_rows));
      batch.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      if (queue.empty()) flush_requested = false;
    }
    bool due = false, wrote = false;
    Status s;
    if (grouped) {
      bool logged = false, open_after = false;
      // Idle ticks must not take the write mutex the ordinary way: every
      // release moves Store::generation(), which the API's caches key on.
      bool work = !batch.empty() || flush_now || stop_now;
      if (!work) {
        std::lock_guard q(write_mu.quiet());  // reads bookkeeping only: not a change
        work = !relog.empty() || (group_open && wall_ms() - group_opened_wall >= opt.batch_max_delay_ms);
        open_after = group_open || !relog.empty();
        due = log_points > 0 && (log_points >= 1000000 ||
                                 wall_ms() - last_checkpoint_wall >= opt.checkpoint_interval_s * 1000LL);
      }
      if (work) {
        JoiningLock wl(write_mu);
        write_mu.data_only();
        if (!batch.empty() || !relog.empty()) {
          s = log_into_group(batch);
          logged = s.ok();
        }
        if (s.ok() && group_open &&
            (flush_now || stop_now || wall_ms() - group_opened_wall >= opt.batch_max_delay_ms)) {
          s = commit_group();
          wrote = true;
        }
        open_after = group_open || !relog.empty();
        due = log_points > 0 && (log_points >= 1000000 ||
                                 wall_ms() - last_checkpoint_wall >= opt.checkpoint_interval_s * 1000LL);
      }
      if (logged) batch.clear();
      if (wrote || !s.ok()) record_write(false, s);
      if (s.ok() && stop_now && !open_after) {
        std::lock_guard lk(q_mu);
        if (queue.empty()) {
          done_cv.notify_all();
          return;
        }
      }
    } else if (!batch.empty()) {
      std::lock_guard wl(write_mu);
      write_mu.data_only();
      s = commit_batch(batch);
      wrote = true;
      due = log_points >= 1000000 ||
            wall_ms() - last_checkpoint_wall >= opt.checkpoint_interval_s * 1000LL;
      record_write(false, s);
      if (s.ok()) {
        batches.fetch_add(1);
        {
          std::lock_guard lk(q_mu);
          committed += batch.size();
        }
        done_cv.notify_all();
        batch.clear();
      }
    } else {
      std::lock_guard wl(write_mu.quiet());  // reads bookkeeping only: not a change
      due = log_points > 0 && wall_ms() - last_checkpoint_wall >= opt.checkpoint_interval_s * 1000LL;
    }
    if (!s.ok()) {
      spdlog::error("store: {} points not committed, will retry: {}", batch.size(), s.ToString());
      // Put the batch back in front: nothing is dropped while the disk is full.
      if (!batch.empty()) {
        std::lock_guard lk(q_mu);
        queue.insert(queue.begin(), batch.begin(), batch.end());
      }
      batch.clear();
      {
        std::unique_lock lk(q_mu);
        if (stopping) return;
        q_cv.wait_for(lk, std::chrono::milliseconds(backoff_ms), [&] { return stopping; });
      }
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    if (wrote) backoff_ms = 50;
    if (due) {
      std::lock_guard wl(write_mu);  // commits the open group first
      write_mu.data_only();
      auto cs = checkpoint_locked();
      if (!cs.ok()) {
        spdlog::error("store: checkpoint failed (data stays in the ingest log): {}", cs.ToString());
        last_checkpoint_wall = wall_ms();  // retry at the next interval, not in a tight loop
      }
    }
  }
}

// ------------------------------------------------------------------ checkpoint

Status Store::checkpoint() {
  VIGIL_RETURN_IF_ERROR(flush());
  std::lock_guard wl(impl_->write_mu);
  impl_->write_mu.data_only();
  return impl_->checkpoint_locked();
}

Status Store::Impl::write_points(Id series, std::vector<Point>& pts) {
  auto& db = *writer;
  std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });

  auto oc_it = open_chunks.find(series);
  if (oc_it == open_chunks.end()) {
    auto q = db.prepare("SELECT t0, t1, n FROM chunks WHERE series_id = ? ORDER BY t0 DESC LIMIT 1");
    if (!q) return q.status();
    (*q)->bind(1, series);
    auto row = (*q)->step();
    if (!row) return row.status();
    std::optional<OpenChunk> oc;
    if (*row) oc = OpenChunk{(*q)->i64(0), (*q)->i64(1), (*q)->i64(2)};
    (*q)->reset();
    oc_it = open_chunks.emplace(series, oc).first;
  }
  auto& oc = oc_it->second;

  auto read_chunk = [&](TimestampMs t0, std::vector<Point>& out) -> Status {
    auto q = db.prepare("SELECT data FROM chunks WHERE series_id = ? AND t0 = ?");
    if (!q) return q.status();
    (*q)->bind(1, series).bind(2, t0);
    auto row = (*q)->step();
    if (!row) return row.status();
    Status s = *row ? decode_chunk((*q)->blob(0), out) : Status::Ok();
    (*q)->reset();
    return s.Annotate("series " + std::to_string(series) + " chunk " + std::to_string(t0));
  };
  auto upsert = [&](TimestampMs t0, std::span<const Point> p, const std::vector<std::uint8_t>& blob) -> Status {
    auto q = db.prepare(
        "INSERT INTO chunks(series_id, t0, t1, n, data) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(series_id, t0) DO UPDATE SET t1 = excluded.t1, n = excluded.n, data = excluded.data");
    if (!q) return q.status();
    (*q)->bind(1, series).bind(2, t0).bind(3, p.back().ts).bind(4, static_cast<std::int64_t>(p.size()));
    (*q)->bind_blob(5, blob.data(), blob.size());
    return (*q)->run();
  };

  // The most of src[i..] (up to max_k, at least min_k) that `base` can take
  // while its encoding stays within `limit` bytes: `out` is base plus those
  // points, sorted, and `blob` its encoding.
  std::vector<Point> out;
  std::vector<std::uint8_t> blob;
  auto fill = [&](const std::vector<Point>& base, const std::vector<Point>& src, std::size_t i, std::size_t max_k,
                  std::size_t min_k, std::size_t limit) {
    auto fits = [&](std::size_t k) {
      out = base;
      out.insert(out.end(), src.begin() + static_cast<std::ptrdiff_t>(i),
                 src.begin() + static_cast<std::ptrdiff_t>(i + k));
      std::stable_sort(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
      if (out.empty()) return true;
      blob = encode_chunk(out);
      return blob.size() <= limit;
    };
    if (fits(max_k) || max_k <= min_k) return max_k;
    // Binary search for the most points that fit (an encoding grows with
    // its points, near enough monotonically), so chunks end close to the
    // size that packs whole cells into a page (see chunk_max_bytes).
    std::size_t lo = min_k, hi = max_k;  // hi does not fit
    while (hi - lo > 1) {
      const std::size_t mid = lo + (hi - lo) / 2;
      (fits(mid) ? lo : hi) = mid;
    }
    (void)fits(lo);  // leaves out and blob for lo (min_k even when it does not fit)
    return lo;
  };

  // Seal: when the newest small chunks and the new points fill a sealed
  // chunk, re-encode them as sealed chunks (the rest stays small). Only
  // where the points append: a late point merges into the chunk it falls in.
  if (sealed_chunk_max_bytes > chunk_max_bytes && (!oc || pts.front().ts >= oc->t0)) {
    // (A new chunk never takes the key of one it does not replace: with no
    // small tail, the points must start after the newest chunk's key.)
    const auto goal = static_cast<std::size_t>(kSealedChunkMinFill * static_cast<double>(sealed_chunk_max_bytes));
    std::vector<TimestampMs> tail;  // the small chunks after the newest sealed one, newest first
    std::int64_t tail_bytes = 0, tail_points = 0;
    if (oc) {
      auto q = db.prepare(
          "SELECT t0, n, length(data) FROM chunks WHERE series_id = ? AND t0 >= ? ORDER BY t0 DESC LIMIT 16");
      if (!q) return q.status();
      (*q)->bind(1, series).bind(2, oc->t0 - kChunkMaxSpanMs);
      for (;;) {
        auto row = (*q)->step();
        if (!row) return row.status();
        if (!*row || (*q)->i64(2) > static_cast<std::int64_t>(chunk_max_bytes)) break;
        tail.push_back((*q)->i64(0));
        tail_points += (*q)->i64(1);
        tail_bytes += (*q)->i64(2);
      }
      (*q)->reset();
    }
    const bool keys_free = !oc || !tail.empty() || pts.front().ts > oc->t0;
    // Decode only when the estimate (the tail's bytes a point; 18 B, more
    // than a point costs, without a tail) reaches the goal.
    const double per_point = tail_points > 0 ? static_cast<double>(tail_bytes) / static_cast<double>(tail_points) : 18.0;
    if (keys_free && static_cast<double>(tail_bytes) + per_point * static_cast<double>(pts.size()) >= static_cast<double>(goal)) {
      std::vector<Point> all;
      Status readable = Status::Ok();
      for (auto it = tail.rbegin(); it != tail.rend() && readable.ok(); ++it) readable = read_chunk(*it, all);
      if (!readable.ok()) {
        // A damaged chunk stays as it is (the reader reports it where it is
        // read); the new points go into small chunks as without sealing.
        spdlog::warn("store: not sealing series {}: {}", series, readable.ToString());
        all.clear();
      } else {
        all.insert(all.end(), pts.begin(), pts.end());
      }
      std::stable_sort(all.begin(), all.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
      std::size_t j = 0;
      bool sealed = false;
      while (j < all.size()) {
        std::size_t k = 0;
        while (j + k < all.size() && k < kSealedChunkMaxPoints && all[j + k].ts - all[j].ts <= kChunkMaxSpanMs) ++k;
        k = fill({}, all, j, k, 1, sealed_chunk_max_bytes);
        if (blob.size() < goal) break;  // too few points (or too long a span) to fill one
        if (!sealed && !tail.empty()) {
          auto del = db.prepare("DELETE FROM chunks WHERE series_id = ? AND t0 >= ?");
          if (!del) return del.status();
          (*del)->bind(1, series).bind(2, tail.back());
          VIGIL_RETURN_IF_ERROR((*del)->run());
        }
        sealed = true;
        VIGIL_RETURN_IF_ERROR(upsert(out.front().ts, out, blob));
        // Full: the next points open a small chunk.
        oc = OpenChunk{out.front().ts, out.back().ts,
                       static_cast<std::int64_t>(std::max(out.size(), kChunkMaxPoints))};
        j += k;
      }
      if (sealed) {
        pts.assign(all.begin() + static_cast<std::ptrdiff_t>(j), all.end());
        if (pts.empty()) return Status::Ok();
      }
    }
  }

  std::size_t i = 0;
  // Extend the newest chunk while it has room and the points are not older.
  if (oc && oc->n < static_cast<std::int64_t>(kChunkMaxPoints) && pts.front().ts >= oc->t0) {
    std::vector<Point> merged;
    if (Status r = read_chunk(oc->t0, merged); !r.ok()) {
      // A damaged newest chunk is not extended (nor does it stop the
      // checkpoint): the points open a chunk after it.
      spdlog::warn("store: not extending the newest chunk of series {}: {}", series, r.ToString());
      oc->n = static_cast<std::int64_t>(kChunkMaxPoints);
    } else {
      std::size_t k = 0;
      while (i + k < pts.size() && merged.size() + k < kChunkMaxPoints && pts[i + k].ts - oc->t0 <= kChunkMaxSpanMs)
        ++k;
      k = fill(merged, pts, i, k, 0, chunk_max_bytes);
      if (k > 0) {
        VIGIL_RETURN_IF_ERROR(upsert(oc->t0, out, blob));
        i += k;
        oc->t1 = out.back().ts;
        oc->n = static_cast<std::int64_t>(out.size());
      } else {
        oc->n = static_cast<std::int64_t>(kChunkMaxPoints);  // full by its bytes: the next points open a chunk
      }
    }
  }
  while (i < pts.size()) {
    const TimestampMs t0 = pts[i].ts;
    std::vector<Point> group;
    // A late point can land on an existing chunk's key: merge, never overwrite.
    VIGIL_RETURN_IF_ERROR(read_chunk(t0, group));
    const std::size_t cap = std::max(kChunkMaxPoints, group.size() + 1);
    std::size_t k = 0;
    while (i + k < pts.size() && group.size() + k < cap && pts[i + k].ts - t0 <= kChunkMaxSpanMs) ++k;
    k = fill(group, pts, i, k, 1, chunk_max_bytes);
    VIGIL_RETURN_IF_ERROR(upsert(t0, out, blob));
    i += k;
    if (!oc || t0 >= oc->t0) oc = OpenChunk{t0, out.back().ts, static_cast<std::int64_t>(out.size())};
  }
  // No roll-ups here: while a point is in a chunk, downsampling reads it
  // from there; retention rolls chunks up as it drops them (roll_up).
  return Status::Ok();
}

Status Store::Impl::roll_up(Id series, std::vector<Point>& pts) {
  auto& db = *writer;
  std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
  // Hourly roll-ups: aggregate per hour here, then one read-merge-write of
  // each touched day's row.
  auto rd = db.prepare("SELECT data FROM rollup_daily WHERE series_id = ? AND day = ?");
  if (!rd) return rd.status();
  auto ru = db.prepare(
      "INSERT INTO rollup_daily(series_id, day, data) VALUES(?, ?, ?) "
      "ON CONFLICT(series_id, day) DO UPDATE SET data = excluded.data");
  if (!ru) return ru.status();
  std::vector<store_detail::HourAggregate> day_aggs, existing;
  std::size_t k = 0;
  while (k < pts.size()) {
    const TimestampMs day = floor_day(pts[k].ts);
    day_aggs.clear();
    while (k < pts.size() && floor_day(pts[k].ts) == day) {
      const int hour = static_cast<int>((pts[k].ts - day) / kHourMs);
      if (day_aggs.empty() || day_aggs.back().hour != hour) {
        day_aggs.push_back({hour, 0, pts[k].value, pts[k].value, 0});
      }
      auto& h = day_aggs.back();
      h.min = std::min(h.min, pts[k].value);
      h.max = std::max(h.max, pts[k].value);
      h.sum += pts[k].value;
      ++h.count;
      ++k;
    }
    (*rd)->bind(1, series).bind(2, day);
    auto row = (*rd)->step();
    if (!row) return row.status();
    if (*row) {
      Status ds = store_detail::decode_rollup_day((*rd)->blob(0), existing);
      (*rd)->reset();
      if (!ds.ok()) return ds.Annotate("series " + std::to_string(series) + " roll-up day " + std::to_string(day));
      store_detail::merge_rollup_day(existing, day_aggs);
    } else {
      (*rd)->reset();
      existing = day_aggs;
    }
    auto blob = store_detail::encode_rollup_day(existing);
    (*ru)->bind(1, series).bind(2, day);
    (*ru)->bind_blob(3, blob.data(), blob.size());
    VIGIL_RETURN_IF_ERROR((*ru)->run());
  }
  return Status::Ok();
}

Status Store::Impl::checkpoint_locked() {
  last_checkpoint_wall = wall_ms();
  Status s = check_file();  // a deleted or replaced file gets no checkpoint
  if (s.ok()) s = checkpoint_unchecked();
  record_write(true, s);
  return s;
}

Status Store::Impl::checkpoint_unchecked() {
  if (log_points == 0) return Status::Ok();
  // Copy what to move; heads only change under write_mu, which we hold.
  std::vector<std::pair<Id, std::vector<Point>>> work;
  {
    std::shared_lock hl(heads_mu);
    for (auto& [id, h] : heads)
      if (!h.pending.empty()) work.emplace_back(id, h.pending);
  }
  // In key order: chunks is keyed (series_id, t0), so new series' chunks
  // (a first load, an import) append at the b-tree's right edge, where
  // SQLite fills each page before it opens the next, instead of splitting
  // pages in the middle (half-full pages).
  std::sort(work.begin(), work.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto saved_open = open_chunks;
  sql::Transaction txn(*writer);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  for (auto& [id, pts] : work) {
    Status s = write_points(id, pts);
    if (!s.ok()) {
      open_chunks = saved_open;
      return s.Annotate("checkpoint");
    }
  }
  VIGIL_RETURN_IF_ERROR(writer->exec("DELETE FROM ingest_log"));
  {
    // Readers hold heads_mu (shared) across their chunk read and head copy,
    // so they see either the old chunks plus the heads or the new chunks
    // without them — never both or neither.
    std::unique_lock hl(heads_mu);
    Status s = txn.commit();
    if (!s.ok()) {
      open_chunks = saved_open;
      return s.Annotate("checkpoint");
    }
    for (auto& [id, pts] : work) heads[id].pending.clear();
  }
  log_points = 0;
  forget_relog();  // every head, relogged points included, is in chunks now
  checkpoints.fetch_add(1);
  if (wall_ms() - last_retention_wall >= kHourMs) {
    auto s = retention_locked();
    if (!s.ok()) spdlog::warn("store: retention: {}", s.ToString());
  }
  return Status::Ok();
}

Status Store::Impl::retention_locked() {
  last_retention_wall = wall_ms();
  const TimestampMs now = clock->now_ms();
  const TimestampMs raw_cut = now - opt.raw_retention_days * 24LL * kHourMs;
  const TimestampMs roll_cut = now - opt.rollup_retention_days * 24LL * kHourMs;
  sql::Transaction txn(*writer);
  VIGIL_RETURN_IF_ERROR(txn.begin());
  auto ids = writer->prepare("SELECT id FROM series");
  if (!ids) return ids.status();
  std::vector<Id> all;
  for (;;) {
    auto r = (*ids)->step();
    if (!r) return r.status();
    if (!*r) break;
    all.push_back((*ids)->i64(0));
  }
  (*ids)->reset();
  // Chunks past raw retention are rolled up (hourly count/min/max/sum) as
  // they go: roll-ups hold exactly the points no chunk holds any more.
  auto old = writer->prepare("SELECT data FROM chunks WHERE series_id = ? AND t0 < ? AND t1 < ?");
  if (!old) return old.status();
  auto dc = writer->prepare("DELETE FROM chunks WHERE series_id = ? AND t0 < ? AND t1 < ?");
  if (!dc) return dc.status();
  std::vector<Point> gone, tmp;
  auto dr = writer->prepare("DELETE FROM rollup_daily WHERE series_id = ? AND day < ?");
  if (!dr) return dr.status();
  for (Id id : all) {
    gone.clear();
    (*old)->bind(1, id).bind(2, raw_cut).bind(3, raw_cut);
    for (;;) {
      auto r = (*old)->step();
      if (!r) return r.status();
      if (!*r) break;
      tmp.clear();
      Status ds = decode_chunk((*old)->blob(0), tmp);
      if (!ds.ok()) {
        // Unreadable anyway: it still goes (a damaged chunk must not stop
        // retention and fill the disk), without a roll-up.
        spdlog::warn("store: retention: series {}: a damaged chunk is dropped without its roll-up: {}", id,
                     ds.ToString());
        continue;
      }
      gone.insert(gone.end(), tmp.begin(), tmp.end());
    }
    (*old)->reset();
    if (!gone.empty()) VIGIL_RETURN_IF_ERROR(roll_up(id, gone));
    VIGIL_RETURN_IF_ERROR((*dc)->bind(1, id).bind(2, raw_cut).bind(3, raw_cut).run());
    VIGIL_RETURN_IF_ERROR((*dr)->bind(1, id).bind(2, floor_day(roll_cut)).run());
  }
  // Waveforms kept as daily snapshots leave with the raw points.
  auto dw = writer->prepare(
      "DELETE FROM waveforms WHERE position_id IN (SELECT DISTINCT position_id FROM waveforms) AND ts < ?");
  if (!dw) return dw.status();
  VIGIL_RETURN_IF_ERROR((*dw)->bind(1, raw_cut).run());
  open_chunks.clear();  // the newest chunk may have gone
  return txn.commit();
}

Status Store::apply_retention() {
  std::lock_guard wl(impl_->write_mu);
  return impl_->retention_locked();
}

Status Store::Impl::replay_log() {
  auto q = writer->prepare("SELECT series_id, ts, value FROM ingest_log ORDER BY rowid");
  if (!q) return q.status();
  std::unique_lock hl(heads_mu);
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status().Annotate("store: replay ingest log");
    if (!*r) break;
    auto& h = heads[(*q)->i64(0)];
    Point p{(*q)->i64(1), (*q)->f64(2)};
    h.pending.push_back(p);
    if (!h.latest || p.ts >= h.latest->ts) h.latest = p;
    note_newest(p.ts);
    ++log_points;
  }
  (*q)->reset();
  if (log_points) spdlog::info("store: replayed {} points from the ingest log", log_points);
  return Status::Ok();
}

Status Store::Impl::load_latest() {
  auto q = writer->prepare(
      "SELECT s.id, (SELECT data FROM chunks c WHERE c.series_id = s.id ORDER BY t0 DESC LIMIT 1) "
      "FROM series s");
  if (!q) return q.status();
  std::unique_lock hl(heads_mu);
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status().Annotate("store: load latest values");
    if (!*r) break;
    if ((*q)->is_null(1)) continue;
    std::vector<Point> pts;
    auto s = decode_chunk((*q)->blob(1), pts);
    if (!s.ok()) {
      spdlog::warn("store: series {}: newest chunk unreadable: {}", (*q)->i64(0), s.ToString());
      continue;
    }
    auto& h = heads[(*q)->i64(0)];
    for (const auto& p : pts) {
      if (!h.latest || p.ts >= h.latest->ts) h.latest = p;
      note_newest(p.ts);
    }
  }
  (*q)->reset();
  return Status::Ok();
}

// ------------------------------------------------------------------ reads

std::optional<Point> Store::latest(Id series_id) const {
  std::shared_lock hl(impl_->heads_mu);
  auto it = impl_->heads.find(series_id);
  if (it == impl_->heads.end()) return std::nullopt;
  return it->second.latest;
}

Status Store::Impl::read_chunk_points(sql::Db& db, Id series_id, TimestampMs from, TimestampMs to,
                                      std::vector<Point>& out) {
  auto q = db.prepare("SELECT data FROM chunks WHERE series_id = ? AND t0 BETWEEN ? AND ? ORDER BY t0");
  if (!q) return q.status();
  (*q)->bind(1, series_id).bind(2, from - kChunkMaxSpanMs).bind(3, to);
  std::vector<Point> tmp;
  for (;;) {
    auto r = (*q)->step();
    if (!r) return r.status();
    if (!*r) break;
    tmp.clear();
    VIGIL_RETURN_IF_ERROR(decode_chunk((*q)->blob(0), tmp));
    for (const auto& p : tmp)
      if (p.ts >= from && p.ts <= to) out.push_back(p);
  }
  (*q)->reset();
  return Status::Ok();
}

void Store::Impl::add_pending(Id series_id, TimestampMs from, TimestampMs to, std::vector<Point>& out) const {
  auto it = heads.find(series_id);
  if (it != heads.end()) {
    for (const auto& p : it->second.pending)
      if (p.ts >= from && p.ts <= to) out.push_back(p);
  }
  if (!std::is_sorted(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; }))
    std::stable_sort(out.begin(), out.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
}

Result<std::vector<Point>> Store::range(Id series_id, TimestampMs from, TimestampMs to) {
  from = clamp_timestamp(from);  // from - kChunkMaxSpanMs below must not overflow
  to = clamp_timestamp(to);
  std::vector<Point> out;
  std::shared_lock hl(impl_->heads_mu);
  Status s = impl_->with_reader([&](sql::Db& db) { return Impl::read_chunk_points(db, series_id, from, to, out); });
  if (!s.ok()) return s.Annotate("store: range of series " + std::to_string(series_id));
  impl_->add_pending(series_id, from, to, out);
  return out;
}

Result<std::vector<Bucket>> Store::downsample(Id series_id, TimestampMs from, TimestampMs to,
                                              int max_points) {
  if (max_points < 1) return Status::InvalidArgument("points must be at least 1");
  if (to < from) return Status::InvalidArgument("range end is before its start");
  // Clamped, to - from and every rounding below stay far inside int64 (a
  // client may send INT64_MIN..INT64_MAX: that once overflowed to width 0).
  from = clamp_timestamp(from);
  to = clamp_timestamp(to);
  TimestampMs width = (to - from) / max_points + 1;
  std::vector<Bucket> out;
  auto bucket_for = [&](TimestampMs ts) -> Bucket& {
    TimestampMs b = from + (ts - from) / width * width;
    if (out.empty() || out.back().ts != b) {
      out.push_back(Bucket{b, 0, 0, 0, 0});
    }
    return out.back();
  };
  auto add = [&](TimestampMs ts, std::int64_t n, double mn, double mx, double sum) {
    Bucket& b = bucket_for(ts);
    if (b.count == 0) {
      b.min = mn;
      b.max = mx;
    } else {
      b.min = std::min(b.min, mn);
      b.max = std::max(b.max, mx);
    }
    b.mean += sum;  // holds the sum until the end
    b.count += n;
  };
  if (width >= kHourMs) {
    // Wide buckets: the hourly roll-ups (points past raw retention) and the
    // points still in chunks and heads — each point is in exactly one of
    // them. Both read in one snapshot, so a retention pass moving chunks
    // into roll-ups meanwhile is seen entirely or not at all.
    width = (width + kHourMs - 1) / kHourMs * kHourMs;
    from = floor_hour(from);
    std::vector<Bucket> rolled;  // one per stored hour: ts, count, min, max, sum
    std::vector<Point> pts;
    std::shared_lock hl(impl_->heads_mu);
    Status s = impl_->with_reader([&](sql::Db& db) -> Status {
      VIGIL_RETURN_IF_ERROR(db.exec("BEGIN"));
      auto q = db.prepare(
          "SELECT day, data FROM rollup_daily WHERE series_id = ? AND day BETWEEN ? AND ? ORDER BY day");
      if (!q) return q.status();
      (*q)->bind(1, series_id).bind(2, floor_day(from)).bind(3, to);
      std::vector<store_detail::HourAggregate> hours;
      for (;;) {
        auto r = (*q)->step();
        if (!r) return r.status();
        if (!*r) break;
        const TimestampMs day = (*q)->i64(0);
        VIGIL_RETURN_IF_ERROR(store_detail::decode_rollup_day((*q)->blob(1), hours));
        for (const auto& h : hours) {
          const TimestampMs ts = day + h.hour * kHourMs;
          if (ts >= from && ts <= to) rolled.push_back(Bucket{ts, h.count, h.min, h.max, h.sum});
        }
      }
      (*q)->reset();
      VIGIL_RETURN_IF_ERROR(Impl::read_chunk_points(db, series_id, from, to, pts));
      return db.exec("COMMIT");
    });
    if (!s.ok()) return s.Annotate("store: downsample of series " + std::to_string(series_id));
    impl_->add_pending(series_id, from, to, pts);
    hl.unlock();
    // Both in time order into the buckets.
    std::size_t i = 0, j = 0;
    while (i < rolled.size() || j < pts.size()) {
      if (j >= pts.size() || (i < rolled.size() && rolled[i].ts <= pts[j].ts)) {
        const auto& b = rolled[i++];
        add(b.ts, b.count, b.min, b.max, b.mean);
      } else {
        const auto& p = pts[j++];
        add(p.ts, 1, p.value, p.value, p.value);
      }
    }
  } else {
    auto pts = range(series_id, from, to);
    if (!pts) return pts.status();
    for (const auto& p : *pts) add(p.ts, 1, p.value, p.value, p.value);
  }
  for (auto& b : out) b.mean = b.count ? b.mean / static_cast<double>(b.count) : 0;
  return out;
}

std::uint64_t Store::generation() const { return impl_->write_mu.generation(); }
std::uint64_t Store::catalog_generation() const { return impl_->write_mu.catalog_generation(); }

StoreStats Store::stats() const {
  StoreStats s;
  {
    std::lock_guard lk(impl_->q_mu);
    s.points_committed = impl_->committed;
    s.queued_points = impl_->queue.size();
  }
  s.batches_committed = impl_->batches.load();
  s.checkpoints = impl_->checkpoints.load();
  s.write_errors = impl_->write_errors.load();
  s.group_commits = impl_->group_commits.load();
  s.group_writes_lost = impl_->group_writes_lost.load();
  {
    std::shared_lock hl(impl_->heads_mu);
    std::size_t n = 0;
    for (auto& [id, h] : impl_->heads) n += h.pending.size();
    s.log_points = n;
  }
  std::lock_guard el(impl_->err_mu);
  const Status& current = !impl_->batch_error.ok() ? impl_->batch_error : impl_->checkpoint_error;
  if (!current.ok()) s.last_error = current.ToString();
  s.disk_full = current.code() == Status::Code::kResourceExhausted;
  return s;
}

}  // namespace vigil
