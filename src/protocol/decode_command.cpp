// SPDX-License-Identifier: Apache-2.0
#include "protocol/decode_command.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "protocol/decoder.h"
#include "vigil/metrics_registry.h"

namespace vigil::protocol {

nlohmann::json to_json(const DecodedFrame& f) {
  nlohmann::json j;
  j["format"] = to_string(f.format);
  j["address"] = f.address.to_string();
  j["encrypted"] = f.encrypted;
  if (f.counter) j["counter"] = *f.counter;
  if (f.format == Format::kBthome) {
    j["version"] = 2;
    j["trigger_based"] = f.trigger_based;
  } else {
    j["version"] = kVigilFrameVersion;
  }
  if (f.packet_id) j["packet_id"] = *f.packet_id;
  if (f.measurement_seq) j["measurement_seq"] = *f.measurement_seq;
  if (f.axis) j["axis"] = *f.axis == 't' ? std::string("total") : std::string(1, *f.axis);
  nlohmann::json values = nlohmann::json::object();
  for (const auto& v : f.values) values[v.metric] = v.value;
  j["values"] = values;
  if (!f.events.empty()) {
    auto& ev = j["events"] = nlohmann::json::array();
    for (const auto& e : f.events) {
      nlohmann::json o{{"type", e.type}, {"event", e.name}};
      if (e.type == "dimmer") o["steps"] = e.steps;
      if (e.instance > 1) o["instance"] = e.instance;
      ev.push_back(o);
    }
  }
  if (!f.texts.empty()) j["text"] = f.texts;
  if (!f.raw.empty()) {
    auto& raw = j["raw"] = nlohmann::json::array();
    for (const auto& r : f.raw) raw.push_back(to_hex(r));
  }
  if (f.device_type) j["device_type"] = *f.device_type;
  if (f.firmware_version) j["firmware_version"] = *f.firmware_version;
  if (f.device_timestamp) j["device_timestamp"] = *f.device_timestamp;
  if (f.channel) j["channel"] = *f.channel;
  if (f.unknown_object_id) j["stopped_at_unknown_object_id"] = *f.unknown_object_id;
  return j;
}

int run_decode(const DecodeOptions& options, std::ostream& out, std::ostream& err) {
  auto bytes = parse_hex(options.hex);
  if (!bytes || bytes->empty()) {
    err << "vigil decode: bad hex: expected pairs of hex digits (spaces and ':' allowed)\n";
    return 2;
  }
  Mac mac;  // 00:00:00:00:00:00 unless given; only encrypted frames need it
  if (!options.address.empty()) {
    auto m = Mac::parse(options.address);
    if (!m) {
      err << "vigil decode: bad --address '" << options.address << "': expected AA:BB:CC:DD:EE:FF\n";
      return 2;
    }
    mac = *m;
  }
  // A private registry: the CLI must not touch process-wide counters.
  MetricsRegistry registry;
  Decoder decoder(&registry);
  if (!options.key_hex.empty()) {
    auto key = parse_key(options.key_hex);
    if (!key) {
      err << "vigil decode: bad --key: expected 32 hex digits (AES-128)\n";
      return 2;
    }
    if (options.address.empty()) {
      err << "vigil decode: --key needs --address (the MAC is part of the nonce)\n";
      return 2;
    }
    decoder.set_key(mac, *key);
  }
  Reject why{};
  auto r = decoder.decode_any(*bytes, mac, 0, &why);
  if (!r) {
    std::string hint;
    if (why == Reject::kNoKey) hint = " (pass --key HEX --address MAC)";
    if (why == Reject::kBadMic) hint = " (check --key and --address)";
    err << "vigil decode: " << r.status().message() << hint << "\n";
    return 1;
  }
  out << to_json(*r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace vigil::protocol
