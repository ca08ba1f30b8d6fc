// SPDX-License-Identifier: Apache-2.0
//
// FrameRouter: which adverts are decoded, and with which key.
//
// Holds the commissioned sensors (set_sensors) and the protocol Decoder with
// their keys and replay state. route() decodes a commissioned sensor's
// BTHome service data and vigil manufacturer data; anything else — other
// service UUIDs, other manufacturers, devices that are not commissioned — is
// not decoded at all. Each payload yields a FrameOutcome: a decoded frame, or
// the decoder's rejection (bad_mic, replay, duplicate, downgrade, …).
//
// Keys and counters. A new or changed key goes into the decoder; a changed
// key forgets the sensor's counter (the sensor restarts counting under its
// new key). The decoder's replay state survives a restart through
// restore_counter(): a persisted counter is restored only under the key it
// was accepted with, named by key_fingerprint() (column counter_key of
// ble_sensor_health), so a sensor re-keyed while vigil was stopped is not
// taken for a replay.
//
// Threading: none of its own. The Scanner keeps it under its mutex (the
// Decoder is thread-safe in itself). No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "ble/commissioned_sensors.h"
#include "protocol/decoder.h"
#include "vigil/metrics_registry.h"

namespace vigil::ble {

// Names a key without revealing it (FNV-1a 64, 16 hex digits; the key sits
// in the same database, so this is a label, not a secret).
std::string key_fingerprint(const protocol::Key& key);

struct FrameOutcome {
  Result<protocol::DecodedFrame> frame;  // not ok: rejected, `why` says why
  protocol::Reject why{};
};

class FrameRouter {
 public:
  struct Change {
    bool any = false;  // membership, key, position or id changed
    std::vector<std::string> added, rekeyed, removed;  // addresses; rekeyed excludes added
  };

  explicit FrameRouter(MetricsRegistry& metrics = MetricsRegistry::global());

  // Replaces the commissioned set (address → sensor) and the decoder's keys.
  Change set_sensors(std::map<std::string, CommissionedSensor> sensors);
  const std::map<std::string, CommissionedSensor>& sensors() const { return sensors_; }
  const CommissionedSensor* find(const std::string& address) const;

  // Decodes the vigil-understood payloads of a Device1 message from a
  // commissioned `address` at time t; empty for anyone else.
  std::vector<FrameOutcome> route(const std::string& address, const DeviceProps& p, TimestampMs t);

  // key_fingerprint of the sensor's current key; nullopt for a plain sensor
  // or an unknown address.
  std::optional<std::string> key_label(const std::string& address) const;
  // Restores the replay state: `counter` was last accepted under the key
  // labelled `counter_key`. True when restored (same key as now); false when
  // the sensor has another key, none, or is unknown.
  bool restore_counter(const std::string& address, std::uint32_t counter, const std::optional<std::string>& counter_key,
                       TimestampMs t);

  std::uint64_t accepted() const { return accepted_; }
  const std::map<std::string, std::uint64_t>& rejected() const { return rejected_; }  // by reason

 private:
  protocol::Decoder decoder_;
  std::map<std::string, CommissionedSensor> sensors_;
  std::uint64_t accepted_ = 0;
  std::map<std::string, std::uint64_t> rejected_;
  Counter* c_frames_;
};

}  // namespace vigil::ble
