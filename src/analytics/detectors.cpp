// SPDX-License-Identifier: Apache-2.0
#include "analytics/detectors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <numeric>
#include <nlohmann/json.hpp>

#include "analytics/state_codec.h"

namespace vigil::analytics {

// ---------------------------------------------------------------- ISO zones
const char* to_string(Zone z) {
  switch (z) {
    case Zone::kA: return "A";
    case Zone::kB: return "B";
    case Zone::kC: return "C";
    case Zone::kD: return "D";
  }
  return "?";
}

ZoneTable::ZoneTable() {
  // docs/domain.md (ISO 10816-1 classes, ISO 10816-3 / 20816-3 groups).
  const std::pair<const char*, ZoneLimits> builtin[] = {
      {"iso10816_class1", {0.71, 1.8, 4.5}},
      {"iso10816_class2", {1.12, 2.8, 7.1}},
      {"iso10816_class3", {1.8, 4.5, 11.2}},
      {"iso10816_class4", {2.8, 7.1, 18.0}},
      {"iso20816_3_group1_rigid", {2.3, 4.5, 7.1}},
      {"iso20816_3_group1_flexible", {3.5, 7.1, 11.0}},
      {"iso20816_3_group2_rigid", {1.4, 2.8, 4.5}},
      {"iso20816_3_group2_flexible", {2.3, 4.5, 7.1}},
  };
  for (const auto& [name, l] : builtin) classes_[name][static_cast<std::size_t>(ClassSource::kBuiltin)] = l;
}

ZoneTable& ZoneTable::global() {
  static ZoneTable t;
  return t;
}

Status ZoneTable::register_class(const std::string& name, ZoneLimits l, ClassSource layer) {
  VIGIL_RETURN_IF_ERROR(check_machine_class(name, l));
  std::lock_guard lk(mu_);
  classes_[name][static_cast<std::size_t>(layer)] = l;
  return Status::Ok();
}

Status ZoneTable::set_layer(ClassSource layer, const std::map<std::string, ZoneLimits>& classes) {
  for (const auto& [name, l] : classes) VIGIL_RETURN_IF_ERROR(check_machine_class(name, l));
  const auto i = static_cast<std::size_t>(layer);
  std::lock_guard lk(mu_);
  for (auto it = classes_.begin(); it != classes_.end();) {
    it->second[i].reset();
    it = unused(it->second) ? classes_.erase(it) : std::next(it);
  }
  for (const auto& [name, l] : classes) classes_[name][i] = l;
  return Status::Ok();
}

bool ZoneTable::unregister_class(const std::string& name, ClassSource layer) {
  std::lock_guard lk(mu_);
  auto it = classes_.find(name);
  if (it == classes_.end() || !it->second[static_cast<std::size_t>(layer)]) return false;
  it->second[static_cast<std::size_t>(layer)].reset();
  if (unused(it->second)) classes_.erase(it);
  return true;
}

bool ZoneTable::unused(const Layers& layers) {
  for (const auto& l : layers)
    if (l) return false;
  return true;
}

std::optional<MachineClass> ZoneTable::effective(const std::string& name, const Layers& layers) {
  std::optional<MachineClass> top;
  for (std::size_t i = layers.size(); i-- > 0;) {
    if (!layers[i]) continue;
    if (!top) top = MachineClass{name, *layers[i], static_cast<ClassSource>(i), std::nullopt};
    else if (!top->hides) top->hides = static_cast<ClassSource>(i);
  }
  return top;
}

Result<ZoneLimits> ZoneTable::limits(const std::string& c) const {
  auto m = find(c);
  if (!m) return Status::NotFound("unknown machine class '" + c + "'");
  return m->limits;
}

std::optional<MachineClass> ZoneTable::find(const std::string& c) const {
  std::lock_guard lk(mu_);
  auto it = classes_.find(c);
  if (it == classes_.end()) return std::nullopt;
  return effective(it->first, it->second);
}

std::vector<MachineClass> ZoneTable::list() const {
  std::lock_guard lk(mu_);
  std::vector<MachineClass> out;
  for (const auto& [name, layers] : classes_)
    if (auto m = effective(name, layers)) out.push_back(std::move(*m));
  return out;
}

std::vector<std::string> ZoneTable::classes() const {
  std::vector<std::string> out;
  for (auto& m : list()) out.push_back(m.name);
  return out;
}

Zone ZoneTable::zone(const ZoneLimits& l, double v) {
  if (v >= l.cd) return Zone::kD;
  if (v >= l.bc) return Zone::kC;
  if (v >= l.ab) return Zone::kB;
  return Zone::kA;
}

HealthState ZoneTable::state(Zone z) {
  switch (z) {
    case Zone::kD: return HealthState::kAlarm;
    case Zone::kC: return HealthState::kWarning;
    default: return HealthState::kHealthy;
  }
}

// ---------------------------------------------------------------- baseline
std::vector<FeatureSpec> vibration_specs(const std::vector<std::string>& available) {
  // Magnitudes compare as ratios (log). Crest factor and kurtosis are already
  // dimensionless shape numbers; they still change by ratios.
  std::vector<FeatureSpec> out;
  for (auto& n : available) {
    if (n == "accel_peak_g") continue;  // carried by rms × crest
    out.push_back({n, true, 0.1});
  }
  return out;
}

FeatureSpec temperature_spec() { return {"temperature_c", false, 1.0}; }
FeatureSpec generic_spec(const std::string& metric) { return {metric, false, 0.0}; }

double Baseline::transform(std::size_t i, double v) const {
  if (!std::isfinite(v)) v = 0;
  if (specs_[i].log) return std::log(std::max(v, 1e-12));
  return v;
}

Status Baseline::add(const std::vector<double>& raw) {
  Eigen::VectorXd x(static_cast<Eigen::Index>(specs_.size()));
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const double v = i < raw.size() ? raw[i] : 0;
    if (!std::isfinite(v)) return Status::InvalidArgument("feature '" + specs_[i].name + "' is not finite");
    x[static_cast<Eigen::Index>(i)] = transform(i, v);
  }
  if (samples_.size() >= opt_.max_samples) samples_.erase(samples_.begin());
  samples_.push_back(std::move(x));
  return Status::Ok();
}

