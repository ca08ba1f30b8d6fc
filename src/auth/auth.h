// SPDX-License-Identifier: Apache-2.0
//
// AuthService: users, roles, browser sessions and API tokens, kept in the
// gateway's database (module "auth" tables), so the CLI (`vigil user add`,
// `vigil token create`) and a running `serve` see the same accounts.
//
// - Passwords: scrypt (OpenSSL), per-user random salt; never logged.
// - Sessions: a 256-bit random token in an HttpOnly cookie; the database
//   keeps only its SHA-256. Each session has its own CSRF token, which the
//   browser echoes in X-CSRF-Token on unsafe methods (double submit, checked
//   against the stored value).
// - API tokens: "vgl_" + 256 random bits, shown once, stored as SHA-256;
//   listed and revoked by id. A token remembers the user who made it
//   (creator_user_id; NULL for the CLI): deleting that user revokes it, and
//   it stops working while that user's role is below the token's (a demotion
//   revokes those explicitly). last_used_at is written at most once a minute.
// - First start: while no user exists, setup_code() makes a one-time code
//   (10 characters of an unambiguous alphabet, in memory only: a restart
//   makes a new one) that setup_admin() requires; announce_setup() logs it.
// - Sign-in and setup cost a scrypt hash, so they are limited before any
//   hashing: a token bucket per client address (5 at once, then 1 a second),
//   at most `max_concurrent_hashes` hashes at once (excess: kUnavailable at
//   once, never a queue), and exponential back-off on failures per
//   (client address, account) and per address — never a lock-out of an
//   account from every address. A success clears its (address, account) key.
//   A request refused by these limits counts as a failure of its address, so
//   a client hammering while refused stays backed off.
// - Every change is written to the audit log with the actor.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/crypto.h"
#include "auth/rate_limit.h"
#include "vigil/clock.h"
#include "vigil/model.h"
#include "vigil/status.h"
#include "vigil/store.h"

namespace vigil::auth {

enum class Role { kViewer = 0, kTechnician = 1, kAdmin = 2 };
const char* to_string(Role r);
std::optional<Role> role_from_string(std::string_view s);

struct User {
  Id id = 0;
  std::string name;
  Role role = Role::kViewer;
  TimestampMs created_at = 0;
};

// Who is making a request.
struct Principal {
  std::string kind;  // "session" | "token" | "local" (demo loopback)
  Id user_id = 0;    // sessions only
  Id token_id = 0;   // tokens only
  std::string name;  // user name, or "token:<name>"
  Role role = Role::kViewer;
  std::string csrf;  // sessions only
  // Tokens only: the user whose authority the token derives from (0 = made
  // by the CLI or another user-less actor). Tokens created with this token
  // inherit it.
  Id creator_user_id = 0;
};

struct TokenInfo {
  Id id = 0;
  std::string name;
  Role role = Role::kViewer;
  TimestampMs created_at = 0;
  std::string created_by;
  std::optional<TimestampMs> last_used_at;
  std::optional<TimestampMs> revoked_at;
};

struct NewSession {
  std::string token;  // cookie value (only the hash is stored)
  std::string csrf;
  TimestampMs expires_at = 0;
};

struct AuthOptions {
  std::int64_t session_ttl_ms = 12LL * 3600 * 1000;  // absolute session lifetime
  ScryptParams scrypt;
  std::size_t min_password_length = 8;
  // Sign-in and setup requests per client address (each may cost a hash).
  TokenBucketPolicy attempts{5, 1, 10000};
  // Failures per (client address, account): 3 free, then 1 s, 2 s, 4 s, …
  // at most 15 min; forgotten after an hour without failure.
  BackoffPolicy account_failures{3, 1000, 15LL * 60 * 1000, 60LL * 60 * 1000, 10000};
  // Failures per client address, whatever the account.
  BackoffPolicy address_failures{10, 1000, 15LL * 60 * 1000, 60LL * 60 * 1000, 10000};
  // Scrypt hashes for sign-in and setup at once; 0 = half the cores, 1 or 2.
  int max_concurrent_hashes = 0;
};

// User names: 1–64 characters of letters, digits and . _ - @ (so no
// control characters, NUL or spaces). kInvalidArgument says which rule.
Status validate_user_name(const std::string& name);

class AuthService {
 public:
  // Applies the auth migrations. Store and clock must outlive the service.
  static Result<std::unique_ptr<AuthService>> create(Store& store, AuthOptions options = {},
                                                     const Clock& clock = SystemClock::instance());
  static Status migrate(Store& store);

  Result<std::int64_t> user_count();
  // kAlreadyExists for a taken name; kInvalidArgument for a bad name or a
  // short password.
  Result<User> add_user(const std::string& name, Role role, const std::string& password, const std::string& actor);

