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
//   Persistence      pointwise → persistent state ("N of the last M").
//
// Thread-safety: value types; an instance belongs to one thread at a time.
// ZoneTable's changes and lookups may run concurrently (internal lock).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <deque>
#include <map>
#include <mutex>
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
  double score = 0;  // normal-equivalent score of d2 under χ²(p): 3 ≈ 1 in 740
  std::vector<Contribution> top;  // features that moved most, largest first
  std::string explanation;        // "BPFO envelope band 6.2× baseline, ..."
};

struct BaselineOptions {
  double shrinkage = 0.25;  // covariance shrinkage towards identity (0..1)
  double reject_quantile_z = 3.0;  // learning samples beyond this are outliers
  std::size_t max_samples = 4096;  // learning set cap (absorbed feedback included)
};

class Baseline {
 public:
  Baseline() = default;
  Baseline(std::vector<FeatureSpec> specs, BaselineOptions o = {})
      : specs_(std::move(specs)), opt_(o) {}

  const std::vector<FeatureSpec>& specs() const { return specs_; }
  bool fitted() const { return fitted_; }
  std::size_t samples() const { return samples_.size(); }

  // Adds one learning sample (raw feature values in spec order). Non-finite
  // or non-positive log values are clamped. Call fit() afterwards.
  void add(const std::vector<double>& raw);
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

 private:
  double transform(std::size_t i, double v) const;
  std::vector<FeatureSpec> specs_;
  BaselineOptions opt_;
  std::vector<Eigen::VectorXd> samples_;  // transformed
  bool fitted_ = false;
  Eigen::VectorXd med_, scale_;
  Eigen::MatrixXd cov_inv_;
};

// Pretty name for explanations ("env_bpfo_g" → "BPFO envelope band").
std::string feature_label(const std::string& name);

// Normal-equivalent z of a χ²(p) statistic (Wilson–Hilferty), so scores are
// comparable across feature counts: P(Z > score) ≈ P(χ²_p > d2).
double chi2_to_z(double d2, int p);

// ------------------------------------------------------------- persistence
// Turns pointwise states into a persistent one: warning (alarm) when at
// least N of the last M pointwise states are warning-or-worse (alarm).
// not_running passes straight through and does not enter the window;
// initializing/unknown pass through as well.
class Persistence {
 public:
  Persistence(int n = 2, int m = 3) : n_(n), m_(m) {}
  HealthState update(HealthState pointwise);
  HealthState current() const { return current_; }
  void reset() { window_.clear(); current_ = HealthState::kUnknown; }

 private:
  int n_, m_;
  std::deque<HealthState> window_;
  HealthState current_ = HealthState::kUnknown;
};

}  // namespace vigil::analytics
