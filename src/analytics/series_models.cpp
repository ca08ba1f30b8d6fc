// SPDX-License-Identifier: Apache-2.0
#include "analytics/series_models.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "analytics/state_codec.h"

namespace vigil::analytics {

namespace {
constexpr double kDay = 86400.0;
constexpr double kWeek = 7 * kDay;
constexpr double kProfileRate = 0.1;    // seasonal profile: share of an error a bin takes per visit
constexpr double kScaleRate = 0.005;    // scale: per measurement
constexpr double kOffsetRate = 0.3;     // the level of a flagged change, per measurement
constexpr double kShadowRate = 0.2;     // ... and its spread
constexpr double kMeanAbsOfNormal = 0.7978845608;  // E|N(0,1)|

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (v.size() % 2 == 0) m = (m + *std::max_element(v.begin(), mid)) / 2;
  return m;
}

double mad(const std::vector<double>& v) {
  const double m = median(v);
  std::vector<double> d(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d[i] = std::abs(v[i] - m);
  return median(std::move(d));
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  auto k = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), k, v.end());
  return *k;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Series: no dwell (one extreme value is news), a higher per-value cap.
EvidenceOptions series_evidence(const AnalyticsOptions& o) {
  EvidenceOptions e;
  e.warning = o.warning_score;
  e.alarm = o.alarm_score;
  e.reference = 0.5;
  e.decision = 2;
  e.cap = 3;
  e.min_dwell = 1;
  e.release = o.evidence_release;
  return e;
}

bool counter_name(const std::string& m) {
  return m == "energy_kwh" || m == "water_l" || m == "volume_l" || m == "gas_m3" ||
         (m.size() > 6 && m.compare(m.size() - 6, 6, "_total") == 0);
}

// A profile over `bins` bins of `period` seconds from (t, y), level removed.
std::vector<double> fit_profile(const std::vector<TimestampMs>& t, const std::vector<double>& y, std::size_t from,
                                std::size_t to, double period, std::size_t bins) {
  std::vector<std::vector<double>> by(bins);
  std::vector<double> all(y.begin() + static_cast<std::ptrdiff_t>(from), y.begin() + static_cast<std::ptrdiff_t>(to));
  const double level = median(all);
  for (std::size_t i = from; i < to; ++i) {
    const double ph = std::fmod(static_cast<double>(t[i]) / 1000.0, period) / period;
    by[std::min(bins - 1, static_cast<std::size_t>(ph * static_cast<double>(bins)))].push_back(y[i] - level);
  }
  std::vector<double> prof(bins, 0);
  std::vector<char> have(bins, 0);
  for (std::size_t b = 0; b < bins; ++b)
    if (!by[b].empty()) prof[b] = median(by[b]), have[b] = 1;
  for (std::size_t b = 0; b < bins; ++b) {  // empty bins: the nearest filled one
    if (have[b]) continue;
    for (std::size_t d = 1; d < bins; ++d) {
      if (have[(b + d) % bins]) { prof[b] = prof[(b + d) % bins]; break; }
      if (have[(b + bins - d) % bins]) { prof[b] = prof[(b + bins - d) % bins]; break; }
    }
  }
  const double mean = std::accumulate(prof.begin(), prof.end(), 0.0) / static_cast<double>(bins);
  for (auto& p : prof) p -= mean;
  return prof;
}

double profile_value(const std::vector<double>& prof, double period, TimestampMs ts) {
  if (prof.empty()) return 0;
  const double ph = std::fmod(static_cast<double>(ts) / 1000.0, period) / period;
  return prof[std::min(prof.size() - 1, static_cast<std::size_t>(ph * static_cast<double>(prof.size())))];
}

// h-step-ahead errors of simple exponential smoothing at rate alpha (x_t
// against the level after x_{t-h}), each error's influence on the level
// clipped at `clip`.
std::vector<double> ses_errors(const std::vector<double>& x, double alpha, double clip, double* level_out,
                               std::size_t h = 1) {
  std::vector<double> head(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(x.size(), 10)));
  double level = median(head);
  std::vector<double> levels;  // level before x_t
  levels.reserve(x.size());
  std::vector<double> e;
  e.reserve(x.size());
  for (std::size_t t = 0; t < x.size(); ++t) {
    levels.push_back(level);
    const double before_h = levels[t + 1 >= h ? t + 1 - h : 0];
    e.push_back(x[t] - before_h);
    level += alpha * std::clamp(x[t] - level, -clip, clip);
  }
  if (level_out) *level_out = level;
  return e;
}