void Baseline::clear() {
  samples_.clear();
  fitted_ = false;
  calibration_ = calibration_uni_ = 1;
  n_fit_ = 0;
}

void Baseline::keep_last(std::size_t n) {
  if (samples_.size() > n)
    samples_.erase(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(samples_.size() - n));
}

namespace {
double median_of(std::vector<double>& v) {
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (v.size() % 2 == 0) {
    double lo = *std::max_element(v.begin(), mid);
    m = (m + lo) / 2;
  }
  return m;
}
}  // namespace

double chi2_to_z(double d2, int p) {
  if (p <= 0) return 0;
  if (p == 1) return std::sqrt(std::max(d2, 0.0));  // |z| of the one feature
  const double k = 2.0 / (9.0 * p);
  return (std::cbrt(std::max(d2, 0.0) / p) - (1 - k)) / std::sqrt(k);
}

double predictive_z(double d2, int p, double n) {
  if (p <= 0) return 0;
  d2 = std::max(d2, 0.0);
  n = std::max(n, static_cast<double>(p) + 3);
  if (p == 1) {
    // (x − m)/(s·sqrt(1 + 1/n)) ~ t(n − 1); normal-equivalent by
    // z ≈ (8ν+1)/(8ν+3)·sqrt(ν·ln(1 + t²/ν)).
    const double nu = n - 1, t2 = d2 * n / (n + 1);
    return (8 * nu + 1) / (8 * nu + 3) * std::sqrt(nu * std::log1p(t2 / nu));
  }
  const double v1 = p, v2 = n - p;
  const double f = d2 * n * (n - p) / (p * (n - 1) * (n + 1));
  // Paulson's normal approximation to the F distribution's upper tail.
  const double a = 2.0 / (9 * v1), b = 2.0 / (9 * v2);
  const double c = std::cbrt(f);
  return ((1 - b) * c - (1 - a)) / std::sqrt(a + c * c * b);
}

