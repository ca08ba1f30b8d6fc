// SPDX-License-Identifier: Apache-2.0
#include "alerts/alerts.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace vigil::alerts {
namespace {

constexpr const char* kCols =
    "id, asset_id, position_id, model, severity, status, opened_at, updated_at, closed_at, title, "
    "explanation, measurement_id, failure_mode, failure_cause, action_taken, closed_by, notes, source, kind, "
    "opening_value, current_value, flagged_by, value_kind";

std::vector<std::string> split_models(const std::string& csv) {
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
std::string join_models(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& m : v) out += (out.empty() ? "" : ",") + m;
  return out;
}

// The value an alert follows from a state change of its opening model:
// velocity RMS for vibrationISO, the normal-equivalent score for learned models.
std::optional<double> value_of(const analytics::StateChange& c) {
  if (c.model == "vibrationISO") return c.score;
  return c.z;
}
const char* value_kind_of(const std::string& model) {
  return model == "vibrationISO" ? "velocity_mm_s" : "anomaly_score";
}

// The notes column holds {"text", "feedback", "models"} as JSON for closures
// made through close(); older rows may hold plain text.
std::string encode_notes(const Closure& c) {
  return nlohmann::json{{"text", c.notes}, {"feedback", c.feedback}, {"models", c.models}}.dump();
}
void decode_notes(const std::string& column, Alert& a) {
  auto j = nlohmann::json::parse(column, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    a.notes = column;
    return;
  }
  if (auto t = j.find("text"); t != j.end() && t->is_string()) a.notes = t->get<std::string>();
  if (auto f = j.find("feedback"); f != j.end() && f->is_string()) a.feedback = f->get<std::string>();
  if (auto m = j.find("models"); m != j.end() && m->is_array())
    for (const auto& x : *m)
      if (x.is_string()) a.models.push_back(x.get<std::string>());
}

Alert read_row(const sql::Stmt& q) {
  Alert a;
  a.id = q.i64(0);
  a.asset_id = q.opt_i64(1);
  a.position_id = q.opt_i64(2);
  a.model = q.text(3);
  a.severity = q.text(4);
  a.status = q.text(5);
  a.opened_at = q.i64(6);
  a.updated_at = q.i64(7);
  a.closed_at = q.opt_i64(8);
  a.title = q.text(9);
  a.explanation = q.text(10);
  a.measurement_id = q.opt_i64(11);
  a.failure_mode = q.text(12);
  a.failure_cause = q.text(13);
  a.action_taken = q.text(14);
  a.closed_by = q.text(15);
  decode_notes(q.text(16), a);
  a.source = q.text(17);
  a.kind = q.text(18);
  if (!q.is_null(19)) a.opening_value = q.f64(19);
  if (!q.is_null(20)) a.current_value = q.f64(20);
  a.flagged_by = split_models(q.text(21));
  a.value_kind = q.text(22);
  return a;
}

Status collect(sql::Stmt& q, std::vector<Alert>& out) {
  for (;;) {
    auto row = q.step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(read_row(q));
  }
  q.reset();
  return Status::Ok();
}

// Appends one lifecycle event; called inside the transaction that changes the alert.
Status record_event(sql::Db& db, Id alert_id, TimestampMs ts, const std::string& event, const std::string& actor,
                    const std::string& severity, const std::string& note) {
  auto q = db.prepare("INSERT INTO alert_events(alert_id, ts, event, actor, severity, note) VALUES(?, ?, ?, ?, ?, ?)");
  if (!q) return q.status();
  return (*q)->bind(1, alert_id).bind(2, ts).bind(3, event).bind(4, actor).bind(5, severity).bind(6, note).run();
}

Status closed_error(Id id) { return Status::FailedPrecondition("alert " + std::to_string(id) + " is closed"); }

}  // namespace