// The lag (in samples) of the strongest cycle of x: a peak of the
// autocorrelation above 0.3 that rises at least 0.3 above the trough before
// it, with at least 2.5 cycles in x. 0 if none.
std::size_t cycle_lag(const std::vector<double>& y) {
  const std::size_t n = y.size();
  if (n < 24) return 0;
  const double m = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double var = 0;
  for (double v : y) var += (v - m) * (v - m);
  if (var <= 0) return 0;
  const std::size_t max_lag = static_cast<std::size_t>(static_cast<double>(n) / 2.5);
  std::vector<double> r(max_lag + 2, 0);
  for (std::size_t l = 1; l <= max_lag + 1 && l < n; ++l) {
    double c = 0;
    for (std::size_t i = l; i < n; ++i) c += (y[i] - m) * (y[i - l] - m);
    r[l] = c / var;
  }
  std::size_t best = 0;
  double best_r = 0.3, trough = 1;
  for (std::size_t l = 2; l <= max_lag; ++l) {
    trough = std::min(trough, r[l - 1]);
    if (r[l] > r[l - 1] && r[l] >= r[l + 1] && r[l] > best_r && r[l] - trough >= 0.3) {
      best = l;
      best_r = r[l];
    }
  }
  return best;
}
}  // namespace

const char* to_string(SeriesKind k) {
  switch (k) {
    case SeriesKind::kLearning: return "learning";
    case SeriesKind::kLevel: return "level";
    case SeriesKind::kCounter: return "counter";
    case SeriesKind::kBinary: return "binary";
    case SeriesKind::kSensorHealth: return "sensor_health";
  }
  return "?";
}

const char* to_string(SeriesCycle c) {
  switch (c) {
    case SeriesCycle::kNone: return "none";
    case SeriesCycle::kDaily: return "daily";
    case SeriesCycle::kWeekly: return "weekly";
    case SeriesCycle::kCycle: return "cycle";
  }
  return "?";
}

bool is_sensor_health_metric(const std::string& m) {
  return starts_with(m, "battery") || starts_with(m, "rssi");
}

bool is_binary_metric(const std::string& m) {
  static const char* const kBinary[] = {
      "door_open", "motion", "running", "binary", "power_on", "opening", "charging", "co_detected", "cold",
      "connectivity", "garage_door_open", "gas_detected", "heat", "light", "unlocked", "moisture_detected",
      "moving", "occupancy", "plug", "presence", "problem", "safety", "smoke", "sound", "tamper", "vibration",
      "window_open"};
  for (auto* b : kBinary)
    if (m == b) return true;
  return false;
}

SeriesModel::SeriesModel(std::string name, std::string metric, const AnalyticsOptions& o)
    : name_(std::move(name)), metric_(std::move(metric)), opt_(o),
      evidence_(series_evidence(o)) {
  last_.model = name_;
  if (is_sensor_health_metric(metric_)) kind_ = SeriesKind::kSensorHealth;
  else if (is_binary_metric(metric_)) kind_ = SeriesKind::kBinary;
}

ModelState SeriesModel::finish(ModelState s, TimestampMs ts) {
  s.since = (s.pointwise != last_.pointwise || s.persistent != last_.persistent) ? ts : last_.since;
  last_ = s;
  return s;
}

ModelState SeriesModel::unscored(HealthState st, const std::string& why, TimestampMs ts) {
  ModelState s;
  s.model = name_;
  s.pointwise = st;
  s.persistent = st;
  s.explanation = why;
  return finish(std::move(s), ts);
}

void SeriesModel::rebaseline(TimestampMs ts) {
  const bool named = kind_ == SeriesKind::kSensorHealth || (kind_ == SeriesKind::kBinary && is_binary_metric(metric_));
  if (!named) kind_ = SeriesKind::kLearning;
  cycle_ = SeriesCycle::kNone;
  learn_ts_.clear();
  learn_v_.clear();
  profile_.clear();
  prev_.reset();
  expected_.reset();
  offset_ = 0;
  shadow_abs_ = 0;
  flagged_ = 0;
  evidence_.reset();
  ModelState s;
  s.model = name_;
  s.pointwise = s.persistent = HealthState::kInitializing;
  s.since = ts;
  last_ = s;
}