double bonferroni_z(double z, int p) {
  if (p <= 1 || std::isnan(z)) return z;
  // log of the upper tail Q(z) = erfc(z/√2)/2; for large z, erfc underflows,
  // so use Q(z) ≈ φ(z)/z·(1 − 1/z² + 3/z⁴) there.
  auto log_tail = [](double x) {
    if (x < 8) return std::log(0.5 * std::erfc(x / std::sqrt(2.0)));
    const double x2 = x * x;
    return -0.5 * x2 - std::log(x * std::sqrt(2 * M_PI)) + std::log1p(-1 / x2 + 3 / (x2 * x2));
  };
  const double target = log_tail(z) + std::log(static_cast<double>(p));
  if (target >= std::log(0.5)) return 0;  // not even one-sided evidence left
  // Q is monotone: bisect for the z with log Q(z) = target.
  double lo = 0, hi = std::max(z, 1.0);
  for (int it = 0; it < 60; ++it) {
    const double mid = (lo + hi) / 2;
    (log_tail(mid) > target ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double calibrated_score(double z) {
  if (std::isnan(z)) return 0.5;
  // 9^((z − 5)/5): 0.1 at 0, 0.5 at 5, 0.9 at 10.
  const double e = std::clamp(-(z - 5.0) / 5.0 * std::log(9.0), -700.0, 700.0);
  return 1.0 / (1.0 + std::exp(e));
}

namespace {
struct FitResult {
  Eigen::VectorXd med, scale;
  Eigen::MatrixXd cov_inv;
  std::size_t kept = 0;
};

// Robust fit over samples[first, last): median/MAD standardisation (spread
// floored per feature) and a reweighted, shrunk correlation.
FitResult fit_range(const std::vector<Eigen::VectorXd>& samples, std::size_t first, std::size_t last,
                    const std::vector<FeatureSpec>& specs, const BaselineOptions& opt) {
  const std::size_t n = last - first;
  const auto p = static_cast<Eigen::Index>(specs.size());
  FitResult f;
  f.med.resize(p);
  f.scale.resize(p);
  std::vector<double> col(n);
  for (Eigen::Index j = 0; j < p; ++j) {
    for (std::size_t i = 0; i < n; ++i) col[i] = samples[first + i][j];
    double m = median_of(col);
    for (auto& c : col) c = std::abs(c - m);
    double mad = median_of(col);
    // Floors: the spec's (log features: a ratio), or for a linear feature
    // without one 1 % of its median: a learning period quieter than that is
    // not evidence that the feature never moves more.
    const double floor = specs[static_cast<std::size_t>(j)].min_scale > 0
                             ? specs[static_cast<std::size_t>(j)].min_scale
                             : std::max(1e-9, 0.01 * std::abs(m));
    f.med[j] = m;
    f.scale[j] = std::max(1.4826 * mad, floor);
  }
  Eigen::MatrixXd z(static_cast<Eigen::Index>(n), p);
  for (std::size_t i = 0; i < n; ++i)
    z.row(static_cast<Eigen::Index>(i)) =
        ((samples[first + i] - f.med).array() / f.scale.array()).matrix().transpose();

  // Reweighted covariance: fit, drop samples beyond the rejection score,
  // refit (a few rounds, like the reweighting step of MCD).
  std::vector<char> keep(n, 1);
  Eigen::MatrixXd s = Eigen::MatrixXd::Identity(p, p);
  const double lambda = std::clamp(opt.shrinkage, 0.0, 1.0);
  f.kept = n;
  for (int round = 0; round < 4; ++round) {
    Eigen::MatrixXd c = Eigen::MatrixXd::Zero(p, p);
    double w = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!keep[i]) continue;
      auto r = z.row(static_cast<Eigen::Index>(i));
      c.noalias() += r.transpose() * r;
      w += 1;
    }
    if (w < 3) break;
    f.kept = static_cast<std::size_t>(w);
    c /= w;
    // Correlations shrink towards 0; variances never drop below the robust
    // scale (so the min_scale floors hold).
    Eigen::VectorXd sd = c.diagonal().cwiseMax(1e-12).cwiseSqrt();
    Eigen::MatrixXd r = c.array() / (sd * sd.transpose()).array();
    Eigen::MatrixXd shrunk = (1 - lambda) * r + lambda * Eigen::MatrixXd::Identity(p, p);
    Eigen::VectorXd v = sd.cwiseMax(1.0);
    s = v.asDiagonal() * shrunk * v.asDiagonal();
    Eigen::LDLT<Eigen::MatrixXd> ldlt(s);
    bool changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      Eigen::VectorXd zi = z.row(static_cast<Eigen::Index>(i)).transpose();
      double d2 = zi.dot(ldlt.solve(zi));
      char k = chi2_to_z(d2, static_cast<int>(p)) <= opt.reject_quantile_z ? 1 : 0;
      changed |= (k != keep[i]);
      keep[i] = k;
    }
    if (!changed && round > 0) break;
  }
  f.cov_inv = s.inverse();
  return f;
}

// Each feature's standardised residual given all the others: with S⁻¹ the
// inverse correlation, (S⁻¹z)_j / sqrt(S⁻¹_jj), which is N(0, 1) for a
// normal point. A shift the features share (the whole machine a little
// louder, as they move together in the learning data) leaves these small; a
// change in one feature alone (the 1× line, one bearing band) does not.
Eigen::ArrayXd conditional_residuals(const Eigen::MatrixXd& cov_inv, const Eigen::VectorXd& z) {
  return (cov_inv * z).array() / cov_inv.diagonal().array().sqrt();
}

double d2_of(const FitResult& f, const Eigen::VectorXd& x) {
  Eigen::VectorXd z = (x - f.med).array() / f.scale.array();
  return z.dot(f.cov_inv * z);
}

// Robust median and spread (floored as in fit_range) of feature j over
// samples[first, last).
std::pair<double, double> med_scale(const std::vector<Eigen::VectorXd>& samples, std::size_t first,
                                    std::size_t last, Eigen::Index j, double min_scale) {
  std::vector<double> col;
  col.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) col.push_back(samples[i][j]);
  double m = median_of(col);
  for (auto& c : col) c = std::abs(c - m);
  double floor = min_scale > 0 ? min_scale : std::max(1e-9, 0.01 * std::abs(m));
  return {m, std::max(1.4826 * median_of(col), floor)};
}
}  // namespace

