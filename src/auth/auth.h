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
//   listed and revoked by id.
// - Login attempts: rate-limited per user name and per client address.
// - Every change is written to the audit log with the actor.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  int max_login_failures = 5;                         // per user and per address...
  std::int64_t login_window_ms = 15LL * 60 * 1000;    // ...within this window
  ScryptParams scrypt;
  std::size_t min_password_length = 8;
};

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
  // First-start setup: creates an admin only while no user exists
  // (atomically); kAlreadyExists otherwise.
  Result<User> setup_admin(const std::string& name, const std::string& password, const std::string& remote);
  Result<std::vector<User>> users();
  Status delete_user(Id id, const std::string& actor);
  Status set_password(Id id, const std::string& password, const std::string& actor);

  // kPermissionDenied for wrong credentials (one message for unknown user
  // and wrong password); kResourceExhausted when rate-limited, with the wait
  // in *retry_after_ms.
  Result<std::pair<User, NewSession>> login(const std::string& name, const std::string& password,
                                            const std::string& remote, std::int64_t* retry_after_ms = nullptr);
  Status logout(const std::string& session_token, const std::string& actor);
  Result<std::optional<Principal>> session(const std::string& session_token);
  Result<std::optional<Principal>> bearer(const std::string& token);

  // Returns the token's record and the token itself (shown once).
  Result<std::pair<TokenInfo, std::string>> create_token(const std::string& name, Role role, const std::string& actor);
  Result<std::vector<TokenInfo>> tokens();
  Status revoke_token(Id id, const std::string& actor);

  const AuthOptions& options() const { return opt_; }

 private:
  AuthService(Store& store, AuthOptions options, const Clock& clock)
      : store_(store), opt_(options), clock_(clock),
        limiter_(options.max_login_failures, options.login_window_ms) {}
  Status validate(const std::string& name, const std::string& password) const;
  Store& store_;
  AuthOptions opt_;
  const Clock& clock_;
  RateLimiter limiter_;
};

}  // namespace vigil::auth
