// SPDX-License-Identifier: Apache-2.0
#include "vigil/sqlite.h"

namespace vigil::sql {
namespace {
Status from_rc(int rc, sqlite3* db, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::Corruption(msg);
    case SQLITE_FULL: return Status::ResourceExhausted(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(msg);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return Status::PermissionDenied(msg);
    case SQLITE_CONSTRAINT: return Status::AlreadyExists(msg);
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR: return Status::Internal(msg);
    default: return Status::IoError(msg);
  }
}
}  // namespace

Result<bool> Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  auto st = from_rc(rc, db_, std::string("step '") + sqlite3_sql(s_) + "'");
  sqlite3_reset(s_);
  return st;
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.status();
    if (!*r) break;
  }
  reset();
  return Status::Ok();
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto st = from_rc(rc, db, "open " + path);
    sqlite3_close(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<Db>(new Db(db, path));
}

Db::~Db() {
  cache_.clear();
  lru_.clear();
  sqlite3_close(db_);
}

Status Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    auto head = sql.substr(0, 60);
    return from_rc(rc, nullptr, "exec '" + head + "'").Annotate(msg);
  }
  return Status::Ok();
}

Result<Stmt*> Db::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    it->second.stmt->reset();
    return it->second.stmt.get();
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return from_rc(rc, db_, "prepare '" + sql + "'");
  auto owned = std::make_unique<Stmt>(s, db_);
  Stmt* p = owned.get();
  // Evict the least recently used statements, skipping any that is mid-step
  // (its caller still holds it).
  for (auto victim = lru_.end(); cache_.size() >= kMaxCachedStatements && victim != lru_.begin();) {
    --victim;
    auto v = cache_.find(*victim);
    if (v != cache_.end() && sqlite3_stmt_busy(v->second.stmt->raw())) continue;
    if (v != cache_.end()) cache_.erase(v);
    victim = lru_.erase(victim);
  }
  lru_.push_front(sql);
  cache_.emplace(sql, Cached{std::move(owned), lru_.begin()});
  return p;
}

Status Db::error(const std::string& what) const {
  return from_rc(sqlite3_errcode(db_), db_, what);
}

}  // namespace vigil::sql
