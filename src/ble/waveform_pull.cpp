// SPDX-License-Identifier: Apache-2.0
#include "ble/waveform_pull.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "protocol/waveform.h"

namespace vigil::ble {

WaveformPuller::WaveformPuller(const ScannerOptions& options, MetricsRegistry& m)
    : o_(options),
      c_waveforms_(m.counter("vigil_ble_waveforms_total", "Waveforms pulled over GATT")),
      c_failures_(m.counter("vigil_ble_waveform_failures_total", "Failed waveform pulls")) {}

void WaveformPuller::on_frame(const std::string& address, const protocol::DecodedFrame& f, TimestampMs t) {
  if (f.format != protocol::Format::kVigil) return;
  auto& s = sensors_[address];
  s.seen_vigil = true;
  for (auto& v : f.values) {
    if (v.metric != "velocity_rms_mm_s" || v.value < o_.waveform_trigger_velocity_mm_s) continue;
    if (s.last_trigger && t - s.last_trigger < o_.waveform_trigger_min_gap_s * 1000LL) continue;
    s.last_trigger = t;
    s.next_pull = t;
    s.attempts = 0;
    spdlog::info("ble: sensor {}: velocity {:.2f} mm/s crossed warning; waveform pull scheduled", address, v.value);
  }
}

TimestampMs WaveformPuller::interval_ms(const Schedule& s) const {
  return (s.interval_s > 0 ? s.interval_s : o_.waveform_pull_interval_s) * 1000LL;
}

void WaveformPuller::forget(const std::string& address) { sensors_.erase(address); }

std::optional<std::string> WaveformPuller::due(const std::vector<Candidate>& eligible, TimestampMs t) {
  for (auto& c : eligible) {
    auto& s = sensors_[c.address];
    if (!s.seen_vigil && !c.commissioned_as_vigil) continue;
    if (!c.last_seen) continue;  // never heard: not in range
    if (!s.next_pull) s.next_pull = c.last_seen + o_.waveform_first_delay_s * 1000LL;
    if (c.interval_s != s.interval_s) {
      // The sensor's interval changed (a configuration was applied): the next
      // regular pull moves to the last one plus the new interval.
      s.interval_s = c.interval_s;
      // (Not while a retry or a velocity trigger's pull is pending.)
      if (s.last_pull && s.attempts == 0 && s.last_trigger <= s.last_pull) s.next_pull = s.last_pull + interval_ms(s);
    }
    if (t >= s.next_pull) return c.address;
  }
  return std::nullopt;
}

void WaveformPuller::done(const std::string& address, const Status& result, TimestampMs t) {
  auto& s = sensors_[address];
  if (result.ok()) {
    c_waveforms_->inc();
    s.attempts = 0;
    s.last_pull = t;
    s.next_pull = t + interval_ms(s);
    return;
  }
  c_failures_->inc();
  spdlog::warn("ble: sensor {}: waveform pull failed: {}", address, result.message());
  if (++s.attempts < o_.waveform_max_attempts) {
    s.next_pull = t + o_.waveform_retry_s * 1000LL;
  } else {
    s.attempts = 0;
    s.next_pull = t + interval_ms(s);
  }
}

Result<Waveform> WaveformPuller::pull(BluezBus& bus, const std::string& path, TimestampMs now) const {
  auto cs = bus.connect(path, o_.connect_timeout);
  if (!cs.ok() && cs.code() != Status::Code::kAlreadyExists) return cs.Annotate("Connect");
  // Characteristics appear once services are resolved: poll every 250 ms
  // for up to services_resolve_wait.
  constexpr auto kPoll = std::chrono::milliseconds(250);
  const auto polls = std::max<std::int64_t>(1, o_.services_resolve_wait / kPoll);
  std::map<std::string, std::string> chars;  // uuid → object path
  Result<Waveform> w = Status::NotFound("waveform service not found on " + path);
  for (std::int64_t i = 0; i < polls; ++i) {
    auto objs = bus.get_managed_objects(o_.call_timeout);
    if (!objs) {
      w = objs.status();
      break;
    }
    for (auto& [cp, c] : objs->characteristics)
      if (cp.rfind(path + "/", 0) == 0) chars[c.uuid] = cp;
    if (chars.count(protocol::kChunkDataCharUuid) || i + 1 == polls) break;
    std::this_thread::sleep_for(kPoll);
  }
  if (chars.count(protocol::kChunkDataCharUuid)) w = download(bus, path, chars, now);
  auto ds = bus.disconnect(path, o_.call_timeout);
  if (!ds.ok()) spdlog::debug("ble: Disconnect {}: {}", path, ds.message());
  return w;
}

Result<Waveform> WaveformPuller::download(BluezBus& bus, const std::string& path,
                                          const std::map<std::string, std::string>& chars, TimestampMs now) const {
  auto char_path = [&](const char* uuid) {
    auto it = chars.find(uuid);
    return it == chars.end() ? std::string() : it->second;
  };
  const std::string info_c = char_path(protocol::kWaveformInfoCharUuid);
  const std::string req_c = char_path(protocol::kChunkRequestCharUuid);
  const std::string data_c = char_path(protocol::kChunkDataCharUuid);
  if (info_c.empty() || req_c.empty() || data_c.empty())
    return Status::NotFound("waveform service not found on " + path);
  Status last = Status::Internal("no attempt");
  for (int restart = 0; restart < 3; ++restart) {
    auto info_b = bus.read_value(info_c, o_.gatt_timeout);
    if (!info_b) return info_b.status();
    auto info = protocol::parse_waveform_info(*info_b);
    if (!info) return info.status();
    if (info->total_bytes == 0) return Status::NotFound("sensor has no waveform yet");
    auto req = protocol::chunk_request(0, 0);
    VIGIL_RETURN_IF_ERROR(bus.write_value(req_c, ByteVec(req.begin(), req.end()), o_.gatt_timeout));
    protocol::WaveformAssembler a(*info);
    // Bounded: a chunk carries at least 1 data byte; real ones ~238.
    const std::size_t max_reads = info->total_bytes / 16 + 64;
    bool seq_changed = false;
    for (std::size_t i = 0; i < max_reads && !a.complete(); ++i) {
      auto c = bus.read_value(data_c, o_.gatt_timeout);
      if (!c) return c.status();
      if (c->size() >= 2 && (static_cast<std::uint16_t>((*c)[0] | ((*c)[1] << 8))) != info->seq) {
        seq_changed = true;  // a new measurement replaced the burst: start again
        break;
      }
      VIGIL_RETURN_IF_ERROR(a.add_chunk(*c));
    }
    if (seq_changed) {
      last = Status::Unavailable("burst replaced during download");
      continue;
    }
    if (!a.complete()) return Status::Unavailable("waveform incomplete after the read limit");
    return a.finish(now);
  }
  return last;
}

}  // namespace vigil::ble
