// SPDX-License-Identifier: Apache-2.0
#include "analytics/position.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "analytics/series_models.h"
#include "analytics/state_codec.h"

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
namespace {
EvidenceOptions evidence_options(const AnalyticsOptions& o) {
  EvidenceOptions e;
  e.warning = o.warning_score;
  e.alarm = o.alarm_score;
  e.min_dwell = o.evidence_min_dwell;
  e.release = o.evidence_release;
  return e;  // vibration: EvidenceOptions' defaults (k = 0.75, h = 1, cap 2)
}

std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
}  // namespace

LearnedModel::LearnedModel(std::string name, std::vector<FeatureSpec> specs, const AnalyticsOptions& o)
    : name_(std::move(name)), opt_(o), baseline_(std::move(specs)), evidence_(evidence_options(o)) {
  last_.model = name_;
}

ModelState LearnedModel::finish(ModelState s, TimestampMs ts) {
  s.since = (s.pointwise != last_.pointwise || s.persistent != last_.persistent) ? ts : last_.since;
  last_ = s;
  return s;
}

ModelState LearnedModel::update(TimestampMs ts, const std::vector<double>& raw_in, bool running) {
  ModelState s;
  s.model = name_;
  if (!running) {
    s.pointwise = HealthState::kNotRunning;
    s.persistent = evidence_.update(s.pointwise);
    s.learning = last_.learning;
    s.learned_hours = last_.learned_hours;
    s.learning_hours = last_.learning_hours;
    return finish(std::move(s), ts);
  }
  const bool finite = std::all_of(raw_in.begin(), raw_in.end(), [](double v) { return std::isfinite(v); });
  if (!baseline_.fitted() && !finite) {
    // Not learned, not counted: a non-finite value never enters a baseline.
    s.pointwise = s.persistent = HealthState::kInitializing;
    s.persistent = evidence_.update(s.pointwise);
    s.learning = last_.learning;
    s.learned_hours = last_.learned_hours;
    s.learning_hours = last_.learning_hours;
    return finish(std::move(s), ts);
  }
  std::vector<double> raw = raw_in;
  if (!finite)  // scored (and remembered for feedback) as if at its baseline
    for (std::size_t i = 0; i < raw.size() && i < baseline_.specs().size(); ++i)
      if (!std::isfinite(raw[i])) raw[i] = baseline_.median_raw(i);
  recent_.emplace_back(ts, raw);
  while (recent_.size() > kRecent) recent_.pop_front();
  if (!baseline_.fitted()) {
    if (!learn_start_) learn_start_ = ts;
    const bool by_count = opt_.learn_count.has_value();
    const double span_h = static_cast<double>(ts - *learn_start_) / 3.6e6;
    const bool planned = by_count ? learned_ >= *opt_.learn_count
                                  : (learned_ >= opt_.min_learning_samples && span_h >= opt_.learning_hours);
    std::string why;
    if (planned) {
      // The planned period is over; learning ends once the window's
      // statistics have settled (the window slides meanwhile, dropping its
      // oldest samples), or at the limit whatever they do.
      if (window_ == 0) window_ = learned_;
      const Convergence c = baseline_.convergence();
      const double f = std::max(1.0, opt_.max_learning_factor);
      const bool limit = by_count ? learned_ >= f * *opt_.learn_count : span_h >= f * opt_.learning_hours;
      if ((c.converged || limit) && baseline_.fit().ok()) {
        fit_note_ = c.converged ? "" : "learning ended at its limit without settling: " + c.reason;
      } else {
        why = c.converged ? "too few measurements" : c.reason;
      }
    }
    if (!baseline_.fitted()) {
      if (baseline_.add(raw).ok()) ++learned_;
      if (window_ > 0) baseline_.keep_last(static_cast<std::size_t>(window_));
      s.pointwise = HealthState::kInitializing;
      s.persistent = evidence_.update(s.pointwise);
      if (by_count)
        s.learning = std::to_string(learned_) + " of " + std::to_string(*opt_.learn_count) + " measurements";
      else {
        s.learning = fmt1(span_h) + " h of " + fmt1(opt_.learning_hours) + " h (" + std::to_string(learned_) +
                     " measurements)";
        s.learned_hours = span_h;
        s.learning_hours = opt_.learning_hours;
      }
      if (!why.empty()) s.learning += "; continuing: " + why;
      return finish(std::move(s), ts);
    }
  }
  BaselineScore sc = baseline_.score(raw);
  Baseline* home = nullptr;  // the regime that explains this measurement best, if any
  for (auto& rg : regimes_) {
    BaselineScore r = rg.score(raw);
    if (r.score < sc.score) {
      sc = std::move(r);
      home = &rg;
    }
  }
  if (home && sc.score < opt_.warning_score &&
      home->samples() < static_cast<std::size_t>(std::max(window_, opt_.min_learning_samples)) &&
      home->add(raw).ok())
    (void)home->fit();  // it was fitted on fewer rows of the same kind; a failure keeps the old fit
  s.z = sc.score;
  s.score = calibrated_score(sc.score);
  s.explanation = sc.explanation;
  s.pointwise = sc.score >= opt_.alarm_score     ? HealthState::kAlarm
                : sc.score >= opt_.warning_score ? HealthState::kWarning
                                                 : HealthState::kHealthy;
  s.persistent = evidence_.update(s.pointwise, sc.score);
  return finish(std::move(s), ts);
}

