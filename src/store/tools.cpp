// SPDX-License-Identifier: Apache-2.0
#include "vigil/store_tools.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "store/schema.h"
#include "store/store_impl.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

namespace vigil {
namespace fs = std::filesystem;
namespace {

std::int64_t file_size_or_zero(const std::string& p) {
  std::error_code ec;
  auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<std::int64_t>(n);
}

Result<std::int64_t> scalar(sql::Db& db, const std::string& q) {
  auto s = db.prepare(q);
  if (!s) return s.status();
  auto row = (*s)->step();
  if (!row) return row.status();
  std::int64_t v = *row ? (*s)->i64(0) : 0;
  (*s)->reset();
  return v;
}

Result<std::unique_ptr<sql::Db>> open_read_only(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound("no database at " + path);
  auto db = sql::Db::open(path, sql::Db::Mode::kReadOnly);
  if (!db) return db.status().Annotate(path);
  // Other connections (the gateway) write: wait for their locks briefly.
  sqlite3_busy_timeout((*db)->raw(), 5000);
  auto has = scalar(**db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!has) return has.status().Annotate(path);
  if (*has == 0) return Status::Corruption(path + " is not a vigil database (no schema_migrations table)");
  return db;
}

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Result<StorageReport> storage_report(const std::string& path) {
  auto dbr = open_read_only(path);
  if (!dbr) return dbr.status();
  sql::Db& db = **dbr;
  StorageReport r;
  // One read transaction: every figure from the same snapshot.
  VIGIL_RETURN_IF_ERROR(db.exec("BEGIN"));
  struct Rollback {
    sql::Db& db;
    ~Rollback() { (void)db.exec("ROLLBACK"); }
  } rollback{db};

  auto get = [&](const std::string& q, std::int64_t& out) -> Status {
    auto v = scalar(db, q);
    if (!v) return v.status();
    out = *v;
    return Status::Ok();
  };
  VIGIL_RETURN_IF_ERROR(get("SELECT count(*) FROM series", r.series));
  VIGIL_RETURN_IF_ERROR(get("SELECT count(*), coalesce(sum(n), 0) FROM chunks", r.chunks));
  VIGIL_RETURN_IF_ERROR(get("SELECT coalesce(sum(n), 0) FROM chunks", r.chunk_points));
  VIGIL_RETURN_IF_ERROR(get("SELECT count(*) FROM ingest_log", r.log_points));
  VIGIL_RETURN_IF_ERROR(get("SELECT count(*) FROM waveforms", r.waveforms));
  VIGIL_RETURN_IF_ERROR(get("SELECT count(*) FROM measurements", r.measurements));
  VIGIL_RETURN_IF_ERROR(get("SELECT (SELECT count(*) FROM chunks WHERE substr(data, 1, 1) = x'01') + "
                            "(SELECT count(*) FROM rollup_daily WHERE substr(data, 1, 1) = x'01')",
                            r.old_format_rows));
  VIGIL_RETURN_IF_ERROR(get("PRAGMA page_size", r.page_size));
  VIGIL_RETURN_IF_ERROR(get("PRAGMA freelist_count", r.free_pages));
  r.points = r.chunk_points + r.log_points;
  {
    auto q = db.prepare(
        "SELECT min(a), max(b) FROM (SELECT min(t0) AS a, max(t1) AS b FROM chunks "
        "UNION ALL SELECT min(ts), max(ts) FROM ingest_log)");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row && !(*q)->is_null(0)) {
      r.oldest_ts = (*q)->i64(0);
      r.newest_ts = (*q)->i64(1);
    }
    (*q)->reset();
  }
  // Sizes as the file holds them (pages, b-tree overhead included) when
  // SQLite has the dbstat table; the payload bytes otherwise.
  auto table_bytes = [&](const std::string& table, std::int64_t& out) -> Status {
    auto q = db.prepare("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE aggregate = TRUE AND "
                        "(name = ?1 OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1))");
    if (!q) return q.status();
    (*q)->bind(1, table);
    auto row = (*q)->step();
    if (!row) return row.status();
    out = *row ? (*q)->i64(0) : 0;
    (*q)->reset();
    return Status::Ok();
  };
  Status exact = table_bytes("chunks", r.chunk_bytes);
  if (exact.ok()) {
    VIGIL_RETURN_IF_ERROR(table_bytes("rollup_daily", r.rollup_bytes));
    VIGIL_RETURN_IF_ERROR(table_bytes("ingest_log", r.log_bytes));
    VIGIL_RETURN_IF_ERROR(table_bytes("waveforms", r.waveform_bytes));
  } else {
    r.exact_sizes = false;
    VIGIL_RETURN_IF_ERROR(get("SELECT coalesce(sum(length(data)) + 24 * count(*), 0) FROM chunks", r.chunk_bytes));
    VIGIL_RETURN_IF_ERROR(get("SELECT coalesce(sum(length(data)) + 16 * count(*), 0) FROM rollup_daily", r.rollup_bytes));
    VIGIL_RETURN_IF_ERROR(get("SELECT 24 * count(*) FROM ingest_log", r.log_bytes));
    VIGIL_RETURN_IF_ERROR(get("SELECT coalesce(sum(length(samples)) + 48 * count(*), 0) FROM waveforms", r.waveform_bytes));
  }
  // The plain int16 size of the stored snapshots (what compression saves against).
  {
    auto has_n = scalar(db, "SELECT count(*) FROM pragma_table_info('waveforms') WHERE name = 'n_samples'");
    if (!has_n) return has_n.status();
    VIGIL_RETURN_IF_ERROR(get(*has_n ? "SELECT coalesce(sum(CASE WHEN codec = 1 THEN 2 * n_samples "
                                       "ELSE length(samples) END), 0) FROM waveforms"
                                     : "SELECT coalesce(sum(length(samples)), 0) FROM waveforms",
                              r.waveform_raw_bytes));
  }
  if (r.points > 0)
    r.bytes_per_point = static_cast<double>(r.chunk_bytes + r.rollup_bytes + r.log_bytes) / static_cast<double>(r.points);
  if (r.waveforms > 0) r.bytes_per_waveform = static_cast<double>(r.waveform_bytes) / static_cast<double>(r.waveforms);
  r.db_file_bytes = file_size_or_zero(path);
  r.wal_file_bytes = file_size_or_zero(path + "-wal");