Status AlertService::migrate(Store& store) {
  return store.migrate("alerts", {
      // v1: the table as the store's core schema v1 created it until the
      // alerts module took it over. IF NOT EXISTS: older databases have it.
      R"sql(
CREATE TABLE IF NOT EXISTS alerts(
  id INTEGER PRIMARY KEY,
  asset_id INTEGER,
  position_id INTEGER,
  model TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER,
  title TEXT NOT NULL,
  explanation TEXT NOT NULL DEFAULT '',
  measurement_id INTEGER,
  failure_mode TEXT,
  failure_cause TEXT,
  action_taken TEXT,
  closed_by TEXT,
  notes TEXT);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, opened_at);
)sql",
      // v2: who raised an alert and which of its conditions it stands for
      // (ExternalAlert), so a condition seen again updates its alert.
      R"sql(
ALTER TABLE alerts ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_condition ON alerts(source, kind, status);
CREATE INDEX alerts_position_model ON alerts(position_id, model, status);
)sql",
      // v3: the lifecycle as a journal, written in the same transaction as
      // the alert's row: notifications read it after a cursor (exactly once
      // across restarts), the dashboard shows it as the alert's timeline.
      R"sql(
CREATE TABLE alert_events(
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  event TEXT NOT NULL,
  actor TEXT NOT NULL,
  severity TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX alert_events_alert ON alert_events(alert_id, id);
)sql",
      // v4: one alert per position and model family (alert_family): the
      // models that flagged it, and the opening model's value when it opened
      // and now, so an alert shows its trend since opening.
      R"sql(
ALTER TABLE alerts ADD COLUMN opening_value REAL;
ALTER TABLE alerts ADD COLUMN current_value REAL;
ALTER TABLE alerts ADD COLUMN flagged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN value_kind TEXT NOT NULL DEFAULT '';
)sql",
  });
}

AlertService::AlertService(Store& store, const Clock& clock, analytics::Pipeline* pipeline)
    : store_(store), clock_(clock), pipeline_(pipeline) {}

Result<std::unique_ptr<AlertService>> AlertService::create(Store& store, const Clock& clock,
                                                           analytics::Pipeline* pipeline) {
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("alerts"));
  // A purged position or asset takes its alerts and their timelines along.
  store.add_purge_hook("alerts", [](sql::Db& db, const Store::PurgedScope& scope) -> Status {
    auto drop = [&](const char* column, Id id) -> Status {
      const std::string c(column);
      auto ev = db.prepare("DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE " + c + " = ?)");
      if (!ev) return ev.status();
      VIGIL_RETURN_IF_ERROR((*ev)->bind(1, id).run());
      auto al = db.prepare("DELETE FROM alerts WHERE " + c + " = ?");
      if (!al) return al.status();
      return (*al)->bind(1, id).run();
    };
    for (Id p : scope.positions) VIGIL_RETURN_IF_ERROR(drop("position_id", p));
    for (Id a : scope.assets) VIGIL_RETURN_IF_ERROR(drop("asset_id", a));
    return Status::Ok();
  });
  return std::unique_ptr<AlertService>(new AlertService(store, clock, pipeline));
}

void AlertService::attach(analytics::Pipeline& p) {
  pipeline_ = &p;
  if (!model_states_)
    model_states_ = [pp = &p](Id position_id) -> Result<std::vector<analytics::ModelHealth>> {
      auto h = pp->position_health(position_id);
      if (!h) return h.status();
      return h->models;
    };
  if (!feedback_)
    feedback_ = [pp = &p](Id position_id, const std::string& model, analytics::Feedback kind, TimestampMs since) {
      pp->feedback(position_id, model, kind, since);
    };
  p.on_state_change([this](const analytics::StateChange& c) {
    auto r = on_state_change(c);
    if (!r) spdlog::warn("alerts: position {} {}: {}", c.position_id, c.model, r.status().ToString());
  });
}

void AlertService::on_event(AlertObserver fn) { observers_.push_back(std::move(fn)); }

void AlertService::notify(Id id, const std::string& event, const std::string& actor) {
  if (observers_.empty()) return;
  auto a = get(id);
  if (!a) {
    spdlog::warn("alerts: alert {} {}: not published: {}", id, event, a.status().ToString());
    return;
  }
  for (const auto& fn : observers_) fn(*a, event, actor);
}

Result<std::optional<Alert>> AlertService::active_for(Id position_id, const std::string& family) const {
  const auto models = family_models(family);
  std::vector<Alert> v;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kCols +
                        " FROM alerts WHERE position_id = ?1 AND model IN (?2, ?3) AND status != 'closed' "
                        "ORDER BY id DESC LIMIT 1");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, models.front()).bind(3, models.back());
    return collect(**q, v);
  }));
  if (v.empty()) return std::optional<Alert>();
  return std::optional<Alert>(v.front());
}

