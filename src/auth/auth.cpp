// SPDX-License-Identifier: Apache-2.0
#include "auth/auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <thread>

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
      // v2: a token remembers the user it derives from, so deleting or
      // demoting that user revokes it. Existing tokens are matched to their
      // creator by name; tokens of users deleted before this version (the
      // audit log names them) are revoked now.
      R"sql(
ALTER TABLE api_tokens ADD COLUMN creator_user_id INTEGER;
UPDATE api_tokens SET creator_user_id = (SELECT u.id FROM users u WHERE u.name = api_tokens.created_by);
UPDATE api_tokens SET revoked_at = CAST(strftime('%s','now') AS INTEGER) * 1000
 WHERE revoked_at IS NULL AND creator_user_id IS NULL
   AND created_by IN (SELECT target FROM audit_log WHERE action = 'user.delete');
CREATE INDEX api_tokens_creator ON api_tokens(creator_user_id);
)sql",
  };
  return kMigrations;
}

// Audit rows written inside the caller's transaction (atomic with the change).
// The store owns audit_log; this is its typed writer for a transaction.
Status audit_in(sql::Db& db, TimestampMs now, const std::string& actor, const std::string& action,
                const std::string& target, const std::string& detail) {
  return Store::audit(db, now, actor, action, target, detail);
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

int rank(Role r) { return static_cast<int>(r); }

std::string lower(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// 32 symbols without 0/O, 1/I: 5 bits each, no modulo bias.
constexpr char kCodeAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr std::size_t kCodeLength = 10;

std::string make_setup_code() {
  const std::string hex = random_hex(kCodeLength);  // the CSPRNG; aborts without entropy
  std::string code;
  for (std::size_t i = 0; i < kCodeLength; ++i) {
    const int byte = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
    code += kCodeAlphabet[byte & 31];
  }
  return code;
}

// What the operator sees: "ABCDE-FGH23".
std::string display_code(const std::string& canonical) {
  return canonical.substr(0, kCodeLength / 2) + "-" + canonical.substr(kCodeLength / 2);
}

// Upper case, without dashes and spaces; empty for absurd input.
std::string canonical_code(const std::string& in) {
  if (in.size() > 64) return {};
  std::string out;
  for (char c : in) {
    if (c == '-' || c == ' ') continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

int default_hash_slots() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores / 2, 1u, 2u));
}

constexpr std::int64_t kLastUsedEveryMs = 60 * 1000;

}  // namespace

Status validate_user_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("user name must be 1–64 characters");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '@')
      return Status::InvalidArgument("user name may contain letters, digits and . _ - @ only (no spaces or control characters)");
  }
  return Status::Ok();
}

AuthService::AuthService(Store& store, AuthOptions options, const Clock& clock)
    : store_(store),
      opt_(options),
      clock_(clock),
      attempts_(options.attempts),
      account_failures_(options.account_failures),
      address_failures_(options.address_failures),
      hashes_(options.max_concurrent_hashes > 0 ? options.max_concurrent_hashes : default_hash_slots()) {}

const std::string& AuthService::dummy_hash() {
  std::call_once(dummy_once_, [this] {
    auto h = hash_password("not a password", opt_.scrypt);
    // A failed hash leaves a malformed string, which verify_password rejects
    // (after no work: acceptable for a case OpenSSL cannot hash at all).
    dummy_hash_ = h ? *h : std::string("scrypt$invalid");
  });
  return dummy_hash_;
}

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
  VIGIL_RETURN_IF_ERROR(validate_user_name(name));
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

Result<std::optional<std::string>> AuthService::setup_code() {
  std::optional<std::string> out;
  if (set_up_.load()) return out;
  auto n = user_count();
  if (!n) return n.status();
  std::lock_guard lk(setup_mu_);
  if (*n > 0) {
    set_up_.store(true);
    setup_code_.clear();
    return out;
  }
  if (setup_code_.empty()) setup_code_ = make_setup_code();
  out = display_code(setup_code_);
  return out;
}

std::int64_t AuthService::backoff_wait(const std::string& addr_key, const std::string& account, TimestampMs now) {
  return std::max(account_failures_.retry_after_ms(addr_key + '\n' + account, now),
                  address_failures_.retry_after_ms(addr_key, now));
}

