// SPDX-License-Identifier: Apache-2.0
//
// Admin writes (sites, assets, positions, commissioning) and system status.
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "http/api_internal.h"
#include "protocol/types.h"

namespace vigil::http::detail {
namespace {

// Address and key text use the protocol module's parsers, the same ones
// the decoder uses for `vigil decode --address/--key`.
bool normalize_mac(std::string& mac) {
  auto m = protocol::Mac::parse(mac);
  if (!m) return false;
  mac = m->to_string();
  return true;
}

std::optional<std::vector<std::uint8_t>> parse_key(const std::string& hex) {
  auto k = protocol::parse_key(hex);
  if (!k) return std::nullopt;
  return std::vector<std::uint8_t>(k->begin(), k->end());
}

// An asset must name a class the analytics know (else its vibrationISO
// would stay unknown); 422 listing the known ones. Not checked without the
// machine-class hook.
std::optional<Response> check_class_known(ApiContext& ctx, const std::string& machine_class) {
  if (!ctx.machine_classes) return std::nullopt;
  std::string known;
  for (const auto& c : ctx.machine_classes()) {
    if (c.name == machine_class) return std::nullopt;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  return problem(422, "bad_field", "machine_class '" + machine_class + "' is unknown; known classes: " + known);
}

// envelope_band_hz: [lo, hi] in Hz (vigil::check_envelope_band), or null or
// absent for the automatic band.
std::optional<Response> get_envelope_band(const json& j, Asset& a) {
  auto it = j.find("envelope_band_hz");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number() || !(*it)[1].is_number())
    return problem(422, "bad_field", "envelope_band_hz must be [lo, hi] in Hz, or null for the automatic band");
  const double lo = (*it)[0].get<double>(), hi = (*it)[1].get<double>();
  if (lo == 0 && hi == 0) return std::nullopt;  // an explicit automatic band
  if (auto st = check_envelope_band(lo, hi); !st.ok()) return problem(422, "bad_field", st.message());
  a.envelope_lo_hz = lo;
  a.envelope_hi_hz = hi;
  return std::nullopt;
}

std::optional<Response> get_id(const json& j, const char* key, std::optional<Id>& out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return problem(422, "missing_field", std::string("field '") + key + "' is required");
    return std::nullopt;
  }
  // Ids are positive int64: an unsigned JSON number above INT64_MAX (2^63)
  // must not wrap to a negative id.
  const bool positive = it->is_number_unsigned() ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                                                 : it->is_number_integer() && it->get<std::int64_t>() > 0;
  if (!it->is_number_integer() || !positive)
    return problem(422, "bad_field", std::string("field '") + key + "' must be a positive integer id");
  out = it->get<Id>();
  return std::nullopt;
}

}  // namespace