void SeriesModel::absorb_since(TimestampMs) {
  if (kind_ != SeriesKind::kLevel && kind_ != SeriesKind::kCounter) return;
  level_ += offset_;
  if (shadow_abs_ > 0) {
    sigma_ = std::max(sigma_, shadow_abs_ / kMeanAbsOfNormal / tail_);
    abs_dev_ = sigma_ / 1.4826;
  }
  offset_ = 0;
  shadow_abs_ = 0;
  flagged_ = 0;
  evidence_.reset();
}

std::size_t SeriesModel::bin_of(TimestampMs ts) const {
  const double ph = std::fmod(static_cast<double>(ts) / 1000.0, period_s_) / period_s_;
  return std::min(profile_.size() - 1, static_cast<std::size_t>(ph * static_cast<double>(profile_.size())));
}

double SeriesModel::profile_at(TimestampMs ts) const { return profile_value(profile_, period_s_, ts); }

void SeriesModel::fit() {
  const std::size_t n = learn_v_.size();
  // 0/1 only: a state, left to rules.
  bool binary = true;
  bool both = false;
  for (double v : learn_v_) {
    binary &= v == 0 || v == 1;
    both |= v != learn_v_.front();
  }
  if (binary && both) {
    kind_ = SeriesKind::kBinary;
    return;
  }
  // Typical interval.
  std::vector<double> dts;
  for (std::size_t i = 1; i < n; ++i) dts.push_back(static_cast<double>(learn_ts_[i] - learn_ts_[i - 1]) / 1000.0);
  dt_ref_s_ = std::max(1e-3, median(dts));
  // A monotone total: model its increments.
  std::size_t nonneg = 0, pos = 0;
  for (std::size_t i = 1; i < n; ++i) {
    const double d = learn_v_[i] - learn_v_[i - 1];
    nonneg += d >= 0;
    pos += d > 0;
  }
  const double m1 = n > 1 ? static_cast<double>(n - 1) : 1;
  const bool counter = n >= 20 && static_cast<double>(nonneg) >= 0.99 * m1 &&
                       static_cast<double>(pos) >= (counter_name(metric_) ? 0.2 : 0.5) * m1 &&
                       learn_v_.back() > learn_v_.front();
  std::vector<TimestampMs> t;
  std::vector<double> y;
  if (counter) {
    kind_ = SeriesKind::kCounter;
    for (std::size_t i = 1; i < n; ++i) {
      const double d = learn_v_[i] - learn_v_[i - 1];
      const double dt = static_cast<double>(learn_ts_[i] - learn_ts_[i - 1]) / 1000.0;
      if (d < 0 || dt <= 0) continue;  // a reset
      t.push_back(learn_ts_[i]);
      y.push_back(d / dt * dt_ref_s_);
    }
    prev_ = std::make_pair(learn_ts_.back(), learn_v_.back());
  } else {
    kind_ = SeriesKind::kLevel;
    t = learn_ts_;
    y = learn_v_;
  }
  const std::size_t m = y.size();
  if (m < 3) {  // nothing to learn from (a counter that never moved): a flat level
    kind_ = SeriesKind::kLevel;
    t = learn_ts_;
    y = learn_v_;
  }
  // Daily or weekly cycle: only with two cycles to learn from, and only
  // when a profile from the first half predicts the second half clearly
  // better than a flat level (out of sample, so a profile that merely
  // memorises noise does not win).
  const double span = t.empty() ? 0 : static_cast<double>(t.back() - t.front()) / 1000.0;
  auto bins_for = [&](double period) {
    return static_cast<std::size_t>(std::clamp(std::round(period / dt_ref_s_), 4.0, 288.0));
  };
  std::size_t half = 0;
  while (half < y.size() && static_cast<double>(t[half] - t.front()) / 1000.0 < span / 2) ++half;
  auto holdout_cost = [&](double period) {
    std::vector<double> r;
    if (period <= 0) {
      r.assign(y.begin() + static_cast<std::ptrdiff_t>(half), y.end());
    } else {
      auto prof = fit_profile(t, y, 0, half, period, bins_for(period));
      for (std::size_t i = half; i < y.size(); ++i) r.push_back(y[i] - profile_value(prof, period, t[i]));
    }
    // Mean absolute deviation: unlike the MAD it sees a cycle's short
    // excursions (a defrost, a shift's working hours), which are exactly
    // what a profile is for.
    const double c = median(r);
    double sum = 0;
    for (double v : r) sum += std::abs(v - c);
    return r.empty() ? 0.0 : sum / static_cast<double>(r.size());
  };
  cycle_ = SeriesCycle::kNone;
  period_s_ = 0;
  if (y.size() >= 24) {
    double best = holdout_cost(0);
    auto consider = [&](SeriesCycle c, double period) {
      const double cost = holdout_cost(period);
      if (cost < 0.8 * best) cycle_ = c, period_s_ = period, best = cost;
    };
    if (span >= 2 * kDay && dt_ref_s_ <= 3600) consider(SeriesCycle::kDaily, kDay);
    if (span >= 2 * kWeek && dt_ref_s_ <= 3 * 3600) consider(SeriesCycle::kWeekly, kWeek);
    if (const std::size_t lag = cycle_lag(y); lag > 0) {
      const double period = static_cast<double>(lag) * dt_ref_s_;
      if (std::abs(period - kDay) > 0.05 * kDay && std::abs(period - kWeek) > 0.05 * kWeek && span >= 2 * period)
        consider(SeriesCycle::kCycle, period);
    }
  }
  profile_.clear();
  if (cycle_ != SeriesCycle::kNone) profile_ = fit_profile(t, y, 0, y.size(), period_s_, bins_for(period_s_));
  std::vector<double> x(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) x[i] = y[i] - profile_at(t[i]);
  // Resolution (smallest step between distinct values) and level floors.
  std::vector<double> sorted = y;
  std::sort(sorted.begin(), sorted.end());
  double res = 0;
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    const double d = sorted[i] - sorted[i - 1];
    if (d > 1e-12 && (res == 0 || d < res)) res = d;
  }
  floor_ = std::max({res / 2, 1e-3 * std::abs(median(y)), 1e-9});
  // Smoothing rate by h-step-ahead error over the later part of learning.
  const double clip = 4 * std::max(1.4826 * mad(x), floor_);
  const double rates[] = {0.002, 0.01, 0.03, 0.1, 0.3, 1.0};
  const std::size_t h = std::clamp<std::size_t>(x.size() / 20, 1, 48);
  std::vector<double> costs;
  for (double a : rates) {
    auto e = ses_errors(x, a, clip, nullptr, h);
    std::vector<double> tail(e.begin() + static_cast<std::ptrdiff_t>(e.size() / 3), e.end());
    for (auto& v : tail) v = std::abs(v);
    costs.push_back(median(tail));
  }
  const double best_cost = *std::min_element(costs.begin(), costs.end());
  alpha_ = rates[0];
  for (std::size_t k = 0; k < costs.size(); ++k)
    if (costs[k] <= 1.02 * best_cost) {
      alpha_ = rates[k];
      break;
    }
  auto e = ses_errors(x, alpha_, clip, &level_);
  std::vector<double> used(e.begin() + static_cast<std::ptrdiff_t>(std::min(e.size() / 10, e.size())), e.end());
  sigma_ = std::max(1.4826 * mad(used), floor_);
  const double center = median(used);
  std::vector<double> u;
  for (double v : used) u.push_back(std::abs(v - center) / sigma_);
  // Tail: a Student-t whose ratio of 99th percentile to median of |error|
  // matches the learning errors' (normal: 3.82; t4: 6.2; Cauchy: 64), so a
  // heavy-tailed series' big values are judged as rare as they really are.
  tail_ = 1;
  nu_ = 0;
  if (u.size() >= 50) {
    struct T { double nu, ratio, q75; };
    // No heavier than t3: a learning period's few extreme errors are as
    // likely a profile's misfit as a truly infinite-variance sensor.
    static const T kT[] = {{3, 7.64, 0.7649}, {4, 6.22, 0.7407}, {6, 5.17, 0.7176}, {10, 4.53, 0.6998},
                           {30, 4.03, 0.6828}};
    const double q50 = quantile(u, 0.5), ratio = q50 > 0 ? quantile(u, 0.99) / q50 : 0;
    for (const auto& t : kT)
      if (ratio >= t.ratio) {
        nu_ = t.nu;
        tail_ = 0.6745 / t.q75;  // the t's scale from the MAD
        break;
      }
  }
  abs_dev_ = sigma_ / 1.4826;
  n_learn_ = static_cast<double>(used.size());
  accept_after_ = std::max(12, static_cast<int>(n));
  offset_ = 0;
  flagged_ = 0;
  learn_ts_.clear();
  learn_v_.clear();
}

