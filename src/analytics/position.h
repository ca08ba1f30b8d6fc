// SPDX-License-Identifier: Apache-2.0
//
// PositionAnalyzer: everything vigil decides about one machine position, as
// pure logic (no I/O, no threads). The gateway pipeline feeds it measurements
// from the store's ingest path; `vigil backtest` feeds it a dataset. Both run
// this same class, so an evaluation is an evaluation of production.
//
// Models per position (docs/domain.md):
//   vibrationISO   velocity RMS zone of the asset's machine class (no learning)
//   vibrationML    robust multivariate baseline over the vibration features
//   temperatureML  temperature_c as a generic series (SeriesModel)
//   metric:<name>  any other metric series: a SeriesModel, which picks the
//                  model that fits the kind of signal (level with a daily or
//                  weekly cycle, counter increments; 0/1 states and battery
//                  or RSSI are not scored)
// Each gives a pointwise and a persistent state: ISO by N of M, the learned
// models by sustained evidence (analytics::Evidence). Learning lasts
// `learning_hours` from the first running measurement (or `learn_count`
// measurements) and then until the learning window's statistics have settled
// (Baseline::convergence; the window slides, dropping its oldest samples), at
// most `max_learning_factor` times as long; ModelState::learning says why it
// still learns. The machine not running (vibration far below baseline, or
// below an absolute floor) is not scored and reads not_running.
// Scores (ModelState::score) are calibrated to 0..1 (calibrated_score);
// ModelState::z is the normal-equivalent score behind it.
//
// Learned state: LearnedModel and PositionAnalyzer serialise everything they
// learned with to_state() and read it back with from_state() (format in
// docs/analytics.md, "Learned state"); a round trip is exact, so a restored
// analyzer scores the next measurement exactly as the original would.
// Each class writes its own fields and delegates to its members (Baseline,
// Persistence); from_state() changes nothing unless it returns Ok, and a
// missing, unknown or ill-typed field is kInvalidArgument naming its path.
// Non-finite feature values never enter a baseline.
//
// Thread-safety: not thread-safe; one owner at a time (the pipeline keeps one
// per position under its own lock).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analytics/detectors.h"
#include "dsp/features.h"
#include "vigil/clock.h"
#include "vigil/model.h"

