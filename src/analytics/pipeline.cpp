// SPDX-License-Identifier: Apache-2.0
#include "analytics/pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "analytics/float_blob.h"
#include "analytics/learned_state.h"
#include "analytics/spectra.h"

namespace vigil::analytics {

// ------------------------------------------------------------------ worker
struct Pipeline::Worker {
  std::mutex mu;
  std::condition_variable cv, idle_cv;
  std::deque<std::function<void()>> q;
  bool busy = false, stop = false;
  std::size_t cap = 256;
  std::thread th;

  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stop || !q.empty(); });
        if (q.empty()) return;  // stop requested and drained
        job = std::move(q.front());
        q.pop_front();
        busy = true;
      }
      job();
      {
        std::lock_guard lk(mu);
        busy = false;
      }
      idle_cv.notify_all();
    }
  }
};

struct Pipeline::PositionCtx {
  Id position_id = 0;
  Id asset_id = 0;
  std::unique_ptr<PositionAnalyzer> analyzer;
  MachineInfo machine;
  int generation = -1;
  bool has_waveform = false;
  bool band_fallback_logged = false;  // the asset's envelope band did not fit (once per machine)
  PositionStateLog state_log;         // the analyzer's persisted learned state (learned_state.h)
};

namespace {
using detail::from_blob;
using detail::to_blob;
std::atomic<int> g_generation{0};

MachineInfo machine_of(const Asset& a) {
  MachineInfo m;
  m.machine_class = a.machine_class;
  m.shaft_rpm = a.shaft_rpm;
  m.bearing = a.bearing;
  m.envelope_lo_hz = a.envelope_lo_hz;
  m.envelope_hi_hz = a.envelope_hi_hz;
  return m;
}

bool is_vibration_metric(const std::string& n) {
  return n == "velocity_rms_mm_s" || n == "accel_rms_g" || n == "accel_peak_g" || n == "crest_factor" ||
         n == "kurtosis" || n.rfind("band_", 0) == 0 || n.rfind("env_", 0) == 0 ||
         n.rfind("harmonic_", 0) == 0 || n == "envelope_rms_g";
}

}  // namespace

// ------------------------------------------------------------- lifecycle
Status Pipeline::migrate(Store& store) {
  return store.migrate("analytics", {R"sql(
CREATE TABLE spectra(
  measurement_id INTEGER NOT NULL,
  position_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  df_hz REAL NOT NULL,
  bins BLOB NOT NULL,
  PRIMARY KEY(measurement_id, kind));
CREATE INDEX spectra_position_kind_ts ON spectra(position_id, kind, ts);
)sql",
                                     // v2: health_states, created by the store's core schema v1 until the
                                     // analytics took it over. IF NOT EXISTS: older databases have it.
                                     R"sql(
CREATE TABLE IF NOT EXISTS health_states(
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('position','asset')),
  scope_id INTEGER NOT NULL,
  model TEXT NOT NULL,
  ts INTEGER NOT NULL,
  pointwise TEXT NOT NULL,
  persistent TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS health_states_scope ON health_states(scope, scope_id, model, ts);
)sql",
                                     // v3: learned state (learned_state.h, docs/analytics.md "Learned state").
                                     kLearnedStateSchema,
                                     // v4: the baseline spectrum (spectra.h).
                                     kBaselineSpectraSchema});
}

Pipeline::Pipeline(Store& store, PipelineOptions options, const Clock& clock, MetricsRegistry& metrics)
    : store_(store), opt_(std::move(options)), clock_(clock) {
  processed_ = metrics.counter("vigil_analytics_processed_total", "Measurements scored by the analytics");
  dropped_ = metrics.counter("vigil_analytics_dropped_total", "Analytics jobs dropped on a full queue");
  errors_ = metrics.counter("vigil_analytics_errors_total", "Analytics jobs that failed to persist");
  state_rejected_ = metrics.counter("vigil_analytics_state_rejected_total",
                                    "Saved learned states that could not be restored at start (the position learns again)");
  const int n = std::max(1, opt_.threads);
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->cap = std::max<std::size_t>(1, opt_.queue_capacity);
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) w->th = std::thread([p = w.get()] { p->loop(); });
}