void LearnedModel::absorb_since(TimestampMs since) {
  if (!baseline_.fitted()) return;
  // The rows since `since` and the episode that led up to it: an alert
  // opens after a few measurements of evidence, and those are the new
  // level too.
  std::vector<const std::vector<double>*> rows;
  std::size_t first = recent_.size();
  while (first > 0 && recent_[first - 1].first >= since) --first;
  while (first > 0 && baseline_.score(recent_[first - 1].second).score >= opt_.warning_score) --first;
  for (std::size_t k = first; k < recent_.size(); ++k)
    rows.push_back(&recent_[k].second);  // finite: update() keeps only finite rows
  // A handful of measurements at a new level would be outliers to the
  // robust statistics of a baseline learned over days, so the user's "this
  // is normal" founds a regime of its own instead.
  Baseline regime = baseline_;
  regime.clear();
  for (auto* raw : rows) (void)regime.add(*raw);
  if (regime.samples() >= 3 && regime.fit().ok()) {
    regimes_.push_back(std::move(regime));
    if (regimes_.size() > kMaxRegimes) regimes_.erase(regimes_.begin());
  } else {
    for (auto* raw : rows) (void)baseline_.add(*raw);
    // The baseline was fitted before and only gained rows, so a refit can fail
    // only on non-finite input, which add() keeps out; keep the old fit if so.
    if (auto st = baseline_.fit(); !st.ok()) spdlog::warn("analytics: refitting a baseline: {}", st.ToString());
  }
  evidence_.reset();
}

void LearnedModel::rebaseline(TimestampMs ts) {
  baseline_.clear();
  regimes_.clear();
  learn_start_.reset();
  learned_ = 0;
  window_ = 0;
  fit_note_.clear();
  recent_.clear();
  evidence_.reset();
  ModelState s;
  s.model = name_;
  s.pointwise = s.persistent = HealthState::kInitializing;
  finish(std::move(s), ts);
}

// -------------------------------------------------------- PositionAnalyzer
PositionAnalyzer::PositionAnalyzer(MachineInfo machine, AnalyticsOptions options)
    : machine_(std::move(machine)), opt_(options),
      iso_persistence_(options.persistence_n, options.persistence_m) {
  reload_zone_limits();
  iso_last_.model = kVibrationIso;
}

PositionAnalyzer::~PositionAnalyzer() = default;
PositionAnalyzer::PositionAnalyzer(PositionAnalyzer&&) noexcept = default;
PositionAnalyzer& PositionAnalyzer::operator=(PositionAnalyzer&&) noexcept = default;

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
  iso.since = (iso.pointwise != iso_last_.pointwise || iso.persistent != iso_last_.persistent) ? ts : iso_last_.since;
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
  const std::string name = metric_model_name(metric);
  auto& m = metric_models_[name];
  if (!m) m = make_metric_model(name);
  // Temperature of a stopped machine says nothing about its bearings.
  const bool running = temp && vib_ ? running_ : true;
  ModelState s = m->update(ts, value, running);
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