namespace vigil::analytics {

struct AnalyticsOptions {
  double learning_hours = 48;        // config analytics.learning_hours
  std::optional<int> learn_count;    // learn from the first N measurements instead
  int min_learning_samples = 12;     // never fit on fewer
  int persistence_n = 2;             // config analytics.persistence_n / _m (ISO zones)
  int persistence_m = 3;
  int evidence_min_dwell = 3;        // learned models: see EvidenceOptions
  int evidence_release = 3;
  double max_learning_factor = 2;    // learning may extend to this × the planned period
  double warning_score = 5.0;        // normal-equivalent score (≈ 1 in 3.5 million)
  double alarm_score = 10.0;
  double not_running_ratio = 0.1;    // vibration below 10 % (−20 dB) of baseline
  double not_running_floor_g = 1e-3;        // absolute floor, acceleration RMS
  double not_running_floor_mm_s = 0.02;     // absolute floor, velocity RMS
};

// What the analytics know about the machine of a position.
struct MachineInfo {
  std::string machine_class = "iso10816_class2";
  double shaft_rpm = 0;  // 0 = unknown
  std::optional<BearingGeometry> bearing;
  // Envelope band of the asset (vigil::check_envelope_band); both 0 = automatic.
  double envelope_lo_hz = 0, envelope_hi_hz = 0;
  friend bool operator==(const MachineInfo&, const MachineInfo&) = default;
};

// The envelope band a waveform sampled at fs is demodulated in: the
// machine's band with hi clamped to 0.45·fs, or {0, 0} (dsp's automatic
// band) when the machine sets none, or when the clamp leaves lo >= hi, in
// which case `fell_back` is true so the caller can say so (once).
struct EnvelopeBand {
  double lo_hz = 0, hi_hz = 0;
  bool fell_back = false;
};
inline constexpr double kMaxEnvelopeFraction = 0.45;  // of the sample rate
EnvelopeBand envelope_band_for(const MachineInfo& m, double sample_rate_hz);

struct ModelState {
  std::string model;  // kVibrationIso, kVibrationMl, kTemperatureMl, "metric:<name>"
  HealthState pointwise = HealthState::kUnknown;
  HealthState persistent = HealthState::kUnknown;
  std::optional<double> score;  // calibrated 0..1 (learned models); velocity mm/s (ISO)
  std::string explanation;
  std::optional<double> z;      // normal-equivalent score of a learned model
  std::string learning;         // while initializing: progress and what it waits for
  // While a learned model learns by time (analytics.learning_hours): hours of
  // running data learned so far and the planned period; nullopt otherwise
  // (learning by count, ISO, learned). Kept in the learned state when set.
  std::optional<double> learned_hours, learning_hours;
  // When pointwise or persistent last changed: the time of the measurement
  // (or of the re-learning) that changed it; 0 = never.
  TimestampMs since = 0;
};

// A model's last state in learned-state form (docs/analytics.md, "Learned
// state"), and back; from_state names the field that is wrong.
nlohmann::json model_state_json(const ModelState& m);
Result<ModelState> model_state_from(const nlohmann::json& j);

struct Assessment {
  TimestampMs ts = 0;
  bool running = true;
  std::vector<dsp::Feature> features;
  std::optional<Zone> zone;
  std::vector<ModelState> models;  // the models this measurement updated
  HealthState state = HealthState::kUnknown;  // position roll-up of `models`
  std::optional<double> score;     // the ML score (vibrationML or the metric's)
  std::string explanation;
};

// The learned normal range of one metric (a baseline band for charts).
struct MetricBand {
  std::string metric;  // feature or series metric name (velocity_rms_mm_s, temperature_c, ...)
  std::string model;   // the model that learned it (vibrationML, temperatureML, metric:<name>)
  double median = 0, lo = 0, hi = 0;  // raw units
};

// The roll-up of model states: not_running if not running, the worst of
// warning/alarm if any, initializing while a model learns, else healthy.
HealthState roll_up(const std::vector<ModelState>& models, bool running);

// One learned model over a fixed feature list, with its persistence window,
// a memory of recent measurements (for feedback) and its learning period.
class LearnedModel {
 public:
  LearnedModel(std::string name, std::vector<FeatureSpec> specs, const AnalyticsOptions& o);
  const std::string& name() const { return name_; }
  const Baseline& baseline() const { return baseline_; }
  bool learning() const { return !baseline_.fitted(); }
  // Learns or scores one measurement; `running` false → not_running.
  // A non-finite value is not learned (the measurement does not count
  // towards learning) and is scored as if at its baseline median.
  ModelState update(TimestampMs ts, const std::vector<double>& raw, bool running);
  // NO_ISSUE feedback: the measurements since `since` become normal. Three
  // or more of them found a new operating regime (its own baseline, scored
  // next to the learned one; the newest kMaxRegimes are kept), fewer join
  // the learned baseline.
  void absorb_since(TimestampMs since);
  // Maintenance feedback or a user's request: forget the baseline and learn
  // again from the next running measurement; the state reads initializing
  // from `ts`.
  void rebaseline(TimestampMs ts = 0);
  ModelState last() const { return last_; }
  // Measurements learned so far (while learning) and when learning began.
  int learned() const { return learned_; }
  std::optional<TimestampMs> learn_start() const { return learn_start_; }

