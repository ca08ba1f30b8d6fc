// SPDX-License-Identifier: Apache-2.0
//
// AlertService: the alert lifecycle, and the only writer of the `alerts`
// table, which this module creates in its own migrations (AlertService::
// migrate). Every other module changes alerts through the methods below;
// every change is also written to `audit_log` and handed to the event
// observers (on_event), which is how alerts reach the live stream (SSE) and
// the MQTT uplink.
//
//   open          a model's persistent state of a position becomes warning or
//                 alarm and that (position, family) has no alert that is not
//                 closed → a new alert (status "open", severity = the state),
//                 carrying the explanation, the causing measurement, a title
//                 in plant words (plant_title) and the model's value
//                 (opening_value = current_value). One abnormality per
//                 position and family (alert_family: vibrationISO and
//                 vibrationML are one "vibration" family).
//   escalate      warning → alarm on a not-closed alert of the family:
//                 severity "alarm", explanation, title, measurement and
//                 current value updated (status kept), event "escalated".
//   update        any other warning/alarm state change of the family on a
//                 not-closed alert: explanation, title, measurement, time,
//                 the models that flagged it (flagged_by) and, from the model
//                 that opened it, current_value; observers get "updated"
//                 (not journaled). Severity never goes down.
//   raise         a condition found outside the analytics (a silent sensor,
//                 a flat battery, spoofed frames: ExternalAlert) opens an
//                 alert, or updates the not-closed one of the same condition.
//   acknowledge   open/muted → "acknowledged" (the asset is in maintenance).
//   mute          → "muted" (no escalation notices; still tracked).
//   unmute        muted → "open".
//   close         → "closed" with Monitron close-out codes (codes.h). The
//                 closure feeds back into the analytics: failure mode
//                 NO_ISSUE absorbs the flagged behaviour as normal (the
//                 learned models in flagged_by); a maintenance action
//                 re-learns only the models it affects (models_to_relearn:
//                 LUBRICATE on a temperature alert → temperatureML alone,
//                 REPLACE → every learned model of the position). A model to
//                 re-learn that is itself in warning or alarm is refused
//                 (kFailedPrecondition naming it and its state) unless the
//                 closure says confirm_relearn: re-learning it would learn
//                 the fault as normal.
//
// A machine returning to healthy does not close an alert: a person does.
//
// Errors of the lifecycle methods: kNotFound (no such alert),
// kFailedPrecondition (the alert is closed), kInvalidArgument (an unknown
// close-out code, feedback or model; a malformed ExternalAlert).
//
// Thread-safety: every method may be called from any thread (one internal
// mutex serialises lifecycle changes; the Store is thread-safe), except
// attach() and on_event(), which must be called before data flows.
#pragma once

#include <functional>
#include <memory>
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
  std::string model;     // vibrationISO | vibrationML | temperatureML | metric:<name> | sensorHealth
  std::string severity;  // "warning" | "alarm"
  std::string status;    // "open" | "acknowledged" | "muted" | "closed"
  TimestampMs opened_at = 0, updated_at = 0;
  std::optional<TimestampMs> closed_at;
  std::string title;
  std::string explanation;  // which features moved, by how much
  std::optional<Id> measurement_id;
  // Who raised it: "analytics", or an ExternalAlert's source ("sensor:<address>");
  // with `kind`, the condition an alert stands for. Empty on rows older vigils wrote.
  std::string source, kind;
  // Set when closed. `notes` is the closer's free text; `feedback`
  // (confirmed | false_alarm | unsure) and `models` (which models flagged it
  // rightly) are empty for closures older vigils recorded without them.
  std::string failure_mode, failure_cause, action_taken, closed_by, notes, feedback;
  std::vector<std::string> models;
  // Analytics alerts (empty / nullopt on others and on rows older vigils
  // wrote): the models of the family that flagged it, the opening model
  // first; the opening model's value when it opened and now, of kind
  // `value_kind`: "velocity_mm_s" (vibrationISO: velocity RMS) or
  // "anomaly_score" (learned models: normal-equivalent score; warning 5,
  // alarm 10 by default).
  std::vector<std::string> flagged_by;
  std::optional<double> opening_value, current_value;
  std::string value_kind;
  std::string family() const { return alert_family(model); }
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
  std::string notes;          // free text
  std::string feedback = "confirmed";  // feedback_values(): was the alert right?
  std::vector<std::string> models;     // model_names(): which models flagged it rightly
  // Re-learn a model that is itself in warning or alarm anyway (see close()).
  bool confirm_relearn = false;
};

// What closing an alert with an action would do to the analytics.
struct RelearnModel {
  std::string model;  // vibrationML, temperatureML, metric:<name>
  std::string state;  // its persistent state now ("unknown" without analytics)
};
struct CloseoutPlan {
  std::vector<RelearnModel> relearn;  // models_to_relearn, with their states
  std::vector<std::string> absorb;    // NO_ISSUE: learned models absorbing the flagged behaviour
  // Some model in `relearn` is in warning or alarm: close() needs confirm_relearn.
  bool needs_confirmation = false;
};

// The model column of alerts about a sensor's own health (BLE: silent,
// battery low, spoofed frames), as the dashboard and the uplink show it.
inline constexpr const char* kSensorHealthModel = "sensorHealth";

// A condition found outside the analytics, in terms every module can use
// (the alerts module comes before ble in the module order, so it cannot see
// ble's types; the gateway converts).
struct ExternalAlert {
  std::optional<Id> asset_id, position_id;
  std::string source;    // who found it: "sensor:<address>" (required)
  std::string kind;      // the condition, source-defined: "silent", "battery_low", "spoofing" (required)
  std::string model;     // the alert's model column; kSensorHealthModel for sensors (required)
  std::string severity;  // "warning" | "alarm"
  std::string title;     // stable per condition: (source, kind, title) identifies it (required)
  std::string explanation;
};