void PositionAnalyzer::rebaseline(const std::string& model, TimestampMs ts) {
  if (vib_ && (model.empty() || model == kVibrationMl || model == kVibrationIso)) vib_->rebaseline(ts);
  for (auto& [n, m] : metric_models_)
    if (model.empty() || model == n) m->rebaseline(ts);
  // Re-learning only another model (temperatureML after LUBRICATE on a
  // temperature alert) leaves the vibration models' windows alone.
  if (model.empty() || model == kVibrationMl || model == kVibrationIso) iso_persistence_.reset();
}

std::string PositionAnalyzer::metric_model_name(const std::string& metric) {
  return metric == "temperature_c" ? std::string(kTemperatureMl) : "metric:" + metric;
}

std::unique_ptr<SeriesModel> PositionAnalyzer::make_metric_model(const std::string& name) const {
  // New kinds of metric models are added here (and to metric_model_name).
  if (name == kTemperatureMl) return std::make_unique<SeriesModel>(name, "temperature_c", opt_);
  if (name.rfind("metric:", 0) == 0 && name.size() > 7) return std::make_unique<SeriesModel>(name, name.substr(7), opt_);
  return nullptr;
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
  for (auto& [n, m] : metric_models_)
    if (auto b = m->band(k)) out.push_back(*b);
  return out;
}

// ----------------------------------------------------------- learned state
namespace {
using nlohmann::json;

json machine_json(const MachineInfo& m) {
  json b = nullptr;
  if (m.bearing)
    b = {{"rolling_elements", m.bearing->rolling_elements},
         {"element_diameter_mm", m.bearing->element_diameter_mm},
         {"pitch_diameter_mm", m.bearing->pitch_diameter_mm},
         {"contact_angle_deg", m.bearing->contact_angle_deg}};
  return {{"machine_class", m.machine_class},
          {"shaft_rpm", m.shaft_rpm},
          {"bearing", std::move(b)},
          {"envelope_lo_hz", m.envelope_lo_hz},
          {"envelope_hi_hz", m.envelope_hi_hz}};
}

Result<MachineInfo> machine_from(const json& j) {
  state::StateReader r(j);
  MachineInfo m;
  m.machine_class = r.text("machine_class");
  m.shaft_rpm = r.number("shaft_rpm");
  const json& b = r.value("bearing");
  if (r.ok() && !b.is_null()) {
    state::StateReader br(b);
    BearingGeometry g;
    g.rolling_elements = static_cast<int>(br.integer("rolling_elements"));
    g.element_diameter_mm = br.number("element_diameter_mm");
    g.pitch_diameter_mm = br.number("pitch_diameter_mm");
    g.contact_angle_deg = br.number("contact_angle_deg");
    if (auto st = br.finish(); !st.ok()) return state::nest(st, "bearing");
    m.bearing = g;
  }
  m.envelope_lo_hz = r.number("envelope_lo_hz");
  m.envelope_hi_hz = r.number("envelope_hi_hz");
  VIGIL_RETURN_IF_ERROR(r.finish());
  return m;
}

std::string describe(const MachineInfo& m) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%g rpm, %s bearing geometry, envelope band %g-%g Hz", m.shaft_rpm,
                m.bearing ? "with" : "no", m.envelope_lo_hz, m.envelope_hi_hz);
  return buf;
}
}  // namespace

json model_state_json(const ModelState& m) {
  json j = {{"model", m.model},
          {"pointwise", to_string(m.pointwise)},
          {"persistent", to_string(m.persistent)},
          {"score", m.score && std::isfinite(*m.score) ? json(*m.score) : json(nullptr)},
          {"explanation", m.explanation},
          {"z", m.z && std::isfinite(*m.z) ? json(*m.z) : json(nullptr)},
          {"learning", m.learning},
          {"since", m.since}};
  if (m.learned_hours && m.learning_hours && std::isfinite(*m.learned_hours) && std::isfinite(*m.learning_hours)) {
    j["learned_hours"] = *m.learned_hours;
    j["learning_hours"] = *m.learning_hours;
  }
  return j;
}

