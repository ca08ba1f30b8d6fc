// SPDX-License-Identifier: Apache-2.0
//
// AlertService: the alert lifecycle on top of the analytics' state changes,
// persisted in the `alerts` table (and every action in `audit_log`).
//
//   open          a model's persistent state of a position becomes warning or
//                 alarm and that (position, model) has no alert that is not
//                 closed → a new alert (status "open", severity = the state),
//                 carrying the explanation and the causing measurement.
//   escalate      warning → alarm on a not-closed alert: severity "alarm",
//                 explanation and measurement updated (status kept).
//   acknowledge   open/muted → "acknowledged" (the asset is in maintenance).
//   mute          → "muted" (no escalation notices; still tracked).
//   close         → "closed" with Monitron close-out codes (codes.h). The
//                 closure feeds back into the analytics: failure mode
//                 NO_ISSUE absorbs the flagged behaviour as normal; a
//                 maintenance action (ADJUST, CLEAN, LUBRICATE, MODIFY,
//                 OVERHAUL, REPLACE) re-baselines the position's models.
//
// A machine returning to healthy does not close an alert: a person does.
//
// Thread-safety: every method may be called from any thread (one internal
// mutex serialises lifecycle changes; the Store is thread-safe).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alerts/codes.h"
#include "analytics/pipeline.h"
#include "vigil/clock.h"
#include "vigil/store.h"

namespace vigil::alerts {

struct Alert {
  Id id = 0;
  std::optional<Id> asset_id;
  std::optional<Id> position_id;
  std::string model;     // vibrationISO | vibrationML | temperatureML | metric:<name>
  std::string severity;  // "warning" | "alarm"
  std::string status;    // "open" | "acknowledged" | "muted" | "closed"
  TimestampMs opened_at = 0, updated_at = 0;
  std::optional<TimestampMs> closed_at;
  std::string title;
  std::string explanation;  // which features moved, by how much
  std::optional<Id> measurement_id;
  std::string failure_mode, failure_cause, action_taken, closed_by, notes;  // set when closed
};

struct AlertFilter {
  std::optional<std::string> status;  // exact status; "active" = any but closed
  std::optional<Id> asset_id;
  std::optional<Id> position_id;
  std::optional<std::string> model;
  std::optional<TimestampMs> from, to;  // opened_at range (inclusive)
  int limit = 100;                      // 1..10000
  int offset = 0;
};

struct Closure {
  std::string failure_mode;   // failure_modes()
  std::string failure_cause;  // failure_causes()
  std::string action_taken;   // actions_taken()
  std::string actor;          // user name, recorded in closed_by and the audit log
  std::string notes;
};

class AlertService {
 public:
  // `pipeline` (may be null) receives closure feedback. Store, clock and
  // pipeline must outlive the service.
  AlertService(Store& store, const Clock& clock, analytics::Pipeline* pipeline = nullptr);

  // Subscribes to the pipeline's state changes. Call before data flows.
  void attach(analytics::Pipeline& pipeline);

  // Applies one state change (open / escalate). Returns the affected alert
  // id, or nullopt when the change needs no alert.
  Result<std::optional<Id>> on_state_change(const analytics::StateChange& c);

  // ---- REST API ----
  Result<std::vector<Alert>> list(const AlertFilter& f) const;
  Result<Alert> get(Id id) const;  // kNotFound
  // kNotFound; kInvalidArgument when closed.
  Status acknowledge(Id id, const std::string& actor);
  // kNotFound; kInvalidArgument when closed.
  Status mute(Id id, const std::string& actor);
  // kNotFound; kInvalidArgument for an unknown code or an already closed alert.
  Status close(Id id, const Closure& c);

 private:
  Result<std::optional<Alert>> active_for(Id position_id, const std::string& model) const;
  Status set_status(Id id, const std::string& status, const std::string& actor, const std::string& action);

  Store& store_;
  const Clock& clock_;
  analytics::Pipeline* pipeline_;
  std::mutex mu_;
};

}  // namespace vigil::alerts
