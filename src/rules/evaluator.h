// SPDX-License-Identifier: Apache-2.0
//
// Evaluator: one rule's pure evaluation, no Store and no clock — the live
// engine, preview and `vigil backtest --rules` feed it alike.
//
// State is kept per asset in the rule's scope, and within it per condition
// and position (a condition without a pinned position holds when it holds on
// any position of the asset). Each condition's raw truth changes only at a
// reading or at a deadline, and "holds" means raw truth for at least for_s:
//   above / below      value > v (< v); once true, clears only at <= v - h (>= v + h)
//   rate_above/_below  (x - x_prev) / dt · per_s between consecutive readings
//                      of one position, with the same hysteresis
//   state_held         a binary metric (>= 0.5 is 1) equal to v
//   no_data            no reading of the metric ("*": any) for for_s; the
//                      silence is counted from the asset's start time until
//                      its first reading
//   increase_above     the counter's increase in the calendar window (day,
//                      ISO week from Monday, month) of the site's time zone
//                      exceeds v. Windows are (start, end]: a reading at
//                      midnight closes the day that ended. The increase is
//                      counted from the counter at the window's start,
//                      interpolated between the readings around it, so a
//                      23-hour DST day counts 23 hours; a counter that goes
//                      back (reset) counts from zero.
// When all conditions hold at once the rule fires (one Fire) and stays quiet
// until they no longer all hold.
//
// Times are the readings' own (ms since the epoch); advance(now) processes
// deadlines (for_s elapsing, silences, windows closing) up to `now`, each at
// its own time, so a replay and the live engine produce the same fires.
//
// Thread-safety: none; the owner serialises calls.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rules/rules.h"

namespace vigil::rules {

// Where a reading comes from, as the evaluator needs it.
struct Target {
  Id site_id = 0;
  Id asset_id = 0;
  std::optional<Id> position_id;
  std::string_view timezone = "UTC";  // the site's IANA zone (unknown → UTC)
};

// At most this many conditions in a rule (validate_rule refuses more).
inline constexpr std::size_t kMaxConditions = 16;

class Evaluator {
 public:
  // REQUIRES: validate_rule(rule) is ok.
  explicit Evaluator(Rule rule);
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  const Rule& rule() const { return rule_; }
  // Whether a reading from there may feed the rule (scope and pins).
  bool in_scope(Id site_id, Id asset_id, std::optional<Id> position_id) const;
  // Whether any condition reads `metric` (no_data "*" reads every metric).
  bool reads(std::string_view metric) const;
  bool has_no_data() const;

  // Starts tracking an asset (no-op when tracked): no_data counts silence from `start`.
  void add_asset(const Target& t, TimestampMs start);
  // One reading. Processes the asset's deadlines up to ts first. Appends fires.
  void on_reading(const Target& t, std::string_view metric, TimestampMs ts, double value, std::vector<Fire>& out);
  // Processes every tracked asset's deadlines up to `now`.
  void advance(TimestampMs now, std::vector<Fire>& out);
  // The earliest pending deadline of any asset (replays step to it).
  std::optional<TimestampMs> next_deadline() const;

  // Persistence: the asset's state as JSON, and back. load_state refuses
  // (kInvalidArgument) state that does not fit the rule's conditions.
  // take_dirty() names the assets whose state changed in a way worth
  // writing: a condition's truth, a firing, a calendar window, a counter
  // reset, a silence clock that moved by a quarter of its for_s. (A rate's
  // previous reading and a counter's newest reading are not worth a write
  // per reading: restored stale, the next reading still gives the right
  // rate over the gap and the right increase.) With `resumed_at` (a
  // restart), the gap since the state was saved does not count as silence
  // for no_data; pending for_s durations keep running.
  std::vector<Id> take_dirty();
  nlohmann::json state_json(Id asset_id) const;
  Status load_state(const Target& t, const nlohmann::json& j, std::optional<TimestampMs> resumed_at = std::nullopt);
  std::size_t assets() const { return states_.size(); }

 private:
  struct Slot;
  struct AssetState;
  AssetState& state_for(const Target& t, TimestampMs start);
  void advance_asset(AssetState& s, TimestampMs now, std::vector<Fire>& out, bool evaluate_now);
  void mark_dirty(AssetState& s);
  void evaluate(AssetState& s, TimestampMs t, std::vector<Fire>& out);
  std::optional<TimestampMs> deadline(const AssetState& s) const;

  enum class Op : std::uint8_t { kAbove, kBelow, kRateAbove, kRateBelow, kNoData, kStateHeld, kIncreaseAbove };
  Rule rule_;
  std::vector<std::int64_t> for_ms_;
  std::vector<Op> ops_;  // per condition, parsed once
  std::unordered_map<Id, std::unique_ptr<AssetState>> states_;
  std::vector<Id> dirty_;
};

}  // namespace vigil::rules
