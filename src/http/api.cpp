// SPDX-License-Identifier: Apache-2.0
#include "http/api.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unordered_map>

#include "http/api_internal.h"
#include "http/json_columns.h"
#include "http/response_cache.h"

namespace vigil::http {
namespace detail {

Response from_status(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return problem(404, "not_found", s.message());
    case Status::Code::kInvalidArgument: return problem(400, "invalid_argument", s.message());
    case Status::Code::kAlreadyExists: return problem(409, "already_exists", s.message());
    case Status::Code::kPermissionDenied: return problem(403, "forbidden", s.message());
    case Status::Code::kResourceExhausted: return problem(429, "rate_limited", s.message());
    case Status::Code::kUnavailable: return problem(503, "unavailable", s.message());
    case Status::Code::kFailedPrecondition: return problem(409, "conflict", s.message());
    default: {
      // The cause (SQLite's text, file paths) goes to the log under a
      // reference the operator can find; the client learns only the reference.
      static std::atomic<std::uint64_t> next_ref{1};
      const std::uint64_t ref = next_ref.fetch_add(1);
      spdlog::error("http: internal error (ref {}): {}", ref, s.ToString());
      return problem(500, Status::CodeName(s.code()), "internal error (ref " + std::to_string(ref) + ")");
    }
  }
}

std::variant<Response, json> json_body(const Request& req) {
  auto ct = req.header("content-type");
  if (ct.rfind("application/json", 0) != 0)
    return problem(415, "unsupported_media_type", "send the body as application/json");
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) return problem(400, "bad_json", "the request body is not valid JSON");
  if (!j.is_object()) return problem(400, "bad_json", "the request body must be a JSON object");
  return j;
}

std::optional<Response> get_string(const json& j, const char* key, std::string& out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return problem(422, "missing_field", std::string("field '") + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_string()) return problem(422, "bad_field", std::string("field '") + key + "' must be a string");
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<Response> get_number(const json& j, const char* key, double& out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return problem(422, "missing_field", std::string("field '") + key + "' is required");
    return std::nullopt;
  }
  if (!it->is_number() || !std::isfinite(it->get<double>()))
    return problem(422, "bad_field", std::string("field '") + key + "' must be a number");
  out = it->get<double>();
  return std::nullopt;
}

std::optional<Response> check_name(const std::string& value, const char* field, std::size_t max_bytes) {
  auto bad = [&](const std::string& why) {
    return problem(422, "bad_field", std::string(field) + " " + why);
  };
  if (value.empty() || value.size() > max_bytes)
    return bad("must be 1–" + std::to_string(max_bytes) + " bytes");
  // UTF-8 well-formedness (shortest forms, no surrogates) and no C0/C1 controls.
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c < 0x20 || c == 0x7f) return bad("must not contain control characters");
    if (c < 0x80) { ++i; continue; }
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + static_cast<std::size_t>(len) > n) return bad("must be valid UTF-8");
    std::uint32_t cp = c & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return bad("must be valid UTF-8");
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return bad("must be valid UTF-8");
    if (cp >= 0x80 && cp <= 0x9f) return bad("must not contain control characters");
    i += static_cast<std::size_t>(len);
  }
  return std::nullopt;
}

std::optional<Response> require_exists(ApiContext& ctx, const char* kind, Id id) {
  // One fixed statement per kind (never SQL text built from input).
  static const std::unordered_map<std::string, const char*> kSql = {
      {"position", "SELECT 1 FROM positions WHERE id = ?"},
      {"series", "SELECT 1 FROM series WHERE id = ?"},
      {"asset", "SELECT 1 FROM assets WHERE id = ?"},
      {"site", "SELECT 1 FROM sites WHERE id = ?"}};
  auto sql = kSql.find(kind);
  if (sql == kSql.end()) return problem(500, "internal", std::string("unknown kind ") + kind);
  bool found = false;
  auto st = ctx.store->read([&](sql::Db& db) -> Status {
    auto q = db.prepare(sql->second);
    if (!q) return q.status();
    (*q)->bind(1, id);
    auto row = (*q)->step();
    if (!row) return row.status();
    found = *row;
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return from_status(st);
  if (!found) return problem(404, "not_found", std::string("no ") + kind + " with id " + std::to_string(id));
  return std::nullopt;
}

void audit(ApiContext& ctx, const auth::Principal& who, const std::string& action, const std::string& target,
           const std::string& detail) {
  // The action itself has happened; a lost audit row must not pass unseen:
  // logged with what it would have said, and counted for /metrics.
  auto st = ctx.store->audit(who.name, action, target, detail);
  if (!st.ok()) {
    static Counter* failures = MetricsRegistry::global().counter(
        "vigil_audit_write_failures_total", "Audit log entries that could not be written");
    failures->inc();
    spdlog::error("audit: could not record {} {} by {}: {}", action, target, who.name, st.ToString());
  }
}

std::string cookie(const Request& req, const std::string& name) {
  const std::string h = req.header("cookie");
  std::size_t i = 0;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ';')) ++i;
    auto semi = h.find(';', i);
    if (semi == std::string::npos) semi = h.size();
    auto eq = h.find('=', i);
    if (eq != std::string::npos && eq < semi && h.compare(i, eq - i, name) == 0 && eq - i == name.size())
      return h.substr(eq + 1, semi - eq - 1);
    i = semi + 1;
  }
  return {};
}