  // Learned state: name (checked), baseline, persistence window, learning
  // progress, the recent measurements kept for feedback, and the last state.
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  ModelState finish(ModelState s, TimestampMs ts);  // stamps `since`, keeps it as last_
  std::string name_;
  AnalyticsOptions opt_;
  Baseline baseline_;
  Evidence evidence_;
  std::optional<TimestampMs> learn_start_;
  int learned_ = 0;
  int window_ = 0;  // learning window size once the planned period is reached (0 before)
  std::string fit_note_;  // how learning ended, when it ended at the limit
  // Regimes a user declared normal (NO_ISSUE), oldest first. A measurement is
  // scored against the baseline or regime it fits best; one that fits a
  // regime best and is normal there joins it until it holds window_ rows.
  static constexpr std::size_t kMaxRegimes = 3;
  std::vector<Baseline> regimes_;
  // The newest running measurements (raw, finite), for NO_ISSUE feedback.
  static constexpr std::size_t kRecent = 512;
  std::deque<std::pair<TimestampMs, std::vector<double>>> recent_;
  ModelState last_;
};

class SeriesModel;  // analytics/series_models.h

class PositionAnalyzer {
 public:
  PositionAnalyzer(MachineInfo machine, AnalyticsOptions options);
  ~PositionAnalyzer();
  PositionAnalyzer(PositionAnalyzer&&) noexcept;
  PositionAnalyzer& operator=(PositionAnalyzer&&) noexcept;

  // Feature options for a waveform of this position at sample rate fs
  // (velocity band, harmonics, defect frequencies, envelope_band_for). A
  // machine whose speed, bearing or envelope band changes gives different
  // features: the pipeline builds a new analyzer, which learns again.
  dsp::FeatureOptions feature_options(double sample_rate_hz) const;
  const MachineInfo& machine() const { return machine_; }
  // Re-reads the limits of the machine's class from ZoneTable::global(),
  // after a class was added, changed or removed; the ISO persistence window
  // is kept. An unknown class scores vibrationISO as unknown.
  void reload_zone_limits();
  // The asset moved to another machine class: only the ISO zones change, so
  // the learned baselines stay (they describe the machine, not its class).
  void set_machine_class(const std::string& machine_class) {
    machine_.machine_class = machine_class;
    reload_zone_limits();
  }

  // A vibration measurement: features of a waveform (dsp::compute_features)
  // or of a sensor frame (at least velocity_rms_mm_s or accel_rms_g).
  Assessment assess_vibration(TimestampMs ts, const std::vector<dsp::Feature>& features);
  // One value of any other metric (temperature_c → temperatureML).
  Assessment assess_metric(TimestampMs ts, const std::string& metric, double value);

  // Feedback from a closed alert (model = kVibrationMl, kTemperatureMl,
  // "metric:<name>", or "" for all learned models of the position).
  void absorb_since(const std::string& model, TimestampMs since);
  // Forgets the learned baselines (model "" or kVibrationIso: all) and
  // learns again; the models read initializing from `ts`.
  void rebaseline(const std::string& model, TimestampMs ts = 0);

  // Latest state of every model that has seen data.
  std::vector<ModelState> states() const;
  // Normal range (median ± k robust σ) of every feature of every fitted
  // learned model; empty while learning.
  std::vector<MetricBand> baseline_bands(double k) const;

  // Learned state of the whole position: the machine it was learned on, the
  // ISO model's window and state, the vibration model with its feature
  // names, and every metric model. from_state() must be called on an
  // analyzer built for the position's current machine and options: a
  // state learned on another speed, bearing or envelope band is
  // kFailedPrecondition ("machine: …", the position learns again); another
  // machine class only moves the ISO zones, as set_machine_class does.
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  // The model a metric series is scored by (temperature_c → temperatureML,
  // else metric:<name>); from_state builds saved models through it too.
  static std::string metric_model_name(const std::string& metric);
  std::unique_ptr<SeriesModel> make_metric_model(const std::string& model_name) const;
  MachineInfo machine_;
  AnalyticsOptions opt_;
  std::optional<ZoneLimits> zone_limits_;
  Persistence iso_persistence_;
  ModelState iso_last_;
  std::unique_ptr<LearnedModel> vib_;
  std::vector<std::string> vib_names_;
  std::map<std::string, std::unique_ptr<SeriesModel>> metric_models_;
  bool running_ = true;
};

}  // namespace vigil::analytics
