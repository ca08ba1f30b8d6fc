// SPDX-License-Identifier: Apache-2.0
#include "http/api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <ctime>

namespace vigil::http {
namespace {

using json = nlohmann::json;

std::optional<std::int64_t> to_int(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Response from_status(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return problem(404, "not_found", s.message());
    case Status::Code::kInvalidArgument: return problem(400, "invalid_argument", s.message());
    case Status::Code::kUnavailable: return problem(503, "unavailable", s.message());
    default: return problem(500, Status::CodeName(s.code()), s.message());
  }
}

Response ok(const json& j) { return Response::json(200, j.dump()); }

// Latest value of every series of a position: metric → {value, ts, unit}.
json latest_for_position(ApiContext& ctx, Id position_id) {
  json out = json::object();
  auto series = ctx.store->series(position_id);
  if (!series) return out;
  for (const auto& s : *series) {
    auto p = ctx.store->latest(s.id);
    if (!p) continue;
    auto& slot = out[s.metric];
    if (!slot.is_null() && slot["ts"].get<std::int64_t>() > p->ts) continue;
    slot = json{{"value", p->value}, {"ts", p->ts}, {"time", iso8601(p->ts)}, {"unit", s.unit}, {"series_id", s.id}};
  }
  return out;
}

json position_json(ApiContext& ctx, const Position& p) {
  return json{{"id", p.id},
              {"asset_id", p.asset_id},
              {"name", p.name},
              {"type", to_string(p.type)},
              {"state", ctx.position_state ? ctx.position_state(p.id) : "unknown"},
              {"latest", latest_for_position(ctx, p.id)}};
}

json asset_json(ApiContext& ctx, const Asset& a) {
  json j = {{"id", a.id}, {"site_id", a.site_id}, {"name", a.name}, {"machine_class", a.machine_class},
            {"shaft_rpm", a.shaft_rpm}};
  if (a.bearing) {
    j["bearing"] = {{"rolling_elements", a.bearing->rolling_elements},
                    {"element_diameter_mm", a.bearing->element_diameter_mm},
                    {"pitch_diameter_mm", a.bearing->pitch_diameter_mm},
                    {"contact_angle_deg", a.bearing->contact_angle_deg}};
  }
  json positions = json::array();
  std::string worst = "unknown";
  auto ps = ctx.store->positions(a.id);
  if (ps) {
    for (const auto& p : *ps) {
      auto pj = position_json(ctx, p);
      auto st = health_state_from_string(pj["state"].get<std::string>()).value_or(HealthState::kUnknown);
      if (severity(st) > severity(health_state_from_string(worst).value_or(HealthState::kUnknown)))
        worst = to_string(st);
      positions.push_back(std::move(pj));
    }
  }
  j["state"] = worst;
  j["positions"] = std::move(positions);
  return j;
}

#define VIGIL_AUTH(req, role)                                   \
  if (ctx.authorize) {                                          \
    if (auto refused = ctx.authorize(req, role)) return *refused; \
  }

}  // namespace

std::string iso8601(TimestampMs ts) {
  std::time_t secs = static_cast<std::time_t>(ts >= 0 ? ts / 1000 : (ts - 999) / 1000);
  int ms = static_cast<int>(ts - static_cast<TimestampMs>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

void register_api(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/health", [&ctx](const Request&) {
    auto st = ctx.store->stats();
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
    if (st.write_errors > 0 && !st.last_error.empty() && st.queued_points > 0) j["status"] = "degraded";
    return ok(j);
  });

  router.add("GET", "/api/v1/sites", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    auto sites = ctx.store->sites();
    if (!sites) return from_status(sites.status());
    json arr = json::array();
    for (const auto& s : *sites) arr.push_back({{"id", s.id}, {"name", s.name}, {"timezone", s.timezone}});
    return ok(arr);
  });

  router.add("GET", "/api/v1/assets", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    std::optional<Id> site;
    if (auto s = req.q("site_id")) {
      site = to_int(*s);
      if (!site) return problem(400, "invalid_argument", "site_id must be an integer");
    }
    auto assets = ctx.store->assets(site);
    if (!assets) return from_status(assets.status());
    json arr = json::array();
    for (const auto& a : *assets) arr.push_back(asset_json(ctx, a));
    return ok(arr);
  });

  router.add("GET", "/api/v1/assets/{id}", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "asset id must be an integer");
    auto a = ctx.store->asset(*id);
    if (!a) return from_status(a.status());
    return ok(asset_json(ctx, *a));
  });

  router.add("GET", "/api/v1/positions/{id}/series", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
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

  // Range query with server-side downsampling to at most `points` buckets.
  router.add("GET", "/api/v1/series/{id}", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "series id must be an integer");
    const TimestampMs now = ctx.clock->now_ms();
    TimestampMs to = now, from = now - 24LL * 3600 * 1000;
    std::int64_t points = 500;
    if (auto v = req.q("from")) {
      auto x = to_int(*v);
      if (!x) return problem(400, "invalid_argument", "from must be epoch milliseconds");
      from = *x;
    }
    if (auto v = req.q("to")) {
      auto x = to_int(*v);
      if (!x) return problem(400, "invalid_argument", "to must be epoch milliseconds");
      to = *x;
    }
    if (auto v = req.q("points")) {
      auto x = to_int(*v);
      if (!x || *x < 1 || *x > 10000) return problem(400, "invalid_argument", "points must be 1..10000");
      points = *x;
    }
    if (to < from) return problem(400, "invalid_argument", "to is before from");
    auto b = ctx.store->downsample(*id, from, to, static_cast<int>(points));
    if (!b) return from_status(b.status());
    // Columnar arrays: compact and what chart libraries want.
    json ts = json::array(), mn = json::array(), mx = json::array(), mean = json::array(), cnt = json::array();
    for (const auto& x : *b) {
      ts.push_back(x.ts);
      mn.push_back(x.min);
      mx.push_back(x.max);
      mean.push_back(x.mean);
      cnt.push_back(x.count);
    }
    return ok({{"series_id", *id}, {"from", from}, {"to", to}, {"ts", ts}, {"min", mn}, {"max", mx},
               {"mean", mean}, {"count", cnt}});
  });

  router.add("GET", "/api/v1/sensors", [&ctx](const Request& req) {
    VIGIL_AUTH(req, Role::kViewer);
    auto sensors = ctx.store->sensors();
    if (!sensors) return from_status(sensors.status());
    auto all_series = ctx.store->series();
    if (!all_series) return from_status(all_series.status());
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
                {"latest", latest}};
      arr.push_back(std::move(j));
    }
    return ok(arr);
  });

  router.add("GET", "/metrics", [&ctx](const Request&) {
    return Response::text(200, ctx.metrics->render_prometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace vigil::http