std::int64_t AuthService::admit(const std::string& addr_key, const std::string& account, TimestampMs now) {
  std::int64_t wait = backoff_wait(addr_key, account, now);
  if (wait == 0) wait = attempts_.take(addr_key, now);
  if (wait > 0) {
    // Hammering while refused counts against the address (not the account),
    // so a flooding client backs itself off further.
    address_failures_.failure(addr_key, now);
    wait = std::max(wait, address_failures_.retry_after_ms(addr_key, now));
  }
  return wait;
}

void AuthService::note_failure(const std::string& addr_key, const std::string& account, TimestampMs now) {
  account_failures_.failure(addr_key + '\n' + account, now);
  address_failures_.failure(addr_key, now);
}

Result<std::pair<User, NewSession>> AuthService::setup_admin(const std::string& name, const std::string& password,
                                                             const std::string& code, const std::string& remote,
                                                             std::int64_t* retry_after_ms) {
  auto refuse = [&](Status s, std::int64_t wait) -> Status {
    if (retry_after_ms) *retry_after_ms = wait;
    return s;
  };
  // 1. Cheap checks, no hash: set up already (remembered in memory once
  //    seen, so a flood of these costs no database read either)? Bad input?
  const Status already = Status::AlreadyExists("the gateway is already set up; sign in instead");
  if (set_up_.load()) return already;
  auto n = user_count();
  if (!n) return n.status();
  if (*n > 0) {
    set_up_.store(true);
    return already;
  }
  VIGIL_RETURN_IF_ERROR(validate(name, password));
  // 2. The limits, still before any hash.
  const TimestampMs now = clock_.now_ms();
  const std::string addr = client_key(remote);
  static const std::string kSetupAccount = "\x01setup";
  if (auto wait = admit(addr, kSetupAccount, now); wait > 0)
    return refuse(Status::ResourceExhausted("too many setup attempts from this address; try again later"), wait);
  // 3. The setup code, in constant time.
  bool code_ok = false;
  {
    std::lock_guard lk(setup_mu_);
    code_ok = !setup_code_.empty() && constant_time_equal(canonical_code(code), setup_code_);
  }
  if (!code_ok) {
    note_failure(addr, kSetupAccount, now);
    spdlog::info("auth: setup refused from {}: wrong setup code", remote);
    return Status::PermissionDenied("wrong setup code: use the one the gateway printed in its log at start");
  }
  // 4. The hash, within the capacity for it.
  auto slot = hashes_.try_acquire();
  if (!slot) {
    attempts_.give_back(addr);  // nothing was tried
    return refuse(Status::Unavailable("the gateway is busy signing others in; try again shortly"), 1000);
  }
  auto hash = hash_password(password, opt_.scrypt);
  if (!hash) return hash.status();
  std::optional<User> made;
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*) FROM users");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    std::int64_t users = (*q)->i64(0);
    (*q)->reset();
    if (users > 0) return already;
    auto u = insert_user(db, now, name, Role::kAdmin, *hash);
    if (!u) return u.status();
    made = *u;
    return audit_in(db, now, name, "setup.admin", name, "first admin created from " + remote);
  }));
  {
    std::lock_guard lk(setup_mu_);
    setup_code_.clear();
    set_up_.store(true);
  }
  account_failures_.success(addr + '\n' + kSetupAccount);
  spdlog::warn("auth: first admin '{}' created from {} with the setup code", made->name, remote);
  auto s = start_session(*made, remote, now);
  if (!s) return s.status();
  return std::make_pair(*made, *s);
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
    auto t = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE creator_user_id = ? AND revoked_at IS NULL");
    if (!t) return t.status();
    VIGIL_RETURN_IF_ERROR((*t)->bind(1, now).bind(2, id).run());
    const auto revoked = db.changes();
    auto u = db.prepare("DELETE FROM users WHERE id = ?");
    if (!u) return u.status();
    VIGIL_RETURN_IF_ERROR((*u)->bind(1, id).run());
    return audit_in(db, now, actor, "user.delete", name,
                    "sessions ended, " + std::to_string(revoked) + " token(s) revoked");
  });
}

