// SPDX-License-Identifier: Apache-2.0
//
// bench_analytics_state: the cost of persisted learned state (issue 14).
//
//  1. Saving, per measurement: the gateway writes each measurement row and
//     the learned state it changed in one transaction (the row is its own
//     journal entry; a full snapshot every PositionStateLog::kSnapshotEvery).
//     Printed: the transaction with and without the state, their
//     difference, and that difference next to features + score of the same
//     snapshot in the same run (goal: at most 10 % of it).
//  2. Restoring 1,000 positions at start (goal: under 1 s), each with what a
//     position holds after weeks of service: a vibration baseline of 17
//     features learned on 48 h of 10-minute measurements, 512 recent
//     measurements kept for feedback, a temperature model, and half a
//     snapshot interval of waveform measurements and temperatures since the
//     last snapshot (the average). Printed next to reading the state and
//     journal rows alone (the I/O floor) in the same run.
//
// Times are CPU time of the thread (the machine is shared) and wall time.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "analytics/learned_state.h"
#include "analytics/pipeline.h"
#include "analytics/position.h"
#include "dsp/features.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}
double wall_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int kN = 8192;
constexpr double kFs = 20000;
constexpr TimestampMs kT0 = 1'700'000'000'000;
constexpr TimestampMs k10min = 600'000;

MachineInfo machine() {
  MachineInfo m;
  m.shaft_rpm = 2000;
  m.bearing = BearingGeometry{16, 8.4074, 71.501, 15.17};
  return m;
}

AnalyticsOptions options() {
  AnalyticsOptions o;
  o.learning_hours = 48;
  return o;
}

struct Signal {
  std::mt19937 rng{1};
  std::normal_distribution<double> nd{0, 0.1};
  std::vector<float> x = std::vector<float>(kN);
  Signal() {
    for (int i = 0; i < kN; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(0.3 * std::sin(0.02 * i) + nd(rng));
  }
  void jitter() {
    for (auto& v : x) v *= static_cast<float>(1 + 0.001 * nd(rng));
  }
};

// An analyzer after `n` 10-minute measurements (and temperatures); returns
// the inputs of the last `keep` of them.
std::vector<JournalEntry> serve(PositionAnalyzer& pa, Signal& s, const dsp::FeatureOptions& fo, int n, int keep,
                                TimestampMs& ts) {
  std::vector<JournalEntry> last;
  std::vector<dsp::Feature> base = dsp::compute_features(s.x, kFs, fo).values;
  std::normal_distribution<double> jit(0, 0.03);
  for (int i = 0; i < n; ++i) {
    ts += k10min;
    std::vector<dsp::Feature> f = base;
    for (auto& v : f) v.value *= std::exp(jit(s.rng));
    JournalEntry e{JournalEntry::Kind::kWaveform, ts, f};
    apply(pa, e);
    JournalEntry t{JournalEntry::Kind::kMetric, ts, {{"temperature_c", 45 + jit(s.rng) * 10}}};
    apply(pa, t);
    if (i >= n - keep) {
      last.push_back(std::move(e));
      last.push_back(std::move(t));
    }
  }
  return last;
}
}  // namespace

