// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "auth/auth.h"
#include "auth/crypto.h"
#include "auth/rate_limit.h"
#include "auth/self_signed.h"

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

TEST_CASE("the rate limiter locks a key after five failures until the window passes") {
  RateLimiter rl(5, 60000);
  for (int i = 0; i < 4; ++i) rl.failure("k", 1000 + i);
  CHECK(rl.retry_after_ms("k", 2000) == 0);
  rl.failure("k", 1004);
  CHECK(rl.retry_after_ms("k", 2000) > 0);
  CHECK(rl.retry_after_ms("k", 1000 + 60000 + 1) == 0);
  rl.failure("j", 1);
  rl.success("j");
  CHECK(rl.retry_after_ms("j", 2) == 0);
}

TEST_CASE("setup creates the first admin only while no user exists") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast());
  REQUIRE(svc);
  CHECK(*(*svc)->user_count() == 0);
  auto u = (*svc)->setup_admin("alice", "password1", "127.0.0.1");
  REQUIRE(u);
  CHECK(u->role == Role::kAdmin);
  auto again = (*svc)->setup_admin("mallory", "password2", "10.0.0.9");
  REQUIRE_FALSE(again);
  CHECK(again.status().code() == Status::Code::kAlreadyExists);
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

TEST_CASE("wrong passwords are refused and rate-limited per user") {
  TempDb db;
  auto svc = AuthService::create(*db.store, fast()).value();
  REQUIRE(svc->add_user("carol", Role::kViewer, "password1", "test"));
  for (int i = 0; i < 5; ++i) {
    auto r = svc->login("carol", "wrong-pass", "10.0.0." + std::to_string(i));
    CHECK(r.status().code() == Status::Code::kPermissionDenied);
  }
  std::int64_t wait = 0;
  auto r = svc->login("carol", "password1", "10.0.0.99", &wait);
  CHECK(r.status().code() == Status::Code::kResourceExhausted);
  CHECK(wait > 0);
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