Result<std::unique_ptr<Pipeline>> Pipeline::create(Store& store, PipelineOptions options, const Clock& clock,
                                                   MetricsRegistry& metrics) {
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("analytics"));
  // A purged position takes its states, spectra and learned models along.
  store.add_purge_hook("analytics", [](sql::Db& db, const Store::PurgedScope& scope) -> Status {
    static const char* const kByPosition[] = {
        "DELETE FROM health_states WHERE scope = 'position' AND scope_id = ?",
        "DELETE FROM spectra WHERE position_id = ?",
        "DELETE FROM baseline_spectra WHERE position_id = ?",
        "DELETE FROM learned_state WHERE position_id = ?",
        "DELETE FROM learned_journal WHERE position_id = ?"};
    for (Id p : scope.positions)
      for (const char* sql : kByPosition) {
        auto q = db.prepare(sql);
        if (!q) return q.status();
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, p).run());
      }
    for (Id a : scope.assets) {
      auto q = db.prepare("DELETE FROM health_states WHERE scope = 'asset' AND scope_id = ?");
      if (!q) return q.status();
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, a).run());
    }
    return Status::Ok();
  });
  std::unique_ptr<Pipeline> p(new Pipeline(store, std::move(options), clock, metrics));
  // What the positions learned before: a failure to read it is no reason not
  // to start (they learn again), but it is said.
  if (auto st = p->restore(); !st.ok())
    spdlog::error("analytics: the saved learned state could not be read; every position learns again: {}",
                  st.ToString());
  return p;
}

Status Pipeline::restore() {
  const auto t0 = std::chrono::steady_clock::now();
  const int gen = g_generation.load();
  std::vector<SavedState> saved;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto r = read_learned_state(db);
    if (!r) return r.status();
    saved = std::move(*r);
    return Status::Ok();
  }));
  if (saved.empty()) return Status::Ok();
  auto positions = store_.positions();
  if (!positions) return positions.status();
  auto assets = store_.assets();
  if (!assets) return assets.status();
  std::map<Id, Id> asset_of;
  for (const auto& pos : *positions) asset_of[pos.id] = pos.asset_id;
  std::map<Id, MachineInfo> machines;
  for (const auto& a : *assets) machines[a.id] = machine_of(a);
  std::size_t restored = 0, rejected = 0, replayed = 0;
  for (auto& s : saved) {
    auto pos = asset_of.find(s.key);
    if (pos == asset_of.end()) {
      spdlog::info("analytics: saved learned state of position {} ignored: there is no such position", s.key);
      continue;
    }
    auto m = machines.find(pos->second);
    const MachineInfo machine = m == machines.end() ? MachineInfo{} : m->second;
    if (auto st = measurements_after(store_, s); !st.ok()) return st;  // the journal's measurement rows
    auto r = restore_position(s, machine, opt_.analytics);
    if (!r) {
      state_rejected_->inc();
      ++rejected;
      spdlog::warn("analytics: position {} learns again: its saved learned state cannot be restored: {}", s.key,
                   r.status().message());
      continue;
    }
    auto c = std::make_unique<PositionCtx>();
    c->position_id = s.key;
    c->asset_id = pos->second;
    c->machine = machine;
    c->generation = gen;
    c->has_waveform = r->has_waveform;
    c->state_log = PositionStateLog(s.key, PositionStateLog::kSnapshotEvery, true);
    c->state_log.resume(*r);
    c->analyzer = std::move(r->analyzer);
    {
      std::lock_guard lk(state_mu_);
      asset_of_[s.key] = c->asset_id;
      auto& mine = state_[s.key];
      for (const auto& st : c->analyzer->states())
        mine[st.model] = ModelHealth{st.model, st.pointwise, st.persistent, st.since, st.learning,
                                     st.learned_hours, st.learning_hours};
      bands_[s.key] = c->analyzer->baseline_bands(kBaselineBandSigma);
    }
    {
      std::lock_guard lk(ctx_mu_);
      ctx_[s.key] = std::move(c);
    }
    ++restored;
    replayed += static_cast<std::size_t>(r->journal_entries);
  }
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("analytics: restored the learned state of {} position(s) in {:.0f} ms ({} journal entries "
               "replayed){}", restored, ms, replayed,
               rejected ? ", " + std::to_string(rejected) + " could not be restored (see above)" : std::string());
  return Status::Ok();
}

