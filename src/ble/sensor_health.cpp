// SPDX-License-Identifier: Apache-2.0
#include "ble/sensor_health.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::ble {
namespace {

using protocol::Reject;

bool is_spoof_reason(Reject r) { return r == Reject::kBadMic || r == Reject::kReplay || r == Reject::kDowngrade; }

}  // namespace

SensorHealthTracker::SensorHealthTracker(const ScannerOptions& options) : o_(options) {}

SensorHealthTracker::Entry* SensorHealthTracker::entry(const std::string& address) {
  auto it = sensors_.find(address);
  return it == sensors_.end() ? nullptr : &it->second;
}

void SensorHealthTracker::track(const CommissionedSensor& s) {
  auto& e = sensors_[s.address];
  e.h.sensor_id = s.id;
  e.h.address = s.address;
  e.h.name = s.name;
  e.h.position_id = s.position_id;
  e.asset_id = s.asset_id;
}

void SensorHealthTracker::forget(const std::string& address) { sensors_.erase(address); }

void SensorHealthTracker::forget_counter(const std::string& address) {
  if (auto* e = entry(address)) {
    e->h.last_counter.reset();
    e->counter_live = false;
    e->dirty = true;
  }
}

void SensorHealthTracker::restore(const std::string& address, const SensorHealth& s,
                                  std::optional<std::uint32_t> counter) {
  auto* e = entry(address);
  if (!e) return;
  auto& h = e->h;
  h.last_seen = s.last_seen;
  h.rssi_dbm = s.rssi_dbm;
  h.battery_pct = s.battery_pct;
  h.expected_interval_ms = s.expected_interval_ms;
  h.adverts = s.adverts;
  h.frames_accepted = s.frames_accepted;
  h.readings_rejected = s.readings_rejected;
  h.counter_resets = s.counter_resets;
  h.rejected = s.rejected;
  h.waveforms = s.waveforms;
  h.waveform_failures = s.waveform_failures;
  h.last_waveform = s.last_waveform;
  h.last_error = s.last_error;
  h.last_counter = counter;
  if (h.battery_pct && *h.battery_pct < o_.battery_low_pct) e->battery_alerted = true;
}

void SensorHealthTracker::on_advert(const std::string& address, std::optional<int> rssi_dbm, TimestampMs t,
                                    const std::string& via) {
  auto* e = entry(address);
  if (!e) return;
  auto& h = e->h;
  e->dirty = true;
  h.last_seen = t;
  ++h.adverts;
  h.heard_via = via;
  if (rssi_dbm) h.rssi_dbm = rssi_dbm;
  e->advert_times.push_back(t);
  while (!e->advert_times.empty() && (e->advert_times.front() < t - 60000 || e->advert_times.size() > 4096))
    e->advert_times.pop_front();
  h.advert_rate_per_min = static_cast<double>(e->advert_times.size());
  if (e->silent_alerted) {
    e->silent_alerted = false;
    spdlog::info("ble: sensor {} heard again", address);
  }
}

FrameGap SensorHealthTracker::on_frame(const std::string& address, const protocol::DecodedFrame& f, TimestampMs t,
                                       std::vector<SensorAlert>& raise) {
  FrameGap gap;
  auto* e = entry(address);
  if (!e) return gap;
  auto& h = e->h;
  e->dirty = true;
  ++h.frames_accepted;
  if (f.counter_reset) ++h.counter_resets;
  if (f.counter) {
    if (e->counter_live && h.last_counter) {
      const std::uint32_t prev = *h.last_counter;
      if (f.counter_reset || *f.counter <= prev) {
        gap.jump = true;  // went back: a reset the decoder accepted
      } else if (*f.counter - prev <= kMaxLossCounterStep) {
        gap.lost = *f.counter - prev - 1;
      } else {
        gap.jump = true;
      }
    }
    ++e->sequenced;
    h.last_counter = *f.counter;
    e->counter_live = true;
  } else if (f.packet_id) {
    if (e->last_packet_id) {
      const auto step = static_cast<std::uint8_t>(*f.packet_id - *e->last_packet_id);
      if (step > kMaxLossPacketIdStep) gap.jump = true;
      else if (step > 1) gap.lost = step - 1u;
    }
    ++e->sequenced;
    e->last_packet_id = *f.packet_id;
  }
  if (gap.lost) h.frames_lost += gap.lost;
  if (e->sequenced >= 2)
    h.loss_ratio = static_cast<double>(h.frames_lost) / static_cast<double>(h.frames_lost + e->sequenced);
  if (e->last_frame && t - e->last_frame >= o_.interval_min_gap_ms) {
    e->gaps.push_back(t - e->last_frame);
    if (e->gaps.size() > 9) e->gaps.pop_front();
    std::vector<TimestampMs> g(e->gaps.begin(), e->gaps.end());
    std::nth_element(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(g.size() / 2), g.end());
    h.expected_interval_ms = g[g.size() / 2];
  }
  e->last_frame = t;
  for (auto& v : f.values)
    if (v.metric == "battery_pct") h.battery_pct = v.value;
  if (!h.battery_pct) return gap;
  if (*h.battery_pct >= o_.battery_ok_pct) {
    e->battery_alerted = false;
  } else if (*h.battery_pct < o_.battery_low_pct && !e->battery_alerted) {
    e->battery_alerted =
        raise_if_due(*e, "battery_low", t, "battery_low", "warning", "Sensor " + address + ": battery low",
                     "Battery at " + std::to_string(static_cast<int>(*h.battery_pct)) + " %; replace soon.", raise);
  }
  return gap;
}

