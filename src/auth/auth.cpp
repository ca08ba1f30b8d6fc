// SPDX-License-Identifier: Apache-2.0
#include "auth/auth.h"

#include <cctype>

namespace vigil::auth {
namespace {

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations = {
      R"sql(
CREATE TABLE users(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('admin','technician','viewer')),
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE sessions(
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  remote TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin','technician','viewer')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER);
)sql",
  };
  return kMigrations;
}

// Audit rows written inside the caller's transaction (atomic with the change).
Status audit_in(sql::Db& db, TimestampMs now, const std::string& actor, const std::string& action,
                const std::string& target, const std::string& detail) {
  auto q = db.prepare("INSERT INTO audit_log(ts, actor, action, target, detail) VALUES(?, ?, ?, ?, ?)");
  if (!q) return q.status();
  return (*q)->bind(1, now).bind(2, actor).bind(3, action).bind(4, target).bind(5, detail).run();
}

Result<User> insert_user(sql::Db& db, TimestampMs now, const std::string& name, Role role, const std::string& hash) {
  auto q = db.prepare(
      "INSERT INTO users(name, role, password_hash, created_at, updated_at) VALUES(?, ?, ?, ?, ?) "
      "ON CONFLICT(name) DO NOTHING");
  if (!q) return q.status();
  VIGIL_RETURN_IF_ERROR((*q)->bind(1, name).bind(2, to_string(role)).bind(3, hash).bind(4, now).bind(5, now).run());
  if (db.changes() == 0) return Status::AlreadyExists("user '" + name + "' already exists");
  return User{db.last_insert_id(), name, role, now};
}

}  // namespace

const char* to_string(Role r) {
  switch (r) {
    case Role::kAdmin: return "admin";
    case Role::kTechnician: return "technician";
    case Role::kViewer: return "viewer";
  }
  return "viewer";
}

std::optional<Role> role_from_string(std::string_view s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "technician") return Role::kTechnician;
  if (s == "viewer") return Role::kViewer;
  return std::nullopt;
}

Status AuthService::migrate(Store& store) { return store.migrate("auth", migrations()); }

Result<std::unique_ptr<AuthService>> AuthService::create(Store& store, AuthOptions options, const Clock& clock) {
  VIGIL_RETURN_IF_ERROR(migrate(store));
  return std::unique_ptr<AuthService>(new AuthService(store, options, clock));
}

Status AuthService::validate(const std::string& name, const std::string& password) const {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("user name must be 1–64 characters");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '@')
      return Status::InvalidArgument("user name may contain letters, digits and . _ - @ only");
  }
  if (password.size() < opt_.min_password_length)
    return Status::InvalidArgument("password must be at least " + std::to_string(opt_.min_password_length) +
                                   " characters");
  if (password.size() > 1024) return Status::InvalidArgument("password is too long");
  return Status::Ok();
}

Result<std::int64_t> AuthService::user_count() {
  std::int64_t n = 0;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*) FROM users");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    n = (*q)->i64(0);
    (*q)->reset();
    return Status::Ok();
  }));
  return n;
}

Result<User> AuthService::add_user(const std::string& name, Role role, const std::string& password,
                                   const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate(name, password));
  auto hash = hash_password(password, opt_.scrypt);
  if (!hash) return hash.status();
  std::optional<User> made;
  const TimestampMs now = clock_.now_ms();
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto u = insert_user(db, now, name, role, *hash);
    if (!u) return u.status();
    made = *u;
    return audit_in(db, now, actor, "user.add", name, std::string("role ") + to_string(role));
  }));
  return *made;
}

Result<User> AuthService::setup_admin(const std::string& name, const std::string& password, const std::string& remote) {
  VIGIL_RETURN_IF_ERROR(validate(name, password));
  auto hash = hash_password(password, opt_.scrypt);
  if (!hash) return hash.status();
  std::optional<User> made;
  const TimestampMs now = clock_.now_ms();
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*) FROM users");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    std::int64_t n = (*q)->i64(0);
    (*q)->reset();
    if (n > 0) return Status::AlreadyExists("the gateway is already set up; sign in instead");
    auto u = insert_user(db, now, name, Role::kAdmin, *hash);
    if (!u) return u.status();
    made = *u;
    return audit_in(db, now, name, "setup.admin", name, "first admin created from " + remote);
  }));
  return *made;
}

