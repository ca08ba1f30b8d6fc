// SPDX-License-Identifier: Apache-2.0
//
// A thin RAII layer over SQLite: Db owns a connection, Stmt a prepared
// statement. Every failure becomes a Status naming the operation and SQLite's
// message. Db::prepare() caches statements by SQL text, so callers write the
// SQL inline and still use prepared statements only. The cache is bounded
// (least recently used out): SQL text must be fixed per call site, with every
// value bound as a parameter; a text built from client input would only churn
// the cache, never grow it.
//
// Thread-safety: a Db and its statements belong to one thread at a time (the
// Store hands connections out under its own locking).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vigil/status.h"

namespace vigil::sql {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* s, sqlite3* db) : s_(s), db_(db) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : s_(o.s_), db_(o.db_) { o.s_ = nullptr; }
  ~Stmt() { if (s_) sqlite3_finalize(s_); }

  // Binding is 1-based, like SQLite. Chainable.
  Stmt& bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); return *this; }
  Stmt& bind(int i, int v) { sqlite3_bind_int64(s_, i, v); return *this; }
  Stmt& bind(int i, double v) { sqlite3_bind_double(s_, i, v); return *this; }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, const void* p, std::size_t n) {
    sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_null(int i) { sqlite3_bind_null(s_, i); return *this; }
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    if (v) return bind(i, *v);
    return bind_null(i);
  }

  // Steps once. Returns true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, ignoring rows; resets for reuse.
  Status run();
  void reset() { sqlite3_reset(s_); sqlite3_clear_bindings(s_); }

  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  double f64(int col) const { return sqlite3_column_double(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  std::optional<std::int64_t> opt_i64(int col) const {
    if (is_null(col)) return std::nullopt;
    return i64(col);
  }
  std::span<const std::uint8_t> blob(int col) const {
    auto p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))};
  }
  sqlite3_stmt* raw() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

class Db {
 public:
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly };
  static Result<std::unique_ptr<Db>> open(const std::string& path, Mode mode);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status exec(const std::string& sql);  // no parameters, any number of statements
  // A cached prepared statement, reset and ready to bind. Valid until the next
  // prepare() of the same SQL on this connection, or until kMaxCachedStatements
  // other statements have been prepared after it (then it may be evicted).
  Result<Stmt*> prepare(const std::string& sql);
  static constexpr std::size_t kMaxCachedStatements = 128;
  std::size_t cached_statements() const { return cache_.size(); }
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  Status error(const std::string& what) const;
  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  struct Cached {
    std::unique_ptr<Stmt> stmt;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };
  std::unordered_map<std::string, Cached> cache_;
  std::list<std::string> lru_;
};

// BEGIN IMMEDIATE … COMMIT, rolled back if not committed.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  Status begin() {
    auto s = db_.exec("BEGIN IMMEDIATE");
    active_ = s.ok();
    return s;
  }
  Status commit() {
    auto s = db_.exec("COMMIT");
    if (s.ok()) active_ = false;
    return s;
  }
  ~Transaction() {
    if (active_) (void)db_.exec("ROLLBACK");
  }

 private:
  Db& db_;
  bool active_ = false;
};

}  // namespace vigil::sql
