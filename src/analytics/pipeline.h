// SPDX-License-Identifier: Apache-2.0
//
// analytics::Pipeline: the gateway's analytics. Subscribes to Ingest
// (waveforms and readings), computes features off the caller's thread, runs
// one PositionAnalyzer per position (the same class `vigil backtest` runs),
// and persists measurements, spectra and health states:
//
//   measurements   one row per vibration measurement (features JSON, ML score,
//                  rolled-up state, explanation, waveform id)
//   spectra        (module-owned table) the measurement's acceleration and
//                  envelope spectra, ≤ 1024 max-hold bins each, float32 LE
//   health_states  (module-owned table) a row whenever a model's pointwise or
//                  persistent state of a position changes, and the asset
//                  roll-up (worst position)
//   learned_state, learned_journal  (module-owned) what each position has
//                  learned (learned_state.h), written in the transaction of
//                  the measurement that changed it and restored by create():
//                  after a restart every position scores on as before, and
//                  position_health() reads as before. A row that cannot be
//                  restored is logged with its reason and counted
//                  (vigil_analytics_state_rejected_total); that position
//                  learns again.
//
// State changes are also handed to observers (alerts::AlertService).
//
// Threads. `threads` workers (config analytics.threads), each with a bounded
// queue; a position always goes to the same worker, so its analyzer needs no
// lock and its measurements stay in order. A full queue drops the job and
// counts it in vigil_analytics_dropped_total. Feedback (alert closures) is
// queued to the position's worker too.
//
// Thread-safety: every public method may be called from any thread, except
// attach()/on_state_change(), which must be called before data flows.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "analytics/learned_state.h"
#include "analytics/position.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::analytics {

struct PipelineOptions {
  AnalyticsOptions analytics;
  int threads = 1;                   // config analytics.threads
  std::size_t queue_capacity = 256;  // jobs per worker
  bool store_spectra = true;
  int spectra_per_position = 500;    // newest kept per position and kind
};

// A model's persistent state of a position changed (observer payload).
struct StateChange {
  Id position_id = 0;
  Id asset_id = 0;
  std::string model;
  TimestampMs ts = 0;
  HealthState pointwise = HealthState::kUnknown;
  HealthState persistent = HealthState::kUnknown;
  HealthState previous = HealthState::kUnknown;
  std::optional<double> score;
  std::optional<double> z;  // a learned model's normal-equivalent score (ModelState::z)
  std::string explanation;
  std::optional<Id> measurement_id;  // the measurement that caused it
};

// Current state of one model at one scope (position or asset).
struct ModelHealth {
  std::string model;  // vibrationISO, vibrationML, temperatureML, metric:<name>, or "overall"
  HealthState pointwise = HealthState::kUnknown;
  HealthState persistent = HealthState::kUnknown;
  TimestampMs ts = 0;  // when it last changed
  std::string learning;  // while initializing: progress and what learning waits for (ModelState::learning)
  // While learning by time: hours learned and planned (ModelState::learned_hours).
  std::optional<double> learned_hours, learning_hours;
};
struct ScopeHealth {
  std::string scope;  // "position" | "asset"
  Id id = 0;
  HealthState state = HealthState::kUnknown;  // roll-up (worst persistent)
  std::vector<ModelHealth> models;
  // Positions only: the learned normal range of each metric, ±kBaselineBandSigma.
  std::vector<MetricBand> baseline;
};

// Width of the baseline band the dashboard draws: ±3 robust standard
// deviations (≈ 99.7 % of normal behaviour for a Gaussian feature).
inline constexpr double kBaselineBandSigma = 3.0;

// Feedback from a closed alert.
enum class Feedback {
  kAbsorb,      // NO_ISSUE: the behaviour since `since` is normal
  kRebaseline,  // maintenance done: learn a new baseline from now on
};

// A stored spectrum (display resolution).
struct StoredSpectrum {
  Id measurement_id = 0;
  Id position_id = 0;
  TimestampMs ts = 0;
  std::string kind;  // "accel" (acceleration amplitude, g) | "envelope" (g)
  double df_hz = 0;
  std::vector<float> bins;
};

