// SPDX-License-Identifier: Apache-2.0
//
// Alerts (list, acknowledge, mute, close with Monitron close-out codes, CSV
// export), measurements and spectra.
#include <algorithm>
#include <array>
#include <string_view>

#include "http/api_internal.h"

namespace vigil::http::detail {
namespace {

constexpr std::array<std::string_view, 14> kFailureModes = {
    "NO_ISSUE", "BLOCKAGE", "CAVITATION", "CORROSION", "DEPOSIT", "IMBALANCE", "LUBRICATION",
    "MISALIGNMENT", "RESONANCE", "ROTATING_LOOSENESS", "STRUCTURAL_LOOSENESS", "TRANSMITTED_FAULT", "OTHER",
    "UNDETERMINED"};
constexpr std::array<std::string_view, 9> kFailureCauses = {"ADMINISTRATION", "DESIGN", "FABRICATION",
                                                            "MAINTENANCE", "OPERATION", "QUALITY",
                                                            "WEAR", "OTHER", "UNDETERMINED"};
constexpr std::array<std::string_view, 8> kActions = {"ADJUST", "CLEAN", "LUBRICATE", "MODIFY",
                                                      "NO_ACTION", "OVERHAUL", "REPLACE", "OTHER"};
constexpr std::array<std::string_view, 3> kModels = {"vibrationISO", "vibrationML", "temperatureML"};

template <std::size_t N>
bool member(const std::array<std::string_view, N>& a, const std::string& v) {
  return std::find(a.begin(), a.end(), v) != a.end();
}
template <std::size_t N>
json to_json(const std::array<std::string_view, N>& a) {
  json j = json::array();
  for (auto v : a) j.push_back(std::string(v));
  return j;
}

constexpr const char* kAlertColumns =
    "a.id, a.asset_id, a.position_id, a.model, a.severity, a.status, a.opened_at, a.updated_at, a.closed_at, "
    "a.title, a.explanation, a.measurement_id, a.failure_mode, a.failure_cause, a.action_taken, a.closed_by, "
    "a.notes, coalesce(s.name, ''), coalesce(p.name, '')";

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
          {"position_name", q.text(18)}};
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

// Status transitions: open → acknowledged → closed; open/acknowledged ⇄ muted.
Response transition(ApiContext& ctx, const Request& req, const auth::Principal& who, const std::string& action) {
  auto id = to_int(req.params.at("id"));
  if (!id) return problem(400, "invalid_argument", "alert id must be an integer");
  json body = json::object();
  if (!req.body.empty()) {
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    body = std::get<json>(b);
  }
  const TimestampMs now = ctx.clock->now_ms();
  std::string new_status;
  json closeout;
  if (action == "acknowledge") new_status = "acknowledged";
  else if (action == "mute") new_status = "muted";
  else if (action == "unmute") new_status = "open";
  else if (action == "close") {
    new_status = "closed";
    std::string mode, cause, act, notes, feedback = "confirmed";
    const std::pair<const char*, std::string*> fields[] = {
        {"failure_mode", &mode}, {"failure_cause", &cause}, {"action_taken", &act}};
    for (const auto& [key, out] : fields) {
      if (auto e = get_string(body, key, *out, true)) return *e;
    }
    if (auto e = get_string(body, "notes", notes, false)) return *e;
    if (auto e = get_string(body, "feedback", feedback, false)) return *e;
    if (!member(kFailureModes, mode)) return problem(422, "bad_code", "unknown failure_mode '" + mode + "'");
    if (!member(kFailureCauses, cause)) return problem(422, "bad_code", "unknown failure_cause '" + cause + "'");
    if (!member(kActions, act)) return problem(422, "bad_code", "unknown action_taken '" + act + "'");
    if (feedback != "confirmed" && feedback != "false_alarm" && feedback != "unsure")
      return problem(422, "bad_field", "feedback must be confirmed, false_alarm or unsure");
    json models = json::array();
    if (body.contains("models")) {
      if (!body["models"].is_array()) return problem(422, "bad_field", "models must be an array");
      for (auto& m : body["models"]) {
        if (!m.is_string() || !member(kModels, m.get<std::string>()))
          return problem(422, "bad_code", "models may hold vibrationISO, vibrationML, temperatureML");
        models.push_back(m);
      }
    }
    closeout = {{"failure_mode", mode}, {"failure_cause", cause}, {"action_taken", act},
                {"notes", notes},       {"feedback", feedback},   {"models", models}};
  } else {
    return problem(404, "not_found", "unknown action");
  }
  std::string note;
  if (action != "close") {
    if (auto e = get_string(body, "note", note, false)) return *e;
  }
  std::string old_status;
  if (ctx.alert_action) {
    json payload = closeout;
    if (action == "close") {
      // The notes column keeps the structured extras next to the free text.
      payload["notes"] = json{{"text", closeout["notes"]}, {"feedback", closeout["feedback"]},
                              {"models", closeout["models"]}}.dump();
    }
    if (auto handled = ctx.alert_action(*id, action, payload, who.name)) {
      if (!handled->ok()) {
        if (handled->code() == Status::Code::kInvalidArgument) return problem(409, "alert_closed", handled->message());
        return from_status(*handled);
      }
      auto alert = load_alert(*ctx.store, *id);
      if (!alert) return from_status(alert.status());
      json j = alert->value_or(json::object());
      if (ctx.events) ctx.events->publish("alert", json_text(j));
      if (action == "close" && ctx.on_alert_closed) ctx.on_alert_closed(j);
      return ok(j);
    }
  }
  auto st = ctx.store->write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT status FROM alerts WHERE id = ?");
    if (!q) return q.status();
    (*q)->bind(1, *id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) {
      (*q)->reset();
      return Status::NotFound("no alert with id " + std::to_string(*id));
    }
    old_status = (*q)->text(0);
    (*q)->reset();
    if (old_status == "closed") return Status::AlreadyExists("alert " + std::to_string(*id) + " is already closed");
    if (action == "close") {
      auto u = db.prepare(
          "UPDATE alerts SET status = 'closed', updated_at = ?, closed_at = ?, failure_mode = ?, failure_cause = ?, "
          "action_taken = ?, closed_by = ?, notes = ? WHERE id = ?");
      if (!u) return u.status();
      VIGIL_RETURN_IF_ERROR((*u)->bind(1, now).bind(2, now).bind(3, closeout["failure_mode"].get<std::string>())
                                .bind(4, closeout["failure_cause"].get<std::string>())
                                .bind(5, closeout["action_taken"].get<std::string>()).bind(6, who.name)
                                .bind(7, json{{"text", closeout["notes"]}, {"feedback", closeout["feedback"]},
                                              {"models", closeout["models"]}}.dump())
                                .bind(8, *id).run());
    } else {
      auto u = db.prepare("UPDATE alerts SET status = ?, updated_at = ? WHERE id = ?");
      if (!u) return u.status();
      VIGIL_RETURN_IF_ERROR((*u)->bind(1, new_status).bind(2, now).bind(3, *id).run());
    }
    auto a = db.prepare("INSERT INTO audit_log(ts, actor, action, target, detail) VALUES(?, ?, ?, ?, ?)");
    if (!a) return a.status();
    return (*a)->bind(1, SystemClock::instance().now_ms()).bind(2, who.name).bind(3, "alert." + action)
        .bind(4, std::to_string(*id)).bind(5, action == "close" ? closeout.dump() : note).run();
  });
  if (!st.ok()) {
    if (st.code() == Status::Code::kAlreadyExists) return problem(409, "alert_closed", st.message());
    return from_status(st);
  }
  auto alert = load_alert(*ctx.store, *id);
  if (!alert) return from_status(alert.status());
  json j = alert->value_or(json::object());
  if (ctx.events) ctx.events->publish("alert", json_text(j));
  if (action == "close" && ctx.on_alert_closed) ctx.on_alert_closed(j);
  return ok(j);
}

}  // namespace

