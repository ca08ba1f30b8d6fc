// SPDX-License-Identifier: Apache-2.0
//
// Ingest: the one road from any source (simulator, BLE, replay) to the Store.
//
// submit() validates each reading (known, commissioned source; well-formed
// metric name; finite value within the metric's physical range; plausible
// timestamp; not a duplicate of the series' latest point), resolves its
// series and appends it. Every rejection is counted by reason in
// vigil_ingest_rejected_total{reason=...}, returned to the caller and logged
// (at most one line per reason and minute, with the count).
// A reading older than its series' newest point is stored all the same (a
// clock that jumped back must not stop ingest), counted in
// vigil_ingest_out_of_order_total and logged the same way; /api/v1/health
// reports a clock behind the newest stored point.
// Accepted readings are then handed to observers (analytics, live updates).
//
// Thread-safety: submit() and submit_waveform() may be called from any
// thread; observers are called on the caller's thread, after the append.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil/clock.h"
#include "vigil/metrics_registry.h"
#include "vigil/model.h"
#include "vigil/store.h"

namespace vigil {

// Unit and physical range of well-known metrics. Unknown metrics with a
// valid name are accepted with no range check (off-the-shelf sensors).
struct MetricInfo {
  const char* name;
  const char* unit;
  double min, max;
};
const MetricInfo* find_metric(std::string_view metric);
bool valid_metric_name(std::string_view metric);

enum class RejectReason {
  kUnknownSource,   // address not commissioned
  kDecommissioned,  // sensor was decommissioned
  kBadMetric,       // metric name malformed
  kNotFinite,       // NaN or infinity
  kOutOfRange,      // outside the metric's physical range
  kBadTimestamp,    // before 2000 or more than a day in the future
  kDuplicate,       // same series and timestamp as the latest point
  kQueueFull,       // store back-pressure
  kStoreError,      // the store refused (see logs)
};
const char* to_string(RejectReason r);

struct IngestResult {
  std::size_t accepted = 0;
  std::size_t out_of_order = 0;  // of the accepted: older than their series' newest point
  std::map<RejectReason, std::size_t> rejected;
  std::size_t rejected_total() const {
    std::size_t n = 0;
    for (auto& [k, v] : rejected) n += v;
    return n;
  }
};

// What observers receive for each accepted reading.
struct AcceptedReading {
  Reading reading;
  Id sensor_id = 0;
  Id series_id = 0;
  std::optional<Id> position_id;
};

class Ingest {
 public:
  using ReadingObserver = std::function<void(std::span<const AcceptedReading>)>;
  using WaveformObserver = std::function<void(const Waveform&, Id sensor_id)>;

  // Store and clock must outlive the Ingest.
  Ingest(Store& store, const Clock& clock, MetricsRegistry& metrics = MetricsRegistry::global());

  IngestResult submit(std::span<const Reading> readings);
  // Stores a raw waveform for the source's position. kNotFound for an
  // unknown or unassigned source.
  Result<Id> submit_waveform(const std::string& source, Waveform w);

  // Register before readings flow (not synchronised against submit()).
  void on_readings(ReadingObserver fn) { reading_observers_.push_back(std::move(fn)); }
  void on_waveform(WaveformObserver fn) { waveform_observers_.push_back(std::move(fn)); }

  // Forget cached sensor/series resolution (after commissioning changes).
  void invalidate_sensors();

  std::uint64_t accepted_total() const { return accepted_->value(); }
  std::uint64_t rejected_total(RejectReason r) const;
  std::uint64_t out_of_order_total() const { return out_of_order_->value(); }

 private:
  struct SensorEntry {
    Id id = 0;
    std::optional<Id> position_id;
    bool decommissioned = false;
    struct Slot {
      Id series_id = 0;
      TimestampMs last_ts = 0;
      const MetricInfo* info = nullptr;  // range limits; null for unknown metrics
    };
    // metric → its series. A metric is validated once, when its slot is made.
    std::unordered_map<std::string, Slot> series;
  };
  Result<SensorEntry*> resolve(const std::string& source);  // REQUIRES: mu_ held
  void reject(IngestResult& res, RejectReason r);
  // One log line per reason per minute, with the count since the last one.
  void log_outcome(const IngestResult& res, TimestampMs max_late_ms);

  Store& store_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  Counter* accepted_;
  std::map<RejectReason, Counter*> rejected_;
  Counter* out_of_order_;
  struct LogWindow {
    std::chrono::steady_clock::time_point last{};
    std::size_t count = 0;
    TimestampMs max_late_ms = 0;
  };
  std::mutex log_mu_;
  std::map<RejectReason, LogWindow> rejected_log_;  // guarded by log_mu_
  LogWindow late_log_;                              // guarded by log_mu_
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<SensorEntry>> sensors_;
  std::vector<ReadingObserver> reading_observers_;
  std::vector<WaveformObserver> waveform_observers_;
};


}  // namespace vigil