  // While no user exists: the one-time setup code ("ABCDE-FGH23"), made at
  // the first call and kept (in memory) until setup succeeds. nullopt once a
  // user exists.
  Result<std::optional<std::string>> setup_code();
  // First-start setup: creates an admin only while no user exists
  // (atomically) and signs it in. Cheap checks come first and cost no hash:
  // kAlreadyExists once any user exists; kInvalidArgument for a bad name or
  // password. Then the limits: kResourceExhausted (rate-limited or backing
  // off) or kUnavailable (hashing capacity busy), each with the wait in
  // *retry_after_ms. kPermissionDenied for a wrong setup code (compared in
  // constant time; case, spaces and dashes do not matter; counts as a failure
  // for the back-off). Success is logged and audited with the address.
  Result<std::pair<User, NewSession>> setup_admin(const std::string& name, const std::string& password,
                                                  const std::string& setup_code, const std::string& remote,
                                                  std::int64_t* retry_after_ms = nullptr);
  Result<std::vector<User>> users();
  // Deletes the user, their sessions, and revokes the API tokens they made.
  Status delete_user(Id id, const std::string& actor);
  Status set_password(Id id, const std::string& password, const std::string& actor);
  // Changes a user's role. A demotion ends the user's sessions and revokes
  // their tokens above the new role. kNotFound; kInvalidArgument for the
  // last admin's demotion.
  Status set_role(Id id, Role role, const std::string& actor);

  // kInvalidArgument for a malformed name or an over-long password (no hash
  // spent); kResourceExhausted when rate-limited and kUnavailable when the
  // hashing capacity is busy, each with the wait in *retry_after_ms;
  // kPermissionDenied for wrong credentials (one message for unknown user
  // and wrong password; unknown users cost a hash too).
  Result<std::pair<User, NewSession>> login(const std::string& name, const std::string& password,
                                            const std::string& remote, std::int64_t* retry_after_ms = nullptr);
  Status logout(const std::string& session_token, const std::string& actor);
  Result<std::optional<Principal>> session(const std::string& session_token);
  Result<std::optional<Principal>> bearer(const std::string& token);

  // Returns the token's record and the token itself (shown once).
  // creator_user_id: the user whose authority it derives from (0 = none,
  // e.g. the CLI). kInvalidArgument for a name over 64 characters or with
  // control characters.
  Result<std::pair<TokenInfo, std::string>> create_token(const std::string& name, Role role, const std::string& actor,
                                                         Id creator_user_id = 0);
  Result<std::vector<TokenInfo>> tokens();
  Status revoke_token(Id id, const std::string& actor);

  const AuthOptions& options() const { return opt_; }
  // The hash unknown user names are checked against (so they cost what a
  // known name costs); made once per service with this service's parameters.
  const std::string& dummy_hash();

 private:
  AuthService(Store& store, AuthOptions options, const Clock& clock);
  Status validate(const std::string& name, const std::string& password) const;
  // The wait before `addr_key` may try `account` again (0 = now).
  std::int64_t backoff_wait(const std::string& addr_key, const std::string& account, TimestampMs now);
  // The limits before a hash: the back-offs, then the address's token
  // bucket (a token is taken when admitted). 0 = go ahead; otherwise the
  // wait, and the refusal counts as a failure of the address.
  std::int64_t admit(const std::string& addr_key, const std::string& account, TimestampMs now);
  void note_failure(const std::string& addr_key, const std::string& account, TimestampMs now);
  Result<NewSession> start_session(const User& user, const std::string& remote, TimestampMs now);
  Store& store_;
  AuthOptions opt_;
  const Clock& clock_;
  TokenBucketLimiter attempts_;
  FailureBackoff account_failures_;
  FailureBackoff address_failures_;
  ConcurrencyLimit hashes_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;
  std::mutex setup_mu_;
  std::string setup_code_;         // canonical, no dash; empty = none made
  std::atomic<bool> set_up_{false};  // a user has been seen: setup is over for good
  std::mutex used_mu_;
  std::unordered_map<Id, TimestampMs> last_used_written_;  // token id → last write of last_used_at
};

// First start: while no user exists, makes the setup code and tells the
// operator, as a warning in the log (stderr, hence the journal under
// systemd; written to stderr directly when the log level hides warnings):
//   vigil: no users yet — create the first admin at http://ADDRESS:PORT/
//   with setup code XXXXX-XXXXX, or run `vigil user add NAME --role admin`
// (a wildcard listen address reads "<this gateway>"). Returns the code, or
// nullopt when users exist.
Result<std::optional<std::string>> announce_setup(AuthService& auth, bool tls, const std::string& address,
                                                  unsigned port);

}  // namespace vigil::auth