  struct statvfs v {};
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  if (statvfs(dir.c_str(), &v) == 0) {
    r.disk_total_bytes = static_cast<std::int64_t>(v.f_blocks) * static_cast<std::int64_t>(v.f_frsize);
    r.disk_free_bytes = static_cast<std::int64_t>(v.f_bavail) * static_cast<std::int64_t>(v.f_frsize);
  }
  if (r.oldest_ts && r.newest_ts) {
    const double days = static_cast<double>(*r.newest_ts - *r.oldest_ts) / 86'400'000.0;
    if (days >= 1.0) {
      const double used = static_cast<double>(r.db_file_bytes - r.free_pages * r.page_size);
      r.growth_bytes_per_day = used / days;
      if (r.growth_bytes_per_day > 0)
        r.days_until_full = static_cast<double>(r.disk_free_bytes) / r.growth_bytes_per_day;
    }
  }
  return r;
}

Status backup_database(const std::string& db_path, const std::string& dest_path,
                       const std::function<void(int, int)>& progress) {
  auto src = open_read_only(db_path);
  if (!src) return src.status();
  std::error_code ec;
  if (fs::exists(dest_path, ec)) return Status::AlreadyExists("backup: " + dest_path + " exists");
  auto dst = sql::Db::open(dest_path, sql::Db::Mode::kReadWriteCreate);
  if (!dst) return dst.status().Annotate("backup: " + dest_path);
  sqlite3_backup* b = sqlite3_backup_init((*dst)->raw(), "main", (*src)->raw(), "main");
  if (!b) return (*dst)->error("backup: init");
  // One step over the whole file: the copy then runs inside one read
  // transaction of the source, a WAL snapshot, so the gateway's writer goes
  // on meanwhile and the copy is never restarted. (Stepping a few pages at a
  // time restarts the copy whenever another connection commits — under
  // steady ingest it would never finish. The price: the WAL cannot be
  // checkpointed past the snapshot until the copy is done.)
  if (progress) progress(0, sqlite3_backup_pagecount(b));
  int rc;
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (progress) progress(sqlite3_backup_pagecount(b), sqlite3_backup_pagecount(b));
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    Status s = Status::IoError(std::string("backup: ") + sqlite3_errstr(rc) + " writing " + dest_path);
    dst->reset();
    fs::remove(dest_path, ec);
    return s;
  }
  // The copy is a rollback-journal database file on its own: no -wal to carry.
  VIGIL_RETURN_IF_ERROR((*dst)->exec("PRAGMA journal_mode = DELETE"));
  return Status::Ok();
}