Result<ModelState> model_state_from(const json& j) {
  state::StateReader r(j);
  ModelState m;
  m.model = r.text("model");
  m.pointwise = r.health("pointwise");
  m.persistent = r.health("persistent");
  m.score = r.optional_number("score");
  m.explanation = r.text("explanation");
  m.z = r.optional_number("z");
  m.learning = r.text("learning");
  m.since = r.integer("since");
  // Learning progress: only while learning by time (vigils before it wrote none).
  if (j.is_object() && j.contains("learned_hours") && j.contains("learning_hours")) {
    m.learned_hours = r.optional_number("learned_hours");
    m.learning_hours = r.optional_number("learning_hours");
  }
  VIGIL_RETURN_IF_ERROR(r.finish());
  return m;
}

nlohmann::json LearnedModel::to_state() const {
  const std::size_t p = baseline_.specs().size();
  std::vector<std::int64_t> ts;
  std::vector<double> values;
  ts.reserve(recent_.size());
  values.reserve(recent_.size() * p);
  for (const auto& [t, raw] : recent_) {
    ts.push_back(t);
    for (std::size_t i = 0; i < p; ++i) values.push_back(i < raw.size() ? raw[i] : 0.0);
  }
  json regimes = json::array();
  for (const auto& rg : regimes_) regimes.push_back(rg.to_state());
  return {{"name", name_},
          {"baseline", baseline_.to_state()},
          {"regimes", regimes},
          {"evidence", evidence_.to_state()},
          {"learn_start", learn_start_ ? json(*learn_start_) : json(nullptr)},
          {"learned", learned_},
          {"window", window_},
          {"fit_note", fit_note_},
          {"recent", {{"ts", state::i64_bytes(ts)}, {"values", state::f64_bytes(values)}}},
          {"last", model_state_json(last_)}};
}

Status LearnedModel::from_state(const nlohmann::json& j) {
  state::StateReader r(j);
  const std::string name = r.text("name");
  if (r.ok() && name != name_) r.fail("name", "'" + name + "' saved, '" + name_ + "' expected");
  Baseline baseline = baseline_;
  if (const json& b = r.value("baseline"); r.ok())
    if (auto st = baseline.from_state(b); !st.ok()) return state::nest(st, "baseline");
  std::vector<Baseline> regimes;
  if (const json& rs = r.value("regimes", json::value_t::array); r.ok()) {
    if (rs.size() > kMaxRegimes) return Status::InvalidArgument("regimes: more than " + std::to_string(kMaxRegimes));
    for (std::size_t k = 0; k < rs.size(); ++k) {
      Baseline rg = baseline_;
      rg.clear();
      if (auto st = rg.from_state(rs[k]); !st.ok()) return state::nest(st, "regimes[" + std::to_string(k) + "]");
      regimes.push_back(std::move(rg));
    }
  }
  Evidence evidence = evidence_;
  if (const json& ev = r.value("evidence"); r.ok())
    if (auto st = evidence.from_state(ev); !st.ok()) return state::nest(st, "evidence");
  const auto learn_start = r.optional_integer("learn_start");
  const auto learned = r.integer("learned");
  if (r.ok() && (learned < 0 || learned > INT32_MAX)) r.fail("learned", "out of range");
  const auto window = r.integer("window");
  if (r.ok() && (window < 0 || window > INT32_MAX)) r.fail("window", "out of range");
  const std::string fit_note = r.text("fit_note");
  std::deque<std::pair<TimestampMs, std::vector<double>>> recent;
  if (const json& rj = r.value("recent", json::value_t::object); r.ok()) {
    state::StateReader rr(rj);
    const auto ts = rr.i64("ts");
    const std::size_t p = baseline_.specs().size();
    const auto values = rr.f64("values", ts.size() * p);
    if (rr.ok() && ts.size() > kRecent) rr.fail("ts", std::to_string(ts.size()) + " entries, more than " + std::to_string(kRecent));
    if (auto st = rr.finish(); !st.ok()) return state::nest(st, "recent");
    for (std::size_t k = 0; k < ts.size(); ++k)
      recent.emplace_back(ts[k], std::vector<double>(values.begin() + static_cast<std::ptrdiff_t>(k * p),
                                                     values.begin() + static_cast<std::ptrdiff_t>((k + 1) * p)));
  }
  ModelState last;
  if (const json& l = r.value("last"); r.ok()) {
    auto m = model_state_from(l);
    if (!m) return state::nest(m.status(), "last");
    last = std::move(*m);
    if (last.model != name_) r.fail("last", "model '" + last.model + "' is not '" + name_ + "'");
  }
  VIGIL_RETURN_IF_ERROR(r.finish());
  baseline_ = std::move(baseline);
  regimes_ = std::move(regimes);
  evidence_ = std::move(evidence);
  learn_start_ = learn_start;
  learned_ = static_cast<int>(learned);
  window_ = static_cast<int>(window);
  fit_note_ = fit_note;
  recent_ = std::move(recent);
  last_ = std::move(last);
  return Status::Ok();
}

