// SPDX-License-Identifier: Apache-2.0
//
// Alerts (list, acknowledge, mute, close with Monitron close-out codes, CSV
// export) and measurements (spectra: api_spectra.cpp). Alerts change only through
// alerts::AlertService (the owner of the alerts table); this file reads the
// table for listings, joined with the asset and position names.
#include <algorithm>
#include <cmath>
#include <string_view>

#include "alerts/alerts.h"
#include "alerts/codes.h"
#include "analytics/pipeline.h"
#include "http/api_internal.h"

namespace vigil::http::detail {
namespace {

json to_json(const std::vector<std::string>& v) { return json(v); }

constexpr const char* kAlertColumns =
    "a.id, a.asset_id, a.position_id, a.model, a.severity, a.status, a.opened_at, a.updated_at, a.closed_at, "
    "a.title, a.explanation, a.measurement_id, a.failure_mode, a.failure_cause, a.action_taken, a.closed_by, "
    "a.notes, coalesce(s.name, ''), coalesce(p.name, ''), a.opening_value, a.current_value, a.flagged_by, "
    "a.value_kind";

std::vector<std::string> split_csv(const std::string& csv) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < csv.size()) {
    auto end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    if (end > start) out.push_back(csv.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// An analytics alert's value since opening: {"kind", "opening", "current",
// "change", "trend"} (trend: rising | falling | steady), or null.
json value_json(const std::optional<double>& opening, const std::optional<double>& current, const std::string& kind) {
  if (!opening && !current) return nullptr;
  json j = {{"kind", kind.empty() ? json(nullptr) : json(kind)},
            {"opening", opening ? json(*opening) : json(nullptr)},
            {"current", current ? json(*current) : json(nullptr)},
            {"change", nullptr},
            {"trend", nullptr}};
  if (opening && current) {
    const double d = *current - *opening;
    j["change"] = d;
    const double tol = 0.05 * std::max(std::abs(*opening), 1e-9);
    j["trend"] = d > tol ? "rising" : d < -tol ? "falling" : "steady";
  }
  return j;
}

json alert_row(sql::Stmt& q) {
  auto opt = [&](int c) { return q.is_null(c) ? json(nullptr) : json(q.i64(c)); };
  auto opt_text = [&](int c) { return q.is_null(c) ? json(nullptr) : json(q.text(c)); };
  auto opt_time = [&](int c) { return q.is_null(c) ? json(nullptr) : json(iso8601(q.i64(c))); };
  json notes = json::object();
  if (!q.is_null(16)) {
    notes = json::parse(q.text(16), nullptr, false);
    if (notes.is_discarded() || !notes.is_object()) notes = json{{"text", q.text(16)}};
  }
  return {{"id", q.i64(0)},
          {"asset_id", opt(1)},
          {"position_id", opt(2)},
          {"model", q.text(3)},
          {"severity", q.text(4)},
          {"status", q.text(5)},
          {"opened_at", iso8601(q.i64(6))},
          {"updated_at", iso8601(q.i64(7))},
          {"closed_at", opt_time(8)},
          {"title", q.text(9)},
          {"explanation", q.text(10)},
          {"measurement_id", opt(11)},
          {"failure_mode", opt_text(12)},
          {"failure_cause", opt_text(13)},
          {"action_taken", opt_text(14)},
          {"closed_by", opt_text(15)},
          {"notes", notes},
          {"asset_name", q.text(17)},
          {"position_name", q.text(18)},
          {"family", alerts::alert_family(q.text(3))},
          {"flagged_by", split_csv(q.text(21))},
          {"value", value_json(q.is_null(19) ? std::nullopt : std::optional<double>(q.f64(19)),
                               q.is_null(20) ? std::nullopt : std::optional<double>(q.f64(20)), q.text(22))}};
}

Result<std::optional<json>> load_alert(Store& store, Id id) {
  std::optional<json> out;
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kAlertColumns +
                        " FROM alerts a LEFT JOIN assets s ON s.id = a.asset_id "
                        "LEFT JOIN positions p ON p.id = a.position_id WHERE a.id = ?");
    if (!q) return q.status();
    (*q)->bind(1, id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) out = alert_row(**q);
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}
std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>());
  if (v.is_object()) return csv_field(v.dump());
  return v.dump();
}

json plan_json(const alerts::CloseoutPlan& p) {
  json relearn = json::array();
  for (const auto& m : p.relearn) relearn.push_back({{"model", m.model}, {"state", m.state}});
  return {{"relearn", relearn}, {"absorb", p.absorb}, {"needs_confirmation", p.needs_confirmation}};
}

