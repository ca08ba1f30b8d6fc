// SPDX-License-Identifier: Apache-2.0
//
// The scoring models of one machine position, free of I/O so the gateway and
// `vigil backtest` run exactly the same code:
//
//   ZoneTable        ISO 10816-1 / 20816-3 velocity zones per machine class:
//                    built-in, configured and user-defined classes.
//   Baseline         robust multivariate baseline (median/MAD standardisation,
//                    reweighted covariance with shrinkage) giving a calibrated
//                    score and an explanation of which features moved.
//   Persistence      pointwise → persistent state ("N of the last M"), for
//                    the ISO zones.
//   Evidence         calibrated score → persistent state for learned models:
//                    sustained evidence (a CUSUM with a minimum dwell) and
//                    hysteresis, so one odd measurement never raises a state
//                    and a state does not flicker.
//
// Thread-safety: value types; an instance belongs to one thread at a time.
// ZoneTable's changes and lookups may run concurrently (internal lock).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>  // to_state() returns a json by value: callers need the whole type
#include <optional>
#include <string>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::analytics {

// Model names (the `model` column of health_states and alerts; close-out
// codes in docs/domain.md).
inline constexpr const char* kVibrationIso = "vibrationISO";
inline constexpr const char* kVibrationMl = "vibrationML";
inline constexpr const char* kTemperatureMl = "temperatureML";

// ---------------------------------------------------------------- ISO zones
enum class Zone { kA, kB, kC, kD };
const char* to_string(Zone z);  // "A".."D"

using vigil::ZoneLimits;  // vigil/model.h

// The machine classes zones are judged by, in three layers (vigil/model.h
// ClassSource): built-in, configured (analytics.machine_classes) and user
// (added at runtime; analytics::MachineClasses keeps them in the store). A
// name's limits are those of its highest layer.
class ZoneTable {
 public:
  // The process-wide table the analyzers read.
  static ZoneTable& global();
  // Built-in classes: iso10816_class1..4 (10816-1 classes I–IV) and
  // iso20816_3_group1_rigid, _group1_flexible, _group2_rigid, _group2_flexible.
  ZoneTable();
  // Adds or replaces a class in `layer`. kInvalidArgument unless
  // check_machine_class() holds.
  Status register_class(const std::string& name, ZoneLimits limits, ClassSource layer = ClassSource::kUser);
  // Replaces every class of `layer` with `classes`. All are checked first;
  // on an error nothing changes.
  Status set_layer(ClassSource layer, const std::map<std::string, ZoneLimits>& classes);
  // Removes `name` from `layer`, uncovering a lower layer's class of that
  // name if there is one. False if `layer` had no such class.
  bool unregister_class(const std::string& name, ClassSource layer = ClassSource::kUser);

  // The effective limits. kNotFound for an unknown class.
  Result<ZoneLimits> limits(const std::string& machine_class) const;
  // The effective class with its source and the layer it hides.
  std::optional<MachineClass> find(const std::string& machine_class) const;
  // Every class by name.
  std::vector<MachineClass> list() const;
  std::vector<std::string> classes() const;

  static Zone zone(const ZoneLimits& l, double velocity_rms_mm_s);
  // Zone C = warning, D = alarm, A/B = healthy.
  static HealthState state(Zone z);

 private:
  using Layers = std::array<std::optional<ZoneLimits>, 3>;  // indexed by ClassSource
  static bool unused(const Layers& layers);
  static std::optional<MachineClass> effective(const std::string& name, const Layers& layers);
  mutable std::mutex mu_;
  std::map<std::string, Layers> classes_;
};

// ---------------------------------------------------------------- baseline
// How one feature enters the baseline.
struct FeatureSpec {
  std::string name;
  bool log = true;         // compare in log space (ratios), for magnitudes
  double min_scale = 0.1;  // floor on the robust spread, in transformed units
                           // (log: 0.1 ≈ ±10 %); guards against a too-quiet
                           // learning period
};

// Default specs for a waveform's features (dsp::compute_features names) and
// for readings-only positions; temperature; any metric.
std::vector<FeatureSpec> vibration_specs(const std::vector<std::string>& available);
FeatureSpec temperature_spec();
FeatureSpec generic_spec(const std::string& metric);

struct Contribution {
  std::string feature;
  double z = 0;      // robust standard score of the feature alone
  double ratio = 1;  // value / baseline median (log features), or
  double delta = 0;  // value − baseline median (linear features)
  bool log = true;
};

