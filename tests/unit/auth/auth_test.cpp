// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "auth/auth.h"
#include "auth/crypto.h"
#include "auth/rate_limit.h"
#include "auth/self_signed.h"
#include "vigil/clock.h"

using namespace vigil;
using namespace vigil::auth;

namespace {

struct TempDb {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  TempDb() {
    dir = std::filesystem::temp_directory_path() / ("vigil-auth-" + random_hex(6));
    std::filesystem::create_directories(dir);
    StoreOptions so;
    so.path = (dir / "t.db").string();
    store = Store::open(so).value();
  }
  ~TempDb() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

AuthOptions fast() {
  AuthOptions o;
  o.scrypt.n = 1024;  // tests only: cheap hashes
  return o;
}

}  // namespace

TEST_CASE("scrypt hashes verify the right password and reject a wrong one") {
  auto h = hash_password("correct horse", ScryptParams{1024, 8, 1});
  REQUIRE(h);
  CHECK(h->rfind("scrypt$1024$8$1$", 0) == 0);
  CHECK(verify_password("correct horse", *h));
  CHECK_FALSE(verify_password("correct horsE", *h));
  CHECK_FALSE(verify_password("correct horse", "scrypt$1024$8$1$zz$00"));
  CHECK_FALSE(verify_password("x", "plain"));
}

TEST_CASE("two hashes of one password differ by their salt") {
  auto a = hash_password("same password", ScryptParams{1024, 8, 1});
  auto b = hash_password("same password", ScryptParams{1024, 8, 1});
  CHECK(*a != *b);
}

TEST_CASE("a token hash is the SHA-256 of the token") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(random_hex(32).size() == 64);
  CHECK(random_hex(32) != random_hex(32));
}

TEST_CASE("setup creates the first admin only while no user exists") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast());
  REQUIRE(svc);
  CHECK(*(*svc)->user_count() == 0);
  auto code = (*svc)->setup_code();
  REQUIRE(code);
  REQUIRE(code->has_value());
  auto u = (*svc)->setup_admin("alice", "password1", **code, "127.0.0.1");
  REQUIRE(u);
  CHECK(u->first.role == Role::kAdmin);
  CHECK(u->second.token.size() == 64);  // signed in
  auto again = (*svc)->setup_admin("mallory", "password2", **code, "10.0.0.9");
  REQUIRE_FALSE(again);
  CHECK(again.status().code() == Status::Code::kAlreadyExists);
  CHECK_FALSE((*svc)->setup_code()->has_value());
}

TEST_CASE("login issues a session that resolves to the user and role, and logout ends it") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast()).value();
  REQUIRE(svc->add_user("bob", Role::kTechnician, "password1", "test"));
  auto s = svc->login("BOB", "password1", "10.0.0.1");
  REQUIRE(s);
  CHECK(s->second.token.size() == 64);
  auto p = svc->session(s->second.token);
  REQUIRE(p);
  REQUIRE(p->has_value());
  CHECK((*p)->name == "bob");
  CHECK((*p)->role == Role::kTechnician);
  CHECK((*p)->csrf == s->second.csrf);
  REQUIRE(svc->logout(s->second.token, "bob").ok());
  CHECK_FALSE(svc->session(s->second.token)->has_value());
}

TEST_CASE("API tokens are stored hashed, resolve to their role and stop working when revoked") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast()).value();
  auto t = svc->create_token("grafana", Role::kViewer, "test");
  REQUIRE(t);
  CHECK(t->second.rfind("vgl_", 0) == 0);
  auto p = svc->bearer(t->second);
  REQUIRE(p->has_value());
  CHECK((*p)->role == Role::kViewer);
  bool plaintext_found = false;
  REQUIRE(db.store->read([&](sql::Db& d) -> Status {
    auto q = d.prepare("SELECT count(*) FROM api_tokens WHERE token_hash = ?");
    (*q)->bind(1, t->second);
    (void)(*q)->step();
    plaintext_found = (*q)->i64(0) > 0;
    (*q)->reset();
    return Status::Ok();
  }).ok());
  CHECK_FALSE(plaintext_found);
  REQUIRE(svc->revoke_token(t->first.id, "test").ok());
  CHECK_FALSE(svc->bearer(t->second)->has_value());
}

TEST_CASE("the last admin cannot be deleted") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast()).value();
  auto a = svc->add_user("root", Role::kAdmin, "password1", "test");
  CHECK(svc->delete_user(a->id, "test").code() == Status::Code::kInvalidArgument);
}