void register_alerts(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/closeout-codes", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    return ok({{"failure_mode", to_json(kFailureModes)},
               {"failure_cause", to_json(kFailureCauses)},
               {"action_taken", to_json(kActions)},
               {"models", to_json(kModels)}});
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
    json arr = json::array();
    auto st = ctx.store->read([&](sql::Db& db) -> Status {
      static const std::string kSql =
          std::string("SELECT ") + kAlertColumns +
          " FROM alerts a LEFT JOIN assets s ON s.id = a.asset_id "
          "LEFT JOIN positions p ON p.id = a.position_id "
          "WHERE (?1 = 0 OR a.status != 'closed') AND (?2 IS NULL OR a.status = ?2) "
          "AND (?3 IS NULL OR a.severity = ?3) AND (?4 IS NULL OR a.asset_id = ?4) "
          "AND (?5 IS NULL OR a.position_id = ?5) AND (?6 IS NULL OR a.updated_at >= ?6) "
          "ORDER BY (a.status = 'closed'), a.opened_at DESC LIMIT ?7";
      auto q = db.prepare(kSql);
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

  // Newest spectra of a position: kind=accel|envelope, limit (1 = latest;
  // more = a waterfall, newest first).
  router.add("GET", "/api/v1/positions/{id}/spectra", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    std::string kind = req.q("kind").value_or("accel");
    if (kind != "accel" && kind != "envelope") return problem(400, "invalid_argument", "kind must be accel or envelope");
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    std::int64_t limit = 1;
    if (auto v = req.q("limit")) {
      auto x = to_int(*v);
      if (!x || *x < 1 || *x > 200) return problem(400, "invalid_argument", "limit must be 1..200");
      limit = *x;
    }
    json arr = json::array();
    if (ctx.spectra) {
      auto sp = ctx.spectra(*id, kind, static_cast<int>(limit));
      if (!sp) return from_status(sp.status());
      for (const auto& s : *sp) {
        json bins = json::array();
        for (float b : s.bins) bins.push_back(std::round(static_cast<double>(b) * 1e6) / 1e6);
        arr.push_back({{"measurement_id", s.measurement_id}, {"ts", s.ts}, {"time", iso8601(s.ts)},
                       {"kind", s.kind}, {"df_hz", s.df_hz}, {"bins", bins}});
      }
    }
    return ok(arr);
  });
}

}  // namespace vigil::http::detail