namespace {
bool is_loopback(const std::string& a) {
  return a == "127.0.0.1" || a == "::1" || a.rfind("127.", 0) == 0 || a == "::ffff:127.0.0.1";
}
bool unsafe(const std::string& m) { return m != "GET" && m != "HEAD" && m != "OPTIONS"; }
}  // namespace

std::variant<Response, auth::Principal> require(ApiContext& ctx, const Request& req, Role role) {
  if (req.plant_actor) return auth::Principal{"plant", 0, 0, *req.plant_actor, Role::kAdmin, ""};
  if (ctx.authorize) {
    if (auto refused = ctx.authorize(req, role)) return *refused;
  }
  if (!ctx.auth) return auth::Principal{"none", 0, 0, "anonymous", Role::kAdmin, ""};
  std::optional<auth::Principal> who;
  const std::string authz = req.header("authorization");
  if (authz.size() > 7 && (authz.rfind("Bearer ", 0) == 0 || authz.rfind("bearer ", 0) == 0)) {
    auto p = ctx.auth->bearer(authz.substr(7));
    if (!p) return from_status(p.status());
    if (!*p) {
      auto r = problem(401, "invalid_token", "the bearer token is unknown or revoked");
      r.headers.push_back({"WWW-Authenticate", "Bearer error=\"invalid_token\""});
      return r;
    }
    who = **p;
  } else if (auto c = cookie(req, "vigil_session"); !c.empty()) {
    auto p = ctx.auth->session(c);
    if (!p) return from_status(p.status());
    if (*p) {
      who = **p;
      if (unsafe(req.method) && !auth::constant_time_equal(req.header("x-csrf-token"), who->csrf))
        return problem(403, "csrf", "missing or wrong X-CSRF-Token header");
    }
  }
  if (!who && ctx.loopback_technician && is_loopback(req.remote))
    who = auth::Principal{"local", 0, 0, "local", Role::kTechnician, ""};
  if (!who) {
    auto r = problem(401, "unauthenticated", "sign in or send Authorization: Bearer TOKEN");
    r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"vigil\""});
    return r;
  }
  if (static_cast<int>(who->role) < static_cast<int>(role))
    return problem(403, "forbidden", std::string("this needs the ") + auth::to_string(role) + " role");
  return *who;
}

json envelope_band_json(const Asset& a) {
  if (a.envelope_lo_hz == 0 && a.envelope_hi_hz == 0) return nullptr;
  return json::array({a.envelope_lo_hz, a.envelope_hi_hz});
}

}  // namespace detail