ModelState SeriesModel::update(TimestampMs ts, double value, bool running) {
  if (kind_ == SeriesKind::kSensorHealth)
    return unscored(HealthState::kHealthy, "not scored: left to sensor health", ts);
  if (kind_ == SeriesKind::kBinary && learn_v_.empty())
    return unscored(HealthState::kHealthy, "not scored: a 0/1 state, left to rules", ts);
  if (!std::isfinite(value)) {  // never learned, never scored: the state stands
    ModelState s = last_;
    s.score.reset();
    s.z.reset();
    return finish(std::move(s), ts);
  }
  if (!running) {
    ModelState s;
    s.model = name_;
    s.pointwise = HealthState::kNotRunning;
    s.persistent = evidence_.update(HealthState::kNotRunning);
    s.learning = last_.learning;
    s.learned_hours = last_.learned_hours;
    s.learning_hours = last_.learning_hours;
    return finish(std::move(s), ts);
  }
  if (kind_ == SeriesKind::kLearning || kind_ == SeriesKind::kBinary) {
    const bool by_count = opt_.learn_count.has_value();
    const double span_h = learn_ts_.empty() ? 0 : static_cast<double>(ts - learn_ts_.front()) / 3.6e6;
    const int learned = static_cast<int>(learn_v_.size());
    const bool planned = by_count ? learned >= *opt_.learn_count
                                  : (learned >= opt_.min_learning_samples && span_h >= opt_.learning_hours);
    if (!planned || learned < 3) {
      learn_ts_.push_back(ts);
      learn_v_.push_back(value);
      ModelState s;
      s.model = name_;
      s.pointwise = HealthState::kInitializing;
      s.persistent = evidence_.update(HealthState::kInitializing);
      s.learning = by_count ? std::to_string(learned + 1) + " of " + std::to_string(*opt_.learn_count) + " measurements"
                            : fmt("%.1f h", span_h) + " of " + fmt("%.1f h", opt_.learning_hours) + " (" +
                                  std::to_string(learned + 1) + " measurements)";
      if (!by_count) {
        s.learned_hours = span_h;
        s.learning_hours = opt_.learning_hours;
      }
      return finish(std::move(s), ts);
    }
    fit();
    if (kind_ == SeriesKind::kBinary) {
      learn_v_.clear();
      learn_ts_.clear();
      return unscored(HealthState::kHealthy, "not scored: a 0/1 state, left to rules", ts);
    }
  }
  // The modelled value: the level itself, or a counter's increment per
  // typical interval (a decrease is a reset: skipped).
  double y = value;
  if (kind_ == SeriesKind::kCounter) {
    const auto prev = prev_;
    prev_ = std::make_pair(ts, value);
    const double dt = prev ? static_cast<double>(ts - prev->first) / 1000.0 : 0;
    if (!prev || value < prev->second || dt <= 0) {
      ModelState s = last_;
      s.score.reset();
      s.z.reset();
      s.explanation = "counter reset: not scored";
      return finish(std::move(s), ts);
    }
    y = (value - prev->second) / dt * dt_ref_s_;
  }
  const double expected = level_ + profile_at(ts);
  expected_ = expected;
  const double e = y - expected;
  const double s_eff = std::max(sigma_, floor_) * tail_;
  const double z = tail_z(std::abs(e) / s_eff);
  ModelState s;
  s.model = name_;
  s.z = z;
  s.pointwise = z >= opt_.alarm_score ? HealthState::kAlarm
                : z >= opt_.warning_score ? HealthState::kWarning
                                          : HealthState::kHealthy;
  const bool was_flagged = flagged_ > 0;
  s.persistent = evidence_.update(s.pointwise, z);
  const bool flagged = s.persistent == HealthState::kWarning || s.persistent == HealthState::kAlarm;
  // Score: the surprise given what is known, including a flagged change.
  // The changed regime is a fast model of its own: its level (offset) and
  // its spread (shadow_abs_), so a change of level or of variance scores
  // high when it starts and not for as long as it lasts.
  double surprise = std::abs(e) / s_eff;
  if (was_flagged) {
    const double shadow_sigma = std::max(shadow_abs_ / kMeanAbsOfNormal, s_eff);
    surprise = std::min(surprise, std::abs(e - offset_) / shadow_sigma);
  }
  s.score = calibrated_score(tail_z(surprise));
  const char* unit = kind_ == SeriesKind::kCounter ? " increment" : "";
  if (std::abs(e) > 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %.4g vs expected %.4g (%+.1fσ)", metric_.c_str(), unit, y, expected,
                  e / s_eff);
    s.explanation = buf;
  }
  if (flagged) {
    if (flagged_ == 0) {
      offset_ = e;
      shadow_abs_ = kMeanAbsOfNormal * s_eff;
    } else {
      shadow_abs_ += kShadowRate * (std::abs(e - offset_) - shadow_abs_);
      offset_ += kOffsetRate * (e - offset_);
    }
    ++flagged_;
    if (flagged_ >= accept_after_) {  // lasted as long as learning did: the new normal
      level_ += offset_;
      sigma_ = std::max(sigma_, shadow_abs_ / kMeanAbsOfNormal / tail_);
      abs_dev_ = sigma_ / 1.4826;
      offset_ = 0;
      shadow_abs_ = 0;
      flagged_ = 0;
      evidence_.reset();
      s.explanation += "; lasted as long as the learning period: taken as the new normal";
      s.persistent = HealthState::kHealthy;
    }
  } else {
    flagged_ = 0;
    offset_ = 0;
    shadow_abs_ = 0;
    // Slow adaptation while healthy; bounded influence, so one odd value
    // barely moves the level and a change is not learned as normal.
    const double ec = std::clamp(e, -2.5 * s_eff, 2.5 * s_eff);
    level_ += alpha_ * ec;
    if (!profile_.empty()) profile_[bin_of(ts)] += kProfileRate * (1 - alpha_) * ec;
    // The median absolute error, tracked by stochastic approximation (a
    // multiplicative step up or down), is the robust scale's MAD.
    abs_dev_ *= std::abs(e) > abs_dev_ ? 1 + kScaleRate : 1 - kScaleRate;
    sigma_ = std::max(1.4826 * abs_dev_, floor_);
  }
  return finish(std::move(s), ts);
}