std::string AlertService::title_for(const analytics::StateChange& c) const {
  std::string asset_name = c.asset_id ? "asset " + std::to_string(c.asset_id) : "unknown asset";
  std::string position_name = "position " + std::to_string(c.position_id);
  if (c.asset_id) {
    if (auto a = store_.asset(c.asset_id); a.ok() && !a->name.empty()) asset_name = a->name;
    if (auto ps = store_.positions(c.asset_id); ps.ok())
      for (const auto& p : *ps)
        if (p.id == c.position_id && !p.name.empty()) position_name = p.name;
  }
  return plant_title(asset_name, position_name, c.model, c.explanation);
}

Result<std::optional<Id>> AlertService::on_state_change(const analytics::StateChange& c) {
  const bool bad = c.persistent == HealthState::kWarning || c.persistent == HealthState::kAlarm;
  if (!bad) return std::optional<Id>();
  std::lock_guard lk(mu_);
  auto cur = active_for(c.position_id, alert_family(c.model));
  if (!cur) return cur.status();
  const std::string sev = to_string(c.persistent);
  const std::string title = title_for(c);
  const std::optional<double> value = value_of(c);
  if (!*cur) {
    Id id = 0;
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, "
          "explanation, measurement_id, source, kind, opening_value, current_value, flagged_by, value_kind) "
          "VALUES(?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, 'analytics', ?, ?, ?, ?, ?)");
      if (!q) return q.status();
      std::optional<Id> asset = c.asset_id ? std::optional<Id>(c.asset_id) : std::nullopt;
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, asset).bind(2, c.position_id).bind(3, c.model).bind(4, sev)
                                .bind(5, c.ts).bind(6, c.ts).bind(7, title).bind(8, c.explanation)
                                .bind(9, c.measurement_id).bind(10, c.model).bind(11, value).bind(12, value)
                                .bind(13, c.model).bind(14, std::string(value_kind_of(c.model))).run());
      id = db.last_insert_id();
      return record_event(db, id, c.ts, "opened", "analytics", sev, c.explanation);
    }));
    VIGIL_RETURN_IF_ERROR(store_.audit("analytics", "alert.open", "alert/" + std::to_string(id), title));
    notify(id, "opened", "analytics");
    return std::optional<Id>(id);
  }
  // The family already has an alert: update it instead of opening another.
  const Alert& a = **cur;
  const bool escalate = a.severity == "warning" && sev == "alarm";
  std::vector<std::string> flagged = a.flagged_by;
  if (flagged.empty()) flagged.push_back(a.model);  // rows from before v4
  if (!is_one_of(flagged, c.model)) flagged.push_back(c.model);
  const bool same_model = c.model == a.model;
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "UPDATE alerts SET severity = ?, updated_at = ?, explanation = ?, measurement_id = coalesce(?, measurement_id), "
        "title = ?, flagged_by = ?, current_value = CASE WHEN ? THEN ? ELSE current_value END, "
        "opening_value = CASE WHEN ? AND opening_value IS NULL THEN ? ELSE opening_value END, "
        "value_kind = CASE WHEN value_kind = '' THEN ? ELSE value_kind END WHERE id = ?");
    if (!q) return q.status();
    const std::int64_t take = same_model && value ? 1 : 0;
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, escalate ? std::string("alarm") : a.severity).bind(2, c.ts)
                              .bind(3, c.explanation).bind(4, c.measurement_id).bind(5, title)
                              .bind(6, join_models(flagged)).bind(7, take).bind(8, value).bind(9, take)
                              .bind(10, value).bind(11, std::string(value_kind_of(a.model))).bind(12, a.id).run());
    return escalate ? record_event(db, a.id, c.ts, "escalated", "analytics", "alarm", c.explanation) : Status::Ok();
  }));
  if (escalate)
    VIGIL_RETURN_IF_ERROR(
        store_.audit("analytics", "alert.escalate", "alert/" + std::to_string(a.id), c.explanation));
  notify(a.id, escalate ? "escalated" : "updated", "analytics");
  return std::optional<Id>(a.id);
}