Convergence Baseline::convergence() const {
  Convergence c;
  const std::size_t n = samples_.size(), h = n / 2;
  if (n < 8 || specs_.empty()) return c;  // too few to judge either way
  for (std::size_t j = 0; j < specs_.size(); ++j) {
    const auto jj = static_cast<Eigen::Index>(j);
    const double floor = specs_[j].min_scale;
    auto [m_all, s_all] = med_scale(samples_, 0, n, jj, floor);
    auto [m_a, s_a] = med_scale(samples_, 0, h, jj, floor);
    auto [m_b, s_b] = med_scale(samples_, h, n, jj, floor);
    (void)m_all;
    const double shift = std::abs(m_b - m_a) / s_all;
    const double ratio = std::max(s_a, s_b) / std::min(s_a, s_b);
    char buf[200];
    if (shift > kConvergedShiftSigma && shift > c.worst_shift) {
      std::snprintf(buf, sizeof buf, "%s still moving (its median shifted %.1fσ between the halves of the learning window)",
                    feature_label(specs_[j].name).c_str(), shift);
      c.converged = false;
      c.reason = buf;
    } else if (ratio > kConvergedSpreadRatio && shift <= kConvergedShiftSigma && c.converged) {
      std::snprintf(buf, sizeof buf, "%s not settled (its spread changed %.1f× between the halves of the learning window)",
                    feature_label(specs_[j].name).c_str(), ratio);
      c.converged = false;
      c.reason = buf;
    }
    c.worst_shift = std::max(c.worst_shift, shift);
    c.worst_ratio = std::max(c.worst_ratio, ratio);
  }
  return c;
}