Pipeline::~Pipeline() {
  for (auto& w : workers_) {
    {
      std::lock_guard lk(w->mu);
      w->stop = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : workers_)
    if (w->th.joinable()) w->th.join();
}

void Pipeline::attach(Ingest& ingest) {
  ingest.on_waveform([this](const Waveform& w, Id) { submit_waveform(w); });
  ingest.on_readings([this](std::span<const AcceptedReading> r) { submit_readings(r); });
}

void Pipeline::on_state_change(std::function<void(const StateChange&)> fn) { observers_.push_back(std::move(fn)); }

bool Pipeline::enqueue(Id position_id, std::function<void()> job) {
  auto& w = *workers_[static_cast<std::size_t>(position_id) % workers_.size()];
  {
    std::lock_guard lk(w.mu);
    if (w.q.size() >= w.cap) {
      dropped_->inc();
      return false;
    }
    w.q.push_back(std::move(job));
  }
  w.cv.notify_one();
  return true;
}

bool Pipeline::submit_waveform(const Waveform& w) {
  if (w.position_id == 0) return false;
  return enqueue(w.position_id, [this, w] { run_waveform(w); });
}

bool Pipeline::submit_readings(std::span<const AcceptedReading> readings) {
  std::map<Id, std::vector<AcceptedReading>> by_pos;
  for (auto& r : readings)
    if (r.position_id) by_pos[*r.position_id].push_back(r);
  bool ok = true;
  // Explicit init-captures: clang before 16 cannot capture structured bindings.
  for (auto& [pos, v] : by_pos) ok &= enqueue(pos, [this, p = pos, v = std::move(v)] { run_readings(p, v); });
  return ok;
}

void Pipeline::drain() {
  for (auto& w : workers_) {
    std::unique_lock lk(w->mu);
    w->idle_cv.wait(lk, [&] { return w->q.empty() && !w->busy; });
  }
}

void Pipeline::feedback(Id position_id, const std::string& model, Feedback kind, TimestampMs since) {
  enqueue(position_id, [this, position_id, model, kind, since] {
    PositionCtx* p = ctx(position_id);
    if (!p || !p->analyzer) return;
    const TimestampMs now = clock_.now_ms();
    if (kind == Feedback::kAbsorb) p->analyzer->absorb_since(model, since);
    else p->analyzer->rebaseline(model, now);
    spdlog::info("analytics: position {} model '{}' {}", position_id, model.empty() ? "*" : model,
              kind == Feedback::kAbsorb ? "absorbed feedback as normal" : "re-baselines");
    after_feedback(*p, now);
  });
}

Status Pipeline::relearn(Id position_id) {
  const bool queued = enqueue(position_id, [this, position_id] {
    PositionCtx* p = ctx(position_id);
    if (!p || !p->analyzer) return;
    const TimestampMs now = clock_.now_ms();
    p->analyzer->rebaseline("", now);
    spdlog::info("analytics: position {} learns again (a user asked)", position_id);
    after_feedback(*p, now);
  });
  if (!queued) return Status::Unavailable("the analytics queue of position " + std::to_string(position_id) + " is full");
  return Status::Ok();
}

void Pipeline::after_feedback(PositionCtx& p, TimestampMs ts) {
  // The analyzer changed outside the journal: save it whole now.
  auto st = store_.data_txn([&](sql::Db& db) -> Status {
    return p.state_log.write_snapshot(db, *p.analyzer, p.has_waveform);
  });
  if (!st.ok()) {
    p.state_log.invalidate();
    errors_->inc();
    spdlog::warn("analytics: learned state of position {}: {}", p.position_id, st.ToString());
  }
  // Re-learning models read initializing from now (health_states, observers).
  Assessment a;
  a.ts = ts;
  a.models = p.analyzer->states();
  record(p, a, std::nullopt);
}

void Pipeline::invalidate_machines() { g_generation.fetch_add(1); }

Pipeline::PositionCtx* Pipeline::ctx(Id position_id) {
  PositionCtx* p;
  {
    std::lock_guard lk(ctx_mu_);
    auto& slot = ctx_[position_id];
    if (!slot) {
      slot = std::make_unique<PositionCtx>();
      slot->position_id = position_id;
    }
    p = slot.get();
  }
  const int gen = g_generation.load();
  if (p->generation == gen && p->analyzer) return p;
  // (Re)load the machine of the position: its asset's class, speed, bearing.
  auto positions = store_.positions();
  if (!positions) {
    spdlog::warn("analytics: position {}: {}", position_id, positions.status().ToString());
    return p->analyzer ? p : nullptr;
  }
  MachineInfo m;
  for (auto& pos : *positions) {
    if (pos.id != position_id) continue;
    p->asset_id = pos.asset_id;
    if (auto a = store_.asset(pos.asset_id)) m = machine_of(*a);
  }
  // A new speed, bearing or envelope band changes the features themselves:
  // the position starts afresh and learns again. A new class only moves the
  // ISO zones, and the class's limits may have changed: the baselines stay.
  MachineInfo same_class = m;
  same_class.machine_class = p->machine.machine_class;
  if (!p->analyzer || !(same_class == p->machine)) {
    if (p->analyzer) spdlog::info("analytics: position {}: the machine's speed, bearing or envelope band changed; "
                                  "it learns again", position_id);
    p->analyzer = std::make_unique<PositionAnalyzer>(m, opt_.analytics);
    p->band_fallback_logged = false;
    p->state_log = PositionStateLog(position_id, PositionStateLog::kSnapshotEvery, true);  // replaces the saved state
  } else {
    p->analyzer->set_machine_class(m.machine_class);
    p->state_log.invalidate();  // new zone limits: snapshot rather than replay under them
  }
  p->machine = m;
  p->generation = gen;
  {
    std::lock_guard lk(state_mu_);
    asset_of_[position_id] = p->asset_id;
  }
  return p;
}

// ------------------------------------------------------------------- jobs
void Pipeline::run_waveform(const Waveform& w) {
  PositionCtx* p = ctx(w.position_id);
  if (!p) return;
  if (!p->has_waveform) p->state_log.invalidate();  // the snapshot keeps the flag
  p->has_waveform = true;
  const int axes = std::max(1, w.axes);
  const std::size_t n = w.samples.size() / static_cast<std::size_t>(axes);
  if (n < 64) return;
  if (!p->band_fallback_logged && envelope_band_for(p->machine, w.sample_rate_hz).fell_back) {
    spdlog::warn("analytics: position {}: envelope band {}–{} Hz does not fit below {:.0f} Hz "
                 "(0.45 × {:.0f} Hz sampling); using the automatic band",
                 w.position_id, p->machine.envelope_lo_hz, p->machine.envelope_hi_hz,
                 kMaxEnvelopeFraction * w.sample_rate_hz, w.sample_rate_hz);
    p->band_fallback_logged = true;
  }
  dsp::FeatureOptions fo = p->analyzer->feature_options(w.sample_rate_hz);
  fo.keep_spectra = opt_.store_spectra;
  // Multi-axis: each feature is the worst (largest) axis, as ISO 20816 takes
  // the largest axis; spectra are those of the axis with most velocity.
  dsp::FeatureSet best;
  std::vector<float> x(n);
  double best_vel = -1;
  std::vector<dsp::Feature> merged;
  for (int a = 0; a < axes; ++a) {
    for (std::size_t i = 0; i < n; ++i)
      x[i] = static_cast<float>(w.samples[static_cast<std::size_t>(a) * n + i] * w.scale);
    auto fs = dsp::compute_features(x, w.sample_rate_hz, fo);
    if (merged.empty()) merged = fs.values;
    else
      for (std::size_t k = 0; k < merged.size() && k < fs.values.size(); ++k)
        merged[k].value = std::max(merged[k].value, fs.values[k].value);
    double vel = fs.get("velocity_rms_mm_s").value_or(0);
    if (vel > best_vel) {
      best_vel = vel;
      best = std::move(fs);
    }
  }
  Assessment a = p->analyzer->assess_vibration(w.ts, merged);
  Measurement m;
  m.position_id = w.position_id;
  m.ts = w.ts;
  m.features_json = features_json(merged);  // exactly the analyzer's input: the row is its journal entry
  m.score = a.score;
  m.state = a.state;
  m.explanation = a.explanation;
  if (w.id) m.waveform_id = w.id;
  auto saved = persist(*p, &m, {});
  if (!saved) {
    errors_->inc();
    spdlog::warn("analytics: position {}: {}", w.position_id, saved.status().ToString());
    return;
  }
  const std::optional<Id> id = *saved;
  if (opt_.store_spectra) {
    // The baseline spectrum averages what the vibration model learns from.
    bool learning = false;
    for (const auto& ms : a.models)
      if (ms.model == kVibrationMl) learning = a.running && ms.persistent == HealthState::kInitializing;
    auto st = store_.data_txn([&](sql::Db& db) -> Status {
      for (auto* s : {&best.spectrum, &best.envelope}) {
        const char* kind = s == &best.spectrum ? "accel" : "envelope";
        auto blob = to_blob(s->bins);
        auto q = db.prepare("INSERT OR REPLACE INTO spectra(measurement_id, position_id, ts, kind, df_hz, bins) "
                            "VALUES(?, ?, ?, ?, ?, ?)");
        if (!q) return q.status();
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, *id).bind(2, w.position_id).bind(3, w.ts).bind(4, kind)
                                  .bind(5, s->df_hz).bind_blob(6, blob.data(), blob.size()).run());
        auto del = db.prepare(
            "DELETE FROM spectra WHERE position_id = ?1 AND kind = ?2 AND ts < (SELECT ts FROM spectra "
            "WHERE position_id = ?1 AND kind = ?2 ORDER BY ts DESC LIMIT 1 OFFSET ?3)");
        if (!del) return del.status();
        VIGIL_RETURN_IF_ERROR((*del)->bind(1, w.position_id).bind(2, kind)
                                  .bind(3, std::max(1, opt_.spectra_per_position) - 1).run());
        VIGIL_RETURN_IF_ERROR(update_baseline_spectrum(db, w.position_id, kind, w.ts, learning, *s));
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      errors_->inc();
      spdlog::warn("analytics: spectra of position {}: {}", w.position_id, st.ToString());
    }
  }
  record(*p, a, id);
  processed_->inc();
}

void Pipeline::run_readings(Id position_id, const std::vector<AcceptedReading>& readings) {
  PositionCtx* p = ctx(position_id);
  if (!p) return;
  std::map<TimestampMs, std::vector<dsp::Feature>> frames;  // vibration features per frame time
  // Learned state: the metric readings' journal entries go with the next
  // frame's measurement row (itself the frame's entry), or on their own.
  std::vector<JournalEntry> entries;
  for (auto& r : readings) {
    const auto& rd = r.reading;
    if (is_vibration_metric(rd.metric)) {
      // A position with waveforms is scored from them; frames would double count.
      if (!p->has_waveform) frames[rd.ts].push_back({rd.metric, rd.value});
      continue;
    }
    Assessment a = p->analyzer->assess_metric(rd.ts, rd.metric, rd.value);
    entries.push_back({JournalEntry::Kind::kMetric, rd.ts, {{rd.metric, rd.value}}});
    record(*p, a, std::nullopt);
  }
  for (auto& [ts, feats] : frames) {
    Assessment a = p->analyzer->assess_vibration(ts, feats);
    Measurement m;
    m.position_id = position_id;
    m.ts = ts;
    m.features_json = features_json(feats);  // the row is the frame's journal entry
    m.score = a.score;
    m.state = a.state;
    m.explanation = a.explanation;
    auto id = persist(*p, &m, entries);
    entries.clear();
    if (!id) {
      errors_->inc();
      spdlog::warn("analytics: position {}: {}", position_id, id.status().ToString());
    }
    record(*p, a, id ? *id : std::nullopt);
    processed_->inc();
  }
  if (!entries.empty())
    if (auto st = persist(*p, nullptr, entries); !st) {
      errors_->inc();
      spdlog::warn("analytics: learned state of position {}: {}", position_id, st.status().ToString());
    }
}

Result<std::optional<Id>> Pipeline::persist(PositionCtx& p, const Measurement* m, std::span<const JournalEntry> entries) {
  std::optional<Id> id;
  auto st = store_.data_txn([&](sql::Db& db) -> Status {
    if (m) {
      auto r = Store::put_measurement(db, *m);
      if (!r) return r.status();
      id = *r;
    }
    std::optional<std::pair<Id, TimestampMs>> row;
    if (m) row = {*id, m->ts};
    return p.state_log.write(db, *p.analyzer, p.has_waveform, entries, row).Annotate("learned state");
  });
  if (!st.ok()) {
    p.state_log.invalidate();  // the stored state missed these entries: snapshot next time
    return st;
  }
  return id;
}

void Pipeline::record(PositionCtx& p, const Assessment& a, std::optional<Id> measurement_id) {
  struct Row {
    std::string scope;
    Id id;
    ModelHealth h;
  };
  std::vector<Row> rows;
  std::vector<StateChange> changes;
  auto bands = p.analyzer ? p.analyzer->baseline_bands(kBaselineBandSigma) : std::vector<MetricBand>{};
  {
    std::lock_guard lk(state_mu_);
    bands_[p.position_id] = std::move(bands);
    auto& mine = state_[p.position_id];
    std::set<std::string> touched_models;
    for (auto& m : a.models) {
      auto& cur = mine[m.model];
      if (cur.model.empty()) cur.model = m.model;
      const bool changed = cur.pointwise != m.pointwise || cur.persistent != m.persistent;
      cur.learning = m.learning;  // learning progress moves on without a state change
      cur.learned_hours = m.learned_hours;
      cur.learning_hours = m.learning_hours;
      if (!changed) continue;
      if (cur.persistent != m.persistent) {
        StateChange c;
        c.position_id = p.position_id;
        c.asset_id = p.asset_id;
        c.model = m.model;
        c.ts = a.ts;
        c.pointwise = m.pointwise;
        c.persistent = m.persistent;
        c.previous = cur.persistent;
        c.score = m.score;
        c.z = m.z;
        c.explanation = m.explanation;
        c.measurement_id = measurement_id;
        changes.push_back(std::move(c));
      }
      cur = ModelHealth{m.model, m.pointwise, m.persistent, a.ts, m.learning, m.learned_hours, m.learning_hours};
      rows.push_back({"position", p.position_id, cur});
      touched_models.insert(m.model);
    }
    if (!rows.empty() && p.asset_id) {
      // Asset roll-up of the touched models: worst position.
      for (auto& model : touched_models) {
        ModelHealth worst{model, HealthState::kUnknown, HealthState::kUnknown, a.ts};
        for (auto& [pos, models] : state_) {
          if (asset_of_[pos] != p.asset_id) continue;
          auto it = models.find(model);
          if (it == models.end()) continue;
          if (severity(it->second.persistent) > severity(worst.persistent)) worst.persistent = it->second.persistent;
          if (severity(it->second.pointwise) > severity(worst.pointwise)) worst.pointwise = it->second.pointwise;
        }
        rows.push_back({"asset", p.asset_id, worst});
      }
    }
  }
  if (!rows.empty()) {
    auto st = store_.data_txn([&](sql::Db& db) -> Status {
      for (auto& r : rows) {
        // Skip rows equal to the scope's latest (asset roll-ups often are).
        auto last = db.prepare("SELECT pointwise, persistent FROM health_states WHERE scope = ? AND scope_id = ? "
                               "AND model = ? ORDER BY ts DESC, id DESC LIMIT 1");
        if (!last) return last.status();
        (*last)->bind(1, r.scope).bind(2, r.id).bind(3, r.h.model);
        auto row = (*last)->step();
        if (!row) return row.status();
        bool same = *row && (*last)->text(0) == to_string(r.h.pointwise) &&
                    (*last)->text(1) == to_string(r.h.persistent);
        (*last)->reset();
        if (same) continue;
        auto q = db.prepare("INSERT INTO health_states(scope, scope_id, model, ts, pointwise, persistent) "
                            "VALUES(?, ?, ?, ?, ?, ?)");
        if (!q) return q.status();
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.scope).bind(2, r.id).bind(3, r.h.model).bind(4, r.h.ts)
                                  .bind(5, to_string(r.h.pointwise)).bind(6, to_string(r.h.persistent)).run());
      }
      return Status::Ok();
    });
    if (!st.ok()) {
      errors_->inc();
      spdlog::warn("analytics: health states of position {}: {}", p.position_id, st.ToString());
    }
  }
  for (auto& c : changes)
    for (auto& fn : observers_) fn(c);
}