TEST_CASE("every account change is written to the audit log") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast()).value();
  REQUIRE(svc->add_user("dave", Role::kViewer, "password1", "admin1"));
  auto log = db.store->audit_log(10);
  REQUIRE(log);
  REQUIRE_FALSE(log->empty());
  CHECK(log->front().actor == "admin1");
  CHECK(log->front().action == "user.add");
}

TEST_CASE("a self-signed certificate is created once and re-used") {
  auto dir = std::filesystem::temp_directory_path() / ("vigil-tls-" + random_hex(6));
  auto a = ensure_self_signed(dir.string(), {"gw.example", "192.0.2.7"});
  REQUIRE(a);
  CHECK(a->generated);
  CHECK((std::filesystem::status(a->key_file).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  auto b = ensure_self_signed(dir.string());
  REQUIRE(b);
  CHECK_FALSE(b->generated);
  auto fp = cert_fingerprint(a->cert_file);
  REQUIRE(fp);
  CHECK(fp->size() == 95);
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- hardening

namespace {

// A service on a fake clock (the limiters' time) with cheap hashes.
struct Svc {
  TempDb db;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<AuthService> svc;
  explicit Svc(AuthOptions o = fast()) { svc = AuthService::create(*db.store, o, clock).value(); }
  AuthService* operator->() { return svc.get(); }
};

Status::Code login_code(Svc& s, const std::string& name, const std::string& pw, const std::string& addr,
                        std::int64_t* wait = nullptr) {
  auto r = s->login(name, pw, addr, wait);
  return r ? Status::Code::kOk : r.status().code();
}

std::optional<std::string> token_last_used(Store& store, Id id) {
  std::optional<std::string> out;
  (void)store.read([&](sql::Db& d) -> Status {
    auto q = d.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?");
    (*q)->bind(1, id);
    (void)(*q)->step();
    if (auto v = (*q)->opt_i64(0)) out = std::to_string(*v);
    (*q)->reset();
    return Status::Ok();
  });
  return out;
}

}  // namespace

TEST_CASE("setup needs the one-time code, and a wrong code counts toward the address's back-off") {
  Svc s;
  auto code = s->setup_code();
  REQUIRE(code->has_value());
  const std::string c = **code;
  CHECK(c.size() == 11);
  CHECK(c[5] == '-');
  CHECK(c.find_first_of("01IO") == std::string::npos);
  CHECK(**s->setup_code() == c);  // one code until setup succeeds
  auto none = s->setup_admin("root", "password1", "", "10.0.0.5");
  CHECK(none.status().code() == Status::Code::kPermissionDenied);
  auto wrong = s->setup_admin("root", "password1", "AAAAA-AAAAA", "10.0.0.5");
  CHECK(wrong.status().code() == Status::Code::kPermissionDenied);
  auto wrong3 = s->setup_admin("root", "password1", "BBBBB-BBBBB", "10.0.0.5");
  CHECK(wrong3.status().code() == Status::Code::kPermissionDenied);
  // Three wrong codes: this address now waits, even with the right code.
  std::int64_t wait = 0;
  auto blocked = s->setup_admin("root", "password1", c, "10.0.0.5", &wait);
  CHECK(blocked.status().code() == Status::Code::kResourceExhausted);
  CHECK(wait == 1000);
  // Case, spaces and the dash do not matter; another address is not held back.
  std::string sloppy;
  for (char ch : c)
    if (ch != '-') sloppy += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto ok = s->setup_admin("root", "password1", " " + sloppy + " ", "10.0.0.6");
  REQUIRE(ok);
  auto log = s.db.store->audit_log(10);
  REQUIRE(log);
  bool audited = false;
  for (const auto& e : *log) audited = audited || (e.action == "setup.admin" && e.detail.find("10.0.0.6") != std::string::npos);
  CHECK(audited);
}

TEST_CASE("setup on a set-up gateway is refused before any rate limit or hash") {
  Svc s;
  auto code = **s->setup_code();
  REQUIRE(s->setup_admin("root", "password1", code, "10.0.0.1"));
  // Far more calls than the burst allows, from one address at one instant:
  // every one is "already set up", none is rate-limited (so none got as far
  // as the limiter, let alone the hash behind it).
  for (int i = 0; i < 50; ++i) {
    auto r = s->setup_admin("evil" + std::to_string(i), "password2", code, "10.0.0.9");
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Status::Code::kAlreadyExists);
  }
  // …and a user added by the CLI (another AuthService on the same database)
  // ends setup for a service that has not seen a user yet.
  Svc t;
  auto tcode = **t->setup_code();
  auto other = AuthService::create(*t.db.store, fast()).value();
  REQUIRE(other->add_user("cli-admin", Role::kAdmin, "password1", "cli"));
  CHECK(t->setup_admin("late", "password1", tcode, "10.0.0.1").status().code() == Status::Code::kAlreadyExists);
}

TEST_CASE("setup checks the name and password before the code") {
  Svc s;
  auto code = **s->setup_code();
  CHECK(s->setup_admin("", "password1", code, "10.0.0.1").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->setup_admin("a b", "password1", code, "10.0.0.1").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->setup_admin("root", "short", code, "10.0.0.1").status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("a wrong password from one address does not lock the account out for another") {
  Svc s;
  REQUIRE(s->add_user("admin", Role::kAdmin, "password1", "test"));
  for (int i = 0; i < 3; ++i) CHECK(login_code(s, "admin", "wrong-pass", "203.0.113.66") == Status::Code::kPermissionDenied);
  std::int64_t wait = 0;
  CHECK(login_code(s, "admin", "password1", "203.0.113.66", &wait) == Status::Code::kResourceExhausted);
  CHECK(wait == 1000);
  CHECK(login_code(s, "admin", "password1", "192.168.1.20") == Status::Code::kOk);
}

TEST_CASE("wrong passwords from one address back off 1 s, 2 s, 4 s after the third") {
  Svc s;
  REQUIRE(s->add_user("carol", Role::kViewer, "password1", "test"));
  const std::string a = "198.51.100.7";
  for (int i = 0; i < 3; ++i) CHECK(login_code(s, "carol", "nope-nope", a) == Status::Code::kPermissionDenied);
  for (std::int64_t expect : {1000, 2000, 4000, 8000}) {
    std::int64_t wait = 0;
    CHECK(login_code(s, "carol", "password1", a, &wait) == Status::Code::kResourceExhausted);
    CHECK(wait == expect);
    s.clock.advance(expect);
    CHECK(login_code(s, "carol", "nope-nope", a) == Status::Code::kPermissionDenied);
  }
}

TEST_CASE("a success from an address clears that address's back-off for the account") {
  Svc s;
  REQUIRE(s->add_user("dan", Role::kViewer, "password1", "test"));
  const std::string a = "198.51.100.8";
  for (int i = 0; i < 3; ++i) CHECK(login_code(s, "dan", "nope-nope", a) == Status::Code::kPermissionDenied);
  s.clock.advance(1000);
  CHECK(login_code(s, "dan", "password1", a) == Status::Code::kOk);
  // Counting starts again: three more failures before the next wait.
  s.clock.advance(5000);
  for (int i = 0; i < 3; ++i) CHECK(login_code(s, "dan", "nope-nope", a) == Status::Code::kPermissionDenied);
}

TEST_CASE("one address trying many user names is held back by its own back-off") {
  Svc s;
  REQUIRE(s->add_user("erin", Role::kViewer, "password1", "test"));
  const std::string a = "198.51.100.9";
  for (int i = 0; i < 10; ++i) {
    s.clock.advance(1000);  // stay inside the token bucket
    CHECK(login_code(s, "guess" + std::to_string(i), "password1", a) == Status::Code::kPermissionDenied);
  }
  CHECK(login_code(s, "erin", "password1", a) == Status::Code::kResourceExhausted);
  CHECK(login_code(s, "erin", "password1", "198.51.100.10") == Status::Code::kOk);
}

TEST_CASE("sign-in attempts beyond a burst of five are refused per address with the wait") {
  Svc s;
  REQUIRE(s->add_user("fay", Role::kViewer, "password1", "test"));
  for (int i = 0; i < 5; ++i) CHECK(login_code(s, "fay", "password1", "10.9.9.9") == Status::Code::kOk);
  std::int64_t wait = 0;
  CHECK(login_code(s, "fay", "password1", "10.9.9.9", &wait) == Status::Code::kResourceExhausted);
  CHECK(wait == 1000);
  CHECK(login_code(s, "fay", "password1", "10.9.9.10") == Status::Code::kOk);
  s.clock.advance(1000);
  CHECK(login_code(s, "fay", "password1", "10.9.9.9") == Status::Code::kOk);
}

TEST_CASE("malformed sign-in names are refused without a hash or a failure counted") {
  Svc s;
  for (const std::string& name : {std::string(), std::string(65, 'a'), std::string("nul\0name", 8), std::string("tab\tname")}) {
    CHECK(login_code(s, name, "password1", "10.1.1.1") == Status::Code::kInvalidArgument);
  }
  CHECK(login_code(s, "ok-name", std::string(2000, 'x'), "10.1.1.1") == Status::Code::kInvalidArgument);
}

TEST_CASE("user names are 1 to 64 characters without spaces or control characters, token names without control characters") {
  Svc s;
  CHECK(s->add_user(std::string(64, 'a'), Role::kViewer, "password1", "t"));
  CHECK(s->add_user(std::string(65, 'a'), Role::kViewer, "password1", "t").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->add_user(std::string("a\0b", 3), Role::kViewer, "password1", "t").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->add_user("a\nb", Role::kViewer, "password1", "t").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->create_token("line\nbreak", Role::kViewer, "t").status().code() == Status::Code::kInvalidArgument);
  CHECK(s->create_token(std::string(65, 't'), Role::kViewer, "t").status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("deleting a user revokes the tokens they made and ends their sessions") {
  Svc s;
  auto keep = s->add_user("keeper", Role::kAdmin, "password1", "test");
  auto gone = s->add_user("leaver", Role::kAdmin, "password1", "test");
  REQUIRE(keep);
  REQUIRE(gone);
  auto session = s->login("leaver", "password1", "10.0.0.1");
  REQUIRE(session);
  auto theirs = s->create_token("leaver's", Role::kViewer, "leaver", gone->id);
  auto mine = s->create_token("keeper's", Role::kViewer, "keeper", keep->id);
  auto cli = s->create_token("cli", Role::kAdmin, "cli");
  REQUIRE(s->bearer(theirs->second)->has_value());
  REQUIRE(s->delete_user(gone->id, "keeper").ok());
  CHECK_FALSE(s->bearer(theirs->second)->has_value());
  CHECK_FALSE(s->session(session->second.token)->has_value());
  CHECK(s->bearer(mine->second)->has_value());
  CHECK(s->bearer(cli->second)->has_value());
  bool listed_revoked = false;
  auto listed = s->tokens();
  REQUIRE(listed);
  for (const auto& t : *listed)
    if (t.id == theirs->first.id) listed_revoked = t.revoked_at.has_value();
  CHECK(listed_revoked);
}

TEST_CASE("demoting a user revokes their tokens above the new role and ends their sessions") {
  Svc s;
  REQUIRE(s->add_user("boss", Role::kAdmin, "password1", "test"));
  auto u = s->add_user("ops", Role::kAdmin, "password1", "test");
  auto session = s->login("ops", "password1", "10.0.0.1");
  auto admin_tok = s->create_token("a", Role::kAdmin, "ops", u->id);
  auto tech_tok = s->create_token("t", Role::kTechnician, "ops", u->id);
  auto view_tok = s->create_token("v", Role::kViewer, "ops", u->id);
  REQUIRE(s->set_role(u->id, Role::kTechnician, "boss").ok());
  CHECK_FALSE(s->bearer(admin_tok->second)->has_value());
  CHECK(s->bearer(tech_tok->second)->has_value());
  CHECK(s->bearer(view_tok->second)->has_value());
  CHECK_FALSE(s->session(session->second.token)->has_value());
  // Promoting again does not bring a revoked token back.
  REQUIRE(s->set_role(u->id, Role::kAdmin, "boss").ok());
  CHECK_FALSE(s->bearer(admin_tok->second)->has_value());
  auto log = s.db.store->audit_log(20);
  bool audited = false;
  for (const auto& e : *log) audited = audited || e.action == "user.role";
  CHECK(audited);
}

TEST_CASE("a token stops working while its creator's role is below the token's") {
  Svc s;
  REQUIRE(s->add_user("boss", Role::kAdmin, "password1", "test"));
  auto u = s->add_user("ops", Role::kAdmin, "password1", "test");
  auto tok = s->create_token("a", Role::kAdmin, "ops", u->id);
  // Demoted behind the service's back (another process, an old version).
  REQUIRE(s.db.store->write_txn([&](sql::Db& d) -> Status {
    auto q = d.prepare("UPDATE users SET role = 'viewer' WHERE id = ?");
    return (*q)->bind(1, u->id).run();
  }).ok());
  CHECK_FALSE(s->bearer(tok->second)->has_value());
}

TEST_CASE("the last admin cannot be demoted, and an unknown user is not found") {
  Svc s;
  auto a = s->add_user("root", Role::kAdmin, "password1", "test");
  CHECK(s->set_role(a->id, Role::kViewer, "test").code() == Status::Code::kInvalidArgument);
  CHECK(s->set_role(a->id + 100, Role::kViewer, "test").code() == Status::Code::kNotFound);
}

TEST_CASE("a token's last use is recorded, at most once a minute") {
  Svc s;
  auto t = s->create_token("grafana", Role::kViewer, "test");
  CHECK_FALSE(token_last_used(*s.db.store, t->first.id).has_value());
  const auto t0 = s.clock.now_ms();
  REQUIRE(s->bearer(t->second)->has_value());
  CHECK(token_last_used(*s.db.store, t->first.id) == std::to_string(t0));
  s.clock.advance(30'000);
  REQUIRE(s->bearer(t->second)->has_value());
  CHECK(token_last_used(*s.db.store, t->first.id) == std::to_string(t0));  // not written again yet
  s.clock.advance(30'000);
  REQUIRE(s->bearer(t->second)->has_value());
  CHECK(token_last_used(*s.db.store, t->first.id) == std::to_string(t0 + 60'000));
  auto listed = s->tokens();
  CHECK(listed->front().last_used_at == t0 + 60'000);
}

TEST_CASE("each service checks unknown users against a dummy hash with its own scrypt parameters") {
  // Issue 13: a function-static dummy hash fixed the first service's
  // parameters for every later one.
  TempDb a_db, b_db;
  AuthOptions cheap = fast();
  AuthOptions other = fast();
  other.scrypt.n = 2048;
  auto a = AuthService::create(*a_db.store, cheap).value();
  auto b = AuthService::create(*b_db.store, other).value();
  CHECK(a->login("nobody", "password1", "10.0.0.1").status().code() == Status::Code::kPermissionDenied);
  CHECK(b->login("nobody", "password1", "10.0.0.1").status().code() == Status::Code::kPermissionDenied);
  CHECK(a->dummy_hash().rfind("scrypt$1024$", 0) == 0);
  CHECK(b->dummy_hash().rfind("scrypt$2048$", 0) == 0);
}

TEST_CASE("the auth migration revokes tokens of users deleted before tokens knew their creator") {
  TempDb db;
  // A version-1 database: a live user's token, a deleted user's token, a CLI token.
  REQUIRE(db.store->migrate("auth", {R"sql(
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('admin','technician','viewer')), password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, remote TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin','technician','viewer')), token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL, created_by TEXT NOT NULL, last_used_at INTEGER, revoked_at INTEGER);
)sql"}).ok());
  const std::string live = "vgl_" + std::string(64, 'a'), dead = "vgl_" + std::string(64, 'b'),
                    cli = "vgl_" + std::string(64, 'c');
  REQUIRE(db.store->write_txn([&](sql::Db& d) -> Status {
    VIGIL_RETURN_IF_ERROR(d.exec("INSERT INTO users VALUES(1, 'alice', 'admin', 'x', 0, 0)"));
    auto q = d.prepare("INSERT INTO api_tokens(name, role, token_hash, created_at, created_by) VALUES(?, 'viewer', ?, 0, ?)");
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, "l").bind(2, sha256_hex(live)).bind(3, "alice").run());
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, "d").bind(2, sha256_hex(dead)).bind(3, "bob").run());
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, "c").bind(2, sha256_hex(cli)).bind(3, "cli").run());
    return Status::Ok();
  }).ok());
  REQUIRE(db.store->audit("alice", "user.delete", "bob", "").ok());
  auto svc = AuthService::create(*db.store, fast()).value();
  CHECK(svc->bearer(live)->has_value());
  CHECK_FALSE(svc->bearer(dead)->has_value());
  CHECK(svc->bearer(cli)->has_value());
  // alice's token now follows alice.
  REQUIRE(svc->add_user("root", Role::kAdmin, "password1", "test"));
  REQUIRE(svc->delete_user(1, "root").ok());
  CHECK_FALSE(svc->bearer(live)->has_value());
}

TEST_CASE("the setup code is announced only while no user exists") {
  Svc s;
  auto code = announce_setup(*s.svc, false, "127.0.0.1", 8080);
  REQUIRE(code);
  REQUIRE(code->has_value());
  CHECK(**code == **s->setup_code());
  REQUIRE(s->add_user("root", Role::kAdmin, "password1", "test"));
  auto none = announce_setup(*s.svc, false, "127.0.0.1", 8080);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("an address that keeps hammering while refused backs itself off, other addresses do not") {
  Svc s;
  REQUIRE(s->add_user("gus", Role::kAdmin, "password1", "test"));
  const std::string a = "203.0.113.5";
  // A flood at one instant: 5 attempts pass the bucket, the rest are refused
  // and each refusal counts against the address.
  for (int i = 0; i < 40; ++i) (void)s->login("gus", "guess-guess", a);
  s.clock.advance(60'000);  // the bucket is long full again…
  std::int64_t wait = 0;
  CHECK(login_code(s, "gus", "password1", a, &wait) == Status::Code::kResourceExhausted);  // …the address still waits
  CHECK(wait > 60'000);
  CHECK(login_code(s, "gus", "password1", "203.0.113.6") == Status::Code::kOk);
}