void SensorHealthTracker::on_rejected(const std::string& address, Reject why, const std::string& message,
                                      TimestampMs t, std::vector<SensorAlert>& raise) {
  auto* e = entry(address);
  if (!e) return;
  const std::string reason = protocol::to_string(why);
  ++e->h.rejected[reason];
  e->dirty = true;
  if (!is_spoof_reason(why)) return;
  e->h.last_error = message;
  spdlog::warn("ble: sensor {}: frame rejected ({}): possible spoofing", address, message);
  std::string title;
  if (why == Reject::kBadMic) title = "Sensor " + address + ": frames failed authentication";
  else if (why == Reject::kReplay) title = "Sensor " + address + ": replayed frames";
  else title = "Sensor " + address + ": unencrypted frames from a keyed sensor";
  raise_if_due(*e, "spoofing:" + reason, t, "spoofing", "alarm", std::move(title),
               "Frames from " + address + " were rejected (" + reason +
                   "): someone may be spoofing this sensor. Last: " + message,
               raise);
}

std::optional<Reading> SensorHealthTracker::rssi_reading(const std::string& address, TimestampMs t) {
  auto* e = entry(address);
  if (!e || !e->h.rssi_dbm) return std::nullopt;
  if (e->last_rssi_reading && t - e->last_rssi_reading < o_.rssi_reading_interval_s * 1000LL) return std::nullopt;
  e->last_rssi_reading = t;
  return Reading{address, "rssi_dbm", t, static_cast<double>(*e->h.rssi_dbm)};
}

void SensorHealthTracker::on_ingested(const std::string& address, const IngestResult& r) {
  auto* e = entry(address);
  if (!e || r.rejected_total() == 0) return;
  e->h.readings_rejected += r.rejected_total();
  std::string why;
  for (auto& [k, n] : r.rejected) why += std::string(vigil::to_string(k)) + "=" + std::to_string(n) + " ";
  e->h.last_error = "ingest rejected " + why;
  e->dirty = true;
}

void SensorHealthTracker::on_waveform(const std::string& address, const Status& result, TimestampMs t) {
  auto* e = entry(address);
  if (!e) return;
  e->dirty = true;
  if (result.ok()) {
    ++e->h.waveforms;
    e->h.last_waveform = t;
  } else {
    ++e->h.waveform_failures;
    e->h.last_error = "waveform: " + result.message();
  }
}

void SensorHealthTracker::check_silence(TimestampMs t, std::vector<SensorAlert>& raise) {
  for (auto& [addr, e] : sensors_) {
    const auto& h = e.h;
    if (!h.last_seen || !h.expected_interval_ms || e.silent_alerted) continue;
    if (t - h.last_seen <= *h.expected_interval_ms * o_.missed_intervals_alert) continue;
    e.silent_alerted = raise_if_due(
        e, "silent", t, "silent", "warning",
        "Sensor " + addr + ": not heard for " + std::to_string(o_.missed_intervals_alert) + " intervals",
        "Last heard " + iso8601_utc(h.last_seen) + "; expected every " +
            std::to_string(*h.expected_interval_ms / 1000) + " s. Check the battery, range and mounting.",
        raise);
  }
}

bool SensorHealthTracker::raise_if_due(Entry& e, const std::string& condition, TimestampMs t, const char* kind,
                                       const char* severity, std::string title, std::string explanation,
                                       std::vector<SensorAlert>& raise) {
  auto last = e.last_raised.find(condition);
  if (last != e.last_raised.end() && t - last->second < o_.sensor_alert_min_gap_s * 1000LL) return false;
  e.last_raised[condition] = t;
  SensorAlert a;
  a.address = e.h.address;
  if (e.h.sensor_id) a.sensor_id = e.h.sensor_id;
  a.position_id = e.h.position_id;
  a.asset_id = e.asset_id;
  a.kind = kind;
  a.severity = severity;
  a.title = std::move(title);
  a.explanation = std::move(explanation);
  raise.push_back(std::move(a));
  return true;
}

const SensorHealth* SensorHealthTracker::find(const std::string& address) const {
  auto it = sensors_.find(address);
  return it == sensors_.end() ? nullptr : &it->second.h;
}

std::optional<SensorHealth> SensorHealthTracker::by_id(Id sensor_id) const {
  for (auto& [a, e] : sensors_)
    if (e.h.sensor_id == sensor_id) return e.h;
  return std::nullopt;
}

std::vector<SensorHealth> SensorHealthTracker::all() const {
  std::vector<SensorHealth> out;
  out.reserve(sensors_.size());
  for (auto& [a, e] : sensors_) out.push_back(e.h);
  return out;
}

std::size_t SensorHealthTracker::heard() const {
  std::size_t n = 0;
  for (auto& [a, e] : sensors_)
    if (e.h.last_seen) ++n;
  return n;
}

std::vector<SensorHealth> SensorHealthTracker::take_dirty(bool all) {
  std::vector<SensorHealth> out;
  for (auto& [a, e] : sensors_) {
    if ((!e.dirty && !all) || !e.h.sensor_id) continue;
    e.dirty = false;
    out.push_back(e.h);
  }
  return out;
}

}  // namespace vigil::ble