Status AuthService::set_role(Id id, Role role, const std::string& actor) {
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
    const std::string name = (*q)->text(0);
    const Role old = role_from_string((*q)->text(1)).value_or(Role::kViewer);
    (*q)->reset();
    if (old == role) return Status::Ok();
    if (old == Role::kAdmin) {
      auto c = db.prepare("SELECT count(*) FROM users WHERE role = 'admin'");
      if (!c) return c.status();
      auto r = (*c)->step();
      if (!r) return r.status();
      auto admins = (*c)->i64(0);
      (*c)->reset();
      if (admins <= 1) return Status::InvalidArgument("cannot demote the last admin");
    }
    auto u = db.prepare("UPDATE users SET role = ?, updated_at = ? WHERE id = ?");
    if (!u) return u.status();
    VIGIL_RETURN_IF_ERROR((*u)->bind(1, to_string(role)).bind(2, now).bind(3, id).run());
    std::string detail = std::string(to_string(old)) + " -> " + to_string(role);
    if (rank(role) < rank(old)) {
      // A demotion: sessions end (the user signs in again with the new
      // role), tokens above the new role are revoked for good.
      auto d = db.prepare("DELETE FROM sessions WHERE user_id = ?");
      if (!d) return d.status();
      VIGIL_RETURN_IF_ERROR((*d)->bind(1, id).run());
      std::string above;
      for (Role r : {Role::kTechnician, Role::kAdmin})
        if (rank(r) > rank(role)) above += std::string(above.empty() ? "" : ",") + "'" + to_string(r) + "'";
      auto t = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE creator_user_id = ? AND revoked_at IS NULL "
                          "AND role IN (" + above + ")");
      if (!t) return t.status();
      VIGIL_RETURN_IF_ERROR((*t)->bind(1, now).bind(2, id).run());
      detail += "; sessions ended, " + std::to_string(db.changes()) + " token(s) revoked";
    }
    return audit_in(db, now, actor, "user.role", name, detail);
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

Result<NewSession> AuthService::start_session(const User& user, const std::string& remote, TimestampMs now) {
  NewSession s{random_hex(32), random_hex(32), now + opt_.session_ttl_ms};
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto gc = db.prepare("DELETE FROM sessions WHERE expires_at <= ?");
    if (!gc) return gc.status();
    VIGIL_RETURN_IF_ERROR((*gc)->bind(1, now).run());
    auto q = db.prepare(
        "INSERT INTO sessions(token_hash, user_id, csrf, created_at, expires_at, remote) VALUES(?, ?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR(
        (*q)->bind(1, sha256_hex(s.token)).bind(2, user.id).bind(3, s.csrf).bind(4, now).bind(5, s.expires_at)
            .bind(6, remote).run());
    return audit_in(db, now, user.name, "login", user.name, "from " + remote);
  }));
  return s;
}

