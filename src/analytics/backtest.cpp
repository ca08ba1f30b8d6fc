// SPDX-License-Identifier: Apache-2.0
#include "analytics/backtest.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <spdlog/spdlog.h>
#include <sstream>

#include "analytics/dataset.h"
#include "analytics/learned_state.h"
#include "analytics/position.h"
#include "config/config.h"
#include "dsp/features.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

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

std::string exact(double v) {  // reads back to the same double
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

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

// ------------------------------------------------------------ --state FILE
// The learned state of every channel (key = channel index) in the gateway's
// tables, and where the run stands.
constexpr const char* kProgressSchema = R"sql(
CREATE TABLE backtest_progress(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  run TEXT NOT NULL,
  rows_done INTEGER NOT NULL,
  last_label TEXT NOT NULL,
  input_digest TEXT NOT NULL,
  out_bytes INTEGER NOT NULL,
  seen TEXT NOT NULL);
)sql";

class Resume {
 public:
  // Opens (creating) the state file. `run` identifies the options and the
  // input's shape; a saved run must match it.
  static Result<Resume> open(const std::string& path, nlohmann::json run) {
    auto db = sql::Db::open(path, sql::Db::Mode::kReadWriteCreate);
    if (!db) return db.status();
    Resume r;
    r.path_ = path;
    r.db_ = std::move(*db);
    r.run_ = run.dump();
    VIGIL_RETURN_IF_ERROR(r.db_->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
    auto q = r.db_->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'backtest_progress'");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    const bool exists = (*q)->i64(0) > 0;
    (*q)->reset();
    if (!exists) {
      sql::Transaction t(*r.db_);
      VIGIL_RETURN_IF_ERROR(t.begin());
      VIGIL_RETURN_IF_ERROR(r.db_->exec(kLearnedStateSchema));
      VIGIL_RETURN_IF_ERROR(r.db_->exec(kProgressSchema));
      VIGIL_RETURN_IF_ERROR(t.commit());
    }
    return r;
  }

  // The saved progress, checked against this run and input: `label(i)` is
  // row i's label (its timestamp), `text(i)` what it holds (its digest
  // must match the rows done). 0 rows when the run starts afresh.
  Status load(std::size_t input_rows, const std::function<std::string(std::size_t)>& label,
              const std::function<std::string(std::size_t)>& text, std::size_t channels) {
    auto q = db_->prepare(
        "SELECT run, rows_done, last_label, out_bytes, seen, input_digest FROM backtest_progress WHERE id = 1");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      const std::string run = (*q)->text(0);
      rows_done_ = static_cast<std::size_t>((*q)->i64(1));
      const std::string last = (*q)->text(2);
      out_bytes_ = static_cast<std::uintmax_t>((*q)->i64(3));
      seen_ = nlohmann::json::parse((*q)->text(4), nullptr, false);
      const std::string digest = (*q)->text(5);
      (*q)->reset();
      if (run != run_)
        return Status::FailedPrecondition("--state " + path_ + " was written by a run with other options or input (" +
                                          run + "); remove it to start over");
      if (rows_done_ > input_rows || (rows_done_ > 0 && label(rows_done_ - 1) != last))
        return Status::FailedPrecondition(
            "the input does not continue the run saved in " + path_ + ": it stopped after row " +
            std::to_string(rows_done_) + " (" + last + ")" +
            (rows_done_ > input_rows ? ", the input has " + std::to_string(input_rows) + " rows"
                                     : ", which is " + label(rows_done_ - 1) + " here"));
      for (std::size_t i = 0; i < rows_done_; ++i) row_done(text(i));
      if (digest_text() != digest)
        return Status::FailedPrecondition("the input does not continue the run saved in " + path_ + ": its first " +
                                          std::to_string(rows_done_) + " rows differ from those the run took");
      if (!seen_.is_array() || seen_.size() != channels)
        return Status::InvalidArgument("--state " + path_ + ": the saved summary is damaged");
    } else {
      (*q)->reset();
    }
    auto saved = read_learned_state(*db_);
    if (!saved) return saved.status();
    for (auto& s : *saved) saved_[s.key] = std::move(s);
    return Status::Ok();
  }

