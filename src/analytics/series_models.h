// SPDX-License-Identifier: Apache-2.0
//
// SeriesModel: the learned model of one non-vibration metric series
// (temperature, power, energy counters, counts, anything a sensor or a CSV
// gives as one number at a time). Pure logic, no I/O; the gateway
// (PositionAnalyzer::assess_metric) and `vigil backtest --csv` run it alike.
//
// What the learning period decides, from the data (names only break ties):
//   kind       level      a value around a (possibly cyclic) level
//              counter    a monotone total (energy_kwh, water_l, ...): its
//                         increments per typical interval are modelled, so a
//                         change of rate is what scores; a reset is skipped
//              binary     0/1 states (doors, motion): left to rules, never a
//                         learned alert
//              sensor health  battery_*, rssi_dbm: left to sensor health
//   cycle      none, daily, weekly or a cycle of its own (the peak of the
//              learning data's autocorrelation): a profile by time of day
//              (of week, of cycle), chosen only when the learning period
//              spans two cycles and the profile fitted on its first half
//              predicts its second half clearly better than the alternatives
//   adaptation the smoothing rate of the level (simple exponential
//              smoothing), chosen by its h-step-ahead error on the learning
//              data (h = 5 % of it): near 0 for noise around a level, also
//              autocorrelated noise, near 1 for a random walk; judged over h
//              steps rather than one, so that following every wiggle (which
//              would hide a level shift after one value) does not win
//   scale      the robust spread of the one-step errors, floored at the
//              series' resolution and 0.1 % of its level, widened by the
//              heaviness of its tail (the learning errors' 99th percentile
//              against a normal's) and by the Student-t predictive factor
//              of a small learning set.
//
// After learning, each value gets z = the normal-equivalent of its one-step
// error; the level, profile and scale keep adapting slowly, but only while
// the model is healthy and z is small, so an anomaly is not learned as
// normal. A change that lasts as long as the learning period did becomes the
// new normal (the alert it raised stays until closed). The state follows
// analytics::Evidence (no dwell: one extreme value may raise a warning, a
// moderate one must last). `score` is calibrated_score() of the surprise of
// the value given what is known, i.e. once a change has been flagged also
// given that changed level: a lasting change scores high when it starts, a
// new change on top of it scores high again, and the state says warning
// meanwhile.
//
// Thread-safety: not thread-safe; one owner at a time.
#pragma once

#include <deque>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analytics/detectors.h"
#include "analytics/position.h"
#include "vigil/clock.h"
#include "vigil/model.h"

namespace vigil::analytics {

enum class SeriesKind { kLearning, kLevel, kCounter, kBinary, kSensorHealth };
const char* to_string(SeriesKind k);  // "learning", "level", "counter", "binary", "sensor_health"

// kCycle: a period found in the learning data itself (the peak of its
// autocorrelation), such as a freezer's defrost timer.
enum class SeriesCycle { kNone, kDaily, kWeekly, kCycle };
const char* to_string(SeriesCycle c);  // "none", "daily", "weekly", "cycle"

// Metrics that no learned model alerts on, by name: battery and radio
// signal (sensor health), and the 0/1 states of the quantity catalog.
bool is_sensor_health_metric(const std::string& metric);
bool is_binary_metric(const std::string& metric);

class SeriesModel {
 public:
  SeriesModel(std::string name, std::string metric, const AnalyticsOptions& o);

  const std::string& name() const { return name_; }
  SeriesKind kind() const { return kind_; }
  SeriesCycle cycle() const { return cycle_; }
  bool learning() const { return kind_ == SeriesKind::kLearning; }
  // The level's smoothing rate per measurement, and the scale, once learned.
  double adaptation() const { return alpha_; }
  double sigma() const { return sigma_; }

  // Learns or scores one value; `running` false (a stopped machine's
  // temperature) → not_running, not scored, not learned.
  ModelState update(TimestampMs ts, double value, bool running);
  // NO_ISSUE feedback: the current behaviour is normal (re-anchors the level).
  void absorb_since(TimestampMs since);
  // Forget everything and learn again; the state reads initializing from `ts`.
  void rebaseline(TimestampMs ts = 0);
  ModelState last() const { return last_; }
  // The expected value and its normal range (± k σ) at the latest
  // measurement; none while learning, or for counters (whose values are
  // totals, not the modelled increments) and unscored kinds.
  std::optional<MetricBand> band(double k) const;

  // Learned state (docs/analytics.md, "Learned state"): the kind, cycle,
  // level, profile, scale, learning samples, evidence and last state; a
  // round trip is exact. from_state() changes nothing unless it returns Ok.
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  void fit();
  double profile_at(TimestampMs ts) const;
  std::size_t bin_of(TimestampMs ts) const;
  ModelState unscored(HealthState st, const std::string& why, TimestampMs ts);
  ModelState finish(ModelState s, TimestampMs ts);  // stamps `since`, keeps it as last_
  double tail_z(double t) const;  // normal-equivalent z of |error| / scale

  std::string name_, metric_;
  AnalyticsOptions opt_;
  Evidence evidence_;
  SeriesKind kind_ = SeriesKind::kLearning;
  SeriesCycle cycle_ = SeriesCycle::kNone;
  // learning
  std::vector<TimestampMs> learn_ts_;
  std::vector<double> learn_v_;
  // model
  double alpha_ = 0, level_ = 0, sigma_ = 1, tail_ = 1, floor_ = 0;
  double abs_dev_ = 0;  // median absolute one-step error, tracked while healthy
  double nu_ = 0;       // degrees of freedom of the error's tail (0: normal)
  double n_learn_ = 0;
  double dt_ref_s_ = 0;  // counters: increments are per this many seconds
  std::vector<double> profile_;
  double period_s_ = 0;
  // last value (counters) and the offset of a flagged change
  std::optional<std::pair<TimestampMs, double>> prev_;
  double offset_ = 0;
  double shadow_abs_ = 0;  // mean absolute error around the flagged change
  int flagged_ = 0;      // consecutive measurements in warning/alarm
  int accept_after_ = 0; // ... after which a lasting change becomes normal
  std::optional<double> expected_;
  ModelState last_;
};

}  // namespace vigil::analytics
