// SPDX-License-Identifier: Apache-2.0
//
// Relaying inside a plant (docs/plant.md, "Relaying between gateways"): a
// gateway whose radio hears a BTHome advert (service data UUID 0xFCD2) of an
// address it does not know (neither commissioned nor decommissioned here)
// publishes the advert unchanged — still encrypted; only the gateway that
// owns the sensor holds its key — in the OpenMQTTGateway/Theengs JSON shape
// (relay.h) on
//
//   vigil/plant/<plant_id>/relay/<gateway_id>/<ADDRESS>      ADDRESS = A4C138001901
//
// QoS 0, not retained: an advert is live data that the sensor repeats every
// interval and that is worth nothing late, so it is neither kept in the
// uplink's outbox nor resent; QoS 0 also keeps it out of the uplink's QoS 1
// in-flight window, where alert events wait. Every gateway of the plant
// subscribes to vigil/plant/<plant_id>/relay/+/+ and feeds what it hears
// through BleService::relay_message (keys, replay and duplicate protection,
// per-relay rate limit): the owner decodes and stores a frame once however
// many gateways heard it; the others count it as not commissioned.
//
// Bounds: at most rate_per_s publishes a second (a token bucket holding one
// second's worth), and the publisher's own bounded queue; what does not fit
// is dropped and counted in vigil_plant_relay_out_dropped_total{reason=
// "rate"|"queue_full"|"offline"}; what leaves for the broker is counted in
// vigil_plant_relay_out_total.
//
// Pure functions and RelayOutLimiter are thread-safe; RelayOut::offer may be
// called from any thread and never blocks.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "ble/bluez_bus.h"
#include "vigil/metrics_registry.h"
#include "vigil/status.h"

namespace vigil::ble {

// vigil/plant/<plant>/relay/<gateway>/<ADDRESS>: the address as 12 upper-case
// hex digits without separators (as OpenMQTTGateway names its per-device
// topics), so relay_source() takes vigil/plant/<plant>/relay/<gateway> as the
// relay and the receiver's per-relay rate limit applies per gateway.
std::string plant_relay_topic(const std::string& plant_id, const std::string& gateway_id,
                              const std::string& address);
// vigil/plant/<plant>/relay/+/+
std::string plant_relay_filter(const std::string& plant_id);
// The relaying gateway's id of a topic under plant_relay_filter(plant_id);
// nullopt for any other topic (another plant, missing or extra levels).
std::optional<std::string> plant_relay_sender(const std::string& plant_id, const std::string& topic);
// The Theengs-shaped message: {"id": address, "servicedatauuid": "0xfcd2",
// "servicedata": lower-case hex, "rssi": n (when known), "gw": gateway_id}.
// parse_relay_json reads it back.
std::string plant_relay_payload(const std::string& gateway_id, const std::string& address,
                                const ByteVec& service_data, std::optional<int> rssi);
// The BTHome service data of a Device1 message, or null when it has none.
const ByteVec* bthome_service_data(const DeviceProps& p);

// One token bucket: rate_per_s tokens a second, holding at most one second's
// worth (at least 1). Time is the caller's (ms). Thread-safe.
class RelayOutLimiter {
 public:
  explicit RelayOutLimiter(double rate_per_s);
  // True when one message may pass (and takes its token).
  bool allow(std::int64_t now_ms);

 private:
  double rate_, burst_, tokens_;
  std::int64_t last_ms_ = 0;
  bool started_ = false;
  std::mutex mu_;
};

struct RelayOutOptions {
  std::string plant_id;    // non-empty
  std::string gateway_id;  // this gateway (the "gw" field and topic level)
  double rate_per_s = 200;
};

class RelayOut {
 public:
  // Hands one message to the broker link without blocking: Ok when queued
  // (`done(true)` later when it was handed to the broker, `done(false)` when
  // the link was down by then), ResourceExhausted when the link's queue is
  // full, Unavailable when the link is down. `done` may run on any thread.
  using Publish =
      std::function<Status(const std::string& topic, const std::string& payload, std::function<void(bool)> done)>;
  RelayOut(RelayOutOptions o, Publish publish, MetricsRegistry& metrics = MetricsRegistry::global());

  // A Device1 message of `address`, which this gateway does not know. Only
  // BTHome service data is relayed; `rssi` is the device's last known RSSI
  // (the message itself may not carry one). True when handed on; false when
  // there is nothing to relay or it was dropped (counted).
  bool offer(const std::string& address, const DeviceProps& p, std::optional<int> rssi, std::int64_t now_ms);

 private:
  RelayOutOptions o_;
  Publish publish_;
  RelayOutLimiter limiter_;
  Counter *published_, *rate_, *queue_full_, *offline_;
};

}  // namespace vigil::ble
