// SPDX-License-Identifier: Apache-2.0
//
// Sign-in, first-start setup, sessions, users and API tokens.
#include <algorithm>

#include "http/api_internal.h"

namespace vigil::http::detail {
namespace {

json user_json(const auth::User& u) {
  return {{"id", u.id}, {"name", u.name}, {"role", auth::to_string(u.role)}, {"created_at", iso8601(u.created_at)}};
}

json token_json(const auth::TokenInfo& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", auth::to_string(t.role)},
          {"created_at", iso8601(t.created_at)},
          {"created_by", t.created_by},
          {"last_used_at", t.last_used_at ? json(iso8601(*t.last_used_at)) : json(nullptr)},
          {"revoked", t.revoked_at.has_value()}};
}

// Session + CSRF cookies. The session cookie is HttpOnly; the CSRF cookie is
// readable by the page's script, which echoes it in X-CSRF-Token.
void set_session_cookies(Response& r, const ApiContext& ctx, const auth::NewSession& s) {
  const std::string attrs = std::string("; Path=/; SameSite=Strict") + (ctx.secure_cookies ? "; Secure" : "");
  const std::int64_t max_age = ctx.auth ? ctx.auth->options().session_ttl_ms / 1000 : 3600;
  r.headers.push_back({"Set-Cookie", "vigil_session=" + s.token + attrs + "; HttpOnly; Max-Age=" + std::to_string(max_age)});
  r.headers.push_back({"Set-Cookie", "vigil_csrf=" + s.csrf + attrs + "; Max-Age=" + std::to_string(max_age)});
}

void clear_session_cookies(Response& r, const ApiContext& ctx) {
  const std::string attrs = std::string("; Path=/; SameSite=Strict; Max-Age=0") + (ctx.secure_cookies ? "; Secure" : "");
  r.headers.push_back({"Set-Cookie", "vigil_session=" + attrs + "; HttpOnly"});
  r.headers.push_back({"Set-Cookie", "vigil_csrf=" + attrs});
}

Response need_auth_module() { return problem(503, "unavailable", "authentication is not enabled on this gateway"); }

// A refusal of sign-in or setup by the limits: 429 (this client is rate-
// limited or backing off) or 503 (the hashing capacity is busy), both with
// Retry-After in whole seconds, at least 1.
std::optional<Response> limited(const Status& st, std::int64_t wait_ms) {
  int code = 0;
  const char* type = "";
  if (st.code() == Status::Code::kResourceExhausted) {
    code = 429;
    type = "rate_limited";
  } else if (st.code() == Status::Code::kUnavailable) {
    code = 503;
    type = "busy";
  } else {
    return std::nullopt;
  }
  auto r = problem(code, type, st.message());
  r.headers.push_back({"Retry-After", std::to_string(std::max<std::int64_t>(1, (wait_ms + 999) / 1000))});
  return r;
}

// The creator a new token derives from: the signed-in user, or the user
// behind the token making it (0 for the CLI's and the demo's principals).
Id token_creator(const auth::Principal& who) {
  if (who.kind == "session") return who.user_id;
  if (who.kind == "token") return who.creator_user_id;
  return 0;
}

std::optional<Role> role_field(const json& body, Response& err) {
  std::string role = "viewer";
  if (auto e = get_string(body, "role", role, false)) {
    err = *e;
    return std::nullopt;
  }
  auto r = auth::role_from_string(role);
  if (!r) err = problem(422, "bad_field", "role must be admin, technician or viewer");
  return r;
}

}  // namespace