Result<std::vector<User>> AuthService::users() {
  std::vector<User> out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, name, role, created_at FROM users ORDER BY name");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      out.push_back({(*q)->i64(0), (*q)->text(1), role_from_string((*q)->text(2)).value_or(Role::kViewer), (*q)->i64(3)});
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status AuthService::delete_user(Id id, const std::string& actor) {
  const TimestampMs now = clock_.now_ms();
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT name, role FROM users WHERE id = ?");
    if (!q) return q.status();
    (*q)->bind(1, id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) {
      (*q)->reset();
      return Status::NotFound("no user with id " + std::to_string(id));
    }
    std::string name = (*q)->text(0), role = (*q)->text(1);
    (*q)->reset();
    if (role == "admin") {
      auto c = db.prepare("SELECT count(*) FROM users WHERE role = 'admin'");
      if (!c) return c.status();
      auto r = (*c)->step();
      if (!r) return r.status();
      auto admins = (*c)->i64(0);
      (*c)->reset();
      if (admins <= 1) return Status::InvalidArgument("cannot delete the last admin");
    }
    auto d = db.prepare("DELETE FROM sessions WHERE user_id = ?");
    if (!d) return d.status();
    VIGIL_RETURN_IF_ERROR((*d)->bind(1, id).run());
    auto u = db.prepare("DELETE FROM users WHERE id = ?");
    if (!u) return u.status();
    VIGIL_RETURN_IF_ERROR((*u)->bind(1, id).run());
    return audit_in(db, now, actor, "user.delete", name, "");
  });
}

Status AuthService::set_password(Id id, const std::string& password, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate("x", password));
  auto hash = hash_password(password, opt_.scrypt);
  if (!hash) return hash.status();
  const TimestampMs now = clock_.now_ms();
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, *hash).bind(2, now).bind(3, id).run());
    if (db.changes() == 0) return Status::NotFound("no user with id " + std::to_string(id));
    // A new password ends every other session of that user.
    auto d = db.prepare("DELETE FROM sessions WHERE user_id = ?");
    if (!d) return d.status();
    VIGIL_RETURN_IF_ERROR((*d)->bind(1, id).run());
    return audit_in(db, now, actor, "user.password", std::to_string(id), "");
  });
}

Result<std::pair<User, NewSession>> AuthService::login(const std::string& name, const std::string& password,
                                                       const std::string& remote, std::int64_t* retry_after_ms) {
  const TimestampMs now = clock_.now_ms();
  std::string lname;
  for (char c : name) lname += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string ukey = "user:" + lname, akey = "addr:" + remote;
  std::int64_t wait = std::max(limiter_.retry_after_ms(ukey, now), limiter_.retry_after_ms(akey, now));
  if (wait > 0) {
    if (retry_after_ms) *retry_after_ms = wait;
    return Status::ResourceExhausted("too many failed sign-in attempts; try again later");
  }
  std::optional<User> user;
  std::string hash;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, name, role, created_at, password_hash FROM users WHERE name = ?");
    if (!q) return q.status();
    (*q)->bind(1, name);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      user = User{(*q)->i64(0), (*q)->text(1), role_from_string((*q)->text(2)).value_or(Role::kViewer), (*q)->i64(3)};
      hash = (*q)->text(4);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  // Unknown users cost a hash too, so timing does not reveal which names exist.
  static const std::string kDummy = *hash_password("not a password", opt_.scrypt);
  bool good = verify_password(password, user ? hash : kDummy) && user.has_value();
  if (!good) {
    limiter_.failure(ukey, now);
    limiter_.failure(akey, now);
    (void)store_.write_txn([&](sql::Db& db) { return audit_in(db, now, name, "login.failed", name, "from " + remote); });
    return Status::PermissionDenied("wrong user name or password");
  }
  limiter_.success(ukey);
  NewSession s{random_hex(32), random_hex(32), now + opt_.session_ttl_ms};
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto gc = db.prepare("DELETE FROM sessions WHERE expires_at <= ?");
    if (!gc) return gc.status();
    VIGIL_RETURN_IF_ERROR((*gc)->bind(1, now).run());
    auto q = db.prepare(
        "INSERT INTO sessions(token_hash, user_id, csrf, created_at, expires_at, remote) VALUES(?, ?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR(
        (*q)->bind(1, sha256_hex(s.token)).bind(2, user->id).bind(3, s.csrf).bind(4, now).bind(5, s.expires_at)
            .bind(6, remote).run());
    return audit_in(db, now, user->name, "login", user->name, "from " + remote);
  }));
  return std::make_pair(*user, s);
}