double SeriesModel::tail_z(double t) const {
  // Normal-equivalent of |t| under Student-t with the tail's degrees of
  // freedom and the learning count's (whichever is fewer), the predictive
  // factor sqrt(n/(n+1)) applied: z ≈ (8ν+1)/(8ν+3)·sqrt(ν·ln(1 + t²/ν)).
  const double n = std::max(n_learn_, 4.0);
  const double nu = nu_ > 0 ? std::min(nu_, n - 1) : n - 1;
  const double t2 = t * t * n / (n + 1);
  return (8 * nu + 1) / (8 * nu + 3) * std::sqrt(nu * std::log1p(t2 / nu));
}

std::optional<MetricBand> SeriesModel::band(double k) const {
  if (kind_ != SeriesKind::kLevel || !expected_) return std::nullopt;
  const double d = k * std::max(sigma_, floor_) * tail_;
  return MetricBand{metric_, name_, *expected_, *expected_ - d, *expected_ + d};
}

// ------------------------------------------------------------ learned state
namespace {
using nlohmann::json;

// The last state names its model even before the first measurement set it.
ModelState named(ModelState m, const std::string& name) {
  m.model = name;
  return m;
}

std::optional<SeriesKind> kind_from(const std::string& s) {
  for (auto k : {SeriesKind::kLearning, SeriesKind::kLevel, SeriesKind::kCounter, SeriesKind::kBinary,
                 SeriesKind::kSensorHealth})
    if (s == to_string(k)) return k;
  return std::nullopt;
}
std::optional<SeriesCycle> cycle_from(const std::string& s) {
  for (auto c : {SeriesCycle::kNone, SeriesCycle::kDaily, SeriesCycle::kWeekly, SeriesCycle::kCycle})
    if (s == to_string(c)) return c;
  return std::nullopt;
}
}  // namespace