Status Baseline::fit() {
  const std::size_t n = samples_.size();
  const auto p = static_cast<Eigen::Index>(specs_.size());
  if (p == 0) return Status::InvalidArgument("baseline has no features");
  if (n < 3) return Status::InvalidArgument("baseline needs at least 3 samples, has " + std::to_string(n));
  FitResult f = fit_range(samples_, 0, n, specs_, opt_);
  med_ = std::move(f.med);
  scale_ = std::move(f.scale);
  cov_inv_ = std::move(f.cov_inv);
  n_fit_ = n;
  calibration_ = 1;
  calibration_uni_ = 1;
  // Cross-calibration: each half of the learning window (in time) scored by
  // a fit on the other. Fresh data from an unchanged machine would put the
  // upper decile of those scores at the null's (z = 1.28); when it lies
  // higher, the baseline was learned from too little or drifting data, and
  // d2 is deflated by the factor that brings it there.
  const std::size_t h = n / 2;
  if (opt_.cross_calibrate && h >= static_cast<std::size_t>(p) + 5) {
    FitResult a = fit_range(samples_, 0, h, specs_, opt_), b = fit_range(samples_, h, n, specs_, opt_);
    std::vector<std::pair<double, double>> d2n;  // held-out d2, n of the fit that scored it
    d2n.reserve(n);
    for (std::size_t i = h; i < n; ++i) d2n.emplace_back(d2_of(a, samples_[i]), static_cast<double>(h));
    for (std::size_t i = 0; i < h; ++i) d2n.emplace_back(d2_of(b, samples_[i]), static_cast<double>(n - h));
    const int pi = static_cast<int>(p);
    auto q90 = [&](double c) {
      std::vector<double> z;
      z.reserve(d2n.size());
      for (auto& [d2, m] : d2n) z.push_back(predictive_z(d2 / c, pi, m));
      auto k = z.begin() + static_cast<std::ptrdiff_t>(0.9 * static_cast<double>(z.size() - 1));
      std::nth_element(z.begin(), k, z.end());
      return *k;
    };
    constexpr double kNullQ90 = 1.2816;
    if (q90(1.0) > kNullQ90) {
      double lo = 0, hi = std::log(1e4);  // log c
      for (int it = 0; it < 40; ++it) {
        const double mid = (lo + hi) / 2;
        (q90(std::exp(mid)) > kNullQ90 ? lo : hi) = mid;
      }
      calibration_ = std::exp(hi);
    }
  }
  // The single-feature score gets its own cross-calibration (one feature can
  // wander in the learning window while the joint distance does not): the
  // held-out largest squared standard score, deflated until the upper decile
  // of its Bonferroni-corrected z is no higher than the null's. It needs only
  // a handful of samples per half, not p + 5.
  calibration_uni_ = 1;
  if (opt_.cross_calibrate && p > 1 && h >= 10) {
    FitResult a = fit_range(samples_, 0, h, specs_, opt_), b = fit_range(samples_, h, n, specs_, opt_);
    auto max_z2 = [](const FitResult& f, const Eigen::VectorXd& x) {
      return conditional_residuals(f.cov_inv, ((x - f.med).array() / f.scale.array()).matrix()).square().maxCoeff();
    };
    std::vector<std::pair<double, double>> z2n;  // held-out max z², n of the fit that scored it
    z2n.reserve(n);
    for (std::size_t i = h; i < n; ++i) z2n.emplace_back(max_z2(a, samples_[i]), static_cast<double>(h));
    for (std::size_t i = 0; i < h; ++i) z2n.emplace_back(max_z2(b, samples_[i]), static_cast<double>(n - h));
    const int pi = static_cast<int>(p);
    auto q90 = [&](double c) {
      std::vector<double> z;
      z.reserve(z2n.size());
      for (auto& [z2, m] : z2n) z.push_back(bonferroni_z(predictive_z(z2 / c, 1, m), pi));
      auto k = z.begin() + static_cast<std::ptrdiff_t>(0.9 * static_cast<double>(z.size() - 1));
      std::nth_element(z.begin(), k, z.end());
      return *k;
    };
    constexpr double kNullQ90 = 1.2816;
    if (q90(1.0) > kNullQ90) {
      double lo = 0, hi = std::log(1e4);
      for (int it = 0; it < 40; ++it) {
        const double mid = (lo + hi) / 2;
        (q90(std::exp(mid)) > kNullQ90 ? lo : hi) = mid;
      }
      calibration_uni_ = std::exp(hi);
    }
  }
  fitted_ = true;
  return Status::Ok();
}

double Baseline::median_raw(std::size_t i) const {
  double m = med_[static_cast<Eigen::Index>(i)];
  return specs_[i].log ? std::exp(m) : m;
}

Baseline::Band Baseline::band_raw(std::size_t i, double k) const {
  const auto j = static_cast<Eigen::Index>(i);
  const double m = med_[j], d = k * scale_[j];
  if (specs_[i].log) return {std::exp(m), std::exp(m - d), std::exp(m + d)};
  return {m, m - d, m + d};
}

// ----------------------------------------------------------- learned state
nlohmann::json Baseline::to_state() const {
  using nlohmann::json;
  const std::size_t p = specs_.size();
  json specs = json::array();
  for (const auto& sp : specs_) specs.push_back({{"name", sp.name}, {"log", sp.log}, {"min_scale", sp.min_scale}});
  std::vector<double> samples;
  samples.reserve(samples_.size() * p);
  for (const auto& x : samples_) samples.insert(samples.end(), x.data(), x.data() + x.size());
  json j = {{"specs", std::move(specs)}, {"samples", state::f64_bytes(samples)}, {"fitted", fitted_}};
  if (fitted_) {
    j["median"] = state::f64_bytes({med_.data(), static_cast<std::size_t>(med_.size())});
    j["scale"] = state::f64_bytes({scale_.data(), static_cast<std::size_t>(scale_.size())});
    j["cov_inv"] = state::f64_bytes({cov_inv_.data(), static_cast<std::size_t>(cov_inv_.size())});  // column-major
    j["calibration"] = calibration_;
    j["calibration_single"] = calibration_uni_;
    j["n_fit"] = static_cast<std::int64_t>(n_fit_);
  } else {
    j["median"] = j["scale"] = j["cov_inv"] = j["calibration"] = j["calibration_single"] = j["n_fit"] = nullptr;
  }
  return j;
}

