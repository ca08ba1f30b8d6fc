// SPDX-License-Identifier: Apache-2.0
#include "ble/relay_out.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ble/advert_format.h"

namespace vigil::ble {

namespace {
constexpr const char* kHex = "0123456789abcdef";
constexpr const char* kDroppedHelp = "Adverts this gateway did not relay to its plant, by reason (docs/plant.md)";

// "A4:C1:38:00:19:01" → "A4C138001901"; anything else is kept as it is
// (the scanner only hands on addresses BlueZ gave it, already in that form).
std::string address_level(const std::string& address) {
  std::string out;
  out.reserve(12);
  for (char c : address) {
    if (c == ':' || c == '-') continue;
    out += (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}
}  // namespace

std::string plant_relay_topic(const std::string& plant_id, const std::string& gateway_id,
                              const std::string& address) {
  return "vigil/plant/" + plant_id + "/relay/" + gateway_id + "/" + address_level(address);
}

std::string plant_relay_filter(const std::string& plant_id) { return "vigil/plant/" + plant_id + "/relay/+/+"; }

std::optional<std::string> plant_relay_sender(const std::string& plant_id, const std::string& topic) {
  const std::string root = "vigil/plant/" + plant_id + "/relay/";
  if (topic.size() <= root.size() || topic.compare(0, root.size(), root) != 0) return std::nullopt;
  const auto slash = topic.find('/', root.size());
  if (slash == std::string::npos || slash == root.size()) return std::nullopt;  // no gateway level
  if (slash + 1 >= topic.size() || topic.find('/', slash + 1) != std::string::npos) return std::nullopt;
  return topic.substr(root.size(), slash - root.size());
}

std::string plant_relay_payload(const std::string& gateway_id, const std::string& address,
                                const ByteVec& service_data, std::optional<int> rssi) {
  std::string hex;
  hex.reserve(service_data.size() * 2);
  for (auto b : service_data) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  nlohmann::json j = {{"id", address}, {"servicedatauuid", "0xfcd2"}, {"servicedata", std::move(hex)},
                      {"gw", gateway_id}};
  if (rssi) j["rssi"] = *rssi;
  return j.dump();
}

const ByteVec* bthome_service_data(const DeviceProps& p) {
  if (!p.service_data) return nullptr;
  auto it = p.service_data->find(kBthomeUuid128);
  return it == p.service_data->end() || it->second.empty() ? nullptr : &it->second;
}

RelayOutLimiter::RelayOutLimiter(double rate_per_s)
    : rate_(std::max(rate_per_s, 0.001)), burst_(std::max(rate_per_s, 1.0)), tokens_(burst_) {}

bool RelayOutLimiter::allow(std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (!started_) {
    started_ = true;
    last_ms_ = now_ms;
  } else if (now_ms > last_ms_) {  // a clock step backwards refills nothing
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
    last_ms_ = now_ms;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

RelayOut::RelayOut(RelayOutOptions o, Publish publish, MetricsRegistry& m)
    : o_(std::move(o)), publish_(std::move(publish)), limiter_(o_.rate_per_s) {
  published_ = m.counter("vigil_plant_relay_out_total",
                         "Adverts of sensors unknown here relayed to the plant (handed to the broker)");
  rate_ = m.counter("vigil_plant_relay_out_dropped_total", kDroppedHelp, "reason=\"rate\"");
  queue_full_ = m.counter("vigil_plant_relay_out_dropped_total", kDroppedHelp, "reason=\"queue_full\"");
  offline_ = m.counter("vigil_plant_relay_out_dropped_total", kDroppedHelp, "reason=\"offline\"");
}

bool RelayOut::offer(const std::string& address, const DeviceProps& p, std::optional<int> rssi,
                     std::int64_t now_ms) {
  const ByteVec* sd = bthome_service_data(p);
  if (!sd || address.empty()) return false;  // an RSSI-only change, or not BTHome: nothing to relay
  if (!limiter_.allow(now_ms)) {
    rate_->inc();
    return false;
  }
  Counter* published = published_;
  Counter* offline = offline_;
  Status st = publish_(plant_relay_topic(o_.plant_id, o_.gateway_id, address),
                       plant_relay_payload(o_.gateway_id, address, *sd, rssi),
                       [published, offline](bool sent) { (sent ? published : offline)->inc(); });
  if (st.ok()) return true;
  (st.code() == Status::Code::kResourceExhausted ? queue_full_ : offline_)->inc();
  return false;
}

}  // namespace vigil::ble