nlohmann::json PositionAnalyzer::to_state() const {
  json metrics = json::object();
  for (const auto& [name, m] : metric_models_) metrics[name] = m->to_state();
  json vib = nullptr;
  if (vib_) vib = {{"features", vib_names_}, {"model", vib_->to_state()}};
  return {{"machine", machine_json(machine_)},
          {"running", running_},
          {"iso", {{"persistence", iso_persistence_.to_state()}, {"last", model_state_json(iso_last_)}}},
          {"vibration", std::move(vib)},
          {"metrics", std::move(metrics)}};
}

Status PositionAnalyzer::from_state(const nlohmann::json& j) {
  state::StateReader r(j);
  if (const json& mj = r.value("machine"); r.ok()) {
    auto m = machine_from(mj);
    if (!m) return state::nest(m.status(), "machine");
    MachineInfo same_class = *m;
    same_class.machine_class = machine_.machine_class;
    if (!(same_class == machine_))
      return Status::FailedPrecondition("machine: learned on " + describe(*m) + ", the machine is now " +
                                        describe(machine_));
  }
  const bool running = r.boolean("running");
  Persistence iso_persistence = iso_persistence_;
  ModelState iso_last;
  if (const json& iso = r.value("iso", json::value_t::object); r.ok()) {
    state::StateReader ir(iso);
    if (const json& ps = ir.value("persistence"); ir.ok())
      if (auto st = iso_persistence.from_state(ps); !st.ok()) return state::nest(state::nest(st, "persistence"), "iso");
    if (const json& l = ir.value("last"); ir.ok()) {
      auto m = model_state_from(l);
      if (!m) return state::nest(state::nest(m.status(), "last"), "iso");
      iso_last = std::move(*m);
      if (iso_last.model != kVibrationIso) ir.fail("last", "model '" + iso_last.model + "' is not " + kVibrationIso);
    }
    if (auto st = ir.finish(); !st.ok()) return state::nest(st, "iso");
  }
  std::unique_ptr<LearnedModel> vib;
  std::vector<std::string> vib_names;
  if (const json& v = r.value("vibration"); r.ok() && !v.is_null()) {
    state::StateReader vr(v);
    const json& names = vr.value("features", json::value_t::array);
    for (std::size_t i = 0; vr.ok() && i < names.size(); ++i) {
      if (!names[i].is_string()) vr.fail("features", "entry " + std::to_string(i) + " is not a string");
      else vib_names.push_back(names[i].get<std::string>());
    }
    if (vr.ok()) vib = std::make_unique<LearnedModel>(kVibrationMl, vibration_specs(vib_names), opt_);
    if (const json& m = vr.value("model"); vr.ok())
      if (auto st = vib->from_state(m); !st.ok()) return state::nest(state::nest(st, "model"), "vibration");
    if (auto st = vr.finish(); !st.ok()) return state::nest(st, "vibration");
  }
  std::map<std::string, std::unique_ptr<SeriesModel>> metrics;
  if (const json& ms = r.value("metrics", json::value_t::object); r.ok()) {
    for (auto it = ms.begin(); it != ms.end(); ++it) {
      auto m = make_metric_model(it.key());
      if (!m) return Status::InvalidArgument("metrics." + it.key() + ": unknown model");
      if (auto st = m->from_state(it.value()); !st.ok()) return state::nest(st, "metrics." + it.key());
      metrics[it.key()] = std::move(m);
    }
  }
  VIGIL_RETURN_IF_ERROR(r.finish());
  running_ = running;
  iso_persistence_ = std::move(iso_persistence);
  iso_last_ = std::move(iso_last);
  vib_ = std::move(vib);
  vib_names_ = std::move(vib_names);
  metric_models_ = std::move(metrics);
  return Status::Ok();
}

}  // namespace vigil::analytics
