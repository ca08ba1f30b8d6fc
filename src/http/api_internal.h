// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the REST handler files (not a public interface).
#pragma once

#include <nlohmann/json.hpp>

#include <charconv>
#include <optional>
#include <string>
#include <variant>

#include "http/api.h"

namespace vigil::http::detail {

using json = nlohmann::json;

inline std::optional<std::int64_t> to_int(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Response from_status(const Status& s);
inline Response ok(const json& j) { return Response::json(200, j.dump()); }
inline Response created(const json& j) { return Response::json(201, j.dump()); }

// Parses a JSON object body: 415 unless Content-Type is JSON (which also
// keeps HTML forms from other sites out), 400 for malformed JSON.
std::variant<Response, json> json_body(const Request& req);

// Authenticates and checks the role: the caller, or the refusal.
std::variant<Response, auth::Principal> require(ApiContext& ctx, const Request& req, Role role);

std::string cookie(const Request& req, const std::string& name);

// Optional typed fields of a JSON body, with a 400 for the wrong type.
std::optional<Response> get_string(const json& j, const char* key, std::string& out, bool required);

void register_alerts(Router& router, ApiContext& ctx);
void register_auth(Router& router, ApiContext& ctx);
void register_admin(Router& router, ApiContext& ctx);

}  // namespace vigil::http::detail

#define VIGIL_REQUIRE(req, role)                                   \
  auto _who = ::vigil::http::detail::require(ctx, req, role);      \
  if (auto* _refused = std::get_if<Response>(&_who)) return *_refused; \
  [[maybe_unused]] const auth::Principal& who = std::get<auth::Principal>(_who)