struct BaselineScore {
  double d2 = 0;     // squared Mahalanobis distance (shrunk robust covariance)
  // Normal-equivalent score z of d2 (3 ≈ 1 in 740): the tail probability of
  // d2 under the predictive distribution of a new point given a baseline
  // fitted on n samples (Hotelling: p(n−1)(n+1)/(n(n−p))·F(p, n−p), so a
  // small learning set does not make a hair trigger), after dividing d2 by
  // the baseline's calibration factor (see Baseline::calibration()).
  double score = 0;
  std::vector<Contribution> top;  // features that moved most, largest first
  std::string explanation;        // "BPFO envelope band 6.2× baseline, ..."
};

struct BaselineOptions {
  double shrinkage = 0.25;  // covariance shrinkage towards identity (0..1)
  double reject_quantile_z = 3.0;  // learning samples beyond this are outliers
  std::size_t max_samples = 4096;  // learning set cap (absorbed feedback included)
  // Calibrate the score on the learning data itself: fit on one half of the
  // learning window (in time), score the other half, and inflate the
  // covariance until the held-out scores look like fresh data from the
  // baseline (their upper decile at the null's). Non-stationary or too short
  // learning data so gives a wider baseline instead of false alarms.
  bool cross_calibrate = true;
};

// Whether a learning window's statistics have settled: the robust median and
// spread of its first and second half (in time) agree, feature by feature.
struct Convergence {
  bool converged = true;
  std::string reason;       // why not, in words ("BPFO envelope band moved 1.8σ between ...")
  double worst_shift = 0;   // largest |median difference| in robust σ of the window
  double worst_ratio = 1;   // largest spread ratio between the halves
};
inline constexpr double kConvergedShiftSigma = 1.0;  // medians of the halves within 1 σ
inline constexpr double kConvergedSpreadRatio = 2.0; // spreads within a factor 2

class Baseline {
 public:
  Baseline() = default;
  Baseline(std::vector<FeatureSpec> specs, BaselineOptions o = {})
      : specs_(std::move(specs)), opt_(o) {}

  const std::vector<FeatureSpec>& specs() const { return specs_; }
  bool fitted() const { return fitted_; }
  std::size_t samples() const { return samples_.size(); }
  // Keeps only the newest n learning samples (a sliding learning window).
  void keep_last(std::size_t n);
  // Compares the first and second half of the learning samples (time order).
  Convergence convergence() const;
  // The factor d2 is divided by before it is turned into a score (>= 1; 1
  // when the held-out half of the learning data looked like the baseline).
  double calibration() const { return calibration_; }
  double calibration_single() const { return calibration_uni_; }
  // Samples the fit used (its n in the predictive distribution).
  std::size_t fitted_samples() const { return n_fit_; }

  // Adds one learning sample (raw feature values in spec order; missing
  // trailing values count as 0). Non-positive values of log features are
  // clamped to 1e-12. A non-finite value never enters: kInvalidArgument
  // naming the feature, and nothing is added. Call fit() afterwards.
  Status add(const std::vector<double>& raw);
  // Fits median/MAD and the robust covariance. kInvalidArgument with fewer
  // than 3 samples.
  Status fit();
  // REQUIRES: fitted().
  BaselineScore score(const std::vector<double>& raw, std::size_t top_n = 3) const;
  // Median of feature i in raw units. REQUIRES: fitted().
  double median_raw(std::size_t i) const;
  // The normal range of feature i in raw units: median ± k robust standard
  // deviations, taken in the transformed space (so a log feature's band is
  // a ratio band, asymmetric in raw units). REQUIRES: fitted().
  struct Band {
    double median = 0, lo = 0, hi = 0;
  };
  Band band_raw(std::size_t i, double k) const;
  void clear();

  // Learned state: specs (checked on restore: a different feature set is
  // kInvalidArgument "specs: …"), the learning samples and, when fitted, the
  // fit (median, scale, inverse covariance). The options are not part of it.
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  double transform(std::size_t i, double v) const;
  std::vector<FeatureSpec> specs_;
  BaselineOptions opt_;
  std::vector<Eigen::VectorXd> samples_;  // transformed
  bool fitted_ = false;
  Eigen::VectorXd med_, scale_;
  Eigen::MatrixXd cov_inv_;
  double calibration_ = 1;
  double calibration_uni_ = 1;  // the single-feature score's (see score())
  std::size_t n_fit_ = 0;
};

// Pretty name for explanations ("env_bpfo_g" → "BPFO envelope band").
std::string feature_label(const std::string& name);

// Normal-equivalent z of a χ²(p) statistic (Wilson–Hilferty), so scores are
// comparable across feature counts: P(Z > score) ≈ P(χ²_p > d2).
double chi2_to_z(double d2, int p);