// ------------------------------------------------------------------ reads
namespace {
ScopeHealth make_scope(const std::string& scope, Id id, const std::map<std::string, ModelHealth>& models) {
  ScopeHealth s;
  s.scope = scope;
  s.id = id;
  std::vector<ModelState> ms;
  for (auto& [k, v] : models) {
    s.models.push_back(v);
    ms.push_back(ModelState{v.model, v.pointwise, v.persistent, std::nullopt, ""});
  }
  bool running = true;
  for (auto& [k, v] : models)
    if (k == kVibrationMl || k == kVibrationIso) running &= v.persistent != HealthState::kNotRunning;
  s.state = models.empty() ? HealthState::kUnknown : roll_up(ms, running);
  return s;
}
}  // namespace

Result<ScopeHealth> Pipeline::position_health(Id position_id) const {
  std::lock_guard lk(state_mu_);
  auto it = state_.find(position_id);
  if (it == state_.end()) return make_scope("position", position_id, {});
  auto s = make_scope("position", position_id, it->second);
  if (auto b = bands_.find(position_id); b != bands_.end()) s.baseline = b->second;
  return s;
}

Result<ScopeHealth> Pipeline::asset_health(Id asset_id) const {
  std::lock_guard lk(state_mu_);
  std::map<std::string, ModelHealth> worst;
  bool any_running = false, any = false;
  for (auto& [pos, models] : state_) {
    auto a = asset_of_.find(pos);
    if (a == asset_of_.end() || a->second != asset_id) continue;
    any = true;
    auto ps = make_scope("position", pos, models);
    any_running |= ps.state != HealthState::kNotRunning;
    for (auto& [k, v] : models) {
      auto& w = worst[k];
      w.model = k;
      if (severity(v.persistent) > severity(w.persistent)) w.persistent = v.persistent;
      if (severity(v.pointwise) > severity(w.pointwise)) w.pointwise = v.pointwise;
      w.ts = std::max(w.ts, v.ts);
    }
  }
  auto s = make_scope("asset", asset_id, worst);
  if (any && !any_running) s.state = HealthState::kNotRunning;
  return s;
}