// An AlertService error as a problem: 404 unknown alert, 409 closed (or,
// for unmute, not muted; or relearn_needs_confirmation: the closure would
// re-learn a model in warning/alarm, with the plan's "relearn" list), 422 an
// unknown close-out code, feedback or model.
Response alert_problem(ApiContext& ctx, Id id, const Status& st, const alerts::Closure* closure = nullptr) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument: return problem(422, "bad_code", st.message());
    case Status::Code::kFailedPrecondition: {
      auto a = ctx.alerts->get(id);
      if (a && a->status == "closed") return problem(409, "alert_closed", st.message());
      if (closure && !closure->confirm_relearn) {
        auto plan = ctx.alerts->closeout_plan(id, closure->failure_mode, closure->action_taken);
        if (plan && plan->needs_confirmation) {
          auto r = problem(409, "relearn_needs_confirmation", st.message());
          json body = json::parse(r.body, nullptr, false);
          if (body.is_object()) {
            auto pj = plan_json(*plan);
            body["relearn"] = pj["relearn"];
            body["needs_confirmation"] = true;
            r.body = json_text(body);
          }
          return r;
        }
      }
      return problem(409, "conflict", st.message());
    }
    default: return from_status(st);
  }
}

// Status transitions through the alert service: open → acknowledged →
// closed; open/acknowledged → muted → open (unmute).
Response transition(ApiContext& ctx, const Request& req, const auth::Principal& who, const std::string& action) {
  auto id = to_int(req.params.at("id"));
  if (!id) return problem(400, "invalid_argument", "alert id must be an integer");
  if (!ctx.alerts) return problem(503, "unavailable", "the alert service is not running");
  json body = json::object();
  if (!req.body.empty()) {
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    body = std::get<json>(b);
  }
  Status st;
  if (action == "close") {
    alerts::Closure c;
    c.actor = who.name;
    const std::pair<const char*, std::string*> fields[] = {
        {"failure_mode", &c.failure_mode}, {"failure_cause", &c.failure_cause}, {"action_taken", &c.action_taken}};
    for (const auto& [key, out] : fields) {
      if (auto e = get_string(body, key, *out, true)) return *e;
    }
    if (auto e = get_string(body, "notes", c.notes, false)) return *e;
    if (auto e = get_string(body, "feedback", c.feedback, false)) return *e;
    if (auto it = body.find("confirm_relearn"); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return problem(422, "bad_field", "field 'confirm_relearn' must be true or false");
      c.confirm_relearn = it->get<bool>();
    }
    if (body.contains("models")) {
      if (!body["models"].is_array()) return problem(422, "bad_field", "models must be an array");
      for (auto& m : body["models"]) {
        if (!m.is_string()) return problem(422, "bad_field", "models must be an array of model names");
        c.models.push_back(m.get<std::string>());
      }
    }
    st = ctx.alerts->close(*id, c);
    if (!st.ok()) return alert_problem(ctx, *id, st, &c);
  } else {
    std::string note;
    if (auto e = get_string(body, "note", note, false)) return *e;
    if (action == "acknowledge") st = ctx.alerts->acknowledge(*id, who.name, note);
    else if (action == "mute") st = ctx.alerts->mute(*id, who.name, note);
    else if (action == "unmute") st = ctx.alerts->unmute(*id, who.name, note);
    else return problem(404, "not_found", "unknown action");
  }
  if (!st.ok()) return alert_problem(ctx, *id, st);
  auto alert = load_alert(*ctx.store, *id);
  if (!alert) return from_status(alert.status());
  return ok(alert->value_or(json::object()));
}

}  // namespace