json SeriesModel::to_state() const {
  std::vector<std::int64_t> lt(learn_ts_.begin(), learn_ts_.end());
  return {{"name", name_},
          {"metric", metric_},
          {"kind", to_string(kind_)},
          {"cycle", to_string(cycle_)},
          {"learn_ts", state::i64_bytes(lt)},
          {"learn_values", state::f64_bytes(learn_v_)},
          {"alpha", alpha_},
          {"level", level_},
          {"sigma", sigma_},
          {"tail", tail_},
          {"nu", nu_},
          {"floor", floor_},
          {"abs_dev", abs_dev_},
          {"n_learn", n_learn_},
          {"dt_ref_s", dt_ref_s_},
          {"profile", state::f64_bytes(profile_)},
          {"period_s", period_s_},
          {"prev", prev_ ? json{{"ts", prev_->first}, {"value", prev_->second}} : json(nullptr)},
          {"offset", offset_},
          {"shadow_abs", shadow_abs_},
          {"flagged", flagged_},
          {"accept_after", accept_after_},
          {"expected", expected_ ? json(*expected_) : json(nullptr)},
          {"evidence", evidence_.to_state()},
          {"last", model_state_json(named(last_, name_))}};
}

Status SeriesModel::from_state(const json& j) {
  state::StateReader r(j);
  const std::string name = r.text("name"), metric = r.text("metric");
  if (r.ok() && (name != name_ || metric != metric_))
    r.fail("name", "'" + name + "' (" + metric + ") saved, '" + name_ + "' (" + metric_ + ") expected");
  const auto kind = kind_from(r.text("kind"));
  const auto cycle = cycle_from(r.text("cycle"));
  if (r.ok() && !kind) r.fail("kind", "unknown");
  if (r.ok() && !cycle) r.fail("cycle", "unknown");
  const auto lt = r.i64("learn_ts");
  const auto lv = r.f64("learn_values");
  if (r.ok() && lt.size() != lv.size()) r.fail("learn_values", "not one per learn_ts");
  const double alpha = r.number("alpha"), level = r.number("level"), sigma = r.number("sigma");
  const double tail = r.number("tail"), floor = r.number("floor"), abs_dev = r.number("abs_dev");
  const double n_learn = r.number("n_learn"), dt_ref = r.number("dt_ref_s");
  const auto profile = r.f64("profile");
  const double period = r.number("period_s");
  std::optional<std::pair<TimestampMs, double>> prev;
  if (const json& p = r.value("prev"); r.ok() && !p.is_null()) {
    state::StateReader pr(p);
    prev = std::make_pair(static_cast<TimestampMs>(pr.integer("ts")), pr.number("value"));
    if (auto st = pr.finish(); !st.ok()) return state::nest(st, "prev");
  }
  const double offset = r.number("offset");
  const double shadow_abs = r.number("shadow_abs");
  const auto flagged = r.integer("flagged"), accept_after = r.integer("accept_after");
  const auto expected = r.optional_number("expected");
  if (r.ok() && !(alpha >= 0 && alpha <= 1)) r.fail("alpha", "not in 0..1");
  const double nu = r.number("nu");
  if (r.ok() && !(sigma > 0 && tail > 0 && floor >= 0 && abs_dev >= 0 && nu >= 0)) r.fail("sigma", "scale out of range");
  if (r.ok() && (flagged < 0 || accept_after < 0 || flagged > INT32_MAX || accept_after > INT32_MAX))
    r.fail("flagged", "out of range");
  if (r.ok() && !profile.empty() && !(period > 0)) r.fail("period_s", "a profile needs a period");
  Evidence evidence = evidence_;
  if (const json& ev = r.value("evidence"); r.ok())
    if (auto st = evidence.from_state(ev); !st.ok()) return state::nest(st, "evidence");
  ModelState last;
  if (const json& l = r.value("last", json::value_t::object); r.ok()) {
    auto m = model_state_from(l);
    if (!m) return state::nest(m.status(), "last");
    last = std::move(*m);
    if (last.model != name_) r.fail("last", "model '" + last.model + "' is not '" + name_ + "'");
  }
  VIGIL_RETURN_IF_ERROR(r.finish());
  kind_ = *kind;
  cycle_ = *cycle;
  learn_ts_.assign(lt.begin(), lt.end());
  learn_v_ = lv;
  alpha_ = alpha;
  level_ = level;
  sigma_ = sigma;
  tail_ = tail;
  nu_ = nu;
  floor_ = floor;
  abs_dev_ = abs_dev;
  n_learn_ = n_learn;
  dt_ref_s_ = dt_ref;
  profile_ = profile;
  period_s_ = period;
  prev_ = prev;
  offset_ = offset;
  shadow_abs_ = shadow_abs;
  flagged_ = static_cast<int>(flagged);
  accept_after_ = static_cast<int>(accept_after);
  expected_ = expected;
  evidence_ = std::move(evidence);
  last_ = std::move(last);
  return Status::Ok();
}

}  // namespace vigil::analytics
