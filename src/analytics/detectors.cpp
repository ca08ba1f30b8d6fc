// SPDX-License-Identifier: Apache-2.0
#include "analytics/detectors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <numeric>

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

void Baseline::add(const std::vector<double>& raw) {
  Eigen::VectorXd x(static_cast<Eigen::Index>(specs_.size()));
  for (std::size_t i = 0; i < specs_.size(); ++i)
    x[static_cast<Eigen::Index>(i)] = transform(i, i < raw.size() ? raw[i] : 0);
  if (samples_.size() >= opt_.max_samples) samples_.erase(samples_.begin());
  samples_.push_back(std::move(x));
}

void Baseline::clear() {
  samples_.clear();
  fitted_ = false;
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

Status Baseline::fit() {
  const std::size_t n = samples_.size();
  const auto p = static_cast<Eigen::Index>(specs_.size());
  if (p == 0) return Status::InvalidArgument("baseline has no features");
  if (n < 3) return Status::InvalidArgument("baseline needs at least 3 samples, has " + std::to_string(n));
  med_.resize(p);
  scale_.resize(p);
  std::vector<double> col(n);
  for (Eigen::Index j = 0; j < p; ++j) {
    for (std::size_t i = 0; i < n; ++i) col[i] = samples_[i][j];
    double m = median_of(col);
    for (auto& c : col) c = std::abs(c - m);
    double mad = median_of(col);
    const double floor = specs_[static_cast<std::size_t>(j)].min_scale > 0
                             ? specs_[static_cast<std::size_t>(j)].min_scale
                             : std::max(1e-9, 0.01 * std::abs(m));
    med_[j] = m;
    scale_[j] = std::max(1.4826 * mad, floor);
  }
  Eigen::MatrixXd z(static_cast<Eigen::Index>(n), p);
  for (std::size_t i = 0; i < n; ++i)
    z.row(static_cast<Eigen::Index>(i)) =
        ((samples_[i] - med_).array() / scale_.array()).matrix().transpose();

  // Reweighted covariance: fit, drop samples beyond the rejection score,
  // refit (a few rounds, like the reweighting step of MCD).
  std::vector<char> keep(n, 1);
  Eigen::MatrixXd s = Eigen::MatrixXd::Identity(p, p);
  const double lambda = std::clamp(opt_.shrinkage, 0.0, 1.0);
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
      char k = chi2_to_z(d2, static_cast<int>(p)) <= opt_.reject_quantile_z ? 1 : 0;
      changed |= (k != keep[i]);
      keep[i] = k;
    }
    if (!changed && round > 0) break;
  }
  cov_inv_ = s.inverse();
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
  out.score = chi2_to_z(out.d2, static_cast<int>(p));
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

}  // namespace vigil::analytics
