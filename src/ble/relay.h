// SPDX-License-Identifier: Apache-2.0
//
// Relayed adverts: BLE advertisements that BLE-to-MQTT relays
// (OpenMQTTGateway, Theengs Gateway, vigil gateways of the same plant)
// publish as JSON, in the OpenMQTTGateway/Theengs shape (docs/plant.md):
//
//   {"id": "A4:C1:38:00:00:07", "rssi": -67,
//    "servicedatauuid": "0xfcd2", "servicedata": "4100a1b2…",
//    "manufacturerdata": "ffff5611…"}       // company id first, little endian
//
// Unknown fields (name, brand, decoded values, …) are ignored. A relayed
// advert becomes the DeviceProps a BlueZ PropertiesChanged would carry and
// enters the Scanner through the same road as the radio's adverts
// (Scanner::handle_relayed → FrameRouter → Decoder → Ingest), so keys,
// replay protection and de-duplication apply: a frame heard by the radio and
// by a relay, or by two relays, is stored once.
//
// Pure functions, thread-safe, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "ble/bluez_bus.h"
#include "vigil/status.h"

namespace vigil::ble {

inline constexpr std::size_t kMaxRelayJsonBytes = 4096;
inline constexpr std::size_t kMaxRelayPayloadBytes = 255;  // one extended advert's data

struct RelayedAdvert {
  std::string address;  // "AA:BB:CC:DD:EE:FF"
  DeviceProps props;    // address, rssi, service_data / manufacturer_data
  std::string via;      // "relay:<topic>"
};

// Parses one relay message. Errors (kInvalidArgument) start with the reason
// used in vigil_ble_relay_rejected_total{reason}: oversized, malformed_json,
// bad_address, bad_hex, bad_uuid, bad_rssi, no_payload.
Result<RelayedAdvert> parse_relay_json(const std::string& payload, const std::string& topic);
// The reason word of a parse_relay_json error ("oversized", …).
std::string relay_reject_reason(const Status& s);

}  // namespace vigil::ble
