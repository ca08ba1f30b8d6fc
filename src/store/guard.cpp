// SPDX-License-Identifier: Apache-2.0
//
// What keeps one database with one owner and its health truthful: the
// "<db>.lock" file (flock), the "<db>.created" marker, the open file's
// identity, PRAGMA quick_check and the maintenance thread that repeats the
// last two. See the header comment of vigil/store.h for the contracts.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "store/store_impl.h"

namespace vigil {
namespace {


std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// "<pid>\n<label>\n<server|command>\n"; pid 0 when empty or unreadable.
DbOwner parse_owner(int fd) {
  DbOwner o;
  char buf[512];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return o;
  std::string text(buf, static_cast<std::size_t>(n));
  std::size_t a = text.find('\n');
  if (a == std::string::npos) return o;
  std::size_t b = text.find('\n', a + 1);
  if (b == std::string::npos) return o;
  o.pid = std::strtol(text.substr(0, a).c_str(), nullptr, 10);
  o.label = text.substr(a + 1, b - a - 1);
  o.server = text.compare(b + 1, 6, "server") == 0;
  return o;
}

std::string describe(const DbOwner& o) {
  std::string who = o.label.empty() ? std::string("another process") : o.label;
  if (o.pid > 0) who += " (pid " + std::to_string(o.pid) + ")";
  return who;
}

}  // namespace

const char* to_string(StoreHealth::Integrity i) {
  switch (i) {
    case StoreHealth::Integrity::kUnchecked: return "unchecked";
    case StoreHealth::Integrity::kOk: return "ok";
    case StoreHealth::Integrity::kFailed: return "failed";
  }
  return "unchecked";
}

const char* to_string(StoreHealth::File f) {
  switch (f) {
    case StoreHealth::File::kOk: return "ok";
    case StoreHealth::File::kDeleted: return "deleted";
    case StoreHealth::File::kReplaced: return "replaced";
  }
  return "ok";
}

namespace store_detail {

std::string lock_path(const std::string& db_path) { return db_path + ".lock"; }
std::string created_marker_path(const std::string& db_path) { return db_path + ".created"; }

Result<int> acquire_lock(const StoreOptions& o) {
  const std::string lp = lock_path(o.path);
  int fd = ::open(lp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    std::string msg = "store: cannot open the lock file " + lp + ": " + std::strerror(e);
    return e == EACCES || e == EPERM || e == EROFS ? Status::PermissionDenied(msg) : Status::IoError(msg);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, o.lock_wait_ms));
  int server_seen = 0;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      ::close(fd);
      return Status::IoError("store: cannot lock " + lp + ": " + std::strerror(e));
    }
    DbOwner holder = parse_owner(fd);
    // A server holds a database for as long as it runs: waiting is pointless.
    // (Seen three times in a row, so a probe by Store::owner() holding the lock
    // shared for a moment is not mistaken for the server.)
    const bool server = holder.server && pid_alive(holder.pid);
    server_seen = server ? server_seen + 1 : 0;
    if (server_seen >= 3 || std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      if (server) {
        return Status::FailedPrecondition(describe(holder) + " is already running on " + o.path +
                                          "; one process owns a database: stop it first");
      }
      return Status::FailedPrecondition(describe(holder) + " is using " + o.path + "; try again when it is done");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(server ? 20 : 50));
  }
  std::string text = std::to_string(::getpid()) + "\n" + o.owner + "\n" + (o.server ? "server" : "command") + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    spdlog::warn("store: could not record the owner in {}: {}", lp, std::strerror(errno));
  }
  return fd;
}

void release_lock(int fd) {
  if (fd < 0) return;
  // A later probe must not name a process that is gone (best effort: the
  // lock itself goes with the descriptor).
  if (::ftruncate(fd, 0) != 0) spdlog::debug("store: could not clear the lock file: {}", std::strerror(errno));
  ::close(fd);  // releases the flock
}