void register_admin(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/sites", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    Site s;
    if (auto e = get_string(body, "name", s.name, true)) return *e;
    if (auto e = get_string(body, "timezone", s.timezone, false)) return *e;
    if (auto e = check_name(s.name, "name")) return *e;
    if (s.timezone.size() > 64) return problem(422, "bad_field", "timezone must be an IANA zone name (at most 64 bytes)");
    if (!s.timezone.empty()) {
      if (auto e = check_name(s.timezone, "timezone", 64)) return *e;
    }
    auto id = ctx.store->upsert_site(s);
    if (!id) return from_status(id.status());
    audit(ctx, who, "site.upsert", std::to_string(*id), s.name);
    if (ctx.catalog_changed) ctx.catalog_changed();  // rules re-read scopes and time zones
    return created({{"id", *id}, {"name", s.name}, {"timezone", s.timezone}});
  });

  router.add("POST", "/api/v1/assets", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    Asset a;
    std::optional<Id> site;
    if (auto e = get_id(body, "site_id", site, true)) return *e;
    a.site_id = *site;
    if (auto e = get_string(body, "name", a.name, true)) return *e;
    if (auto e = get_string(body, "machine_class", a.machine_class, false)) return *e;
    if (auto e = get_number(body, "shaft_rpm", a.shaft_rpm)) return *e;
    if (auto e = check_name(a.name, "name")) return *e;
    if (!a.machine_class.empty()) {
      if (auto e = check_name(a.machine_class, "machine_class", 64)) return *e;
    }
    if (a.shaft_rpm < 0 || a.shaft_rpm > 100000) return problem(422, "bad_field", "shaft_rpm must be 0..100000");
    if (body.contains("bearing") && body["bearing"].is_object()) {
      const json& bj = body["bearing"];
      BearingGeometry g;
      double n = 0;
      if (auto e = get_number(bj, "rolling_elements", n)) return *e;
      g.rolling_elements = static_cast<int>(n);
      if (auto e = get_number(bj, "element_diameter_mm", g.element_diameter_mm)) return *e;
      if (auto e = get_number(bj, "pitch_diameter_mm", g.pitch_diameter_mm)) return *e;
      if (auto e = get_number(bj, "contact_angle_deg", g.contact_angle_deg)) return *e;
      if (g.rolling_elements < 1 || g.element_diameter_mm <= 0 || g.pitch_diameter_mm <= g.element_diameter_mm)
        return problem(422, "bad_field", "bearing needs rolling_elements ≥ 1 and pitch > element diameter");
      a.bearing = g;
    }
    if (auto e = get_envelope_band(body, a)) return *e;
    if (auto e = check_class_known(ctx, a.machine_class)) return *e;
    auto sites = ctx.store->sites();
    if (!sites) return from_status(sites.status());
    bool found = false;
    for (auto& s : *sites) found = found || s.id == a.site_id;
    if (!found) return problem(422, "bad_field", "site " + std::to_string(a.site_id) + " does not exist");
    auto id = ctx.store->upsert_asset(a);
    if (!id) return from_status(id.status());
    if (ctx.machines_changed) ctx.machines_changed();  // the analytics reload class, speed, bearing, band
    audit(ctx, who, "asset.upsert", std::to_string(*id), body.dump());
    if (ctx.catalog_changed) ctx.catalog_changed();  // rules re-read scopes and time zones
    return created({{"id", *id}, {"site_id", a.site_id}, {"name", a.name}, {"machine_class", a.machine_class},
                    {"shaft_rpm", a.shaft_rpm}, {"envelope_band_hz", envelope_band_json(a)}});
  });

  router.add("POST", "/api/v1/positions", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    Position p;
    std::optional<Id> asset;
    std::string type = "other";
    if (auto e = get_id(body, "asset_id", asset, true)) return *e;
    p.asset_id = *asset;
    if (auto e = get_string(body, "name", p.name, true)) return *e;
    if (auto e = get_string(body, "type", type, false)) return *e;
    auto t = position_type_from_string(type);
    if (!t) return problem(422, "bad_field", "type must be bearing, compressor, fan, gearbox, motor, pump or other");
    p.type = *t;
    if (auto e = check_name(p.name, "name")) return *e;
    auto a = ctx.store->asset(p.asset_id);
    if (!a) return problem(422, "bad_field", "asset " + std::to_string(p.asset_id) + " does not exist");
    auto id = ctx.store->upsert_position(p);
    if (!id) return from_status(id.status());
    audit(ctx, who, "position.upsert", std::to_string(*id), body.dump());
    if (ctx.catalog_changed) ctx.catalog_changed();  // rules re-read scopes and time zones
    return created({{"id", *id}, {"asset_id", p.asset_id}, {"name", p.name}, {"type", to_string(p.type)}});
  });

  // Commission a sensor: address (MAC), optional AES key (32 hex digits),
  // optional position. The key is stored but never returned.
  router.add("POST", "/api/v1/sensors", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    Sensor s;
    std::string key_hex;
    std::optional<Id> position;
    s.format = "bthome";
    if (auto e = get_string(body, "address", s.address, true)) return *e;
    if (auto e = get_string(body, "key", key_hex, false)) return *e;
    if (auto e = get_string(body, "name", s.name, false)) return *e;
    if (auto e = get_string(body, "format", s.format, false)) return *e;
    if (auto e = get_id(body, "position_id", position, false)) return *e;
    if (!normalize_mac(s.address)) return problem(422, "bad_field", "address must be a MAC address (AA:BB:CC:DD:EE:FF)");
    if (!s.name.empty()) {
      if (auto e = check_name(s.name, "name")) return *e;
    }
    if (s.format != "bthome" && s.format != "vigil") return problem(422, "bad_field", "format must be bthome or vigil");
    std::optional<std::vector<std::uint8_t>> key;
    if (!key_hex.empty()) {
      key = parse_key(key_hex);
      if (!key) return problem(422, "bad_field", "key must be 32 hex digits (an AES-128 key)");
    }
    if (position) {
      auto ps = ctx.store->positions();
      if (!ps) return from_status(ps.status());
      bool found = false;
      for (auto& p : *ps) found = found || p.id == *position;
      if (!found) return problem(422, "bad_field", "position " + std::to_string(*position) + " does not exist");
      s.position_id = position;
    }
    s.commissioned_at = SystemClock::instance().now_ms();
    auto id = ctx.store->commission_sensor(s, key);  // sensor and key in one transaction
    if (!id) return from_status(id.status());
    if (ctx.ingest) ctx.ingest->invalidate_sensors();
    audit(ctx, who, "sensor.commission", s.address, key ? "with key" : "without key");
    return created({{"id", *id}, {"address", s.address}, {"name", s.name}, {"format", s.format},
                    {"position_id", position ? json(*position) : json(nullptr)}, {"has_key", key.has_value()}});
  });

  router.add("GET", "/api/v1/system", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto st = ctx.store->stats();
    // The package's record of the last upgrade (packaging/debian/postinst:
    // versions, and the backup it took before migrating), beside the database.
    json last_upgrade = nullptr;
    {
      const auto f = std::filesystem::path(ctx.store->path()).parent_path() / "last-upgrade.json";
      std::ifstream in(f, std::ios::binary);
      std::string text(4096, '\0');
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
      text.resize(static_cast<std::size_t>(in.gcount()));
      auto j = json::parse(text, nullptr, false);
      if (j.is_object()) last_upgrade = j;
    }
    json comps = json::object();
    for (auto& [name, fn] : ctx.components) comps[name] = fn();
    return ok({{"version", VIGIL_VERSION},
               {"gateway", {{"id", ctx.gateway_id}, {"name", ctx.gateway_name}}},
               {"demo", ctx.demo},
               {"time", iso8601(ctx.clock->now_ms())},
               {"uptime_s", (SystemClock::instance().now_ms() - ctx.started_at) / 1000},
               {"store",
                {{"path", ctx.store->path()},
                 {"points_committed", st.points_committed},
                 {"queued_points", st.queued_points},
                 {"checkpoints", st.checkpoints},
                 {"write_errors", st.write_errors}}},
               {"live", {{"clients", ctx.events ? ctx.events->clients() : 0},
                         {"events", ctx.events ? ctx.events->published() : 0}}},
               {"components", comps},
               {"last_upgrade", last_upgrade},
               {"you", {{"name", who.name}, {"role", auth::to_string(who.role)}, {"kind", who.kind}}}});
  });

  router.add("GET", "/api/v1/audit", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    std::int64_t limit = 100;
    if (auto v = req.q("limit")) {
      auto x = to_int(*v);
      if (!x || *x < 1 || *x > 5000) return problem(400, "invalid_argument", "limit must be 1..5000");
      limit = *x;
    }
    auto log = ctx.store->audit_log(static_cast<int>(limit));
    if (!log) return from_status(log.status());
    json arr = json::array();
    for (const auto& e : *log)
      arr.push_back({{"id", e.id}, {"time", iso8601(e.ts)}, {"actor", e.actor}, {"action", e.action},
                     {"target", e.target}, {"detail", e.detail}});
    return ok(arr);
  });
}

}  // namespace vigil::http::detail
