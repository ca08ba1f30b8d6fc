// SPDX-License-Identifier: Apache-2.0
#include "vigil/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace vigil {
namespace {
constexpr TimestampMs kYear2000Ms = 946684800000LL;
constexpr TimestampMs kMaxFutureMs = 24LL * 3600 * 1000;
constexpr RejectReason kAllReasons[] = {
    RejectReason::kUnknownSource, RejectReason::kDecommissioned, RejectReason::kBadMetric,
    RejectReason::kNotFinite,     RejectReason::kOutOfRange,     RejectReason::kBadTimestamp,
    RejectReason::kDuplicate,     RejectReason::kQueueFull,      RejectReason::kStoreError};
}  // namespace

const char* to_string(RejectReason r) {
  switch (r) {
    case RejectReason::kUnknownSource: return "unknown_source";
    case RejectReason::kDecommissioned: return "decommissioned";
    case RejectReason::kBadMetric: return "bad_metric";
    case RejectReason::kNotFinite: return "not_finite";
    case RejectReason::kOutOfRange: return "out_of_range";
    case RejectReason::kBadTimestamp: return "bad_timestamp";
    case RejectReason::kDuplicate: return "duplicate";
    case RejectReason::kQueueFull: return "queue_full";
    case RejectReason::kStoreError: return "store_error";
  }
  return "unknown";
}

Ingest::Ingest(Store& store, const Clock& clock, MetricsRegistry& metrics)
    : store_(store), clock_(clock), metrics_(metrics) {
  accepted_ = metrics_.counter("vigil_ingest_accepted_total", "Readings accepted into the store");
  out_of_order_ = metrics_.counter("vigil_ingest_out_of_order_total",
                                   "Readings accepted although older than their series' newest point "
                                   "(the clock may have gone back)");
  for (auto r : kAllReasons) {
    rejected_[r] = metrics_.counter("vigil_ingest_rejected_total", "Readings rejected by ingest, by reason",
                                    std::string("reason=\"") + to_string(r) + "\"");
  }
}

std::uint64_t Ingest::rejected_total(RejectReason r) const { return rejected_.at(r)->value(); }

void Ingest::reject(IngestResult& res, RejectReason r) {
  ++res.rejected[r];
  rejected_[r]->inc();
}

void Ingest::log_outcome(const IngestResult& res, TimestampMs max_late_ms) {
  if (res.rejected.empty() && res.out_of_order == 0) return;
  constexpr auto kEvery = std::chrono::minutes(1);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(log_mu_);
  for (const auto& [reason, n] : res.rejected) {
    auto& w = rejected_log_[reason];
    w.count += n;
    if (now - w.last < kEvery) continue;
    // Strangers' adverts and repeats are routine; the rest means a sensor or
    // the clock is wrong.
    const auto level = reason == RejectReason::kUnknownSource || reason == RejectReason::kDuplicate
                           ? spdlog::level::info
                           : spdlog::level::warn;
    const char* why = "";
    switch (reason) {
      case RejectReason::kBadTimestamp: why = " (timestamp before 2000 or more than a day ahead of the clock)"; break;
      case RejectReason::kOutOfRange: why = " (value outside the metric's physical range)"; break;
      case RejectReason::kNotFinite: why = " (NaN or infinite value)"; break;
      case RejectReason::kUnknownSource: why = " (sensor not commissioned)"; break;
      default: break;
    }
    spdlog::log(level, "ingest: {} reading(s) rejected: {}{} (vigil_ingest_rejected_total)", w.count,
                to_string(reason), why);
    w.count = 0;
    w.last = now;
  }
  if (res.out_of_order) {
    late_log_.count += res.out_of_order;
    late_log_.max_late_ms = std::max(late_log_.max_late_ms, max_late_ms);
    if (now - late_log_.last >= kEvery) {
      spdlog::warn("ingest: {} reading(s) older than their series' newest point (up to {} s earlier): stored, "
                   "but has the clock gone back? Latest values and charts show the newest points until it "
                   "catches up (/api/v1/health: checks.clock)",
                   late_log_.count, late_log_.max_late_ms / 1000);
      late_log_ = LogWindow{now, 0, 0};
    }
  }
}

void Ingest::invalidate_sensors() {
  std::lock_guard lk(mu_);
  sensors_.clear();
}

Result<Ingest::SensorEntry*> Ingest::resolve(const std::string& source) {
  auto it = sensors_.find(source);
  if (it != sensors_.end()) return it->second.get();
  auto s = store_.sensor_by_address(source);
  if (!s) return s.status();
  if (!s->has_value()) return Status::NotFound("source " + source + " is not commissioned");
  auto e = std::make_unique<SensorEntry>();
  e->id = (*s)->id;
  e->position_id = (*s)->position_id;
  e->decommissioned = (*s)->decommissioned_at.has_value();
  auto* raw = e.get();
  sensors_.emplace(source, std::move(e));
  return raw;
}