namespace {

using namespace detail;

// Latest value of every series of a position: metric → {value, ts, unit}.
json latest_json(ApiContext& ctx, const std::vector<const Series*>& series) {
  json out = json::object();
  for (const auto* s : series) {
    auto p = ctx.store->latest(s->id);
    if (!p) continue;
    auto& slot = out[s->metric];
    if (!slot.is_null() && slot["ts"].get<std::int64_t>() > p->ts) continue;
    slot = json{{"value", p->value}, {"ts", p->ts}, {"time", iso8601(p->ts)}, {"unit", s->unit}, {"series_id", s->id}};
  }
  return out;
}

// One read of the catalog per request: positions' series, states, alerts.
struct Snapshot {
  std::vector<Series> series;
  std::unordered_map<Id, std::vector<const Series*>> by_position;
  std::unordered_map<Id, std::string> stored_state;  // position → worst persistent state (health_states)
  std::unordered_map<Id, std::int64_t> open_alerts;  // asset → count
  // Active (not closed) alerts: position → (count, worst severity), and
  // asset → worst severity of its alerts on no position (gateway, rules).
  std::unordered_map<Id, std::pair<std::int64_t, HealthState>> position_alerts;
  std::unordered_map<Id, HealthState> asset_alerts;
  // A read error is the caller's answer (a 5xx), never "unknown" states.
  [[nodiscard]] Status load(ApiContext& ctx) {
    auto s = ctx.store->series();
    if (!s) return s.status();
    series = std::move(*s);
    for (const auto& s : series)
      if (s.position_id) by_position[*s.position_id].push_back(&s);
    return ctx.store->read([&](sql::Db& db) -> Status {
      if (!ctx.position_state) {
        // Latest persistent state per (position, model); the position's
        // state is the worst of its models.
        auto q = db.prepare(
            "SELECT scope_id, persistent, max(ts) FROM health_states WHERE scope = 'position' "
            "GROUP BY scope_id, model");
        if (!q) return q.status();
        {
          while (true) {
            auto row = (*q)->step();
            if (!row) return row.status();
            if (!*row) break;
            Id pid = (*q)->i64(0);
            auto st = health_state_from_string((*q)->text(1)).value_or(HealthState::kUnknown);
            auto& cur = stored_state[pid];
            auto have = health_state_from_string(cur).value_or(HealthState::kUnknown);
            if (cur.empty() || severity(st) > severity(have)) cur = to_string(st);
          }
          (*q)->reset();
        }
      }
      auto a = db.prepare("SELECT asset_id, count(*) FROM alerts WHERE status != 'closed' GROUP BY asset_id");
      if (!a) return a.status();
      {
        while (true) {
          auto row = (*a)->step();
          if (!row) return row.status();
          if (!*row) break;
          open_alerts[(*a)->i64(0)] = (*a)->i64(1);
        }
        (*a)->reset();
      }
      auto pa = db.prepare(
          "SELECT asset_id, position_id, max(severity = 'alarm'), count(*) FROM alerts WHERE status != 'closed' "
          "GROUP BY asset_id, position_id");
      if (!pa) return pa.status();
      while (true) {
        auto row = (*pa)->step();
        if (!row) return row.status();
        if (!*row) break;
        const HealthState sev = (*pa)->i64(2) ? HealthState::kAlarm : HealthState::kWarning;
        if ((*pa)->is_null(1)) {
          if ((*pa)->is_null(0)) continue;
          auto& w = asset_alerts.try_emplace((*pa)->i64(0), HealthState::kWarning).first->second;
          if (severity(sev) > severity(w)) w = sev;
          continue;
        }
        auto& slot = position_alerts[(*pa)->i64(1)];
        slot.first += (*pa)->i64(3);
        if (severity(sev) > severity(slot.second)) slot.second = sev;
      }
      (*pa)->reset();
      return Status::Ok();
    });
  }
  std::string state(ApiContext& ctx, Id position_id) const {
    if (ctx.position_state) return ctx.position_state(position_id);
    auto it = stored_state.find(position_id);
    return it == stored_state.end() ? "unknown" : it->second;
  }
};

// ---- the fleet's triage states (docs/dashboard.md, "Fleet states") ----
// Worst first: alarm > warning > no_data > not_running > learning > healthy > unknown.
int triage_rank(const std::string& t) {
  static const std::pair<const char*, int> kRanks[] = {{"alarm", 6},       {"warning", 5},  {"no_data", 4},
                                                       {"not_running", 3}, {"learning", 2}, {"healthy", 1}};
  for (const auto& [name, rank] : kRanks)
    if (t == name) return rank;
  return 0;
}
// A position reads no_data when its newest reading is older than this many
// of its usual intervals (and at least kMinSilenceMs, so a busy gateway
// does not flap).
constexpr double kSilentIntervals = 3;
constexpr TimestampMs kMinSilenceMs = 10'000;

// The usual interval of a series: the median gap of its newest points
// before `newest` (nullopt with fewer than three points in a week).
std::optional<TimestampMs> usual_interval(ApiContext& ctx, Id series_id, TimestampMs newest) {
  for (TimestampMs window : {TimestampMs{600'000}, TimestampMs{86'400'000}, TimestampMs{7 * 86'400'000LL}}) {
    auto pts = ctx.store->range(series_id, newest - window, newest);
    if (!pts || pts->size() < 4) continue;
    std::vector<TimestampMs> gaps;
    for (std::size_t i = pts->size() - 1; i > 0 && gaps.size() < 16; --i)
      if ((*pts)[i].ts > (*pts)[i - 1].ts) gaps.push_back((*pts)[i].ts - (*pts)[i - 1].ts);
    if (gaps.size() < 2) continue;
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
    return gaps[gaps.size() / 2];
  }
  return std::nullopt;
}

// The slowest learning model's progress from the position_health hook
// (models[].learned_hours / learning_hours), or null.
json learning_json(ApiContext& ctx, Id position_id) {
  if (!ctx.position_health) return nullptr;
  auto h = ctx.position_health(position_id);
  if (!h || !h->contains("models") || !(*h)["models"].is_array()) return nullptr;
  json best = nullptr;
  double most_left = -1;
  for (const auto& m : (*h)["models"]) {
    if (!m.contains("learned_hours") || !m.contains("learning_hours")) continue;
    if (!m["learned_hours"].is_number() || !m["learning_hours"].is_number()) continue;
    const double learned = m["learned_hours"].get<double>(), planned = m["learning_hours"].get<double>();
    const double left = std::max(0.0, planned - learned);
    if (left <= most_left) continue;
    most_left = left;
    auto round1 = [](double v) { return std::round(v * 10) / 10; };
    best = {{"learned_hours", round1(learned)}, {"learning_hours", round1(planned)}, {"remaining_hours", round1(left)}};
  }
  return best;
}

json position_json(ApiContext& ctx, const Snapshot& snap, const Position& p) {
  static const std::vector<const Series*> kNone;
  auto it = snap.by_position.find(p.id);
  const auto& series = it == snap.by_position.end() ? kNone : it->second;
  json latest = latest_json(ctx, series);
  const std::string model_state = snap.state(ctx, p.id);
  // Never healthy while an alert on the position is active: the worst of
  // the models' state and the alerts' severity.
  HealthState st = health_state_from_string(model_state).value_or(HealthState::kUnknown);
  std::int64_t active = 0;
  json alert_sev = nullptr;
  if (auto pa = snap.position_alerts.find(p.id); pa != snap.position_alerts.end()) {
    active = pa->second.first;
    alert_sev = to_string(pa->second.second);
    if (severity(pa->second.second) > severity(st)) st = pa->second.second;
  }
  // Newest reading, and whether it is older than 3 of its usual intervals.
  std::optional<TimestampMs> last;
  Id last_series = 0;
  for (auto& [metric, v] : latest.items()) {
    const TimestampMs ts = v["ts"].get<std::int64_t>();
    if (!last || ts > *last) {
      last = ts;
      last_series = v["series_id"].get<Id>();
    }
  }
  bool silent = false;
  if (last) {
    const TimestampMs age = ctx.clock->now_ms() - *last;
    if (age > kMinSilenceMs)
      if (auto iv = usual_interval(ctx, last_series, *last))
        silent = static_cast<double>(age) > kSilentIntervals * static_cast<double>(*iv);
  }
  std::string triage;
  if (st == HealthState::kAlarm || st == HealthState::kWarning) triage = to_string(st);
  else if (silent) triage = "no_data";
  else if (st == HealthState::kNotRunning) triage = "not_running";
  else if (st == HealthState::kInitializing) triage = "learning";
  else if (st == HealthState::kHealthy) triage = "healthy";
  else triage = "unknown";
  return json{{"id", p.id},
              {"asset_id", p.asset_id},
              {"name", p.name},
              {"type", to_string(p.type)},
              {"state", to_string(st)},
              {"model_state", model_state},
              {"triage_state", triage},
              {"severity_rank", triage_rank(triage)},
              {"active_alerts", active},
              {"alert_severity", alert_sev},
              {"learning", learning_json(ctx, p.id)},
              {"last_seen", last ? json(iso8601(*last)) : json(nullptr)},
              {"last_seen_ts", last ? json(*last) : json(nullptr)},
              {"latest", std::move(latest)}};
}

json bearing_json(const Asset& a) {
  if (!a.bearing) return nullptr;
  return {{"rolling_elements", a.bearing->rolling_elements},
          {"element_diameter_mm", a.bearing->element_diameter_mm},
          {"pitch_diameter_mm", a.bearing->pitch_diameter_mm},
          {"contact_angle_deg", a.bearing->contact_angle_deg}};
}

json asset_json(ApiContext& ctx, const Snapshot& snap, const Asset& a, const std::vector<Position>& all_positions) {
  json j = {{"id", a.id}, {"site_id", a.site_id}, {"name", a.name}, {"machine_class", a.machine_class},
            {"shaft_rpm", a.shaft_rpm}, {"envelope_band_hz", envelope_band_json(a)}};
  if (a.bearing) j["bearing"] = bearing_json(a);
  json positions = json::array();
  HealthState worst = HealthState::kUnknown;
  bool any = false;
  std::string triage = "unknown";
  json learning = nullptr;
  std::optional<std::int64_t> last;
  for (const auto& p : all_positions) {
    if (p.asset_id != a.id) continue;
    auto pj = position_json(ctx, snap, p);
    auto st = health_state_from_string(pj["state"].get<std::string>()).value_or(HealthState::kUnknown);
    if (!any || severity(st) > severity(worst)) worst = st;
    any = true;
    const std::string t = pj["triage_state"].get<std::string>();
    if (triage_rank(t) > triage_rank(triage)) triage = t;
    if (pj["learning"].is_object() &&
        (learning.is_null() || pj["learning"]["remaining_hours"].get<double>() > learning["remaining_hours"].get<double>()))
      learning = pj["learning"];
    if (pj["last_seen_ts"].is_number() && (!last || pj["last_seen_ts"].get<std::int64_t>() > *last))
      last = pj["last_seen_ts"].get<std::int64_t>();
    positions.push_back(std::move(pj));
  }
  // Alerts on the asset but no position (rules, gateway) count too.
  if (auto aa = snap.asset_alerts.find(a.id); aa != snap.asset_alerts.end()) {
    if (severity(aa->second) > severity(worst)) worst = aa->second;
    if (triage_rank(to_string(aa->second)) > triage_rank(triage)) triage = to_string(aa->second);
  }
  j["state"] = to_string(worst);
  j["triage_state"] = triage;
  j["severity_rank"] = triage_rank(triage);
  j["learning"] = learning;
  j["last_seen"] = last ? json(iso8601(*last)) : json(nullptr);
  auto oa = snap.open_alerts.find(a.id);
  j["open_alerts"] = oa == snap.open_alerts.end() ? 0 : oa->second;
  j["positions"] = std::move(positions);
  return j;
}

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// GET /api/v1/fleet, built from the store and the analytics' states.
Response fleet_response(ApiContext& ctx) {
  auto sites = ctx.store->sites();
  if (!sites) return from_status(sites.status());
  auto assets = ctx.store->assets();
  if (!assets) return from_status(assets.status());
  auto positions = ctx.store->positions();
  if (!positions) return from_status(positions.status());
  Snapshot snap;
  if (auto st = snap.load(ctx); !st.ok()) return from_status(st);
  json out = {{"time", iso8601(ctx.clock->now_ms())}, {"now", ctx.clock->now_ms()}, {"sites", json::array()}};
  json counts = {{"unknown", 0}, {"initializing", 0}, {"healthy", 0}, {"warning", 0}, {"alarm", 0}, {"not_running", 0}};
  json triage_counts = {{"alarm", 0},    {"warning", 0}, {"no_data", 0}, {"not_running", 0},
                        {"learning", 0}, {"healthy", 0}, {"unknown", 0}};
  std::int64_t open_alerts = 0;
  for (const auto& s : *sites) {
    json sj = {{"id", s.id}, {"name", s.name}, {"timezone", s.timezone}, {"assets", json::array()}};
    std::vector<json> site_assets;
    for (const auto& a : *assets) {
      if (a.site_id != s.id) continue;
      auto aj = asset_json(ctx, snap, a, *positions);
      counts[aj["state"].get<std::string>()] = counts[aj["state"].get<std::string>()].get<int>() + 1;
      const std::string t = aj["triage_state"].get<std::string>();
      triage_counts[t] = triage_counts[t].get<int>() + 1;
      open_alerts += aj["open_alerts"].get<std::int64_t>();
      site_assets.push_back(std::move(aj));
    }
    // Worst first (stable: equal ranks keep the catalog's order).
    std::stable_sort(site_assets.begin(), site_assets.end(), [](const json& x, const json& y) {
      return x["severity_rank"].get<int>() > y["severity_rank"].get<int>();
    });
    int site_rank = 0;
    std::string site_triage = "unknown";
    for (auto& aj : site_assets) {
      if (aj["severity_rank"].get<int>() > site_rank) {
        site_rank = aj["severity_rank"].get<int>();
        site_triage = aj["triage_state"].get<std::string>();
      }
      sj["assets"].push_back(std::move(aj));
    }
    sj["triage_state"] = site_triage;
    sj["severity_rank"] = site_rank;
    out["sites"].push_back(std::move(sj));
  }
  out["asset_states"] = counts;
  out["triage_counts"] = triage_counts;
  out["open_alerts"] = open_alerts;
  return ok(out);
}

}  // namespace

// The fleet document for the plant state (api_plant.cpp).
namespace detail {
Response fleet_for_plant(ApiContext& ctx);
Response fleet_for_plant(ApiContext& ctx) { return fleet_response(ctx); }
}  // namespace detail

std::string iso8601(TimestampMs ts) {
  std::time_t secs = static_cast<std::time_t>(ts >= 0 ? ts / 1000 : (ts - 999) / 1000);
  int ms = static_cast<int>(ts - static_cast<TimestampMs>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

void publish_readings(EventHub& hub, std::span<const AcceptedReading> readings) {
  // Group by (sensor, ts): one event carries all metrics of one measurement.
  std::map<std::pair<Id, TimestampMs>, json> groups;
  for (const auto& r : readings) {
    auto& g = groups[{r.sensor_id, r.reading.ts}];
    if (g.is_null()) {
      g = {{"sensor_id", r.sensor_id},
           {"address", r.reading.source},
           {"position_id", r.position_id ? json(*r.position_id) : json(nullptr)},
           {"ts", r.reading.ts},
           {"values", json::object()},
           {"series", json::object()}};
    }
    g["values"][r.reading.metric] = r.reading.value;
    g["series"][r.reading.metric] = r.series_id;
  }
  for (auto& [k, g] : groups) hub.publish("reading", detail::json_text(g));
}

void register_api(Router& router, ApiContext& ctx) {
  // 200 while the gateway can do its job, 503 (same body) when a check fails:
  // "error" = the database cannot be trusted (integrity, file deleted or
  // replaced), "degraded" = writes failing (disk full) or the clock behind
  // the newest stored reading. `checks` holds every check, `failing` names
  // the failing ones.
  router.add("GET", "/api/v1/health", [&ctx](const Request&) {
    auto st = ctx.store->stats();
    const StoreHealth sh = ctx.store->health();
    const TimestampMs now = SystemClock::instance().now_ms();
    json j = {{"status", "ok"},
              {"version", VIGIL_VERSION},
              {"gateway", {{"id", ctx.gateway_id}, {"name", ctx.gateway_name}}},
              {"demo", ctx.demo},
              {"uptime_s", (now - ctx.started_at) / 1000},
              {"time", iso8601(ctx.clock->now_ms())},
              {"store",
               {{"points_committed", st.points_committed},
                {"queued_points", st.queued_points},
                {"write_errors", st.write_errors},
                {"last_error", st.last_error}}},
              {"ingest", {{"accepted", ctx.ingest ? ctx.ingest->accepted_total() : 0}}}};
    json comps = json::object();
    for (auto& [name, fn] : ctx.components) comps[name] = fn();
    j["components"] = comps;
    j["store"]["disk_full"] = st.disk_full;
    auto when = [](TimestampMs t) { return t > 0 ? json(iso8601(t)) : json(nullptr); };
    json checks = {
        {"integrity",
         {{"ok", sh.integrity != StoreHealth::Integrity::kFailed},
          {"status", to_string(sh.integrity)},
          {"checked_at", when(sh.integrity_checked_at)},
          {"problems", sh.integrity_problems}}},
        {"database_file", {{"ok", sh.file == StoreHealth::File::kOk}, {"status", to_string(sh.file)}}},
        {"disk",
         {{"ok", !sh.writes_failing},
          {"full", sh.disk_full},
          {"queued_points", sh.queued_points},
          {"errors_total", st.write_errors}}},
        {"clock",
         {{"ok", sh.clock_ok},
          {"behind_ms", sh.clock_behind_ms},
          {"newest_point", sh.newest_ts ? json(iso8601(*sh.newest_ts)) : json(nullptr)}}}};
    json failing = json::array();
    for (const char* name : {"integrity", "database_file", "disk", "clock"})
      if (!checks[name]["ok"].get<bool>()) failing.push_back(name);
    j["checks"] = checks;
    j["failing"] = failing;
    const bool broken = !checks["integrity"]["ok"].get<bool>() || !checks["database_file"]["ok"].get<bool>();
    if (!failing.empty()) j["status"] = broken ? "error" : "degraded";
    return Response::json(failing.empty() ? 200 : 503, json_text(j));
  });

  router.add("GET", "/api/v1/sites", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto sites = ctx.store->sites();
    if (!sites) return from_status(sites.status());
    json arr = json::array();
    for (const auto& s : *sites) arr.push_back({{"id", s.id}, {"name", s.name}, {"timezone", s.timezone}});
    return ok(arr);
  });

  router.add("GET", "/api/v1/assets", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    std::optional<Id> site;
    if (auto s = req.q("site_id")) {
      site = to_int(*s);
      if (!site) return problem(400, "invalid_argument", "site_id must be an integer");
      if (auto missing = require_exists(ctx, "site", *site)) return *missing;
    }
    auto assets = ctx.store->assets(site);
    if (!assets) return from_status(assets.status());
    auto positions = ctx.store->positions();
    if (!positions) return from_status(positions.status());
    Snapshot snap;
    if (auto st = snap.load(ctx); !st.ok()) return from_status(st);
    json arr = json::array();
    for (const auto& a : *assets) arr.push_back(asset_json(ctx, snap, a, *positions));
    return ok(arr);
  });

  // The dashboard's landing page in one request: sites → assets → positions
  // with states, open alert counts and latest readings. Every dashboard polls
  // it and its JSON is the costliest we build (≈0.5 ms for 100 positions), so
  // it is cached until the store changes, at most kFleetMaxAge.
  static constexpr std::chrono::milliseconds kFleetMaxAge{1000};
  auto fleet_cache = std::make_shared<ResponseCache>(kFleetMaxAge);
  router.add("GET", "/api/v1/fleet", [&ctx, fleet_cache](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    return fleet_cache->get(ctx.store->generation(), [&ctx] { return fleet_response(ctx); });
  });

  router.add("GET", "/api/v1/assets/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "asset id must be an integer");
    auto a = ctx.store->asset(*id);
    if (!a) return from_status(a.status());
    auto positions = ctx.store->positions(*id);
    if (!positions) return from_status(positions.status());
    Snapshot snap;
    if (auto st = snap.load(ctx); !st.ok()) return from_status(st);
    json j = asset_json(ctx, snap, *a, *positions);
    // The asset's tags and each position's (the dashboard's asset view shows
    // and filters by them); {} when none.
    auto tags_of = [&ctx](TagKind kind, Id tid) -> Result<json> {
      auto t = ctx.store->tags(kind, tid);
      if (!t) return t.status();
      return json(*t);
    };
    auto at = tags_of(TagKind::kAsset, a->id);
    if (!at) return from_status(at.status());
    j["tags"] = std::move(*at);
    for (auto& pj : j["positions"]) {
      auto pt = tags_of(TagKind::kPosition, pj["id"].get<Id>());
      if (!pt) return from_status(pt.status());
      pj["tags"] = std::move(*pt);
    }
    return ok(j);
  });

  router.add("GET", "/api/v1/positions", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    std::optional<Id> asset;
    if (auto s = req.q("asset_id")) {
      asset = to_int(*s);
      if (!asset) return problem(400, "invalid_argument", "asset_id must be an integer");
      if (auto missing = require_exists(ctx, "asset", *asset)) return *missing;
    }
    auto positions = ctx.store->positions(asset);
    if (!positions) return from_status(positions.status());
    Snapshot snap;
    if (auto st = snap.load(ctx); !st.ok()) return from_status(st);
    json arr = json::array();
    for (const auto& p : *positions) arr.push_back(position_json(ctx, snap, p));
    return ok(arr);
  });

