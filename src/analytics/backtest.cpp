// SPDX-License-Identifier: Apache-2.0
#include "analytics/backtest.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <sstream>

#include "analytics/dataset.h"
#include "analytics/position.h"
#include "config/config.h"
#include "dsp/features.h"

namespace vigil::analytics {
namespace {

std::string csv_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string opt_fmt(const std::optional<double>& v) { return v ? fmt(*v) : ""; }

const ModelState* find_model(const std::vector<ModelState>& m, const std::string& name) {
  for (auto& s : m)
    if (s.model == name) return &s;
  return nullptr;
}

// First row index of each state, per channel, for the summary.
struct FirstSeen {
  std::array<long, 6> first{-1, -1, -1, -1, -1, -1};
  void see(HealthState s, long i) {
    auto k = static_cast<std::size_t>(s);
    if (first[k] < 0) first[k] = i;
  }
};

void print_summary(std::ostream& out, const std::vector<std::string>& names,
                   const std::vector<FirstSeen>& seen, const std::vector<std::string>& label_of_index) {
  out << "first snapshot of each state (index, timestamp):\n";
  for (std::size_t c = 0; c < names.size(); ++c) {
    out << "  " << names[c] << ":";
    for (auto s : {HealthState::kInitializing, HealthState::kHealthy, HealthState::kWarning,
                   HealthState::kAlarm, HealthState::kNotRunning}) {
      long i = seen[c].first[static_cast<std::size_t>(s)];
      out << "  " << to_string(s) << "=";
      if (i < 0) out << "never";
      else out << i << " (" << label_of_index[static_cast<std::size_t>(i)] << ")";
    }
    out << "\n";
  }
}

Result<AnalyticsOptions> options_from(const BacktestOptions& b) {
  AnalyticsOptions o;
  if (!b.config.empty()) {
    auto cfg = load_config(b.config);
    if (!cfg) return cfg.status();
    o.learning_hours = cfg->analytics.learning_hours;
    o.persistence_n = cfg->analytics.persistence_n;
    o.persistence_m = cfg->analytics.persistence_m;
    // The configured machine classes, as the gateway registers them.
    VIGIL_RETURN_IF_ERROR(ZoneTable::global().set_layer(ClassSource::kConfig, cfg->analytics.machine_classes));
  }
  if (b.learn) {
    if (*b.learn < 3) return Status::InvalidArgument("--learn must be at least 3");
    o.learn_count = *b.learn;
  }
  return o;
}

int run_waveforms(const BacktestOptions& b, const AnalyticsOptions& opt, std::ostream& out, std::ostream& err) {
  auto ds = WaveformDataset::open(b.waveforms);
  if (!ds) {
    err << "vigil backtest: " << ds.status().message() << "\n";
    return 2;
  }
  std::ofstream csv(b.out);
  if (!csv) {
    err << "vigil backtest: cannot write '" << b.out << "'\n";
    return 2;
  }
  const auto& chans = ds->channels();
  if (!ZoneTable::global().find(ds->machine().machine_class))
    err << "vigil backtest: warning: unknown machine class '" << ds->machine().machine_class
        << "': vibrationISO stays unknown (define it in analytics.machine_classes, --config)\n";
  std::vector<PositionAnalyzer> an;
  for (std::size_t c = 0; c < chans.size(); ++c) an.emplace_back(ds->machine(), opt);
  if (envelope_band_for(ds->machine(), ds->sample_rate_hz()).fell_back)
    err << "vigil backtest: warning: envelope_band_hz [" << ds->machine().envelope_lo_hz << ", "
        << ds->machine().envelope_hi_hz << "] does not fit below 0.45 × the sample rate ("
        << ds->sample_rate_hz() << " Hz); using the automatic band\n";
  dsp::FeatureOptions fo = an[0].feature_options(ds->sample_rate_hz());
  fo.keep_spectra = false;
  std::vector<FirstSeen> seen(chans.size());
  std::vector<float> snap;
  const auto n = static_cast<std::size_t>(ds->samples_per_snapshot());
  bool header = false;
  for (std::size_t i = 0; i < ds->snapshots(); ++i) {
    if (auto s = ds->read_snapshot(i, snap); !s.ok()) {
      err << "vigil backtest: " << s.message() << "\n";
      return 2;
    }
    for (std::size_t c = 0; c < chans.size(); ++c) {
      auto fs = dsp::compute_features(std::span<const float>(snap.data() + c * n, n),
                                      ds->sample_rate_hz(), fo);
      if (!header) {
        csv << "index,timestamp,channel,score,state,ml_pointwise,ml_state,iso_state,iso_zone";
        for (auto& f : fs.values) csv << "," << f.name;
        csv << ",explanation\n";
        header = true;
      }
      Assessment a = an[c].assess_vibration(ds->timestamp(i), fs.values);
      std::vector<ModelState> all = a.models;
      for (auto& [name, vals] : ds->scalars()) {
        if (!vals[i]) continue;
        auto m = an[c].assess_metric(ds->timestamp(i), name, *vals[i]);
        all.insert(all.end(), m.models.begin(), m.models.end());
        if (!m.explanation.empty() && severity(m.state) >= severity(HealthState::kWarning))
          a.explanation += (a.explanation.empty() ? "" : "; ") + m.explanation;
      }
      HealthState state = roll_up(all, a.running);
      seen[c].see(state, static_cast<long>(i));
      const ModelState* ml = find_model(a.models, kVibrationMl);
      const ModelState* iso = find_model(a.models, kVibrationIso);
      csv << i << "," << ds->timestamp_text(i) << "," << chans[c] << "," << opt_fmt(a.score) << ","
          << to_string(state) << "," << (ml ? to_string(ml->pointwise) : "") << ","
          << (ml ? to_string(ml->persistent) : "") << "," << (iso ? to_string(iso->persistent) : "") << ","
          << (a.zone ? to_string(*a.zone) : "");
      for (auto& f : fs.values) csv << "," << fmt(f.value);
      csv << "," << csv_quote(a.explanation) << "\n";
    }
  }
  csv.flush();
  if (!csv) {
    err << "vigil backtest: write error on '" << b.out << "'\n";
    return 2;
  }
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < ds->snapshots(); ++i) labels.push_back(ds->timestamp_text(i));
  out << "backtest: " << ds->snapshots() << " snapshots x " << chans.size() << " channels, "
      << (opt.learn_count ? "learning from the first " + std::to_string(*opt.learn_count) + " snapshots"
                          : "learning period " + fmt(opt.learning_hours) + " h")
      << ", persistence " << opt.persistence_n << " of " << opt.persistence_m << "; wrote " << b.out << "\n";
  print_summary(out, chans, seen, labels);
  return 0;
}

int run_csv(const BacktestOptions& b, const AnalyticsOptions& opt, std::ostream& out, std::ostream& err) {
  auto s = read_csv_series(b.csv);
  if (!s) {
    err << "vigil backtest: " << s.status().message() << "\n";
    return 2;
  }
  std::ofstream csv(b.out);
  if (!csv) {
    err << "vigil backtest: cannot write '" << b.out << "'\n";
    return 2;
  }
  // Columns named like vibration features form one vibration measurement;
  // every other column is a metric series of its own (temperature_c →
  // temperatureML), exactly as readings from a sensor frame are handled.
  std::vector<std::size_t> vib_cols, metric_cols;
  for (std::size_t c = 0; c < s->columns.size(); ++c) {
    const auto& n = s->columns[c];
    bool vib = n == "velocity_rms_mm_s" || n == "accel_rms_g" || n == "accel_peak_g" ||
               n == "crest_factor" || n == "kurtosis" || n.rfind("band_", 0) == 0 ||
               n.rfind("env_", 0) == 0 || n.rfind("harmonic_", 0) == 0 || n == "envelope_rms_g";
    (vib ? vib_cols : metric_cols).push_back(c);
  }
  PositionAnalyzer an(MachineInfo{}, opt);
  csv << "timestamp,score,state";
  for (auto c : metric_cols) csv << "," << s->columns[c] << "_state";
  if (!vib_cols.empty()) csv << ",iso_state,iso_zone";
  csv << ",explanation\n";
  std::vector<FirstSeen> seen(1);
  for (std::size_t r = 0; r < s->rows.size(); ++r) {
    std::vector<ModelState> all;
    std::optional<double> score;
    std::string expl;
    bool running = true;
    std::optional<Zone> zone;
    std::string iso_state;
    if (!vib_cols.empty()) {
      std::vector<dsp::Feature> f;
      for (auto c : vib_cols)
        if (s->rows[r][c]) f.push_back({s->columns[c], *s->rows[r][c]});
      if (!f.empty()) {
        auto a = an.assess_vibration(s->ts[r], f);
        all = a.models;
        score = a.score;
        expl = a.explanation;
        running = a.running;
        zone = a.zone;
        if (auto* iso = find_model(a.models, kVibrationIso)) iso_state = to_string(iso->persistent);
      }
    }
    std::vector<std::string> states;
    for (auto c : metric_cols) {
      if (!s->rows[r][c]) { states.emplace_back(); continue; }
      auto a = an.assess_metric(s->ts[r], s->columns[c], *s->rows[r][c]);
      all.insert(all.end(), a.models.begin(), a.models.end());
      states.emplace_back(to_string(a.models[0].persistent));
      if (a.score && (!score || std::abs(*a.score) > std::abs(*score))) score = a.score;
      if (!a.explanation.empty() && (expl.empty() || severity(a.state) >= severity(HealthState::kWarning)))
        expl += (expl.empty() ? "" : "; ") + a.explanation;
    }
    HealthState st = roll_up(all, running);
    seen[0].see(st, static_cast<long>(r));
    csv << s->ts_text[r] << "," << opt_fmt(score) << "," << to_string(st);
    for (auto& x : states) csv << "," << x;
    if (!vib_cols.empty()) csv << "," << iso_state << "," << (zone ? to_string(*zone) : "");
    csv << "," << csv_quote(expl) << "\n";
  }
  csv.flush();
  if (!csv) {
    err << "vigil backtest: write error on '" << b.out << "'\n";
    return 2;
  }
  out << "backtest: " << s->rows.size() << " rows, " << s->columns.size() << " value column(s); wrote "
      << b.out << "\n";
  print_summary(out, {"series"}, seen, s->ts_text);
  return 0;
}

}  // namespace

int run_backtest(const BacktestOptions& b, std::ostream& out, std::ostream& err) {
  if (b.waveforms.empty() == b.csv.empty()) {
    err << "vigil backtest: give exactly one of --waveforms MANIFEST.json or --csv FILE\n";
    return 2;
  }
  if (b.out.empty()) {
    err << "vigil backtest: --out FILE.csv is required\n";
    return 2;
  }
  auto opt = options_from(b);
  if (!opt) {
    err << "vigil backtest: " << opt.status().message() << "\n";
    return 2;
  }
  return b.waveforms.empty() ? run_csv(b, *opt, out, err) : run_waveforms(b, *opt, out, err);
}

}  // namespace vigil::analytics
