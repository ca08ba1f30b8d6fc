// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the REST handler files (not a public interface).
#pragma once

#include <nlohmann/json.hpp>

#include <charconv>
#include <initializer_list>
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

// Reads `from`/`to` (epoch milliseconds) from the query into the given
// defaults, clamped to [kMinTimestampMs, kMaxTimestampMs]; a 400 problem for
// a malformed value or an empty range.
inline std::optional<Response> query_range(const Request& req, TimestampMs& from, TimestampMs& to) {
  for (auto [name, slot] : {std::pair<const char*, TimestampMs*>{"from", &from}, {"to", &to}}) {
    if (auto v = req.q(name)) {
      auto x = to_int(*v);
      if (!x) return problem(400, "invalid_argument", std::string(name) + " must be epoch milliseconds");
      *slot = clamp_timestamp(*x);  // years 1..9999: arithmetic on the range cannot overflow
    }
  }
  if (to < from) return problem(400, "invalid_argument", "to is before from");
  return std::nullopt;
}

// Reads an optional integer query parameter within [lo, hi] into `out`.
inline std::optional<Response> query_int(const Request& req, const char* name, std::int64_t lo, std::int64_t hi,
                                         std::int64_t& out) {
  if (auto v = req.q(name)) {
    auto x = to_int(*v);
    if (!x || *x < lo || *x > hi)
      return problem(400, "invalid_argument",
                     std::string(name) + " must be " + std::to_string(lo) + ".." + std::to_string(hi));
    out = *x;
  }
  return std::nullopt;
}

// A name or label a client chooses (site, asset, position, sensor, token,
// class): 1..max_bytes bytes of valid UTF-8 without control characters (NUL,
// newline, escape…), else a 422 naming the field.
std::optional<Response> check_name(const std::string& value, const char* field, std::size_t max_bytes = 200);

// 404 unless the catalog row exists (`kind`: "position", "series", "asset",
// "site"); a 5xx problem when the store cannot answer.
std::optional<Response> require_exists(ApiContext& ctx, const char* kind, Id id);

Response from_status(const Status& s);
// Serialises a response document. Strings that are not valid UTF-8 (a
// percent-decoded path echoed in a message, text a sensor sent) become
// U+FFFD instead of throwing: a reply must never fail to serialise.
inline std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
inline Response ok(const json& j) { return Response::json(200, json_text(j)); }
inline Response created(const json& j) { return Response::json(201, json_text(j)); }

// Parses a JSON object body: 415 unless Content-Type is JSON (which also
// keeps HTML forms from other sites out), 400 for malformed JSON.
std::variant<Response, json> json_body(const Request& req);
// A 422 problem naming the request field at fault ("field" in the body).
Response field_problem(const std::string& field, const std::string& detail, const char* code = "bad_field");
// Refuses body fields a route does not know (422 naming the first), so a
// typo is not silently ignored.
std::optional<Response> only_fields(const json& body, std::initializer_list<const char*> known);

// Authenticates and checks the role: the caller, or the refusal.
std::variant<Response, auth::Principal> require(ApiContext& ctx, const Request& req, Role role);

std::string cookie(const Request& req, const std::string& name);

// Typed fields of a JSON body: 422 missing_field when required and absent,
// 422 bad_field for the wrong type (numbers: also for non-finite values).
std::optional<Response> get_string(const json& j, const char* key, std::string& out, bool required);
std::optional<Response> get_number(const json& j, const char* key, double& out, bool required = false);

// An asset's envelope band as the API shows it: [lo, hi] in Hz, or null
// for the automatic band.
json envelope_band_json(const Asset& a);

// An audit log entry for an admin action of `who`.
void audit(ApiContext& ctx, const auth::Principal& who, const std::string& action, const std::string& target,
           const std::string& detail);

void register_alerts(Router& router, ApiContext& ctx);
void register_auth(Router& router, ApiContext& ctx);
void register_admin(Router& router, ApiContext& ctx);
void register_catalog(Router& router, ApiContext& ctx);  // api_catalog.cpp: rename, archive, purge, move, import
void register_machine_classes(Router& router, ApiContext& ctx);
void register_analytics(Router& router, ApiContext& ctx);  // api_analytics.cpp
void register_spectra(Router& router, ApiContext& ctx);  // api_spectra.cpp: a position's spectra
void register_notifications(Router& router, ApiContext& ctx);  // api_notify.cpp: rules, channels, routes, ack links
void register_export(Router& router, ApiContext& ctx);  // api_export.cpp: exports, waveform downloads, storage report

}  // namespace vigil::http::detail

#define VIGIL_REQUIRE(req, role)                                   \
  auto _who = ::vigil::http::detail::require(ctx, req, role);      \
  if (auto* _refused = std::get_if<Response>(&_who)) return *_refused; \
  [[maybe_unused]] const auth::Principal& who = std::get<auth::Principal>(_who)
