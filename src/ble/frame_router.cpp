// SPDX-License-Identifier: Apache-2.0
#include "ble/frame_router.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "ble/advert_format.h"

namespace vigil::ble {

std::string key_fingerprint(const protocol::Key& key) {
  std::uint64_t h = 1469598103934665603ULL;
  for (auto b : key) h = (h ^ b) * 1099511628211ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

FrameRouter::FrameRouter(MetricsRegistry& m)
    : decoder_(&m),
      c_frames_(m.counter("vigil_ble_frames_accepted_total", "Frames from commissioned sensors decoded and ingested")) {}

FrameRouter::Change FrameRouter::set_sensors(std::map<std::string, CommissionedSensor> fresh) {
  Change ch;
  ch.any = fresh.size() != sensors_.size();
  for (auto& [addr, c] : fresh) {
    auto mac = protocol::Mac::parse(addr);
    if (!mac) continue;  // load_commissioned_sensors only yields MACs
    auto old = sensors_.find(addr);
    const bool is_new = old == sensors_.end();
    if (is_new || old->second.position_id != c.position_id || old->second.id != c.id) ch.any = true;
    if (is_new || old->second.key != c.key) {
      if (c.key) decoder_.set_key(*mac, *c.key);
      else decoder_.remove_key(*mac);
      if (!is_new) {
        decoder_.reset_counter(*mac);  // a new key restarts the counter
        ch.rekeyed.push_back(addr);
      }
      ch.any = true;
    }
    if (is_new) {
      ch.added.push_back(addr);
      spdlog::info("ble: sensor {} commissioned ({})", addr, c.key ? "with key" : "plain");
    }
  }
  for (auto& [addr, c] : sensors_) {
    if (fresh.count(addr)) continue;
    if (auto mac = protocol::Mac::parse(addr)) decoder_.remove_key(*mac);
    ch.removed.push_back(addr);
    ch.any = true;
    spdlog::info("ble: sensor {} decommissioned; history kept", addr);
  }
  sensors_ = std::move(fresh);
  return ch;
}

const CommissionedSensor* FrameRouter::find(const std::string& address) const {
  auto it = sensors_.find(address);
  return it == sensors_.end() ? nullptr : &it->second;
}

std::vector<FrameOutcome> FrameRouter::route(const std::string& address, const DeviceProps& p, TimestampMs t) {
  std::vector<FrameOutcome> out;
  if (!sensors_.count(address)) return out;  // discovered only: nothing is decoded
  auto mac = protocol::Mac::parse(address);
  if (!mac) return out;
  auto record = [&](Result<protocol::DecodedFrame> f, protocol::Reject why) {
    if (f) {
      ++accepted_;
      c_frames_->inc();
    } else {
      ++rejected_[protocol::to_string(why)];
    }
    out.push_back({std::move(f), why});
  };
  if (p.service_data) {
    for (auto& [uuid, bytes] : *p.service_data) {
      auto u = uuid16(uuid);
      if (!u || *u != protocol::kBthomeUuid) continue;
      protocol::Reject why{};
      auto f = decoder_.decode_service_data(*u, bytes, *mac, t, &why);
      record(std::move(f), why);
    }
  }
  if (p.manufacturer_data) {
    for (auto& [company, bytes] : *p.manufacturer_data) {
      if (!is_vigil_manufacturer_data(company, bytes)) continue;
      protocol::Reject why{};
      auto f = decoder_.decode_manufacturer_data(company, bytes, *mac, t, &why);
      record(std::move(f), why);
    }
  }
  return out;
}

std::optional<std::string> FrameRouter::key_label(const std::string& address) const {
  auto s = find(address);
  if (!s || !s->key) return std::nullopt;
  return key_fingerprint(*s->key);
}

bool FrameRouter::restore_counter(const std::string& address, std::uint32_t counter,
                                  const std::optional<std::string>& counter_key, TimestampMs t) {
  auto s = find(address);
  if (!s || !s->key || !counter_key || *counter_key != key_fingerprint(*s->key)) return false;
  // The decoder has no setter: feed it one frame of our own, encrypted with
  // the sensor's key at that counter (objects: a packet id only, so it
  // carries no values). The decoder then holds `counter` as the last one.
  auto mac = protocol::Mac::parse(address);
  const std::uint8_t packet_id[] = {0x00, 0x00};
  auto frame = protocol::encrypt_bthome(*s->key, *mac, counter, packet_id);
  auto r = decoder_.decode_service_data(protocol::kBthomeUuid, protocol::Bytes(frame).subspan(2), *mac, t);
  if (!r) {
    spdlog::warn("ble: restoring the counter of {}: {}", address, r.status().message());
    return false;
  }
  return true;
}

}  // namespace vigil::ble