  std::size_t rows_done() const { return rows_done_; }
  // Adds a row the run took to the input's digest (64-bit FNV-1a).
  void row_done(const std::string& text) {
    for (unsigned char ch : text) digest_ = (digest_ ^ ch) * 1099511628211ULL;
    digest_ = (digest_ ^ 0x0a) * 1099511628211ULL;
  }
  std::uintmax_t out_bytes() const { return out_bytes_; }
  const nlohmann::json& seen() const { return seen_; }
  // Channel c's analyzer as saved (a fresh one when nothing was saved).
  Status restore(std::size_t c, const MachineInfo& m, const AnalyticsOptions& o, PositionAnalyzer& out,
                 PositionStateLog& log) {
    auto it = saved_.find(static_cast<Id>(c));
    if (rows_done_ == 0 || it == saved_.end()) return Status::Ok();
    auto r = restore_position(it->second, m, o);
    if (!r) return r.status().Annotate("--state " + path_ + ", channel " + std::to_string(c));
    out = std::move(*r->analyzer);
    log.resume(*r);
    return Status::Ok();
  }

  // One row done: every channel's journal entries (or snapshot) and the
  // progress, in one transaction. Call after `out` is flushed.
  Status commit(std::size_t rows_done, const std::string& label, std::uintmax_t out_bytes, const nlohmann::json& seen,
                std::vector<PositionStateLog>& logs, const std::vector<PositionAnalyzer>& an,
                const std::vector<std::vector<JournalEntry>>& entries, bool has_waveform) {
    sql::Transaction t(*db_);
    VIGIL_RETURN_IF_ERROR(t.begin());
    for (std::size_t c = 0; c < logs.size(); ++c)
      VIGIL_RETURN_IF_ERROR(logs[c].write(*db_, an[c], has_waveform, entries[c]));
    auto q = db_->prepare(
        "INSERT INTO backtest_progress(id, run, rows_done, last_label, input_digest, out_bytes, seen) "
        "VALUES(1, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET run = excluded.run, "
        "rows_done = excluded.rows_done, last_label = excluded.last_label, input_digest = excluded.input_digest, "
        "out_bytes = excluded.out_bytes, seen = excluded.seen");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, run_).bind(2, static_cast<std::int64_t>(rows_done)).bind(3, label)
                              .bind(4, digest_text()).bind(5, static_cast<std::int64_t>(out_bytes))
                              .bind(6, seen.dump()).run());
    return t.commit();
  }

 private:
  std::string digest_text() const {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(digest_));
    return b;
  }
  std::string path_, run_;
  std::uint64_t digest_ = 14695981039346656037ULL;
  std::unique_ptr<sql::Db> db_;
  std::size_t rows_done_ = 0;
  std::uintmax_t out_bytes_ = 0;
  nlohmann::json seen_;
  std::map<Id, SavedState> saved_;
};

// The output CSV: written from the start, or (resuming) cut back to what
// the state accounts for and appended to. Counts the bytes it wrote.
class Output {
 public:
  Status open(const std::string& path, std::optional<std::uintmax_t> resume_at) {
    namespace fs = std::filesystem;
    if (resume_at) {
      std::error_code ec;
      const auto size = fs::file_size(path, ec);
      if (ec || size < *resume_at)
        return Status::FailedPrecondition("output " + path + " is shorter than the saved run wrote (" +
                                          std::to_string(*resume_at) + " bytes); remove the --state file to start over");
      fs::resize_file(path, *resume_at, ec);
      if (ec) return Status::IoError("cannot cut back " + path + ": " + ec.message());
      f_.open(path, std::ios::binary | std::ios::app);
      bytes_ = *resume_at;
    } else {
      f_.open(path, std::ios::binary | std::ios::trunc);
    }
    if (!f_) return Status::IoError("cannot write '" + path + "'");
    return Status::Ok();
  }
  void write(const std::string& s) {
    f_ << s;
    bytes_ += s.size();
  }
  bool flush() { return static_cast<bool>(f_.flush()); }
  std::uintmax_t bytes() const { return bytes_; }

 private:
  std::ofstream f_;
  std::uintmax_t bytes_ = 0;
};