Result<std::optional<Alert>> AlertService::active_condition(const ExternalAlert& e) const {
  std::vector<Alert> v;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    // Rows older vigils wrote have no source: their (model, title) named the condition.
    auto q = db.prepare(std::string("SELECT ") + kCols +
                        " FROM alerts WHERE status != 'closed' AND title = ?3 AND "
                        "((source = ?1 AND kind = ?2) OR (source = '' AND model = ?4)) "
                        "ORDER BY id DESC LIMIT 1");
    if (!q) return q.status();
    (*q)->bind(1, e.source).bind(2, e.kind).bind(3, e.title).bind(4, e.model);
    return collect(**q, v);
  }));
  if (v.empty()) return std::optional<Alert>();
  return std::optional<Alert>(v.front());
}

Result<Id> AlertService::raise(const ExternalAlert& e) {
  if (e.source.empty() || e.kind.empty() || e.model.empty() || e.title.empty())
    return Status::InvalidArgument("an external alert needs a source, kind, model and title");
  if (e.severity != "warning" && e.severity != "alarm")
    return Status::InvalidArgument("severity must be warning or alarm, not '" + e.severity + "'");
  std::lock_guard lk(mu_);
  auto cur = active_condition(e);
  if (!cur) return cur.status();
  const TimestampMs now = clock_.now_ms();
  if (!*cur) {
    Id id = 0;
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, "
          "explanation, source, kind) VALUES(?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)");
      if (!q) return q.status();
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, e.asset_id).bind(2, e.position_id).bind(3, e.model).bind(4, e.severity)
                                .bind(5, now).bind(6, now).bind(7, e.title).bind(8, e.explanation)
                                .bind(9, e.source).bind(10, e.kind).run());
      id = db.last_insert_id();
      return record_event(db, id, now, "opened", e.source, e.severity, e.explanation);
    }));
    VIGIL_RETURN_IF_ERROR(store_.audit(e.source, "alert.open", "alert/" + std::to_string(id), e.title));
    notify(id, "opened", e.source);
    return id;
  }
  const Alert& a = **cur;
  const bool escalate = a.severity == "warning" && e.severity == "alarm";
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "UPDATE alerts SET updated_at = ?, explanation = ?, severity = ?, asset_id = coalesce(asset_id, ?), "
        "position_id = coalesce(position_id, ?), source = ?, kind = ? WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, now).bind(2, e.explanation).bind(3, escalate ? e.severity : a.severity)
        .bind(4, e.asset_id).bind(5, e.position_id).bind(6, e.source).bind(7, e.kind).bind(8, a.id).run());
    // A condition seen again is not a lifecycle event (it would grow the
    // journal with every advert of a silent sensor); a rise in severity is.
    return escalate ? record_event(db, a.id, now, "escalated", e.source, e.severity, e.explanation) : Status::Ok();
  }));
  if (escalate)
    VIGIL_RETURN_IF_ERROR(store_.audit(e.source, "alert.escalate", "alert/" + std::to_string(a.id), e.explanation));
  notify(a.id, escalate ? "escalated" : "updated", e.source);
  return a.id;
}

Result<std::vector<Alert>> AlertService::list(const AlertFilter& f) const {
  if (f.limit < 1 || f.limit > 10000) return Status::InvalidArgument("limit must be 1..10000");
  if (f.offset < 0) return Status::InvalidArgument("offset must be ≥ 0");
  std::string sql = std::string("SELECT ") + kCols + " FROM alerts WHERE 1";
  if (f.status) sql += *f.status == "active" ? " AND status != 'closed'" : " AND status = ?1";
  if (f.asset_id) sql += " AND asset_id = ?2";
  if (f.position_id) sql += " AND position_id = ?3";
  if (f.model) sql += " AND model = ?4";
  if (f.from) sql += " AND opened_at >= ?5";
  if (f.to) sql += " AND opened_at <= ?6";
  sql += " ORDER BY opened_at DESC, id DESC LIMIT ?7 OFFSET ?8";
  std::vector<Alert> out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(sql);
    if (!q) return q.status();
    auto& s = **q;
    if (f.status && *f.status != "active") s.bind(1, *f.status);
    if (f.asset_id) s.bind(2, *f.asset_id);
    if (f.position_id) s.bind(3, *f.position_id);
    if (f.model) s.bind(4, *f.model);
    if (f.from) s.bind(5, *f.from);
    if (f.to) s.bind(6, *f.to);
    s.bind(7, f.limit).bind(8, f.offset);
    return collect(s, out);
  }));
  return out;
}