  router.add("GET", "/api/v1/positions/{id}/series", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    auto series = ctx.store->series(*id);
    if (!series) return from_status(series.status());
    json arr = json::array();
    for (const auto& s : *series) {
      json j = {{"id", s.id}, {"metric", s.metric}, {"unit", s.unit}, {"sensor_id", s.sensor_id}};
      if (auto p = ctx.store->latest(s.id)) j["latest"] = {{"ts", p->ts}, {"value", p->value}};
      arr.push_back(std::move(j));
    }
    return ok(arr);
  });

  router.add("GET", "/api/v1/positions/{id}/health", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    if (ctx.position_health) {
      // When the analytics know no model of a position that no sensor
      // measures any more (history imported from Monitron, issue 17), the
      // stored history answers. A position with a sensor and no model is
      // learning (again): its old states are not its state.
      auto h = ctx.position_health(*id);
      const bool no_models = h && h->contains("models") && (*h)["models"].empty();
      bool measured = false;
      if (no_models) {  // one probe, not the whole sensor list (with keys) per request
        auto st = ctx.store->read([&](sql::Db& db) -> Status {
          auto q = db.prepare(
              "SELECT EXISTS(SELECT 1 FROM sensors WHERE position_id = ? AND decommissioned_at IS NULL)");
          if (!q) return q.status();
          (*q)->bind(1, *id);
          auto row = (*q)->step();
          if (!row) return row.status();
          measured = *row && (*q)->i64(0) != 0;
          (*q)->reset();
          return Status::Ok();
        });
        if (!st.ok()) return from_status(st);
      }
      if (h && (!no_models || measured)) return ok(*h);
    }
    // Fallback: the stored state history's latest row per model.
    json models = json::array();
    std::string worst = "unknown";
    auto st = ctx.store->read([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "SELECT model, pointwise, persistent, max(ts) FROM health_states WHERE scope = 'position' AND scope_id = ? "
          "GROUP BY model ORDER BY model");
      if (!q) return q.status();
      (*q)->bind(1, *id);
      while (true) {
        auto row = (*q)->step();
        if (!row) return row.status();
        if (!*row) break;
        std::string pers = (*q)->text(2);
        models.push_back({{"model", (*q)->text(0)}, {"pointwise", (*q)->text(1)}, {"persistent", pers},
                          {"since", iso8601((*q)->i64(3))}});
        auto a = health_state_from_string(pers).value_or(HealthState::kUnknown);
        auto b = health_state_from_string(worst).value_or(HealthState::kUnknown);
        if (severity(a) > severity(b)) worst = pers;
      }
      (*q)->reset();
      return Status::Ok();
    });
    if (!st.ok()) return from_status(st);
    // No analytics here: no learned baseline to show.
    return ok({{"position_id", *id}, {"state", worst}, {"models", models}, {"baseline", json::object()}});
  });

  // Range query with server-side downsampling to at most `points` buckets.
  // format=csv returns the same buckets as CSV (or raw points with raw=1).
  router.add("GET", "/api/v1/series/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "series id must be an integer");
    if (auto missing = require_exists(ctx, "series", *id)) return *missing;
    const TimestampMs now = ctx.clock->now_ms();
    TimestampMs to = now, from = now - 24LL * 3600 * 1000;
    std::int64_t points = 500;
    if (auto bad = query_range(req, from, to)) return *bad;
    if (auto bad = query_int(req, "points", 1, 10000, points)) return *bad;
    const bool csv = req.q("format").value_or("json") == "csv";
    if (csv && req.q("raw").value_or("0") == "1") {
      auto r = ctx.store->range(*id, from, to);
      if (!r) return from_status(r.status());
      std::string out = "timestamp,value\r\n";
      for (const auto& p : *r) out += iso8601(p.ts) + "," + csv_number(p.value) + "\r\n";
      auto res = Response::text(200, std::move(out), "text/csv; charset=utf-8");
      res.headers.push_back({"Content-Disposition", "attachment; filename=\"series-" + std::to_string(*id) + ".csv\""});
      return res;
    }
    auto b = ctx.store->downsample(*id, from, to, static_cast<int>(points));
    if (!b) return from_status(b.status());
    if (csv) {
      std::string out = "timestamp,count,min,max,mean\r\n";
      for (const auto& x : *b)
        out += iso8601(x.ts) + "," + std::to_string(x.count) + "," + csv_number(x.min) + "," + csv_number(x.max) +
               "," + csv_number(x.mean) + "\r\n";
      auto res = Response::text(200, std::move(out), "text/csv; charset=utf-8");
      res.headers.push_back({"Content-Disposition", "attachment; filename=\"series-" + std::to_string(*id) + ".csv\""});
      return res;
    }
    // Columnar arrays: compact and what chart code wants.
    std::span<const Bucket> rows(*b);
    std::string body = JsonColumns(96 + rows.size() * 96)
                           .column("count", rows, [](const auto& x) { return static_cast<std::int64_t>(x.count); })
                           .field("from", from)
                           .column("max", rows, [](const auto& x) { return x.max; })
                           .column("mean", rows, [](const auto& x) { return x.mean; })
                           .column("min", rows, [](const auto& x) { return x.min; })
                           .field("series_id", *id)
                           .field("to", to)
                           .column("ts", rows, [](const auto& x) { return static_cast<std::int64_t>(x.ts); })
                           .finish();
    return Response::json(200, std::move(body));
  });

  router.add("GET", "/api/v1/sensors", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto sensors = ctx.store->sensors();
    if (!sensors) return from_status(sensors.status());
    auto all_series = ctx.store->series();
    if (!all_series) return from_status(all_series.status());
    const auto heard = ctx.sensors_heard ? ctx.sensors_heard() : std::map<Id, json>{};
    json arr = json::array();
    for (const auto& s : *sensors) {
      json latest = json::object();
      TimestampMs last_seen = 0;
      for (const auto& se : *all_series) {
        if (se.sensor_id != s.id) continue;
        if (auto p = ctx.store->latest(se.id)) {
          latest[se.metric] = p->value;
          last_seen = std::max(last_seen, p->ts);
        }
      }
      json j = {{"id", s.id},
                {"address", s.address},
                {"name", s.name},
                {"format", s.format},
                {"position_id", s.position_id ? json(*s.position_id) : json(nullptr)},
                {"commissioned_at", iso8601(s.commissioned_at)},
                {"decommissioned", s.decommissioned_at.has_value()},
                {"last_seen", last_seen ? json(iso8601(last_seen)) : json(nullptr)},
                {"battery_pct", latest.contains("battery_pct") ? latest["battery_pct"] : json(nullptr)},
                {"rssi_dbm", latest.contains("rssi_dbm") ? latest["rssi_dbm"] : json(nullptr)},
                {"heard_via", nullptr},
                {"heard_at", nullptr},
                {"frames_lost", nullptr},
                {"loss_ratio", nullptr},
                {"latest", latest}};
      // The last advert (radio or relay) is fresher than the rssi_dbm reading.
      if (auto h = heard.find(s.id); h != heard.end()) {
        j["heard_via"] = h->second["heard_via"];
        j["heard_at"] = h->second["heard_at"];
        j["frames_lost"] = h->second["frames_lost"];
        j["loss_ratio"] = h->second["loss_ratio"];
        if (!h->second["rssi_dbm"].is_null()) j["rssi_dbm"] = h->second["rssi_dbm"];
      }
      arr.push_back(std::move(j));
    }
    return ok(arr);
  });

  router.add("GET", "/api/v1/sensors/discovered", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    return ok(ctx.discovered_sensors ? ctx.discovered_sensors() : json::array());
  });

  // Live updates (Server-Sent Events): reading, state, alert.
  router.add("GET", "/api/v1/events", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.events) return problem(503, "unavailable", "live updates are not enabled");
    std::uint64_t last = 0;
    if (auto v = to_int(req.header("last-event-id")); v && *v > 0) last = static_cast<std::uint64_t>(*v);
    Response r = Response::text(200, "", "text/event-stream; charset=utf-8");
    r.is_stream = true;
    EventHub* hub = ctx.events;
    r.on_stream = [hub, last](std::shared_ptr<StreamSink> sink) { hub->subscribe(std::move(sink), last); };
    return r;
  });

  router.add("GET", "/api/v1/openapi.json", [](const Request&) { return ok(openapi_document()); });

  router.add("GET", "/metrics", [&ctx](const Request&) {
    return Response::text(200, ctx.metrics->render_prometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });

  register_alerts(router, ctx);
  register_auth(router, ctx);
  register_admin(router, ctx);
  register_catalog(router, ctx);
  register_machine_classes(router, ctx);
  register_analytics(router, ctx);
  register_spectra(router, ctx);
  register_notifications(router, ctx);
  register_export(router, ctx);
}

}  // namespace vigil::http