nlohmann::json seen_json(const std::vector<FirstSeen>& seen) {
  nlohmann::json j = nlohmann::json::array();
  for (auto& s : seen) j.push_back(s.first);
  return j;
}

void seen_from(const nlohmann::json& j, std::vector<FirstSeen>& seen) {
  for (std::size_t c = 0; c < seen.size() && c < j.size(); ++c)
    for (std::size_t k = 0; k < seen[c].first.size() && k < j[c].size(); ++k)
      if (j[c][k].is_number_integer()) seen[c].first[k] = j[c][k].get<long>();
}

void say_stopped(std::ostream& out, std::size_t done, std::size_t total, const std::string& state) {
  out << "backtest: stopped after " << done << " of " << total << " rows; learned state and progress are in "
      << state << " (run again with --state " << state << " to continue)\n";
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
    // ... and the classes users added on that gateway (dashboard, REST,
    // uplink), read from its database without disturbing it.
    auto stored = Store::machine_classes_at(cfg->storage.path);
    if (!stored) return stored.status().Annotate("machine classes of " + cfg->storage.path);
    std::map<std::string, ZoneLimits> user;
    for (const auto& c : *stored) {
      if (auto s = check_machine_class(c.name, c.limits); !s.ok()) {
        spdlog::warn("backtest: stored machine class skipped: {}", s.message());
        continue;
      }
      user[c.name] = c.limits;
    }
    VIGIL_RETURN_IF_ERROR(ZoneTable::global().set_layer(ClassSource::kUser, user));
  }
  if (b.learn) {
    if (*b.learn < 3) return Status::InvalidArgument("--learn must be at least 3");
    o.learn_count = *b.learn;
  }
  return o;
}

nlohmann::json backtest_machine_json(const MachineInfo& m) {
  return {{"class", m.machine_class}, {"rpm", m.shaft_rpm}, {"bearing", m.bearing.has_value()},
          {"envelope", {m.envelope_lo_hz, m.envelope_hi_hz}}};
}