Status Baseline::from_state(const nlohmann::json& j) {
  using nlohmann::json;
  state::StateReader r(j);
  const json& specs = r.value("specs", json::value_t::array);
  if (r.ok()) {
    if (specs.size() != specs_.size())
      r.fail("specs", std::to_string(specs.size()) + " features saved, " + std::to_string(specs_.size()) + " expected");
    for (std::size_t i = 0; r.ok() && i < specs.size(); ++i) {
      state::StateReader s(specs[i]);
      FeatureSpec f{s.text("name"), s.boolean("log"), s.number("min_scale")};
      if (auto st = s.finish(); !st.ok()) {
        r.fail("specs", "feature " + std::to_string(i) + ": " + st.message());
      } else if (f.name != specs_[i].name || f.log != specs_[i].log || f.min_scale != specs_[i].min_scale) {
        r.fail("specs", "feature " + std::to_string(i) + " '" + f.name + "' does not match '" + specs_[i].name +
                            "' of this version (log, min_scale)");
      }
    }
  }
  const std::size_t p = specs_.size();
  std::vector<double> samples = r.f64("samples");
  if (r.ok() && (p == 0 ? !samples.empty() : samples.size() % p != 0))
    r.fail("samples", std::to_string(samples.size()) + " values are not rows of " + std::to_string(p));
  const bool fitted = r.boolean("fitted");
  std::optional<std::vector<double>> med, scale, cov;
  double calibration = 1, calibration_single = 1;
  std::int64_t n_fit = 0;
  if (fitted) {
    med = r.f64("median", p);
    scale = r.f64("scale", p);
    cov = r.f64("cov_inv", p * p);
    calibration = r.number("calibration");
    calibration_single = r.number("calibration_single");
    n_fit = r.integer("n_fit");
    if (r.ok())
      for (double v : *scale)
        if (!(v > 0)) r.fail("scale", "not positive");
    if (r.ok() && !(calibration >= 1)) r.fail("calibration", "below 1");
    if (r.ok() && !(calibration_single >= 1)) r.fail("calibration_single", "below 1");
    if (r.ok() && n_fit < 3) r.fail("n_fit", "below 3");
  } else {
    for (const char* k : {"median", "scale", "cov_inv", "calibration", "calibration_single", "n_fit"})
      if (!r.value(k).is_null()) r.fail(k, "must be null while not fitted");
  }
  VIGIL_RETURN_IF_ERROR(r.finish());

  samples_.clear();
  const auto pi = static_cast<Eigen::Index>(p);
  const std::size_t rows = p ? samples.size() / p : 0;
  // A smaller cap than the one the samples were learned under keeps the newest.
  for (std::size_t k = rows > opt_.max_samples ? rows - opt_.max_samples : 0; k < rows; ++k)
    samples_.push_back(Eigen::Map<const Eigen::VectorXd>(samples.data() + k * p, pi));
  fitted_ = fitted;
  if (fitted) {
    med_ = Eigen::Map<const Eigen::VectorXd>(med->data(), pi);
    scale_ = Eigen::Map<const Eigen::VectorXd>(scale->data(), pi);
    cov_inv_ = Eigen::Map<const Eigen::MatrixXd>(cov->data(), pi, pi);
    calibration_ = calibration;
    calibration_uni_ = calibration_single;
    n_fit_ = static_cast<std::size_t>(n_fit);
  } else {
    calibration_ = calibration_uni_ = 1;
    n_fit_ = 0;
    med_.resize(0);
    scale_.resize(0);
    cov_inv_.resize(0, 0);
  }
  return Status::Ok();
}

nlohmann::json Persistence::to_state() const {
  nlohmann::json w = nlohmann::json::array();
  for (auto s : window_) w.push_back(to_string(s));
  return {{"window", std::move(w)}, {"current", to_string(current_)}};
}

Status Persistence::from_state(const nlohmann::json& j) {
  state::StateReader r(j);
  const auto& w = r.value("window", nlohmann::json::value_t::array);
  std::deque<HealthState> window;
  for (std::size_t i = 0; r.ok() && i < w.size(); ++i) {
    auto s = w[i].is_string() ? health_state_from_string(w[i].get<std::string>()) : std::nullopt;
    if (!s || (*s != HealthState::kHealthy && *s != HealthState::kWarning && *s != HealthState::kAlarm))
      r.fail("window", "entry " + std::to_string(i) + " is not healthy, warning or alarm");
    else
      window.push_back(*s);
  }
  const HealthState current = r.health("current");
  VIGIL_RETURN_IF_ERROR(r.finish());
  while (static_cast<int>(window.size()) > m_) window.pop_front();
  window_ = std::move(window);
  current_ = current;
  return Status::Ok();
}