void register_alerts(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/closeout-codes", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    return ok({{"failure_mode", to_json(alerts::failure_modes())},
               {"failure_cause", to_json(alerts::failure_causes())},
               {"action_taken", to_json(alerts::actions_taken())},
               {"models", to_json(alerts::model_names())},
               {"feedback", to_json(alerts::feedback_values())}});
  });

  // Filters: status (open|acknowledged|muted|closed|active), asset_id,
  // position_id, severity, since (epoch ms), limit; format=csv for export.
  router.add("GET", "/api/v1/alerts", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    // One fixed SQL text with every filter bound as a parameter (NULL = no
    // filter): the statement cache holds one entry for this route whatever
    // the client sends, and nothing a client types reaches the SQL text.
    std::optional<std::string> status_eq;
    bool active_only = false;
    std::string status = req.q("status").value_or("");
    if (status == "active") active_only = true;
    else if (!status.empty()) {
      if (status != "open" && status != "acknowledged" && status != "muted" && status != "closed")
        return problem(400, "invalid_argument", "status must be open, acknowledged, muted, closed or active");
      status_eq = status;
    }
    std::optional<std::string> severity_eq;
    if (auto s = req.q("severity")) {
      if (*s != "warning" && *s != "alarm") return problem(400, "invalid_argument", "severity must be warning or alarm");
      severity_eq = *s;
    }
    std::optional<std::int64_t> asset_eq, position_eq, since;
    const std::pair<const char*, std::optional<std::int64_t>*> ints[] = {
        {"asset_id", &asset_eq}, {"position_id", &position_eq}, {"since", &since}};
    for (auto& [key, slot] : ints) {
      if (auto v = req.q(key)) {
        auto x = to_int(*v);
        if (!x) return problem(400, "invalid_argument", std::string(key) + " must be an integer");
        *slot = *x;
      }
    }
    std::int64_t limit = 200;
    if (auto bad = query_int(req, "limit", 1, 10000, limit)) return *bad;
    const std::string sort = req.q("sort").value_or("newest");
    if (sort != "newest" && sort != "worst") return problem(400, "invalid_argument", "sort must be newest or worst");
    const bool worst_first = sort == "worst";
    json arr = json::array();
    auto st = ctx.store->read([&](sql::Db& db) -> Status {
      static const std::string kWhere =
          std::string("SELECT ") + kAlertColumns +
          " FROM alerts a LEFT JOIN assets s ON s.id = a.asset_id "
          "LEFT JOIN positions p ON p.id = a.position_id "
          "WHERE (?1 = 0 OR a.status != 'closed') AND (?2 IS NULL OR a.status = ?2) "
          "AND (?3 IS NULL OR a.severity = ?3) AND (?4 IS NULL OR a.asset_id = ?4) "
          "AND (?5 IS NULL OR a.position_id = ?5) AND (?6 IS NULL OR a.updated_at >= ?6) ";
      static const std::string kNewest = kWhere + "ORDER BY (a.status = 'closed'), a.opened_at DESC LIMIT ?7";
      // sort=worst: not closed first, alarms before warnings, then the most recently updated.
      static const std::string kWorst =
          kWhere + "ORDER BY (a.status = 'closed'), (a.severity = 'alarm') DESC, a.updated_at DESC, a.id DESC LIMIT ?7";
      auto q = db.prepare(worst_first ? kWorst : kNewest);
      if (!q) return q.status();
      auto& stmt = **q;
      stmt.bind(1, static_cast<std::int64_t>(active_only ? 1 : 0));
      if (status_eq) stmt.bind(2, *status_eq); else stmt.bind_null(2);
      if (severity_eq) stmt.bind(3, *severity_eq); else stmt.bind_null(3);
      if (asset_eq) stmt.bind(4, *asset_eq); else stmt.bind_null(4);
      if (position_eq) stmt.bind(5, *position_eq); else stmt.bind_null(5);
      if (since) stmt.bind(6, *since); else stmt.bind_null(6);
      stmt.bind(7, limit);
      while (true) {
        auto row = stmt.step();
        if (!row) return row.status();
        if (!*row) break;
        arr.push_back(alert_row(stmt));
      }
      stmt.reset();
      return Status::Ok();
    });
    if (!st.ok()) return from_status(st);
    if (req.q("format").value_or("json") == "csv") {
      static const char* kCols[] = {"id", "opened_at", "updated_at", "closed_at", "status", "severity", "model",
                                    "asset_id", "asset_name", "position_id", "position_name", "title",
                                    "explanation", "failure_mode", "failure_cause", "action_taken", "closed_by",
                                    "notes"};
      std::string out;
      for (std::size_t i = 0; i < std::size(kCols); ++i) out += (i ? "," : "") + std::string(kCols[i]);
      out += "\r\n";
      for (const auto& a : arr) {
        for (std::size_t i = 0; i < std::size(kCols); ++i) out += (i ? "," : "") + csv_value(a[kCols[i]]);
        out += "\r\n";
      }
      auto r = Response::text(200, std::move(out), "text/csv; charset=utf-8");
      r.headers.push_back({"Content-Disposition", "attachment; filename=\"alerts.csv\""});
      return r;
    }
    return ok(arr);
  });

  router.add("GET", "/api/v1/alerts/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "alert id must be an integer");
    auto a = load_alert(*ctx.store, *id);
    if (!a) return from_status(a.status());
    if (!*a) return problem(404, "not_found", "no alert with id " + std::to_string(*id));
    return ok(**a);
  });

  // The alert's timeline: opened, escalated, acknowledged (by whom), notes, closed.
  router.add("GET", "/api/v1/alerts/{id}/events", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "alert id must be an integer");
    if (!ctx.alerts) return problem(503, "unavailable", "alerts are not available on this gateway");
    auto a = ctx.alerts->get(*id);
    if (!a) return from_status(a.status());
    auto evs = ctx.alerts->events_of(*id);
    if (!evs) return from_status(evs.status());
    json arr = json::array();
    for (const auto& e : *evs)
      arr.push_back({{"id", e.id}, {"ts", e.ts}, {"event", e.event}, {"actor", e.actor},
                     {"severity", e.severity}, {"note", e.note}});
    return ok(arr);
  });

  // What closing with this action would do: which models re-learn (with
  // their states) and whether the closure needs confirm_relearn.
  router.add("GET", "/api/v1/alerts/{id}/closeout-preview", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "alert id must be an integer");
    if (!ctx.alerts) return problem(503, "unavailable", "alerts are not available on this gateway");
    if (auto a = ctx.alerts->get(*id); !a) return from_status(a.status());  // an unknown alert is 404 first
    auto action = req.q("action_taken");
    if (!action || action->empty()) return problem(400, "invalid_argument", "action_taken is required");
    auto plan = ctx.alerts->closeout_plan(*id, req.q("failure_mode").value_or(""), *action);
    if (!plan) {
      if (plan.status().code() == Status::Code::kInvalidArgument)
        return problem(400, "invalid_argument", plan.status().message());
      return from_status(plan.status());
    }
    json j = plan_json(*plan);
    j["alert_id"] = *id;
    j["action_taken"] = *action;
    return ok(j);
  });

  for (const char* action : {"acknowledge", "mute", "unmute", "close"}) {
    std::string a = action;
    router.add("POST", "/api/v1/alerts/{id}/" + a, [&ctx, a](const Request& req) {
      VIGIL_REQUIRE(req, Role::kTechnician);
      return transition(ctx, req, who, a);
    });
  }

  router.add("GET", "/api/v1/positions/{id}/measurements", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    const TimestampMs now = ctx.clock->now_ms();
    TimestampMs from = now - 7LL * 24 * 3600 * 1000, to = now;
    std::int64_t limit = 200;
    if (auto bad = query_range(req, from, to)) return *bad;
    if (auto bad = query_int(req, "limit", 1, 5000, limit)) return *bad;
    auto ms = ctx.store->measurements(*id, from, to, static_cast<int>(limit));
    if (!ms) return from_status(ms.status());
    json arr = json::array();
    for (const auto& m : *ms) {
      json f = json::parse(m.features_json, nullptr, false);
      if (f.is_discarded()) f = json::object();
      arr.push_back({{"id", m.id},
                     {"position_id", m.position_id},
                     {"ts", m.ts},
                     {"time", iso8601(m.ts)},
                     {"features", f},
                     {"score", m.score ? json(*m.score) : json(nullptr)},
                     {"state", to_string(m.state)},
                     {"explanation", m.explanation},
                     {"waveform_id", m.waveform_id ? json(*m.waveform_id) : json(nullptr)}});
    }
    return ok(arr);
  });
  // GET /api/v1/positions/{id}/spectra: api_spectra.cpp.
}

}  // namespace vigil::http::detail