int run_waveforms(const BacktestOptions& b, const AnalyticsOptions& opt, std::ostream& out, std::ostream& err) {
  auto ds = WaveformDataset::open(b.waveforms);
  if (!ds) {
    err << "vigil backtest: " << ds.status().message() << "\n";
    return 2;
  }
  const auto& chans = ds->channels();
  // What a snapshot row is, for the input's digest: its time and scalars
  // (the samples are too many to hash on every start).
  auto row_text = [&](std::size_t i) {
    std::string t = ds->timestamp_text(i);
    for (auto& [name, vals] : ds->scalars()) t += "," + (vals[i] ? exact(*vals[i]) : std::string());
    return t;
  };
  std::optional<Resume> resume;
  if (!b.state.empty()) {
    nlohmann::json run = {{"input", "waveforms"}, {"learn", b.learn ? nlohmann::json(*b.learn) : nlohmann::json()},
                          {"config", b.config}, {"channels", chans}, {"machine", backtest_machine_json(ds->machine())},
                          {"scalars", nlohmann::json::array()}};
    for (auto& [name, vals] : ds->scalars()) run["scalars"].push_back(name);
    auto r = Resume::open(b.state, run);
    Status st = r ? Status::Ok() : r.status();
    if (r) st = r->load(ds->snapshots(), [&](std::size_t i) { return ds->timestamp_text(i); }, row_text, chans.size());
    if (!st.ok()) {
      err << "vigil backtest: " << st.message() << "\n";
      return 2;
    }
    resume = std::move(*r);
  }
  const std::size_t start = resume ? resume->rows_done() : 0;
  Output csv;
  if (auto st = csv.open(b.out, start ? std::optional<std::uintmax_t>(resume->out_bytes()) : std::nullopt); !st.ok()) {
    err << "vigil backtest: " << st.message() << "\n";
    return 2;
  }
  if (!ZoneTable::global().find(ds->machine().machine_class))
    err << "vigil backtest: warning: unknown machine class '" << ds->machine().machine_class
        << "': vibrationISO stays unknown (define it in analytics.machine_classes, --config)\n";
  std::vector<PositionAnalyzer> an;
  std::vector<PositionStateLog> logs;
  for (std::size_t c = 0; c < chans.size(); ++c) {
    an.emplace_back(ds->machine(), opt);
    logs.emplace_back(static_cast<Id>(c));
    if (resume)
      if (auto st = resume->restore(c, ds->machine(), opt, an[c], logs[c]); !st.ok()) {
        err << "vigil backtest: " << st.message() << "\n";
        return 2;
      }
  }
  if (envelope_band_for(ds->machine(), ds->sample_rate_hz()).fell_back)
    err << "vigil backtest: warning: envelope_band_hz [" << ds->machine().envelope_lo_hz << ", "
        << ds->machine().envelope_hi_hz << "] does not fit below 0.45 × the sample rate ("
        << ds->sample_rate_hz() << " Hz); using the automatic band\n";
  dsp::FeatureOptions fo = an[0].feature_options(ds->sample_rate_hz());
  fo.keep_spectra = false;
  std::vector<FirstSeen> seen(chans.size());
  if (start) seen_from(resume->seen(), seen);
  std::vector<float> snap;
  const auto n = static_cast<std::size_t>(ds->samples_per_snapshot());
  bool header = start > 0;
  std::vector<std::vector<JournalEntry>> entries(chans.size());
  for (std::size_t i = start; i < ds->snapshots(); ++i) {
    if (b.stop_after && static_cast<long>(i) >= *b.stop_after) {
      say_stopped(out, i, ds->snapshots(), b.state);
      return 0;
    }
    if (auto s = ds->read_snapshot(i, snap); !s.ok()) {
      err << "vigil backtest: " << s.message() << "\n";
      return 2;
    }
    for (std::size_t c = 0; c < chans.size(); ++c) {
      entries[c].clear();
      auto fs = dsp::compute_features(std::span<const float>(snap.data() + c * n, n),
                                      ds->sample_rate_hz(), fo);
      std::string row;
      if (!header) {
        row += "index,timestamp,channel,score,state,ml_pointwise,ml_state,iso_state,iso_zone";
        for (auto& f : fs.values) row += "," + f.name;
        row += ",explanation\n";
        header = true;
      }
      Assessment a = an[c].assess_vibration(ds->timestamp(i), fs.values);
      if (resume) entries[c].push_back({JournalEntry::Kind::kWaveform, ds->timestamp(i), fs.values});
      std::vector<ModelState> all = a.models;
      for (auto& [name, vals] : ds->scalars()) {
        if (!vals[i]) continue;
        auto m = an[c].assess_metric(ds->timestamp(i), name, *vals[i]);
        if (resume) entries[c].push_back({JournalEntry::Kind::kMetric, ds->timestamp(i), {{name, *vals[i]}}});
        all.insert(all.end(), m.models.begin(), m.models.end());
        if (!m.explanation.empty() && severity(m.state) >= severity(HealthState::kWarning))
          a.explanation += (a.explanation.empty() ? "" : "; ") + m.explanation;
      }
      HealthState state = roll_up(all, a.running);
      seen[c].see(state, static_cast<long>(i));
      const ModelState* ml = find_model(a.models, kVibrationMl);
      const ModelState* iso = find_model(a.models, kVibrationIso);
      row += std::to_string(i) + "," + ds->timestamp_text(i) + "," + chans[c] + "," + opt_fmt(a.score) + "," +
             to_string(state) + "," + (ml ? to_string(ml->pointwise) : "") + "," +
             (ml ? to_string(ml->persistent) : "") + "," + (iso ? to_string(iso->persistent) : "") + "," +
             (a.zone ? to_string(*a.zone) : "");
      for (auto& f : fs.values) row += "," + fmt(f.value);
      row += "," + csv_quote(a.explanation) + "\n";
      csv.write(row);
    }
    if (resume) {
      if (!csv.flush()) {
        err << "vigil backtest: write error on '" << b.out << "'\n";
        return 2;
      }
      resume->row_done(row_text(i));
      if (auto st = resume->commit(i + 1, ds->timestamp_text(i), csv.bytes(), seen_json(seen), logs, an, entries, true);
          !st.ok()) {
        err << "vigil backtest: --state " << b.state << ": " << st.message() << "\n";
        return 2;
      }
    }
  }
  if (!csv.flush()) {
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
  auto row_text = [&](std::size_t r) {
    std::string t = s->ts_text[r];
    for (auto& v : s->rows[r]) t += "," + (v ? exact(*v) : std::string());
    return t;
  };
  std::optional<Resume> resume;
  if (!b.state.empty()) {
    nlohmann::json run = {{"input", "csv"}, {"learn", b.learn ? nlohmann::json(*b.learn) : nlohmann::json()},
                          {"config", b.config}, {"columns", s->columns}};
    auto r = Resume::open(b.state, run);
    Status st = r ? Status::Ok() : r.status();
    if (r) st = r->load(s->rows.size(), [&](std::size_t i) { return s->ts_text[i]; }, row_text, 1);
    if (!st.ok()) {
      err << "vigil backtest: " << st.message() << "\n";
      return 2;
    }
    resume = std::move(*r);
  }
  const std::size_t start = resume ? resume->rows_done() : 0;
  Output csv;
  if (auto st = csv.open(b.out, start ? std::optional<std::uintmax_t>(resume->out_bytes()) : std::nullopt); !st.ok()) {
    err << "vigil backtest: " << st.message() << "\n";
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
  std::vector<PositionAnalyzer> an;
  an.emplace_back(MachineInfo{}, opt);
  std::vector<PositionStateLog> logs(1);
  if (resume)
    if (auto st = resume->restore(0, MachineInfo{}, opt, an[0], logs[0]); !st.ok()) {
      err << "vigil backtest: " << st.message() << "\n";
      return 2;
    }
  if (!start) {
    std::string head = "timestamp,score,state";
    for (auto c : metric_cols) head += "," + s->columns[c] + "_state";
    if (!vib_cols.empty()) head += ",iso_state,iso_zone";
    head += ",explanation\n";
    csv.write(head);
  }
  std::vector<FirstSeen> seen(1);
  if (start) seen_from(resume->seen(), seen);
  std::vector<std::vector<JournalEntry>> entries(1);
  for (std::size_t r = start; r < s->rows.size(); ++r) {
    if (b.stop_after && static_cast<long>(r) >= *b.stop_after) {
      say_stopped(out, r, s->rows.size(), b.state);
      return 0;
    }
    entries[0].clear();
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
        auto a = an[0].assess_vibration(s->ts[r], f);
        if (resume) entries[0].push_back({JournalEntry::Kind::kFrame, s->ts[r], std::move(f)});
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
      auto a = an[0].assess_metric(s->ts[r], s->columns[c], *s->rows[r][c]);
      if (resume) entries[0].push_back({JournalEntry::Kind::kMetric, s->ts[r], {{s->columns[c], *s->rows[r][c]}}});
      all.insert(all.end(), a.models.begin(), a.models.end());
      states.emplace_back(to_string(a.models[0].persistent));
      if (a.score && (!score || std::abs(*a.score) > std::abs(*score))) score = a.score;
      if (!a.explanation.empty() && (expl.empty() || severity(a.state) >= severity(HealthState::kWarning)))
        expl += (expl.empty() ? "" : "; ") + a.explanation;
    }
    HealthState st = roll_up(all, running);
    seen[0].see(st, static_cast<long>(r));
    std::string row = s->ts_text[r] + "," + opt_fmt(score) + "," + to_string(st);
    for (auto& x : states) row += "," + x;
    if (!vib_cols.empty()) row += "," + iso_state + "," + (zone ? to_string(*zone) : "");
    row += "," + csv_quote(expl) + "\n";
    csv.write(row);
    if (resume) {
      if (!csv.flush()) {
        err << "vigil backtest: write error on '" << b.out << "'\n";
        return 2;
      }
      resume->row_done(row_text(r));
      if (auto cs = resume->commit(r + 1, s->ts_text[r], csv.bytes(), seen_json(seen), logs, an, entries, false);
          !cs.ok()) {
        err << "vigil backtest: --state " << b.state << ": " << cs.message() << "\n";
        return 2;
      }
    }
  }
  if (!csv.flush()) {
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
  if (b.stop_after && b.state.empty()) {
    err << "vigil backtest: --stop-after needs --state FILE (where the run continues from)\n";
    return 2;
  }
  if (b.stop_after && *b.stop_after < 0) {
    err << "vigil backtest: --stop-after must be at least 0\n";
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