// Normal-equivalent z of a new point's squared Mahalanobis distance d2 from
// a baseline fitted on n samples of p features: the Hotelling predictive
// distribution p(n−1)(n+1)/(n(n−p))·F(p, n−p) (Paulson's normal
// approximation; Student-t for p = 1). Tends to chi2_to_z as n grows; with
// n <= p + 2 the distribution is undefined and n is taken as p + 3.
double predictive_z(double d2, int p, double n);

// Normal-equivalent z of the largest of p normal-equivalent scores after a
// Bonferroni correction for having looked at p of them: the z whose upper
// tail is p times that of `z_max` (capped at 1). Computed in log space, so
// it neither saturates nor overflows for z in the hundreds.
double bonferroni_z(double z_max, int p);

// The calibrated score reported for every learned model, in 0..1 (higher =
// more anomalous), from a normal-equivalent z: a logistic in z with 0.1 at
// z = 0, 0.5 at z = 5 (the default warning level) and 0.9 at z = 10 (alarm),
// so one threshold means the same on every model and series.
double calibrated_score(double z);

// ------------------------------------------------------------- persistence
// Turns pointwise states into a persistent one: warning (alarm) when at
// least N of the last M pointwise states are warning-or-worse (alarm).
// not_running passes straight through and does not enter the window;
// initializing/unknown pass through as well.
class Persistence {
 public:
  // (The learned models use Evidence; this stays for the ISO zone model.)
  Persistence(int n = 2, int m = 3) : n_(n), m_(m) {}
  HealthState update(HealthState pointwise);
  HealthState current() const { return current_; }
  void reset() { window_.clear(); current_ = HealthState::kUnknown; }

  // Learned state: the window and the current state; N and M are options
  // (a window longer than M keeps its newest M).
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  int n_, m_;
  std::deque<HealthState> window_;
  HealthState current_ = HealthState::kUnknown;
};

// --------------------------------------------------------------- evidence
// Turns a learned model's normal-equivalent scores z into a persistent state
// that needs sustained evidence and has hysteresis:
//
//   S_w ← clamp(S_w + min(z, cap·W) − k·W, 0, 2h·W)   (one-sided CUSUM)
//   S_a ← clamp(S_a + min(z, cap·A) − k·A, 0, 2h·A)
//
// with W, A the warning and alarm scores. Warning is entered when
// S_w >= h·W and at least `min_dwell` measurements of the current run of
// S_w > 0 had z > k·W (alarm likewise with S_a), k = `reference`,
// h = `decision`; a state is left only after S has been 0 for
// `release` consecutive measurements; each sum is capped at twice its
// threshold, so the release follows an episode's end within a few
// measurements however long it lasted. With the defaults (k = 0.75, h = 1,
// cap = 2, min_dwell = 3) a warning at z = 5.5 takes 3 measurements, a
// sustained z below 3.75 never adds up, and one point, however high, adds
// at most 1.25·W, so a single transient never raises a state.
// not_running/initializing reset the sums; unknown passes through.
struct EvidenceOptions {
  double warning = 5, alarm = 10;
  double reference = 0.75; // k: evidence counts above this × the level
  double decision = 1.0;   // h: a state rises at this × the level of evidence
  double cap = 2;      // per-measurement contribution cap, in units of the level
  int min_dwell = 3;   // measurements of positive evidence before a state rises
  int release = 3;     // measurements of zero evidence before it falls
};

class Evidence {
 public:
  explicit Evidence(EvidenceOptions o = {}) : opt_(o) {}
  // `z` is required for healthy/warning/alarm pointwise states (the model
  // scored); other pointwise states pass through.
  HealthState update(HealthState pointwise, double z = 0);
  HealthState current() const { return current_; }
  double warning_evidence() const { return s_warn_; }
  double alarm_evidence() const { return s_alarm_; }
  const EvidenceOptions& options() const { return opt_; }
  void reset();
  // Learned state: both sums, their runs and quiet spells, and the current
  // state; the options are not saved (they come from the configuration).
  nlohmann::json to_state() const;
  Status from_state(const nlohmann::json& state);

 private:
  EvidenceOptions opt_;
  double s_warn_ = 0, s_alarm_ = 0;
  int run_warn_ = 0, run_alarm_ = 0;    // measurements with z > level/2 in the current run of S > 0
  int quiet_warn_ = 0, quiet_alarm_ = 0;  // consecutive measurements with S == 0
  HealthState current_ = HealthState::kUnknown;
};

}  // namespace vigil::analytics