Result<std::vector<ScopeHealth>> Pipeline::all_position_health() const {
  std::lock_guard lk(state_mu_);
  std::vector<ScopeHealth> out;
  for (auto& [pos, models] : state_) out.push_back(make_scope("position", pos, models));
  return out;
}

Result<std::vector<StoredSpectrum>> recent_spectra(Store& store, Id position_id, const std::string& kind, int limit) {
  if (limit < 1) return Status::InvalidArgument("limit must be at least 1");
  std::vector<StoredSpectrum> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT measurement_id, ts, df_hz, bins FROM spectra WHERE position_id = ? AND kind = ? "
                        "ORDER BY ts DESC LIMIT ?");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, kind).bind(3, limit);
    for (;;) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      StoredSpectrum s;
      s.measurement_id = (*q)->i64(0);
      s.position_id = position_id;
      s.ts = (*q)->i64(1);
      s.kind = kind;
      s.df_hz = (*q)->f64(2);
      s.bins = from_blob((*q)->blob(3));
      out.push_back(std::move(s));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Result<std::optional<StoredSpectrum>> latest_spectrum(Store& store, Id position_id, const std::string& kind) {
  auto v = recent_spectra(store, position_id, kind, 1);
  if (!v) return v.status();
  if (v->empty()) return std::optional<StoredSpectrum>();
  return std::optional<StoredSpectrum>(std::move(v->front()));
}

Result<std::vector<StoredSpectrum>> spectra_of_measurement(Store& store, Id measurement_id) {
  std::vector<StoredSpectrum> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT position_id, ts, kind, df_hz, bins FROM spectra WHERE measurement_id = ? ORDER BY kind");
    if (!q) return q.status();
    (*q)->bind(1, measurement_id);
    for (;;) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      StoredSpectrum s;
      s.measurement_id = measurement_id;
      s.position_id = (*q)->i64(0);
      s.ts = (*q)->i64(1);
      s.kind = (*q)->text(2);
      s.df_hz = (*q)->f64(3);
      s.bins = from_blob((*q)->blob(4));
      out.push_back(std::move(s));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

}  // namespace vigil::analytics