Result<Alert> AlertService::get(Id id) const {
  std::vector<Alert> v;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kCols + " FROM alerts WHERE id = ?");
    if (!q) return q.status();
    (*q)->bind(1, id);
    return collect(**q, v);
  }));
  if (v.empty()) return Status::NotFound("alert " + std::to_string(id) + " does not exist");
  return v.front();
}

Status AlertService::set_status(Id id, const Transition& t, const std::string& actor, const std::string& note) {
  std::lock_guard lk(mu_);
  auto a = get(id);
  if (!a) return a.status();
  if (a->status == "closed") return closed_error(id);
  if (t.only_from && a->status != t.only_from)
    return Status::FailedPrecondition("alert " + std::to_string(id) + " is not " + t.only_from);
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE alerts SET status = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    const TimestampMs now = clock_.now_ms();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, t.status).bind(2, now).bind(3, id).run());
    return record_event(db, id, now, t.event, actor, a->severity, note);
  }));
  VIGIL_RETURN_IF_ERROR(store_.audit(actor, t.action, "alert/" + std::to_string(id), note));
  notify(id, t.event, actor);
  return Status::Ok();
}

Status AlertService::acknowledge(Id id, const std::string& actor, const std::string& note) {
  return set_status(id, {"acknowledged", nullptr, "alert.acknowledge", "acknowledged"}, actor, note);
}

Status AlertService::mute(Id id, const std::string& actor, const std::string& note) {
  return set_status(id, {"muted", nullptr, "alert.mute", "muted"}, actor, note);
}

Status AlertService::unmute(Id id, const std::string& actor, const std::string& note) {
  return set_status(id, {"open", "muted", "alert.unmute", "unmuted"}, actor, note);
}

Status AlertService::close(Id id, const Closure& c) {
  if (!is_one_of(failure_modes(), c.failure_mode))
    return Status::InvalidArgument("unknown failure_mode '" + c.failure_mode + "'");
  if (!is_one_of(failure_causes(), c.failure_cause))
    return Status::InvalidArgument("unknown failure_cause '" + c.failure_cause + "'");
  if (!is_one_of(actions_taken(), c.action_taken))
    return Status::InvalidArgument("unknown action_taken '" + c.action_taken + "'");
  if (!is_one_of(feedback_values(), c.feedback))
    return Status::InvalidArgument("feedback must be confirmed, false_alarm or unsure");
  for (const auto& m : c.models)
    if (!is_one_of(model_names(), m))
      return Status::InvalidArgument("models may hold vibrationISO, vibrationML, temperatureML, not '" + m + "'");
  Alert a;
  CloseoutPlan plan;
  {
    std::lock_guard lk(mu_);
    auto cur = get(id);
    if (!cur) return cur.status();
    if (cur->status == "closed") return closed_error(id);
    a = *cur;
    auto p = plan_for(a, c.failure_mode, c.action_taken);
    if (!p) return p.status();
    plan = std::move(*p);
    if (plan.needs_confirmation && !c.confirm_relearn) {
      std::string which;
      for (const auto& m : plan.relearn)
        if (m.state == "warning" || m.state == "alarm")
          which += (which.empty() ? "" : ", ") + m.model + " (" + m.state + ")";
      return Status::FailedPrecondition(
          "re-learning after " + c.action_taken + " would reset " + which +
          ", which still sees a problem: it would learn the fault as normal; confirm with confirm_relearn: true");
    }
    const TimestampMs now = clock_.now_ms();
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "UPDATE alerts SET status = 'closed', updated_at = ?, closed_at = ?, failure_mode = ?, "
          "failure_cause = ?, action_taken = ?, closed_by = ?, notes = ? WHERE id = ?");
      if (!q) return q.status();
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, now).bind(2, now).bind(3, c.failure_mode).bind(4, c.failure_cause)
          .bind(5, c.action_taken).bind(6, c.actor).bind(7, encode_notes(c)).bind(8, id).run());
      return record_event(db, id, now, "closed", c.actor, a.severity,
                          c.failure_mode + "/" + c.failure_cause + "/" + c.action_taken +
                              (c.notes.empty() ? "" : ": " + c.notes));
    }));
    VIGIL_RETURN_IF_ERROR(store_.audit(c.actor, "alert.close", "alert/" + std::to_string(id),
                                       c.failure_mode + "/" + c.failure_cause + "/" + c.action_taken));
    notify(id, "closed", c.actor);
  }
  // Feedback into the models the closure concerns, and no others.
  if (a.position_id) {
    FeedbackSink sink = feedback_;
    if (!sink && pipeline_)  // create(store, clock, pipeline) without attach()
      sink = [p = pipeline_](Id pos, const std::string& m, analytics::Feedback k, TimestampMs since) {
        p->feedback(pos, m, k, since);
      };
    if (sink) {
      for (const auto& m : plan.absorb) sink(*a.position_id, m, analytics::Feedback::kAbsorb, a.opened_at);
      for (const auto& m : plan.relearn) sink(*a.position_id, m.model, analytics::Feedback::kRebaseline, a.opened_at);
    }
  }
  return Status::Ok();
}

