// SPDX-License-Identifier: Apache-2.0
#include "analytics/position.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vigil::analytics {

HealthState roll_up(const std::vector<ModelState>& models, bool running) {
  if (!running) return HealthState::kNotRunning;
  HealthState worst = HealthState::kUnknown;
  bool init = false;
  for (auto& m : models) {
    if (m.persistent == HealthState::kInitializing) init = true;
    if (severity(m.persistent) > severity(worst)) worst = m.persistent;
  }
  if (worst == HealthState::kWarning || worst == HealthState::kAlarm) return worst;
  if (init) return HealthState::kInitializing;
  return worst;
}

// ------------------------------------------------------------ LearnedModel
LearnedModel::LearnedModel(std::string name, std::vector<FeatureSpec> specs, const AnalyticsOptions& o)
    : name_(std::move(name)), opt_(o), baseline_(std::move(specs)),
      persistence_(o.persistence_n, o.persistence_m) {
  last_.model = name_;
}

ModelState LearnedModel::update(TimestampMs ts, const std::vector<double>& raw, bool running) {
  ModelState s;
  s.model = name_;
  if (!running) {
    s.pointwise = HealthState::kNotRunning;
    s.persistent = persistence_.update(s.pointwise);
    last_ = s;
    return s;
  }
  recent_.emplace_back(ts, raw);
  while (recent_.size() > 512) recent_.pop_front();
  if (!baseline_.fitted()) {
    if (!learn_start_) learn_start_ = ts;
    const bool by_count = opt_.learn_count.has_value();
    const bool done =
        by_count ? learned_ >= *opt_.learn_count
                 : (learned_ >= opt_.min_learning_samples &&
                    static_cast<double>(ts - *learn_start_) >= opt_.learning_hours * 3.6e6);
    if (!done) {
      baseline_.add(raw);
      ++learned_;
      s.pointwise = HealthState::kInitializing;
      s.persistent = persistence_.update(s.pointwise);
      last_ = s;
      return s;
    }
    if (!baseline_.fit().ok()) {  // too few samples: keep learning
      baseline_.add(raw);
      ++learned_;
      s.pointwise = s.persistent = HealthState::kInitializing;
      last_ = s;
      return s;
    }
  }
  BaselineScore sc = baseline_.score(raw);
  s.score = sc.score;
  s.explanation = sc.explanation;
  s.pointwise = sc.score >= opt_.alarm_score     ? HealthState::kAlarm
                : sc.score >= opt_.warning_score ? HealthState::kWarning
                                                 : HealthState::kHealthy;
  s.persistent = persistence_.update(s.pointwise);
  last_ = s;
  return s;
}

void LearnedModel::absorb_since(TimestampMs since) {
  if (!baseline_.fitted()) return;
  for (auto& [ts, raw] : recent_)
    if (ts >= since) baseline_.add(raw);
  // The baseline was fitted before and only gained rows, so a refit can fail
  // only on non-finite input, which add() keeps out; keep the old fit if so.
  if (auto st = baseline_.fit(); !st.ok()) spdlog::warn("analytics: refitting a baseline: {}", st.ToString());
  persistence_.reset();
}

void LearnedModel::rebaseline() {
  baseline_.clear();
  learn_start_.reset();
  learned_ = 0;
  recent_.clear();
  persistence_.reset();
  last_ = ModelState{name_, HealthState::kInitializing, HealthState::kInitializing, std::nullopt, ""};
}

// -------------------------------------------------------- PositionAnalyzer
PositionAnalyzer::PositionAnalyzer(MachineInfo machine, AnalyticsOptions options)
    : machine_(std::move(machine)), opt_(options),
      iso_persistence_(options.persistence_n, options.persistence_m) {
  reload_zone_limits();
  iso_last_.model = kVibrationIso;
}

void PositionAnalyzer::reload_zone_limits() {
  auto l = ZoneTable::global().limits(machine_.machine_class);
  zone_limits_ = l ? std::optional<ZoneLimits>(*l) : std::nullopt;
}

EnvelopeBand envelope_band_for(const MachineInfo& m, double sample_rate_hz) {
  EnvelopeBand b;
  if (m.envelope_lo_hz <= 0 && m.envelope_hi_hz <= 0) return b;  // automatic
  const double hi = std::min(m.envelope_hi_hz, kMaxEnvelopeFraction * sample_rate_hz);
  if (!(m.envelope_lo_hz > 0 && m.envelope_lo_hz < hi)) {
    b.fell_back = true;
    return b;
  }
  b.lo_hz = m.envelope_lo_hz;
  b.hi_hz = hi;
  return b;
}

dsp::FeatureOptions PositionAnalyzer::feature_options(double sample_rate_hz) const {
  dsp::FeatureOptions o;
  const EnvelopeBand band = envelope_band_for(machine_, sample_rate_hz);
  o.envelope_lo_hz = band.lo_hz;
  o.envelope_hi_hz = band.hi_hz;
  dsp::velocity_band_for_rpm(machine_.shaft_rpm, o);
  if (machine_.shaft_rpm > 0) {
    o.shaft_hz = machine_.shaft_rpm / 60.0;
    if (machine_.bearing) {
      auto b = dsp::bearing_frequencies(*machine_.bearing, o.shaft_hz);
      if (b.bpfo > 0) o.bearing = b;
    }
  }
  return o;
}

namespace {
std::optional<double> find(const std::vector<dsp::Feature>& f, const std::string& n) {
  for (auto& x : f)
    if (x.name == n) return x.value;
  return std::nullopt;
}
}  // namespace