std::string feature_label(const std::string& n) {
  static const std::map<std::string, std::string> kLabels = {
      {"velocity_rms_mm_s", "velocity RMS"},
      {"accel_rms_g", "acceleration RMS"},
      {"accel_peak_g", "acceleration peak"},
      {"crest_factor", "crest factor"},
      {"kurtosis", "kurtosis"},
      {"harmonic_1x_mm_s", "1× running speed"},
      {"harmonic_2x_mm_s", "2× running speed"},
      {"harmonic_3x_mm_s", "3× running speed"},
      {"envelope_rms_g", "envelope RMS"},
      {"env_bpfo_g", "BPFO envelope band"},
      {"env_bpfi_g", "BPFI envelope band"},
      {"env_bsf_g", "BSF envelope band"},
      {"env_ftf_g", "FTF envelope band"},
      {"temperature_c", "temperature"},
  };
  auto it = kLabels.find(n);
  if (it != kLabels.end()) return it->second;
  unsigned lo = 0, hi = 0;
  if (std::sscanf(n.c_str(), "band_%u_%uhz_g", &lo, &hi) == 2)
    return "acceleration " + std::to_string(lo) + "–" + std::to_string(hi) + " Hz";
  return n;
}

BaselineScore Baseline::score(const std::vector<double>& raw, std::size_t top_n) const {
  BaselineScore out;
  const auto p = static_cast<Eigen::Index>(specs_.size());
  Eigen::VectorXd z(p);
  for (Eigen::Index j = 0; j < p; ++j) {
    double x = transform(static_cast<std::size_t>(j),
                         static_cast<std::size_t>(j) < raw.size() ? raw[static_cast<std::size_t>(j)] : 0);
    z[j] = (x - med_[j]) / scale_[j];
  }
  out.d2 = z.dot(cov_inv_ * z);
  const double n = static_cast<double>(n_fit_);
  out.score = predictive_z(out.d2 / calibration_, static_cast<int>(p), n);
  // The joint score alone goes blind when the baseline holds few samples
  // per feature (an hourly sensor learned over 48 h: F(p, n−p) with a small
  // n−p has so heavy a tail that a 10× jump in one feature stays below the
  // warning level). Faults usually show first in one feature (the 1× line,
  // a bearing band), so the score is also the largest single-feature
  // predictive z — of each feature's residual given the others, so a shift
  // all features share does not count p times — (Student-t on n−1 degrees
  // of freedom, its own calibration), corrected for having looked at p
  // features: the larger of the two.
  if (p > 1) {
    const Eigen::ArrayXd r = conditional_residuals(cov_inv_, z);
    double zmax = 0;
    for (Eigen::Index j = 0; j < p; ++j)
      zmax = std::max(zmax, predictive_z(r[j] * r[j] / calibration_uni_, 1, n));
    out.score = std::max(out.score, bonferroni_z(zmax, static_cast<int>(p)));
  }
  // Rank features by their share of d2 (z_i · (S⁻¹z)_i): what drives the
  // score, not merely what is large on its own.
  Eigen::VectorXd share = z.cwiseProduct(cov_inv_ * z);
  std::vector<Eigen::Index> idx(static_cast<std::size_t>(p));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](Eigen::Index a, Eigen::Index b) { return share[a] > share[b]; });
  for (std::size_t k = 0; k < std::min<std::size_t>(top_n, idx.size()); ++k) {
    auto j = idx[k];
    const auto& sp = specs_[static_cast<std::size_t>(j)];
    Contribution c;
    c.feature = sp.name;
    c.z = z[j];
    c.log = sp.log;
    double x = transform(static_cast<std::size_t>(j), raw[static_cast<std::size_t>(j)]);
    if (sp.log) c.ratio = std::exp(x - med_[j]);
    else c.delta = x - med_[j];
    out.top.push_back(c);
    char buf[160];
    if (sp.log)
      std::snprintf(buf, sizeof buf, "%s %.2g× baseline", feature_label(sp.name).c_str(), c.ratio);
    else
      std::snprintf(buf, sizeof buf, "%s %+.3g vs baseline", feature_label(sp.name).c_str(), c.delta);
    if (!out.explanation.empty()) out.explanation += ", ";
    out.explanation += buf;
  }
  return out;
}

