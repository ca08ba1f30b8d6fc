// SPDX-License-Identifier: Apache-2.0
//
// Rules: user-written threshold rules that raise alerts (docs/notifications.md,
// "Rules"). A rule is JSON; rule_from_json() validates it (every refusal is
// kInvalidArgument whose message starts with the member's path, e.g.
// "conditions[0].for_s: must be >= 0", so the REST layer can name the field).
//
// Evaluation (rules/evaluator.h, shared by the live engine, preview and
// `vigil backtest --rules`): once per asset in the rule's scope; all
// conditions (AND) must hold on that asset at once. When they come to hold
// the rule fires once; it re-arms only after they stop holding (no alert
// storm). A firing raises alerts::ExternalAlert{source "rule:<id>", kind
// "rule", model "rule", title "<rule name> on <asset name>"} through the
// sink; the alert service dedups a still-open alert by (source, kind, title).
//
// RulesEngine owns the tables `rules` and `rule_state` (its own migrations,
// RulesEngine::migrate). Pending state — "condition true since T", a
// counter's window — is kept in `rule_state`, written from tick() at most
// every few seconds (only what changed, one transaction), and restored by
// create(), so a restart does not reset a "for 10 minutes".
//
// Cost: rules are indexed by metric and scope, so a reading touches only the
// rules on its metric whose scope contains its position (constant work per
// reading, whatever the number of other rules).
//
// Thread-safety: every method may be called from any thread. One internal
// mutex guards the rules, the catalog and the evaluation state; the store is
// read and written under it, and the sink is called after it is released.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerts/alerts.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/model.h"
#include "vigil/status.h"
#include "vigil/store.h"

namespace vigil::rules {

struct Condition {
  std::string metric;  // a metric name; "*" (any metric) only for no_data
  std::string op;      // above|below|rate_above|rate_below|no_data|state_held|increase_above
  double value = 0;
  double hysteresis = 0;  // above/below/rate_*: clears only beyond value ∓ hysteresis
  double for_s = 0;       // must hold this long (no_data: the silence that counts)
  double per_s = 60;      // rate_*: change per this many seconds
  std::string window;     // increase_above: day | week | month (site's time zone)
  std::optional<Id> position_id;  // pinned position; else any position of the asset
};

// At most one set; none = every position.
struct Scope {
  std::optional<Id> position_id, asset_id, site_id;
};

struct Rule {
  Id id = 0;
  std::string name;
  bool enabled = true;
  std::string severity = "warning";  // warning | alarm
  Scope scope;
  std::vector<Condition> conditions;
  std::string message;
  TimestampMs created_at = 0, updated_at = 0;
};

// Validation error: Status kInvalidArgument whose message starts with the
// field path, e.g. "conditions[0].for_s: must be >= 0". `known_metric` (may
// be an empty function = accept any well-formed name) says whether a metric
// name exists. Members "id", "created_at" and "updated_at" are accepted and
// ignored (to_json's output reads back); any other unknown member is refused.
Result<Rule> rule_from_json(const nlohmann::json& j, const std::function<bool(const std::string&)>& known_metric = {});
// The same checks on a Rule built in code (RulesEngine::add/update/preview run them).
Status validate_rule(const Rule& r, const std::function<bool(const std::string&)>& known_metric = {});
nlohmann::json to_json(const Rule& r);

// One firing: when, where, and in words which conditions held since when.
struct Fire {
  TimestampMs ts = 0;
  std::optional<Id> asset_id, position_id;
  std::string explanation;
};

class RulesEngine {
 public:
  using AlertSink = std::function<Status(const alerts::ExternalAlert&)>;
  // Migrates, loads the rules and their persisted state. Store and clock
  // must outlive the engine.
  static Result<std::unique_ptr<RulesEngine>> create(Store& store, const Clock& clock, AlertSink sink);
  // The module's tables `rules` and `rule_state` (idempotent).
  static Status migrate(Store& store);
  ~RulesEngine();
  RulesEngine(const RulesEngine&) = delete;
  RulesEngine& operator=(const RulesEngine&) = delete;

  Result<std::vector<Rule>> list() const;  // by id
  Result<Rule> get(Id id) const;           // kNotFound
  // Validates (kInvalidArgument naming the field; also a scope or a pinned
  // position that does not exist), stores and audits. Returns the new id.
  Result<Id> add(const Rule& r, const std::string& actor);
  // Replaces rule `id` (kNotFound); its pending state starts afresh.
  Status update(Id id, const Rule& r, const std::string& actor);
  Status remove(Id id, const std::string& actor);  // kNotFound

  // Ingest's catalog (which covers the decoder's metric names) or a metric
  // of a stored series.
  bool known_metric(const std::string& m) const;

  // Ingest observer (vigil/ingest.h): constant work per reading.
  void on_readings(std::span<const AcceptedReading> r);
  // Call every ~2 s: no_data, for_s elapsing without readings, calendar
  // windows closing; writes changed pending state (at most every 5 s).
  void tick();
  // After sites, assets or positions changed (re-read at the next tick or reading).
  void invalidate_catalog();
  // Replays stored history (Store::range) of the series the rule reads in
  // [from, to] through a fresh evaluator: "would have fired 3 times".
  // kInvalidArgument for an invalid rule or range; kResourceExhausted when
  // more than 5,000,000 points would be replayed.
  Result<std::vector<Fire>> preview(const Rule& r, TimestampMs from, TimestampMs to) const;

 private:
  struct Impl;
  explicit RulesEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::rules