Result<std::pair<User, NewSession>> AuthService::login(const std::string& name, const std::string& password,
                                                       const std::string& remote, std::int64_t* retry_after_ms) {
  auto refuse = [&](Status s, std::int64_t wait) -> Status {
    if (retry_after_ms) *retry_after_ms = wait;
    return s;
  };
  // Cheap checks first: no hash for input that cannot be an account.
  VIGIL_RETURN_IF_ERROR(validate_user_name(name));
  if (password.size() > 1024) return Status::InvalidArgument("password is too long");
  const TimestampMs now = clock_.now_ms();
  const std::string addr = client_key(remote);
  const std::string account = lower(name);
  if (auto wait = admit(addr, account, now); wait > 0)
    return refuse(Status::ResourceExhausted("too many sign-in attempts; try again later"), wait);
  auto slot = hashes_.try_acquire();
  if (!slot) {
    attempts_.give_back(addr);  // nothing was tried
    return refuse(Status::Unavailable("the gateway is busy signing others in; try again shortly"), 1000);
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
  const bool good = verify_password(password, user ? hash : dummy_hash()) && user.has_value();
  slot = ConcurrencyLimit::Slot();  // the hash is done
  if (!good) {
    note_failure(addr, account, now);
    (void)store_.write_txn([&](sql::Db& db) { return audit_in(db, now, name, "login.failed", name, "from " + remote); });
    return Status::PermissionDenied("wrong user name or password");
  }
  account_failures_.success(addr + '\n' + account);
  auto s = start_session(*user, remote, now);
  if (!s) return s.status();
  return std::make_pair(*user, *s);
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
  std::optional<TimestampMs> last_used;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    // A token made by a user works while that user exists with at least the
    // token's role (deletion and demotion also revoke it explicitly).
    auto q = db.prepare(
        "SELECT t.id, t.name, t.role, t.creator_user_id, t.last_used_at, u.role FROM api_tokens t "
        "LEFT JOIN users u ON u.id = t.creator_user_id WHERE t.token_hash = ? AND t.revoked_at IS NULL");
    if (!q) return q.status();
    (*q)->bind(1, sha256_hex(token));
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      const Role role = role_from_string((*q)->text(2)).value_or(Role::kViewer);
      const auto creator = (*q)->opt_i64(3);
      const auto creator_role = creator ? role_from_string((*q)->text(5)) : std::optional<Role>(Role::kAdmin);
      if (creator_role && rank(*creator_role) >= rank(role)) {
        p = Principal{"token", 0, (*q)->i64(0), "token:" + (*q)->text(1), role, ""};
        p->creator_user_id = creator.value_or(0);
        last_used = (*q)->opt_i64(4);
      }
    }
    (*q)->reset();
    return Status::Ok();
  }));
  if (!p) return p;
  // last_used_at: written at most once a minute per token, so a busy
  // integration does not turn every read into a write.
  const TimestampMs now = clock_.now_ms();
  bool write = !last_used || now - *last_used >= kLastUsedEveryMs;
  if (write) {
    std::lock_guard lk(used_mu_);
    auto it = last_used_written_.find(p->token_id);
    if (it != last_used_written_.end() && now - it->second < kLastUsedEveryMs && now >= it->second) {
      write = false;
    } else {
      if (last_used_written_.size() >= 10000) last_used_written_.clear();  // bounded; at worst one extra write each
      last_used_written_[p->token_id] = now;
    }
  }
  if (write) {
    const Id id = p->token_id;
    Status st = store_.write_txn([&](sql::Db& db) -> Status {
      auto u = db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?");
      if (!u) return u.status();
      return (*u)->bind(1, now).bind(2, id).run();
    });
    // The request itself is fine; the bookkeeping is retried a minute later.
    if (!st.ok()) spdlog::warn("auth: recording the use of token {}: {}", id, st.ToString());
  }
  return p;
}

Result<std::pair<TokenInfo, std::string>> AuthService::create_token(const std::string& name, Role role,
                                                                   const std::string& actor, Id creator_user_id) {
  if (name.size() > 64) return Status::InvalidArgument("token name must be at most 64 characters");
  if (has_control(name)) return Status::InvalidArgument("token name must not contain control characters");
  const TimestampMs now = clock_.now_ms();
  std::string token = "vgl_" + random_hex(32);
  TokenInfo info;
  info.name = name.empty() ? "token" : name;
  info.role = role;
  info.created_at = now;
  info.created_by = actor;
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO api_tokens(name, role, token_hash, created_at, created_by, creator_user_id) "
        "VALUES(?, ?, ?, ?, ?, ?)");
    if (!q) return q.status();
    (*q)->bind(1, info.name).bind(2, to_string(role)).bind(3, sha256_hex(token)).bind(4, now).bind(5, actor);
    if (creator_user_id > 0) {
      (*q)->bind(6, creator_user_id);
    } else {
      (*q)->bind_null(6);
    }
    VIGIL_RETURN_IF_ERROR((*q)->run());
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

Result<std::optional<std::string>> announce_setup(AuthService& auth, bool tls, const std::string& address,
                                                  unsigned port) {
  auto code = auth.setup_code();
  if (!code || !*code) return code;
  std::string host = address;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    host = "<this gateway>";
  } else if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  const std::string url = std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port) + "/";
  const std::string line = "vigil: no users yet — create the first admin at " + url + " with setup code " + **code +
                           ", or run `vigil user add NAME --role admin`";
  if (spdlog::should_log(spdlog::level::warn)) {
    spdlog::warn("{}", line);
  } else {
    std::cerr << line << std::endl;  // the log level hides warnings; the operator still needs the code
  }
  return code;
}

}  // namespace vigil::auth