// ------------------------------------------------------------- persistence
HealthState Persistence::update(HealthState pw) {
  if (pw != HealthState::kHealthy && pw != HealthState::kWarning && pw != HealthState::kAlarm) {
    if (pw == HealthState::kNotRunning || pw == HealthState::kInitializing) window_.clear();
    current_ = pw;
    return current_;
  }
  window_.push_back(pw);
  while (static_cast<int>(window_.size()) > m_) window_.pop_front();
  int warn = 0, alarm = 0;
  for (auto s : window_) {
    warn += severity(s) >= severity(HealthState::kWarning);
    alarm += s == HealthState::kAlarm;
  }
  current_ = alarm >= n_ ? HealthState::kAlarm : warn >= n_ ? HealthState::kWarning : HealthState::kHealthy;
  return current_;
}

// ---------------------------------------------------------------- evidence
void Evidence::reset() {
  s_warn_ = s_alarm_ = 0;
  run_warn_ = run_alarm_ = quiet_warn_ = quiet_alarm_ = 0;
  current_ = HealthState::kUnknown;
}

HealthState Evidence::update(HealthState pw, double z) {
  if (pw != HealthState::kHealthy && pw != HealthState::kWarning && pw != HealthState::kAlarm) {
    if (pw == HealthState::kNotRunning || pw == HealthState::kInitializing) {
      s_warn_ = s_alarm_ = 0;
      run_warn_ = run_alarm_ = quiet_warn_ = quiet_alarm_ = 0;
    }
    current_ = pw;
    return current_;
  }
  if (std::isnan(z)) z = 0;
  const double w = opt_.warning, a = opt_.alarm;
  // Each sum is capped at twice its threshold, so a long episode does not
  // bank evidence that would hold the state long after it is over.
  const double kw = opt_.reference * w, ka = opt_.reference * a;
  const double hw = opt_.decision * w, ha = opt_.decision * a;
  s_warn_ = std::clamp(s_warn_ + std::min(z, opt_.cap * w) - kw, 0.0, 2 * hw);
  s_alarm_ = std::clamp(s_alarm_ + std::min(z, opt_.cap * a) - ka, 0.0, 2 * ha);
  run_warn_ = s_warn_ > 0 ? run_warn_ + (z > kw ? 1 : 0) : 0;
  run_alarm_ = s_alarm_ > 0 ? run_alarm_ + (z > ka ? 1 : 0) : 0;
  quiet_warn_ = s_warn_ > 0 ? 0 : quiet_warn_ + 1;
  quiet_alarm_ = s_alarm_ > 0 ? 0 : quiet_alarm_ + 1;
  bool warn = current_ == HealthState::kWarning || current_ == HealthState::kAlarm;
  bool alarm = current_ == HealthState::kAlarm;
  if (!warn && s_warn_ >= hw && run_warn_ >= opt_.min_dwell) warn = true;
  if (!alarm && s_alarm_ >= ha && run_alarm_ >= opt_.min_dwell) alarm = true;
  if (alarm && quiet_alarm_ >= opt_.release) alarm = false;
  if (warn && !alarm && quiet_warn_ >= opt_.release) warn = false;
  current_ = alarm ? HealthState::kAlarm : warn ? HealthState::kWarning : HealthState::kHealthy;
  return current_;
}

nlohmann::json Evidence::to_state() const {
  return {{"warning_sum", s_warn_},   {"alarm_sum", s_alarm_},     {"warning_run", run_warn_},
          {"alarm_run", run_alarm_},  {"warning_quiet", quiet_warn_}, {"alarm_quiet", quiet_alarm_},
          {"current", to_string(current_)}};
}

Status Evidence::from_state(const nlohmann::json& j) {
  state::StateReader r(j);
  const double sw = r.number("warning_sum"), sa = r.number("alarm_sum");
  const auto rw = r.integer("warning_run"), ra = r.integer("alarm_run");
  const auto qw = r.integer("warning_quiet"), qa = r.integer("alarm_quiet");
  const HealthState current = r.health("current");
  if (r.ok() && (sw < 0 || sa < 0)) r.fail(sw < 0 ? "warning_sum" : "alarm_sum", "negative");
  if (r.ok() && (rw < 0 || ra < 0 || qw < 0 || qa < 0)) r.fail("warning_run", "a run or quiet count is negative");
  VIGIL_RETURN_IF_ERROR(r.finish());
  auto clamp_int = [](std::int64_t v) { return static_cast<int>(std::min<std::int64_t>(v, 1 << 30)); };
  s_warn_ = sw;
  s_alarm_ = sa;
  run_warn_ = clamp_int(rw);
  run_alarm_ = clamp_int(ra);
  quiet_warn_ = clamp_int(qw);
  quiet_alarm_ = clamp_int(qa);
  current_ = current;
  return Status::Ok();
}

}  // namespace vigil::analytics
