// SPDX-License-Identifier: Apache-2.0
#include "alerts/alerts.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::alerts {
namespace {

constexpr const char* kCols =
    "id, asset_id, position_id, model, severity, status, opened_at, updated_at, closed_at, title, "
    "explanation, measurement_id, failure_mode, failure_cause, action_taken, closed_by, notes";

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
  a.notes = q.text(16);
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

}  // namespace

AlertService::AlertService(Store& store, const Clock& clock, analytics::Pipeline* pipeline)
    : store_(store), clock_(clock), pipeline_(pipeline) {}

void AlertService::attach(analytics::Pipeline& p) {
  pipeline_ = &p;
  p.on_state_change([this](const analytics::StateChange& c) {
    auto r = on_state_change(c);
    if (!r) spdlog::warn("alerts: position {} {}: {}", c.position_id, c.model, r.status().ToString());
  });
}

Result<std::optional<Alert>> AlertService::active_for(Id position_id, const std::string& model) const {
  std::vector<Alert> v;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kCols +
                        " FROM alerts WHERE position_id = ? AND model = ? AND status != 'closed' "
                        "ORDER BY id DESC LIMIT 1");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, model);
    return collect(**q, v);
  }));
  if (v.empty()) return std::optional<Alert>();
  return std::optional<Alert>(v.front());
}

Result<std::optional<Id>> AlertService::on_state_change(const analytics::StateChange& c) {
  const bool bad = c.persistent == HealthState::kWarning || c.persistent == HealthState::kAlarm;
  if (!bad) return std::optional<Id>();
  std::lock_guard lk(mu_);
  auto cur = active_for(c.position_id, c.model);
  if (!cur) return cur.status();
  const std::string sev = to_string(c.persistent);
  if (!*cur) {
    std::string title = std::string(sev == "alarm" ? "Alarm" : "Warning") + ": " + c.model + " on position " +
                        std::to_string(c.position_id);
    Id id = 0;
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, "
          "explanation, measurement_id) VALUES(?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)");
      if (!q) return q.status();
      std::optional<Id> asset = c.asset_id ? std::optional<Id>(c.asset_id) : std::nullopt;
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, asset).bind(2, c.position_id).bind(3, c.model).bind(4, sev)
                                .bind(5, c.ts).bind(6, c.ts).bind(7, title).bind(8, c.explanation)
                                .bind(9, c.measurement_id).run());
      id = db.last_insert_id();
      return Status::Ok();
    }));
    VIGIL_RETURN_IF_ERROR(store_.audit("analytics", "alert.open", "alert/" + std::to_string(id), title));
    return std::optional<Id>(id);
  }
  const Alert& a = **cur;
  if (a.severity == "warning" && sev == "alarm") {
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "UPDATE alerts SET severity = 'alarm', updated_at = ?, explanation = ?, measurement_id = ?, "
          "title = 'Alarm' || substr(title, 8) WHERE id = ?");
      if (!q) return q.status();
      return (*q)->bind(1, c.ts).bind(2, c.explanation).bind(3, c.measurement_id).bind(4, a.id).run();
    }));
    VIGIL_RETURN_IF_ERROR(
        store_.audit("analytics", "alert.escalate", "alert/" + std::to_string(a.id), c.explanation));
    return std::optional<Id>(a.id);
  }
  return std::optional<Id>();
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

Status AlertService::set_status(Id id, const std::string& status, const std::string& actor,
                                const std::string& action) {
  std::lock_guard lk(mu_);
  auto a = get(id);
  if (!a) return a.status();
  if (a->status == "closed") return Status::InvalidArgument("alert " + std::to_string(id) + " is closed");
  VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE alerts SET status = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    return (*q)->bind(1, status).bind(2, clock_.now_ms()).bind(3, id).run();
  }));
  return store_.audit(actor, action, "alert/" + std::to_string(id), "");
}

Status AlertService::acknowledge(Id id, const std::string& actor) {
  return set_status(id, "acknowledged", actor, "alert.acknowledge");
}

Status AlertService::mute(Id id, const std::string& actor) { return set_status(id, "muted", actor, "alert.mute"); }

Status AlertService::close(Id id, const Closure& c) {
  if (!is_one_of(failure_modes(), c.failure_mode))
    return Status::InvalidArgument("unknown failure mode '" + c.failure_mode + "'");
  if (!is_one_of(failure_causes(), c.failure_cause))
    return Status::InvalidArgument("unknown failure cause '" + c.failure_cause + "'");
  if (!is_one_of(actions_taken(), c.action_taken))
    return Status::InvalidArgument("unknown action taken '" + c.action_taken + "'");
  Alert a;
  {
    std::lock_guard lk(mu_);
    auto cur = get(id);
    if (!cur) return cur.status();
    if (cur->status == "closed") return Status::InvalidArgument("alert " + std::to_string(id) + " is already closed");
    a = *cur;
    const TimestampMs now = clock_.now_ms();
    VIGIL_RETURN_IF_ERROR(store_.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "UPDATE alerts SET status = 'closed', updated_at = ?, closed_at = ?, failure_mode = ?, "
          "failure_cause = ?, action_taken = ?, closed_by = ?, notes = ? WHERE id = ?");
      if (!q) return q.status();
      return (*q)->bind(1, now).bind(2, now).bind(3, c.failure_mode).bind(4, c.failure_cause)
          .bind(5, c.action_taken).bind(6, c.actor).bind(7, c.notes).bind(8, id).run();
    }));
    VIGIL_RETURN_IF_ERROR(store_.audit(c.actor, "alert.close", "alert/" + std::to_string(id),
                                       c.failure_mode + "/" + c.failure_cause + "/" + c.action_taken));
  }
  // Feedback into the models of the position.
  if (pipeline_ && a.position_id) {
    if (c.failure_mode == "NO_ISSUE")
      pipeline_->feedback(*a.position_id, a.model, analytics::Feedback::kAbsorb, a.opened_at);
    else if (is_maintenance_action(c.action_taken))
      pipeline_->feedback(*a.position_id, "", analytics::Feedback::kRebaseline, a.opened_at);
  }
  return Status::Ok();
}

}  // namespace vigil::alerts