Status check_database(const std::string& path) {
  auto dbr = open_read_only(path);
  if (!dbr) return dbr.status();
  auto q = (*dbr)->prepare("PRAGMA integrity_check(20)");
  if (!q) return q.status();
  std::string problems;
  int n = 0;
  for (;;) {
    auto row = (*q)->step();
    if (!row) return row.status().Annotate(path);
    if (!*row) break;
    std::string line = (*q)->text(0);
    if (line == "ok") continue;
    if (n++ < 3) problems += (problems.empty() ? "" : "; ") + line;
  }
  (*q)->reset();
  if (n > 0) return Status::Corruption(path + " fails the integrity check (" + std::to_string(n) + " problems): " + problems);
  auto core = scalar(**dbr, "SELECT count(*) FROM schema_migrations WHERE module = 'core'");
  if (!core) return core.status().Annotate(path);
  if (*core == 0) return Status::Corruption(path + " is not a vigil database (no core schema)");
  return Status::Ok();
}

std::int64_t known_core_schema_version() {
  return static_cast<std::int64_t>(store_detail::core_migrations().size());
}

Result<std::vector<std::pair<std::string, std::int64_t>>> schema_versions(const std::string& path) {
  auto dbr = open_read_only(path);
  if (!dbr) return dbr.status();
  auto q = (*dbr)->prepare("SELECT module, version FROM schema_migrations ORDER BY module");
  if (!q) return q.status();
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (;;) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    out.emplace_back((*q)->text(0), (*q)->i64(1));
  }
  (*q)->reset();
  return out;
}

Result<std::string> replace_database(const std::string& db_path, const std::string& staged_path,
                                     const std::string& who) {
  StoreOptions o;
  o.path = db_path;
  o.owner = who;
  o.server = false;
  o.lock_wait_ms = 2000;
  auto lock = store_detail::acquire_lock(o);
  if (!lock) return lock.status();
  struct Unlock {
    int fd;
    ~Unlock() { store_detail::release_lock(fd); }
  } unlock{*lock};

  std::error_code ec;
  std::string kept;
  if (fs::exists(db_path, ec)) {
    kept = db_path + ".before-restore-" + utc_stamp();
    // The old file and its WAL move aside together (the WAL belongs to it;
    // left in place it would be replayed into the restored file).
    fs::rename(db_path, kept, ec);
    if (ec) return Status::IoError("restore: cannot move " + db_path + " aside: " + ec.message());
    if (fs::exists(db_path + "-wal", ec)) {
      fs::rename(db_path + "-wal", kept + "-wal", ec);
      if (ec) {
        std::error_code ec2;
        fs::rename(kept, db_path, ec2);  // put it back as it was
        return Status::IoError("restore: cannot move " + db_path + "-wal aside: " + ec.message());
      }
    }
  }
  fs::remove(db_path + "-shm", ec);
  fs::rename(staged_path, db_path, ec);
  if (ec) {
    std::error_code ec2;
    if (!kept.empty()) {
      fs::rename(kept, db_path, ec2);
      if (fs::exists(kept + "-wal", ec2)) fs::rename(kept + "-wal", db_path + "-wal", ec2);
    }
    return Status::IoError("restore: cannot move the restored database into place: " + ec.message());
  }
  fsync_dir(fs::absolute(fs::path(db_path)).parent_path());
  store_detail::write_created_marker(db_path);
  return kept;
}

}  // namespace vigil