IngestResult Ingest::submit(std::span<const Reading> readings) {
  IngestResult res;
  std::vector<SeriesPoint> points;
  std::vector<AcceptedReading> accepted;
  std::vector<std::pair<SensorEntry::Slot*, TimestampMs>> newest;
  std::size_t late = 0;
  TimestampMs max_late = 0;
  points.reserve(readings.size());
  const bool observed = !reading_observers_.empty();
  if (observed) accepted.reserve(readings.size());
  const TimestampMs now = clock_.now_ms();
  {
    std::lock_guard lk(mu_);
    for (const auto& r : readings) {
      auto sensor = resolve(r.source);
      if (!sensor) {
        if (sensor.status().code() != Status::Code::kNotFound) {
          spdlog::warn("ingest: resolving {}: {}", r.source, sensor.status().ToString());
          reject(res, RejectReason::kStoreError);
        } else {
          reject(res, RejectReason::kUnknownSource);
        }
        continue;
      }
      SensorEntry& se = **sensor;
      if (se.decommissioned) { reject(res, RejectReason::kDecommissioned); continue; }
      auto slot_it = se.series.find(r.metric);
      if (slot_it == se.series.end()) {
        if (!valid_metric_name(r.metric)) { reject(res, RejectReason::kBadMetric); continue; }
      }
      if (!std::isfinite(r.value)) { reject(res, RejectReason::kNotFinite); continue; }
      const MetricInfo* mi = slot_it != se.series.end() ? slot_it->second.info : find_metric(r.metric);
      if (mi && (r.value < mi->min || r.value > mi->max)) {
        reject(res, RejectReason::kOutOfRange);
        continue;
      }
      if (r.ts < kYear2000Ms || r.ts > now + kMaxFutureMs) { reject(res, RejectReason::kBadTimestamp); continue; }
      if (slot_it == se.series.end()) {
        auto id = store_.ensure_series(se.id, r.metric, mi ? mi->unit : "");
        if (!id) {
          spdlog::warn("ingest: creating series {}/{}: {}", r.source, r.metric, id.status().ToString());
          reject(res, RejectReason::kStoreError);
          continue;
        }
        // The series' newest stored point seeds the duplicate check, so it
        // holds across restarts and commissioning changes (which drop this cache).
        TimestampMs newest = std::numeric_limits<TimestampMs>::min();
        if (auto p = store_.latest(*id)) newest = p->ts;
        slot_it = se.series.emplace(r.metric, SensorEntry::Slot{*id, newest, mi}).first;
      }
      auto& slot = slot_it->second;
      if (slot.last_ts == r.ts) { reject(res, RejectReason::kDuplicate); continue; }
      const Id series_id = slot.series_id;
      // The newest timestamp moves only once the store has taken the batch
      // (below): a failed append must leave its retry acceptable.
      if (r.ts > slot.last_ts) {
        newest.push_back({&slot, r.ts});
      } else if (r.ts < slot.last_ts) {
        // Stored all the same (nothing is dropped), but counted and logged:
        // after a clock jump back every new reading lands here.
        ++late;
        max_late = std::max(max_late, slot.last_ts - r.ts);
      }
      points.push_back({series_id, r.ts, r.value});
      if (observed) accepted.push_back({r, se.id, series_id, se.position_id});
    }
    if (!points.empty()) {
      // Store::append only queues (no I/O); under mu_ so the newest-point
      // marks and the queue cannot disagree with a concurrent submit.
      auto s = store_.append(points);
      if (!s.ok()) {
        RejectReason why = s.code() == Status::Code::kResourceExhausted ? RejectReason::kQueueFull
                                                                         : RejectReason::kStoreError;
        res.rejected[why] += points.size();
        rejected_[why]->inc(points.size());
        spdlog::warn("ingest: {} readings not stored: {}", points.size(), s.ToString());
        return res;
      }
      for (auto [slot, ts] : newest) slot->last_ts = std::max(slot->last_ts, ts);
      res.accepted = points.size();
      accepted_->inc(points.size());
      res.out_of_order = late;
      if (late) out_of_order_->inc(late);
    }
  }
  log_outcome(res, max_late);
  if (observed && !accepted.empty()) {
    for (auto& fn : reading_observers_) fn(accepted);
  }
  return res;
}

Result<Id> Ingest::submit_waveform(const std::string& source, Waveform w) {
  Id sensor_id;
  {
    std::lock_guard lk(mu_);
    auto sensor = resolve(source);
    if (!sensor) return sensor.status();
    if ((*sensor)->decommissioned) return Status::NotFound("source " + source + " is decommissioned");
    if (!(*sensor)->position_id) return Status::NotFound("source " + source + " has no position");
    w.position_id = *(*sensor)->position_id;
    sensor_id = (*sensor)->id;
  }
  if (w.samples.empty() || w.axes < 1 || w.samples.size() % static_cast<std::size_t>(w.axes) != 0 ||
      !(w.sample_rate_hz > 0) || !(w.scale > 0)) {
    return Status::InvalidArgument("waveform from " + source + " is malformed");
  }
  auto id = store_.put_waveform(w);
  if (!id) return id;
  w.id = *id;
  for (auto& fn : waveform_observers_) fn(w, sensor_id);
  return id;
}

}  // namespace vigil