Result<CloseoutPlan> AlertService::closeout_plan(Id id, const std::string& failure_mode,
                                                 const std::string& action_taken) const {
  if (!failure_mode.empty() && !is_one_of(failure_modes(), failure_mode))
    return Status::InvalidArgument("unknown failure_mode '" + failure_mode + "'");
  if (!is_one_of(actions_taken(), action_taken))
    return Status::InvalidArgument("unknown action_taken '" + action_taken + "'");
  auto a = get(id);
  if (!a) return a.status();
  return plan_for(*a, failure_mode, action_taken);
}

Result<CloseoutPlan> AlertService::plan_for(const Alert& a, const std::string& failure_mode,
                                            const std::string& action) const {
  CloseoutPlan plan;
  if (!a.position_id) return plan;  // nothing learned about no position
  std::vector<analytics::ModelHealth> models;
  if (model_states_) {
    auto m = model_states_(*a.position_id);
    if (!m) return m.status();
    models = std::move(*m);
  } else if (pipeline_) {
    auto h = pipeline_->position_health(*a.position_id);
    if (!h) return h.status();
    models = std::move(h->models);
  }
  auto state_of = [&](const std::string& model) -> std::string {
    for (const auto& h : models)
      if (h.model == model) return to_string(h.persistent);
    return "unknown";
  };
  if (failure_mode == "NO_ISSUE") {
    // The flagged behaviour is normal: the learned models that flagged it absorb it.
    std::vector<std::string> flagged = a.flagged_by.empty() ? std::vector<std::string>{a.model} : a.flagged_by;
    for (const auto& m : flagged)
      if (m != "vibrationISO" && (m == "vibrationML" || m == "temperatureML" || m.rfind("metric:", 0) == 0))
        plan.absorb.push_back(m);
    return plan;
  }
  std::vector<std::string> names;
  for (const auto& h : models) names.push_back(h.model);
  for (const auto& m : models_to_relearn(action, a.family(), names)) {
    RelearnModel r{m, state_of(m)};
    plan.needs_confirmation |= r.state == "warning" || r.state == "alarm";
    plan.relearn.push_back(std::move(r));
  }
  return plan;
}

Result<std::vector<AlertEvent>> AlertService::events_after(Id after, int limit) const {
  return read_events("SELECT id, alert_id, ts, event, actor, severity, note FROM alert_events WHERE id > ? "
                     "ORDER BY id LIMIT ?", after, limit);
}

Result<std::vector<AlertEvent>> AlertService::events_of(Id alert_id) const {
  return read_events("SELECT id, alert_id, ts, event, actor, severity, note FROM alert_events WHERE alert_id = ? "
                     "ORDER BY id LIMIT ?", alert_id, 1000);
}

Result<Id> AlertService::last_event_id() const {
  Id last = 0;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT coalesce(max(id), 0) FROM alert_events");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) last = (*q)->i64(0);
    (*q)->reset();
    return Status::Ok();
  }));
  return last;
}

Result<std::vector<AlertEvent>> AlertService::read_events(const char* sql, Id key, int limit) const {
  if (limit < 1 || limit > 10000) return Status::InvalidArgument("limit must be 1..10000");
  std::vector<AlertEvent> out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(sql);
    if (!q) return q.status();
    auto& s = **q;
    s.bind(1, key).bind(2, limit);
    for (;;) {
      auto row = s.step();
      if (!row) return row.status();
      if (!*row) break;
      out.push_back({s.i64(0), s.i64(1), s.i64(2), s.text(3), s.text(4), s.text(5),
                     s.text(6)});
    }
    s.reset();
    return Status::Ok();
  }));
  return out;
}

}  // namespace vigil::alerts