std::optional<DbOwner> lock_holder(const std::string& db_path) {
  int fd = ::open(lock_path(db_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<DbOwner> out;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    out = parse_owner(fd);
  }
  ::close(fd);
  return out;
}

Status check_existing(const StoreOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(o.path, ec)) return Status::Ok();
  const std::string marker = created_marker_path(o.path);
  const bool had_marker = fs::exists(marker, ec);
  // A write-ahead log without its database is evidence too (databases made
  // before the marker existed).
  const bool had_wal = fs::exists(o.path + "-wal", ec);
  if (!had_marker && !had_wal) return Status::Ok();
  if (o.allow_new_database) {
    spdlog::warn("store: {} is missing although a database existed there; starting with an empty one as asked",
                 o.path);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) fs::remove(o.path + suffix, ec);
    return Status::Ok();
  }
  std::string since;
  struct stat st {};
  if (had_marker && ::stat(marker.c_str(), &st) == 0) since = " on " + iso_utc(st.st_mtime);
  return Status::FailedPrecondition(
      "the database " + o.path + " is missing, but " + (had_marker ? marker : o.path + "-wal") +
      " shows that one was created there" + since +
      "; restore it from a backup, or start with an empty database: vigil serve --new-database --config FILE");
}

void write_created_marker(const std::string& db_path) {
  const std::string marker = created_marker_path(db_path);
  if (::access(marker.c_str(), F_OK) == 0) return;
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::warn("store: could not write {}: {}", marker, std::strerror(errno));
    return;
  }
  std::string text = "vigil database " + db_path + " created " + iso_utc(std::time(nullptr)) +
                     "\n(vigil refuses to start with an empty database while this file says one existed)\n";
  if (::write(fd, text.data(), text.size()) < 0) spdlog::warn("store: could not write {}", marker);
  ::close(fd);
}

}  // namespace store_detail

// ------------------------------------------------------------------ Impl

Store::Impl::~Impl() {
  stop_maintenance();
  // Every connection closes before another process may take the lock.
  writer.reset();
  idle_readers.clear();
  store_detail::release_lock(lock_fd);
}

Status Store::Impl::check_file() const {
  struct stat st {};
  StoreHealth::File now = StoreHealth::File::kOk;
  if (::stat(opt.path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) now = StoreHealth::File::kDeleted;
  } else if (st.st_dev != file_dev || st.st_ino != file_ino) {
    now = StoreHealth::File::kReplaced;
  }
  auto& state = const_cast<std::atomic<int>&>(file_state);
  const int before = state.exchange(static_cast<int>(now));
  if (before != static_cast<int>(now)) {
    if (now == StoreHealth::File::kOk) {
      spdlog::warn("store: {} names the open database again", opt.path);
    } else {
      spdlog::error("store: the database file {} was {} while open: nothing more is written to it; "
                    "restore the file (or move it back) and restart vigil",
                    opt.path, to_string(now));
    }
  }
  if (now == StoreHealth::File::kOk) return Status::Ok();
  return Status::FailedPrecondition("store: the database file " + opt.path + " was " + to_string(now) +
                                    " while open");
}

Status Store::Impl::quick_check(sql::Db& db) {
  const auto t0 = std::chrono::steady_clock::now();
  // The scheduled check must not hold up a shutdown.
  sqlite3_progress_handler(
      db.raw(), 10000, [](void* p) -> int { return static_cast<std::atomic<bool>*>(p)->load() ? 1 : 0; },
      &maint_stop);
  std::vector<std::string> rows;
  Status st;
  {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db.raw(), "PRAGMA quick_check(20)", -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        rows.emplace_back(p ? p : "");
      }
    }
    if (rc != SQLITE_DONE) st = db.error("quick_check");
    sqlite3_finalize(s);
  }
  sqlite3_progress_handler(db.raw(), 0, nullptr, nullptr);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (!st.ok() && st.code() != Status::Code::kCorruption) {
    if (!maint_stop.load()) spdlog::warn("store: quick_check of {} did not finish: {}", opt.path, st.ToString());
    return st;
  }
  const bool ok = st.ok() && rows.size() == 1 && rows[0] == "ok";
  if (!st.ok()) rows.push_back(st.message());
  {
    std::lock_guard lk(health_mu);
    integrity = ok ? StoreHealth::Integrity::kOk : StoreHealth::Integrity::kFailed;
    integrity_at = wall_ms();
    integrity_problems = ok ? 0 : static_cast<int>(rows.size());
  }
  if (ok) {
    spdlog::info("store: quick_check of {}: ok ({} ms)", opt.path, ms);
    return Status::Ok();
  }
  std::string all;
  for (auto r : rows) {
    std::replace(r.begin(), r.end(), '\n', ' ');
    all += (all.empty() ? "" : "; ") + r;
  }
  spdlog::error("store: quick_check of {} found {} problem(s) ({} ms): {}. The database is damaged: "
                "stop vigil and restore it from a backup",
                opt.path, rows.size(), ms, all);
  return Status::Corruption("store: quick_check of " + opt.path + " found " + std::to_string(rows.size()) +
                            " problem(s)");
}