int main(int argc, char** argv) {
  // For profiling one part: `restore` or `save`.
  const bool restore_only = argc > 1 && std::string(argv[1]) == "restore";
  const bool save_only = argc > 1 && std::string(argv[1]) == "save";
  Signal sig;
  PositionAnalyzer pa(machine(), options());
  auto fo = pa.feature_options(kFs);
  fo.keep_spectra = true;
  TimestampMs ts = kT0;
  // 48 h of learning, then enough scored measurements to fill the feedback memory.
  serve(pa, sig, fo, 288 + 600, 0, ts);
  const auto snapshot_bytes = nlohmann::json::to_cbor(position_snapshot(pa, true)).size();

  // ---- reference: features + score of one snapshot (the pipeline path) ----
  const int reps = 2000;
  volatile double sink = 0;
  double c0 = cpu_us();
  for (int r = 0; r < reps; ++r) {
    auto f = dsp::compute_features(sig.x, kFs, fo);
    auto a = pa.assess_vibration(ts += k10min, f.values);
    sink = sink + a.score.value_or(0);
  }
  const double feat_us = (cpu_us() - c0) / reps;

  std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-bench-XXXXXX").string();
  const std::filesystem::path dir = mkdtemp(tmpl.data());
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{dir};

  // ---- 1. saving: one transaction per measurement, with and without state ----
  if (!restore_only) {
  StoreOptions so;
  so.path = (dir / "save.db").string();
  auto store = std::move(Store::open(so).value());
  if (auto st = Pipeline::migrate(*store); !st.ok()) {
    std::printf("migrate: %s\n", st.ToString().c_str());
    return 1;
  }
  const auto f0 = dsp::compute_features(sig.x, kFs, fo).values;
  Measurement m;
  m.position_id = 1;
  m.features_json = features_json(f0);
  m.score = 0.1;
  m.state = HealthState::kHealthy;
  m.explanation = "vibrationML: velocity RMS 1.1× baseline";
  // Rounds of `batch` measurements without and with the state, alternating
  // (the WAL checkpoints land in either); the medians are compared. The
  // state's log runs on across its rounds, so its snapshots come every
  // kSnapshotEvery measurements as in service.
  const int rounds = 12, batch = 512;
  PositionStateLog log(1, PositionStateLog::kSnapshotEvery, true);
  auto run = [&](bool with_state, double& cpu, double& wall) {
    const double c = cpu_us(), w = wall_us();
    for (int i = 0; i < batch; ++i) {
      m.ts = ++ts;
      auto st = store->write_txn([&](sql::Db& db) -> Status {
        auto id = Store::put_measurement(db, m);
        if (!id) return id.status();
        // The measurement row is the journal entry; a snapshot now and then.
        return with_state ? log.write(db, pa, true, {}, std::pair{*id, m.ts}) : Status::Ok();
      });
      if (!st.ok()) {
        std::printf("save: %s\n", st.ToString().c_str());
        std::exit(1);
      }
    }
    cpu = (cpu_us() - c) / batch;
    wall = (wall_us() - w) / batch;
  };
  double cpu = 0, wall = 0;
  run(false, cpu, wall);  // warm up the file and caches
  std::vector<double> plain_cpu, plain_wall, state_cpu, state_wall;
  for (int r = 0; r < rounds; ++r) {
    run(false, cpu, wall);
    plain_cpu.push_back(cpu);
    plain_wall.push_back(wall);
    run(true, cpu, wall);
    state_cpu.push_back(cpu);
    state_wall.push_back(wall);
  }
  // Means: a snapshot's cost, and the WAL checkpoints its pages bring, are
  // amortised over the measurements between snapshots.
  auto mean = [](const std::vector<double>& v) {
    double t = 0;
    for (double x : v) t += x;
    return t / static_cast<double>(v.size());
  };
  const double pc = mean(plain_cpu), pw = mean(plain_wall), sc = mean(state_cpu), sw = mean(state_wall);
  const double extra_cpu = sc - pc;
  std::printf("saving learned state per measurement (%d x %d measurements, snapshot %zu bytes every %d; thread CPU, "
              "means)\n", rounds, batch, snapshot_bytes, PositionStateLog::kSnapshotEvery);
  std::printf("  features + score (reference)                 %8.1f us\n", feat_us);
  std::printf("  transaction: measurement row                 %8.1f us CPU  %8.1f us wall\n", pc, pw);
  std::printf("  transaction: measurement row + learned state %8.1f us CPU  %8.1f us wall\n", sc, sw);
  std::printf("  learned state on top                         %8.1f us CPU = %.1f %% of features + score "
              "(goal <= 10 %%)\n", extra_cpu, 100 * extra_cpu / feat_us);
  store.reset();
  }

  if (save_only) return 0;
  // ---- 2. restoring 1,000 positions at start ----
  const int positions = 1000;
  StoreOptions ro;
  ro.path = (dir / "restore.db").string();
  auto rs = std::move(Store::open(ro).value());
  const Id site = rs->upsert_site(Site{0, "Plant", "UTC"}).value();
  std::vector<Id> ids;
  for (int a = 0; a < positions / 10; ++a) {
    Asset as;
    as.site_id = site;
    as.name = "asset " + std::to_string(a);
    as.shaft_rpm = 2000;
    as.bearing = machine().bearing;
    const Id asset = rs->upsert_asset(as).value();
    for (int p = 0; p < 10; ++p)
      ids.push_back(rs->upsert_position(Position{0, asset, "P" + std::to_string(p), PositionType::kPump}).value());
  }
  if (auto st = Pipeline::migrate(*rs); !st.ok()) return 1;
  // Every position: the snapshot of a served analyzer, then waveform
  // measurements (rows of the measurements table) and temperatures
  // (learned_journal rows): half as many inputs as make a new snapshot.
  PositionAnalyzer snap_src(machine(), options());
  TimestampMs bts = kT0;
  Signal sig2;
  serve(snap_src, sig2, fo, 288 + 600, 0, bts);
  PositionAnalyzer later(machine(), options());
  if (!later.from_state(snap_src.to_state()).ok()) return 1;
  // On average a position is half way to its next snapshot.
  const int since = PositionStateLog::kSnapshotEvery / 4;
  const auto journal = serve(later, sig2, fo, since, since, bts);  // waveforms and temperatures
  if (auto st = rs->write_txn([&](sql::Db& db) -> Status {
        for (Id id : ids) {
          PositionStateLog l(id, PositionStateLog::kSnapshotEvery, true);
          VIGIL_RETURN_IF_ERROR(l.write_snapshot(db, snap_src, true));
          for (const auto& e : journal) {
            if (e.kind == JournalEntry::Kind::kMetric) {
              VIGIL_RETURN_IF_ERROR(l.write(db, snap_src, true, {&e, 1}));
              continue;
            }
            Measurement row;
            row.position_id = id;
            row.ts = e.ts;
            row.features_json = features_json(e.features);
            row.waveform_id = 1;
            auto mid = Store::put_measurement(db, row);
            if (!mid) return mid.status();
            VIGIL_RETURN_IF_ERROR(l.write(db, snap_src, true, {}, std::pair{*mid, e.ts}));
          }
        }
        return Status::Ok();
      });
      !st.ok()) {
    std::printf("restore setup: %s\n", st.ToString().c_str());
    return 1;
  }
  // Floor: reading the same rows (state and journal).
  double c = cpu_us(), w = wall_us();
  std::size_t bytes = 0;
  (void)rs->read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT state FROM learned_state");
    if (!q) return q.status();
    for (;;) {
      auto row = (*q)->step();
      if (!row || !*row) break;
      bytes += (*q)->blob(0).size();
    }
    (*q)->reset();
    auto j = db.prepare("SELECT names, vals FROM learned_journal");
    if (!j) return j.status();
    for (;;) {
      auto row = (*j)->step();
      if (!row || !*row) break;
      bytes += (*j)->blob(1).size() + (*j)->text(0).size();
    }
    (*j)->reset();
    return Status::Ok();
  });
  const double read_cpu = (cpu_us() - c) / 1e6, read_wall = (wall_us() - w) / 1e6;
  // Where the time goes (the steps Pipeline::create takes).
  double t_read = 0, t_rows = 0, t_restore = 0, t_cbor = 0, t_from = 0, t_parse = 0, t_apply = 0;
  {
    std::vector<SavedState> saved;
    c = cpu_us();
    (void)rs->read([&](sql::Db& db) -> Status {
      saved = std::move(read_learned_state(db).value());
      return Status::Ok();
    });
    t_read = (cpu_us() - c) / 1e6;
    c = cpu_us();
    for (auto& sv : saved)
      if (!measurements_after(*rs, sv).ok()) return 1;
    t_rows = (cpu_us() - c) / 1e6;
    c = cpu_us();
    for (const auto& sv : saved)
      if (!restore_position(sv, machine(), options()).ok()) return 1;
    t_restore = (cpu_us() - c) / 1e6;
    // ... and inside restore_position:
    for (const auto& sv : saved) {
      c = cpu_us();
      auto doc = decode_snapshot(sv.state).value();
      t_cbor += cpu_us() - c;
      c = cpu_us();
      PositionAnalyzer a(machine(), options());
      if (!a.from_state(doc["analyzer"]).ok()) return 1;
      t_from += cpu_us() - c;
      std::vector<std::vector<dsp::Feature>> fs;
      c = cpu_us();
      for (const auto& m : sv.measurements) fs.push_back(features_from_json(m.features_json).value());
      t_parse += cpu_us() - c;
      c = cpu_us();
      for (auto& f : fs) a.assess_vibration(0, f);
      t_apply += cpu_us() - c;
    }
  }
  MetricsRegistry metrics;
  PipelineOptions po;
  po.analytics = options();
  c = cpu_us();
  w = wall_us();
  auto pipe = Pipeline::create(*rs, po, SystemClock::instance(), metrics);
  const double restore_cpu = (cpu_us() - c) / 1e6, restore_wall = (wall_us() - w) / 1e6;
  if (!pipe) {
    std::printf("restore: %s\n", pipe.status().ToString().c_str());
    return 1;
  }
  std::size_t fitted = 0;
  for (Id id : ids)
    if (!(*pipe)->position_health(id).value().baseline.empty()) ++fitted;
  std::printf("restoring %d positions at start (%.1f MB of state, %zu inputs since the snapshot each, %zu restored with "
              "their baselines)\n", positions, static_cast<double>(bytes) / 1e6, journal.size(), fitted);
  std::printf("  reading the rows alone (floor)               %8.3f s CPU  %8.3f s wall\n", read_cpu, read_wall);
  std::printf("  Pipeline::create, restoring                  %8.3f s CPU  %8.3f s wall (goal < 1 s)\n",
              restore_cpu, restore_wall);
  std::printf("  ... reading the state rows %.3f s, the measurement rows %.3f s, decoding and replaying %.3f s (CPU)\n",
              t_read, t_rows, t_restore);
  std::printf("      (snapshot bytes %.3f s, from_state %.3f s, features JSON %.3f s, replaying the vibration %.3f s)\n",
              t_cbor / 1e6, t_from / 1e6, t_parse / 1e6, t_apply / 1e6);
  return fitted == ids.size() ? 0 : 1;
}