Status AuthService::logout(const std::string& session_token, const std::string& actor) {
  const TimestampMs now = clock_.now_ms();
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("DELETE FROM sessions WHERE token_hash = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, sha256_hex(session_token)).run());
    return audit_in(db, now, actor, "logout", actor, "");
  });
}

Result<std::optional<Principal>> AuthService::session(const std::string& session_token) {
  std::optional<Principal> p;
  if (session_token.size() != 64) return p;
  const TimestampMs now = clock_.now_ms();
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT s.user_id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ?");
    if (!q) return q.status();
    (*q)->bind(1, sha256_hex(session_token)).bind(2, now);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      p = Principal{"session", (*q)->i64(0), 0, (*q)->text(1),
                    role_from_string((*q)->text(2)).value_or(Role::kViewer), (*q)->text(3)};
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return p;
}

Result<std::optional<Principal>> AuthService::bearer(const std::string& token) {
  std::optional<Principal> p;
  if (token.size() != 68 || token.rfind("vgl_", 0) != 0) return p;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, name, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL");
    if (!q) return q.status();
    (*q)->bind(1, sha256_hex(token));
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      p = Principal{"token", 0, (*q)->i64(0), "token:" + (*q)->text(1),
                    role_from_string((*q)->text(2)).value_or(Role::kViewer), ""};
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return p;
}

Result<std::pair<TokenInfo, std::string>> AuthService::create_token(const std::string& name, Role role,
                                                                   const std::string& actor) {
  if (name.size() > 64) return Status::InvalidArgument("token name must be at most 64 characters");
  const TimestampMs now = clock_.now_ms();
  std::string token = "vgl_" + random_hex(32);
  TokenInfo info;
  info.name = name.empty() ? "token" : name;
  info.role = role;
  info.created_at = now;
  info.created_by = actor;
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO api_tokens(name, role, token_hash, created_at, created_by) VALUES(?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR(
        (*q)->bind(1, info.name).bind(2, to_string(role)).bind(3, sha256_hex(token)).bind(4, now).bind(5, actor).run());
    info.id = db.last_insert_id();
    return audit_in(db, now, actor, "token.create", std::to_string(info.id),
                    info.name + " role " + to_string(role));
  }));
  return std::make_pair(info, token);
}

Result<std::vector<TokenInfo>> AuthService::tokens() {
  std::vector<TokenInfo> out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT id, name, role, created_at, created_by, last_used_at, revoked_at FROM api_tokens ORDER BY id");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      TokenInfo t;
      t.id = (*q)->i64(0);
      t.name = (*q)->text(1);
      t.role = role_from_string((*q)->text(2)).value_or(Role::kViewer);
      t.created_at = (*q)->i64(3);
      t.created_by = (*q)->text(4);
      t.last_used_at = (*q)->opt_i64(5);
      t.revoked_at = (*q)->opt_i64(6);
      out.push_back(std::move(t));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status AuthService::revoke_token(Id id, const std::string& actor) {
  const TimestampMs now = clock_.now_ms();
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, now).bind(2, id).run());
    if (db.changes() == 0) return Status::NotFound("no active token with id " + std::to_string(id));
    return audit_in(db, now, actor, "token.revoke", std::to_string(id), "");
  });
}

}  // namespace vigil::auth