void Store::Impl::maintenance_loop() {
  using clk = std::chrono::steady_clock;
  const auto file_every = std::chrono::seconds(std::max(1, opt.file_check_interval_s));
  const auto integrity_every = std::chrono::seconds(opt.integrity_check_interval_s);
  auto next_file = clk::now() + file_every;
  auto next_integrity = opt.integrity_check_interval_s > 0 ? clk::now() + integrity_every : clk::time_point::max();
  const auto migrate_every = std::chrono::milliseconds(std::max(1, opt.format_migration_interval_ms));
  auto next_migration = opt.format_migration_interval_ms > 0 && !migration.done ? clk::now() + migrate_every
                                                                                : clk::time_point::max();
  for (;;) {
    {
      std::unique_lock lk(maint_mu);
      maint_cv.wait_until(lk, std::min({next_file, next_integrity, next_migration}),
                          [&] { return maint_stop.load(); });
      if (maint_stop.load()) return;
    }
    const auto now = clk::now();
    if (now >= next_migration) {
      auto more = migrate_formats_step();
      if (!more.ok()) spdlog::warn("store: format migration: {} (retried)", more.status().ToString());
      next_migration = more.ok() && !*more ? clk::time_point::max() : clk::now() + migrate_every;
    }
    if (now >= next_file) {
      (void)check_file();
      next_file = now + file_every;
    }
    if (now >= next_integrity) {
      (void)with_reader([this](sql::Db& db) { return quick_check(db); });
      next_integrity = clk::now() + integrity_every;
    }
  }
}

void Store::Impl::stop_maintenance() {
  {
    std::lock_guard lk(maint_mu);
    maint_stop.store(true);
  }
  maint_cv.notify_all();
  if (maint_thread.joinable()) maint_thread.join();
}

void Store::Impl::record_write(bool is_checkpoint, const Status& s) {
  if (!s.ok()) write_errors.fetch_add(1);
  std::lock_guard el(err_mu);
  (is_checkpoint ? checkpoint_error : batch_error) = s;
}

// ------------------------------------------------------------------ Store

std::optional<DbOwner> Store::owner(const std::string& path) { return store_detail::lock_holder(path); }

Status Store::check_integrity() {
  return impl_->with_reader([this](sql::Db& db) { return impl_->quick_check(db); });
}

StoreHealth Store::health() const {
  StoreHealth h;
  (void)impl_->check_file();
  h.file = static_cast<StoreHealth::File>(impl_->file_state.load());
  {
    std::lock_guard lk(impl_->health_mu);
    h.integrity = impl_->integrity;
    h.integrity_checked_at = impl_->integrity_at;
    h.integrity_problems = impl_->integrity_problems;
  }
  {
    std::lock_guard el(impl_->err_mu);
    h.writes_failing = !impl_->batch_error.ok() || !impl_->checkpoint_error.ok();
    h.disk_full = impl_->batch_error.code() == Status::Code::kResourceExhausted ||
                  impl_->checkpoint_error.code() == Status::Code::kResourceExhausted;
  }
  {
    std::lock_guard lk(impl_->q_mu);
    h.queued_points = impl_->queue.size();
  }
  h.clock_now = impl_->clock->now_ms();
  const TimestampMs newest = impl_->newest_ts.load();
  if (newest != INT64_MIN) {
    h.newest_ts = newest;
    // Saturating: a newest point near INT64_MAX must not overflow.
    if (newest > h.clock_now) {
      h.clock_behind_ms = h.clock_now < 0 && newest > INT64_MAX + h.clock_now ? INT64_MAX : newest - h.clock_now;
    }
  }
  h.clock_ok = h.clock_behind_ms <= impl_->opt.clock_tolerance_ms;
  return h;
}

}  // namespace vigil