// One lifecycle change of an alert, as journaled in `alert_events` in the
// transaction that made it: "opened", "escalated", "acknowledged", "muted",
// "unmuted", "closed" ("updated" — a raised condition seen again — is not
// journaled). `note` is the explanation (opened/escalated), the actor's note,
// or the close-out codes.
struct AlertEvent {
  Id id = 0;
  Id alert_id = 0;
  TimestampMs ts = 0;
  std::string event, actor, severity, note;
};

// What observers are told after a change is committed: "opened",
// "escalated" (warning → alarm), "updated" (a raised condition seen again:
// explanation and time), "acknowledged", "muted", "unmuted", "closed".
// `actor` is "analytics", the ExternalAlert's source, or the acting user.
using AlertObserver = std::function<void(const Alert& alert, const std::string& event, const std::string& actor)>;

class AlertService {
 public:
  // Applies the module's migrations (AlertService::migrate) and returns the
  // service. `pipeline` (may be null) receives closure feedback; attach()
  // sets it too. Store, clock and pipeline must outlive the service.
  static Result<std::unique_ptr<AlertService>> create(Store& store, const Clock& clock,
                                                      analytics::Pipeline* pipeline = nullptr);
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // The alerts module's own table (idempotent). v1 is the `alerts` table as
  // the store's core schema created it before it moved here (IF NOT EXISTS:
  // databases made by older vigils already have it); v2 adds source/kind.
  static Status migrate(Store& store);

  // Subscribes to the pipeline's state changes and sends closure feedback to
  // it (and reads its model states for close-out plans). Call before data flows.
  void attach(analytics::Pipeline& pipeline);
  // Where close-out plans read the models of a position and their states.
  // Default (and after attach): the pipeline's position_health; without a
  // pipeline, none. Tests set their own. Call before data flows.
  using ModelStates = std::function<Result<std::vector<analytics::ModelHealth>>(Id position_id)>;
  void set_model_states(ModelStates fn) { model_states_ = std::move(fn); }
  // Where closure feedback goes (position, model, absorb or re-learn, since).
  // Default (and after attach): Pipeline::feedback; without a pipeline, nowhere.
  using FeedbackSink = std::function<void(Id position_id, const std::string& model, analytics::Feedback kind,
                                          TimestampMs since)>;
  void set_feedback(FeedbackSink fn) { feedback_ = std::move(fn); }
  // Observers run on the thread that made the change, in commit order, while
  // the service's lock is held: keep them short, and do not call this
  // service's lifecycle methods from one (reads — get, list — are fine).
  void on_event(AlertObserver fn);

  // Applies one state change (open / escalate). Returns the affected alert
  // id, or nullopt when the change needs no alert.
  Result<std::optional<Id>> on_state_change(const analytics::StateChange& c);

  // Opens an alert for an outside condition, or updates the not-closed alert
  // of the same (source, kind, title): explanation, time, asset/position when
  // now known, severity when it rose (then the event is "escalated"). Returns
  // the alert's id.
  Result<Id> raise(const ExternalAlert& e);

  // ---- REST API, uplink commands ----
  Result<std::vector<Alert>> list(const AlertFilter& f) const;
  Result<Alert> get(Id id) const;  // kNotFound
  // `note` (may be empty) goes to the audit log with the action.
  Status acknowledge(Id id, const std::string& actor, const std::string& note = "");
  Status mute(Id id, const std::string& actor, const std::string& note = "");
  // Only a muted alert (→ "open"); kFailedPrecondition for any other.
  Status unmute(Id id, const std::string& actor, const std::string& note = "");
  Status close(Id id, const Closure& c);
  // What close() with this failure mode and action would re-learn or absorb
  // (the close-out form's preview). kNotFound; kInvalidArgument for an
  // unknown action or failure mode ("" = not chosen yet: no absorb).
  Result<CloseoutPlan> closeout_plan(Id id, const std::string& failure_mode, const std::string& action_taken) const;

  // ---- the journal (notifications, the alert's timeline) ----
  // Events with id > after, oldest first, at most `limit` (1..10000).
  Result<std::vector<AlertEvent>> events_after(Id after, int limit) const;
  // One alert's events, oldest first (at most 1000).
  Result<std::vector<AlertEvent>> events_of(Id alert_id) const;
  // The newest event's id (0 for none): where a new consumer starts.
  Result<Id> last_event_id() const;

 private:
  Result<std::vector<AlertEvent>> read_events(const char* sql, Id key, int limit) const;
  AlertService(Store& store, const Clock& clock, analytics::Pipeline* pipeline);
  Result<std::optional<Alert>> active_for(Id position_id, const std::string& family) const;
  Result<CloseoutPlan> plan_for(const Alert& a, const std::string& failure_mode, const std::string& action) const;
  std::string title_for(const analytics::StateChange& c) const;
  Result<std::optional<Alert>> active_condition(const ExternalAlert& e) const;
  struct Transition {
    const char* status;     // the new status
    const char* only_from;  // the one status it may come from; null = any but closed
    const char* action;     // audit action
    const char* event;      // observer event
  };
  Status set_status(Id id, const Transition& t, const std::string& actor, const std::string& note);
  void notify(Id id, const std::string& event, const std::string& actor);  // mu_ held

  Store& store_;
  const Clock& clock_;
  analytics::Pipeline* pipeline_;
  ModelStates model_states_;
  FeedbackSink feedback_;
  std::vector<AlertObserver> observers_;
  std::mutex mu_;
};

}  // namespace vigil::alerts