Assessment PositionAnalyzer::assess_vibration(TimestampMs ts, const std::vector<dsp::Feature>& features) {
  Assessment a;
  a.ts = ts;
  a.features = features;

  // ---- running? ----
  auto acc = find(features, "accel_rms_g");
  auto vel = find(features, "velocity_rms_mm_s");
  bool running = true;
  if (acc) running = *acc >= opt_.not_running_floor_g;
  else if (vel) running = *vel >= opt_.not_running_floor_mm_s;
  if (running && vib_ && vib_->baseline().fitted()) {
    const auto& specs = vib_->baseline().specs();
    const std::string ind = acc ? "accel_rms_g" : "velocity_rms_mm_s";
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].name != ind) continue;
      double v = acc ? *acc : vel.value_or(0);
      running = v >= opt_.not_running_ratio * vib_->baseline().median_raw(i);
    }
  }
  a.running = running_ = running;

  // ---- vibrationISO ----
  ModelState iso;
  iso.model = kVibrationIso;
  if (!running) {
    iso.pointwise = HealthState::kNotRunning;
  } else if (vel && zone_limits_) {
    a.zone = ZoneTable::zone(*zone_limits_, *vel);
    iso.pointwise = ZoneTable::state(*a.zone);
    iso.score = *vel;
    char buf[96];
    std::snprintf(buf, sizeof buf, "velocity RMS %.2f mm/s, zone %s (%s)", *vel, to_string(*a.zone),
                  machine_.machine_class.c_str());
    iso.explanation = buf;
  } else {
    iso.pointwise = HealthState::kUnknown;  // no velocity or unknown class
  }
  iso.persistent = iso_persistence_.update(iso.pointwise);
  iso_last_ = iso;
  a.models.push_back(iso);

  // ---- vibrationML ----
  if (!vib_) {
    for (auto& f : features) vib_names_.push_back(f.name);
    vib_ = std::make_unique<LearnedModel>(kVibrationMl, vibration_specs(vib_names_), opt_);
  }
  const auto& specs = vib_->baseline().specs();
  std::vector<double> raw(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto v = find(features, specs[i].name);
    // A feature this frame lacks counts as "at baseline".
    raw[i] = v ? *v : (vib_->baseline().fitted() ? vib_->baseline().median_raw(i) : 0);
  }
  ModelState ml = vib_->update(ts, raw, running);
  a.models.push_back(ml);
  a.score = ml.score;

  a.state = roll_up(a.models, running);
  // Explanation: the model(s) that drive the state, ML first.
  for (auto it = a.models.rbegin(); it != a.models.rend(); ++it) {
    if (it->explanation.empty()) continue;
    if (severity(it->persistent) >= severity(HealthState::kWarning) ||
        severity(it->pointwise) >= severity(HealthState::kWarning) || a.explanation.empty()) {
      if (!a.explanation.empty()) a.explanation += "; ";
      a.explanation += std::string(it->model) + ": " + it->explanation;
    }
  }
  return a;
}

Assessment PositionAnalyzer::assess_metric(TimestampMs ts, const std::string& metric, double value) {
  Assessment a;
  a.ts = ts;
  a.features = {{metric, value}};
  const bool temp = metric == "temperature_c";
  const std::string name = temp ? std::string(kTemperatureMl) : "metric:" + metric;
  auto& m = metric_models_[name];
  if (!m) m = std::make_unique<LearnedModel>(name, std::vector<FeatureSpec>{temp ? temperature_spec()
                                                                                 : generic_spec(metric)},
                                             opt_);
  // Temperature of a stopped machine says nothing about its bearings.
  const bool running = temp && vib_ ? running_ : true;
  ModelState s = m->update(ts, {value}, running);
  a.running = running;
  a.models.push_back(s);
  a.score = s.score;
  a.explanation = s.explanation.empty() ? "" : name + ": " + s.explanation;
  a.state = roll_up(a.models, running);
  return a;
}

void PositionAnalyzer::absorb_since(const std::string& model, TimestampMs since) {
  if (vib_ && (model.empty() || model == kVibrationMl)) vib_->absorb_since(since);
  for (auto& [n, m] : metric_models_)
    if (model.empty() || model == n) m->absorb_since(since);
}

void PositionAnalyzer::rebaseline(const std::string& model) {
  if (vib_ && (model.empty() || model == kVibrationMl || model == kVibrationIso)) vib_->rebaseline();
  for (auto& [n, m] : metric_models_)
    if (model.empty() || model == n) m->rebaseline();
  iso_persistence_.reset();
}

std::vector<ModelState> PositionAnalyzer::states() const {
  std::vector<ModelState> out;
  if (iso_last_.pointwise != HealthState::kUnknown || vib_) out.push_back(iso_last_);
  if (vib_) out.push_back(vib_->last());
  for (auto& [n, m] : metric_models_) out.push_back(m->last());
  return out;
}

std::vector<MetricBand> PositionAnalyzer::baseline_bands(double k) const {
  std::vector<MetricBand> out;
  auto add = [&](const LearnedModel& m) {
    const Baseline& b = m.baseline();
    if (!b.fitted()) return;
    for (std::size_t i = 0; i < b.specs().size(); ++i) {
      auto band = b.band_raw(i, k);
      out.push_back({b.specs()[i].name, m.name(), band.median, band.lo, band.hi});
    }
  };
  if (vib_) add(*vib_);
  for (auto& [n, m] : metric_models_) add(*m);
  return out;
}

}  // namespace vigil::analytics