namespace vigil::http {

void publish_alert(EventHub& hub, const alerts::Alert& a, const std::string& event) {
  using detail::json;
  auto opt = [](const std::optional<Id>& v) { return v ? json(*v) : json(nullptr); };
  auto text = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json notes = json::object();
  if (a.status == "closed") notes = {{"text", a.notes}, {"feedback", a.feedback}, {"models", a.models}};
  json j = {{"event", event},
            {"id", a.id},
            {"asset_id", opt(a.asset_id)},
            {"position_id", opt(a.position_id)},
            {"model", a.model},
            {"severity", a.severity},
            {"status", a.status},
            {"opened_at", iso8601(a.opened_at)},
            {"updated_at", iso8601(a.updated_at)},
            {"closed_at", a.closed_at ? json(iso8601(*a.closed_at)) : json(nullptr)},
            {"title", a.title},
            {"explanation", a.explanation},
            {"measurement_id", opt(a.measurement_id)},
            {"failure_mode", text(a.failure_mode)},
            {"failure_cause", text(a.failure_cause)},
            {"action_taken", text(a.action_taken)},
            {"closed_by", text(a.closed_by)},
            {"notes", notes},
            {"family", a.family()},
            {"flagged_by", a.flagged_by},
            {"value", detail::value_json(a.opening_value, a.current_value, a.value_kind)}};
  hub.publish("alert", detail::json_text(j));
}

}  // namespace vigil::http