void register_auth(Router& router, ApiContext& ctx) {
  // Open: what the dashboard needs to decide between setup, sign-in and app.
  router.add("GET", "/api/v1/auth/session", [&ctx](const Request& req) {
    json j = {{"auth_enabled", ctx.auth != nullptr}, {"setup_required", false}, {"user", nullptr},
              {"demo", ctx.demo}};
    if (!ctx.auth) {
      j["user"] = {{"name", "anonymous"}, {"role", "admin"}, {"kind", "none"}};
      return ok(j);
    }
    auto n = ctx.auth->user_count();
    if (!n) return from_status(n.status());
    j["setup_required"] = *n == 0;
    auto who = require(ctx, req, Role::kViewer);
    if (auto* p = std::get_if<auth::Principal>(&who))
      j["user"] = {{"name", p->name}, {"role", auth::to_string(p->role)}, {"kind", p->kind}};
    return ok(j);
  });

  // First start: create the first admin while no user exists, and sign in.
  // Needs the one-time setup code the gateway logs at start. Every cheap
  // check comes before the limits, and the limits before any hashing.
  router.add("POST", "/api/v1/auth/setup", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    std::string name, password, code;
    if (auto e = get_string(body, "name", name, true)) return *e;
    if (auto e = get_string(body, "password", password, true)) return *e;
    if (auto e = get_string(body, "setup_code", code, false)) return *e;
    std::int64_t wait_ms = 0;
    auto s = ctx.auth->setup_admin(name, password, code, req.remote, &wait_ms);
    if (!s) {
      const Status& st = s.status();
      if (st.code() == Status::Code::kAlreadyExists) return problem(409, "already_set_up", st.message());
      if (st.code() == Status::Code::kInvalidArgument) return problem(422, "invalid_argument", st.message());
      if (st.code() == Status::Code::kPermissionDenied) return problem(403, "bad_setup_code", st.message());
      if (auto r = limited(st, wait_ms)) return *r;
      return from_status(st);
    }
    Response r = created(json{{"user", user_json(s->first)}, {"csrf", s->second.csrf}});
    set_session_cookies(r, ctx, s->second);
    return r;
  });

  router.add("POST", "/api/v1/auth/login", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    std::string name, password;
    if (auto e = get_string(body, "name", name, true)) return *e;
    if (auto e = get_string(body, "password", password, true)) return *e;
    std::int64_t wait_ms = 0;
    auto s = ctx.auth->login(name, password, req.remote, &wait_ms);
    if (!s) {
      const Status& st = s.status();
      if (auto r = limited(st, wait_ms)) return *r;
      if (st.code() == Status::Code::kInvalidArgument) return problem(422, "invalid_argument", st.message());
      if (st.code() == Status::Code::kPermissionDenied) return problem(401, "bad_credentials", st.message());
      return from_status(st);
    }
    Response r = ok({{"user", user_json(s->first)}, {"csrf", s->second.csrf}});
    set_session_cookies(r, ctx, s->second);
    return r;
  });

  router.add("POST", "/api/v1/auth/logout", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kViewer);
    if (who.kind == "session") {
      auto st = ctx.auth->logout(cookie(req, "vigil_session"), who.name);
      if (!st.ok()) return from_status(st);
    }
    Response r = Response::json(200, R"({"status":"signed out"})");
    clear_session_cookies(r, ctx);
    return r;
  });

  router.add("GET", "/api/v1/users", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto us = ctx.auth->users();
    if (!us) return from_status(us.status());
    json arr = json::array();
    for (const auto& u : *us) arr.push_back(user_json(u));
    return ok(arr);
  });

  router.add("POST", "/api/v1/users", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    std::string name, password;
    if (auto e = get_string(body, "name", name, true)) return *e;
    if (auto e = get_string(body, "password", password, true)) return *e;
    Response err;
    auto role = role_field(body, err);
    if (!role) return err;
    auto u = ctx.auth->add_user(name, *role, password, who.name);
    if (!u) {
      if (u.status().code() == Status::Code::kInvalidArgument) return problem(422, "invalid_argument", u.status().message());
      return from_status(u.status());
    }
    return created(user_json(*u));
  });

  router.add("DELETE", "/api/v1/users/{id}", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "user id must be an integer");
    auto st = ctx.auth->delete_user(*id, who.name);
    if (!st.ok()) return from_status(st);
    return ok({{"deleted", *id}});
  });

  // Change a user's role; a demotion ends their sessions and revokes their
  // tokens above the new role (AuthService::set_role, audited there).
  router.add("PATCH", "/api/v1/users/{id}", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "user id must be an integer");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (!body.contains("role")) return problem(422, "missing_field", "field 'role' is required");
    Response err;
    auto role = role_field(body, err);
    if (!role) return err;
    auto st = ctx.auth->set_role(*id, *role, who.name);
    if (!st.ok()) {
      if (st.code() == Status::Code::kInvalidArgument) return problem(409, "last_admin", st.message());
      return from_status(st);
    }
    auto us = ctx.auth->users();
    if (!us) return from_status(us.status());
    for (const auto& u : *us)
      if (u.id == *id) return ok(user_json(u));
    return problem(404, "not_found", "no user with id " + std::to_string(*id));
  });

  // Admins set anyone's password; others only their own.
  router.add("POST", "/api/v1/users/{id}/password", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "user id must be an integer");
    if (who.role != Role::kAdmin && (who.kind != "session" || who.user_id != *id))
      return problem(403, "forbidden", "you may change only your own password");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    std::string password;
    if (auto e = get_string(std::get<json>(b), "password", password, true)) return *e;
    auto st = ctx.auth->set_password(*id, password, who.name);
    if (!st.ok()) {
      if (st.code() == Status::Code::kInvalidArgument) return problem(422, "invalid_argument", st.message());
      return from_status(st);
    }
    return ok({{"updated", *id}});
  });

  router.add("GET", "/api/v1/tokens", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto ts = ctx.auth->tokens();
    if (!ts) return from_status(ts.status());
    json arr = json::array();
    for (const auto& t : *ts) arr.push_back(token_json(t));
    return ok(arr);
  });

  router.add("POST", "/api/v1/tokens", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    std::string name;
    if (auto e = get_string(body, "name", name, false)) return *e;
    Response err;
    auto role = role_field(body, err);
    if (!role) return err;
    auto t = ctx.auth->create_token(name, *role, who.name, token_creator(who));
    if (!t) {
      if (t.status().code() == Status::Code::kInvalidArgument) return problem(422, "invalid_argument", t.status().message());
      return from_status(t.status());
    }
    json j = token_json(t->first);
    j["token"] = t->second;
    return created(j);
  });

  router.add("DELETE", "/api/v1/tokens/{id}", [&ctx](const Request& req) {
    if (!ctx.auth) return need_auth_module();
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "token id must be an integer");
    auto st = ctx.auth->revoke_token(*id, who.name);
    if (!st.ok()) return from_status(st);
    return ok({{"revoked", *id}});
  });
}

}  // namespace vigil::http::detail