class Pipeline {
 public:
  // Store, clock and metrics must outlive the pipeline. Applies the module's
  // migrations (the spectra table); see Pipeline::migrate.
  static Result<std::unique_ptr<Pipeline>> create(Store& store, PipelineOptions options,
                                                  const Clock& clock = SystemClock::instance(),
                                                  MetricsRegistry& metrics = MetricsRegistry::global());
  ~Pipeline();  // drains queued jobs, stops the workers
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The analytics module's own tables (idempotent): spectra (v1) and
  // health_states (v2; IF NOT EXISTS, as databases made before the analytics
  // owned it have it from the store's core schema). The gateway runs it even
  // with the analytics disabled, as the REST API reads health_states.
  static Status migrate(Store& store);

  // Registers Ingest observers. Call once, before data flows.
  void attach(Ingest& ingest);
  // Observers run on a worker thread; keep them short. Register before data flows.
  void on_state_change(std::function<void(const StateChange&)> fn);

  // Queue work directly (what the Ingest observers call). False when the
  // worker's queue is full (the job is dropped and counted).
  bool submit_waveform(const Waveform& w);
  bool submit_readings(std::span<const AcceptedReading> readings);
  // Blocks until every job queued before the call has run (tests, shutdown).
  void drain();

  // Alert closure feedback for a position's model ("" = all its models).
  void feedback(Id position_id, const std::string& model, Feedback kind, TimestampMs since);
  // A user asked the position to learn again (POST /api/v1/positions/{id}/relearn):
  // every learned model forgets its baseline and reads initializing from
  // now; the saved learned state is replaced. Queued to the position's
  // worker; kUnavailable when its queue is full.
  Status relearn(Id position_id);
  // Forget cached asset data (machine class, speed, bearing) and zone
  // limits after edits; each position reloads them before its next job.
  void invalidate_machines();

  // ---- reads for the REST layer (any thread) ----
  // Current state per model of a position / an asset (asset = worst position).
  Result<ScopeHealth> position_health(Id position_id) const;
  Result<ScopeHealth> asset_health(Id asset_id) const;
  Result<std::vector<ScopeHealth>> all_position_health() const;

  std::uint64_t processed() const { return processed_->value(); }
  std::uint64_t dropped() const { return dropped_->value(); }

 private:
  struct Worker;
  struct PositionCtx;
  Pipeline(Store& store, PipelineOptions options, const Clock& clock, MetricsRegistry& metrics);
  bool enqueue(Id position_id, std::function<void()> job);
  PositionCtx* ctx(Id position_id);  // worker thread of that position only
  void run_waveform(const Waveform& w);
  void run_readings(Id position_id, const std::vector<AcceptedReading>& readings);
  void record(PositionCtx& p, const Assessment& a, std::optional<Id> measurement_id);
  // Writes the measurement row (if any) and the learned state that the
  // entries (other metrics' readings, taken before it) and the measurement
  // changed, in one transaction; the measurement's id.
  Result<std::optional<Id>> persist(PositionCtx& p, const Measurement* m, std::span<const JournalEntry> entries);
  // After feedback or re-learning: a snapshot, and the models' new states.
  void after_feedback(PositionCtx& p, TimestampMs ts);
  // Start-up: every position's saved learned state (learned_state.h).
  Status restore();

  Store& store_;
  PipelineOptions opt_;
  const Clock& clock_;
  Counter* processed_;
  Counter* dropped_;
  Counter* errors_;
  Counter* state_rejected_;  // saved learned states that could not be restored
  std::vector<std::function<void(const StateChange&)>> observers_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex ctx_mu_;  // guards the map itself, not the analyzers
  std::map<Id, std::unique_ptr<PositionCtx>> ctx_;
  // Latest state per (position, model) for reads and asset roll-ups.
  mutable std::mutex state_mu_;
  std::map<Id, Id> asset_of_;                               // position → asset
  std::map<Id, std::map<std::string, ModelHealth>> state_;  // position → model → health
  std::map<Id, std::vector<MetricBand>> bands_;              // position → baseline bands
};

// Spectra reads (any thread): the one decoder of the spectra table.
// kNotFound-free: empty when none stored.
// The newest `limit` (≥ 1) spectra of a position and kind ("accel" |
// "envelope"), newest first: the dashboard's spectrum (1) and waterfall.
Result<std::vector<StoredSpectrum>> recent_spectra(Store& store, Id position_id, const std::string& kind, int limit);
Result<std::optional<StoredSpectrum>> latest_spectrum(Store& store, Id position_id, const std::string& kind);
Result<std::vector<StoredSpectrum>> spectra_of_measurement(Store& store, Id measurement_id);

}  // namespace vigil::analytics
