// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what other parties publish on the broker
// (docs/plant.md): relayed advert JSON (ble/relay.h: parse_relay_json) and
// plant state documents (uplink/plant.h: PlantView::on_message, snapshot)
// and commands between gateways (uplink/plant_command.h).
// Input: the first byte picks the parser, the rest is the payload. Oracle:
// no crash; an accepted relay advert is within its bounds; the plant view
// never holds more gateways than max_gateways and its snapshot serialises;
// a command envelope the harness did not seal is never applied, and a
// sealed one (the payload as its plaintext) is applied only for an allowed
// route.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "ble/relay.h"
#include "uplink/plant.h"
#include "uplink/plant_command.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 3) == 2 || (data[0] & 3) == 3) {
    using namespace vigil::uplink;
    static vigil::MetricsRegistry cmd_metrics;
    static PlantKey key = [] {
      PlantKey k{};
      for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i + 1);
      return k;
    }();
    static bool sealed_by_us = false;
    static PlantCommands cmds(
        PlantCommandOptions{"p1", "self", key},
        [](const std::string&, const std::string& out) {
          if (out.size() > kMaxPlantCommandBytes) std::abort();
          return vigil::Status::Ok();
        },
        [](const RemoteRequest& r, const std::string& actor) {
          if (!sealed_by_us || !allowed_remote_route(r.method, r.path) || actor.rfind("plant:peer:", 0) != 0)
            std::abort();
          return std::pair<int, nlohmann::json>{200, nlohmann::json::object()};
        },
        nullptr, cmd_metrics);
    constexpr vigil::TimestampMs now = 1'796'205'600'000;
    const std::string topic = plant_command_topic("p1", "self");
    sealed_by_us = (data[0] & 3) == 3;
    if (!sealed_by_us) {
      cmds.on_message(topic, payload, now);
      return 0;
    }
    static std::uint64_t n = 0;
    const std::string id = "f-" + std::to_string(++n);
    auto sealed = seal_hex(key, payload, plant_command_aad("vigil.plant.command", "p1", "peer", "self", id, now));
    if (!sealed.ok()) std::abort();
    nlohmann::json env = {{"v", 1}, {"type", "vigil.plant.command"}, {"plant_id", "p1"}, {"from", "peer"},
                          {"to", "self"}, {"id", id}, {"ts_ms", now}, {"sealed", *sealed}};
    cmds.on_message(topic, env.dump(), now);
    return 0;
  }
  if (data[0] & 1) {
    auto a = vigil::ble::parse_relay_json(payload, "relays/x/BTtoMQTT/y");
    if (!a.ok()) {
      if (vigil::ble::relay_reject_reason(a.status()).empty()) std::abort();
      return 0;
    }
    if (a->address.size() != 17 || !a->props.address || *a->props.address != a->address) std::abort();
    if (!a->props.service_data && !a->props.manufacturer_data) std::abort();
    if (a->props.service_data)
      for (const auto& [uuid, bytes] : *a->props.service_data)
        if (uuid.size() != 36 || bytes.size() > vigil::ble::kMaxRelayPayloadBytes) std::abort();
    if (a->props.rssi && (*a->props.rssi < -127 || *a->props.rssi > 20)) std::abort();
    return 0;
  }
  static vigil::MetricsRegistry metrics;
  static vigil::uplink::PlantView view({"p1", "self", 4, vigil::uplink::kMaxPlantDocBytes}, metrics);
  // The gateway id from the payload's first line, so topics vary too.
  const auto nl = payload.find('\n');
  const std::string gw = payload.substr(0, std::min<std::size_t>(nl, 16));
  const std::string body = nl == std::string::npos ? payload : payload.substr(nl + 1);
  view.on_message(vigil::uplink::plant_state_topic("p1", gw), body, 1);
  if (view.size() > 4) std::abort();
  (void)view.snapshot().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
