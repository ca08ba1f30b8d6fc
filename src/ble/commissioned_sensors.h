// SPDX-License-Identifier: Apache-2.0
//
// The commissioned BLE sensors as the scanner needs them: identity, place
// (position and asset, for alerts) and AES key. Read from the store's
// `sensors` table (owned by the store module; the ble module only reads it).
// Decommissioned sensors and non-BLE sources ("sim:…") are left out.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "protocol/types.h"
#include "vigil/model.h"
#include "vigil/store.h"

namespace vigil::ble {

struct CommissionedSensor {
  Id id = 0;
  std::string address;  // normalised "AA:BB:CC:DD:EE:FF"
  std::string name;
  std::string format;   // as commissioned: "vigil", "bthome"
  std::optional<Id> position_id;
  std::optional<Id> asset_id;
  std::optional<protocol::Key> key;  // none: a plain (unencrypted) sensor
};

// address → sensor. Blocking store reads; call without holding any lock.
Result<std::map<std::string, CommissionedSensor>> load_commissioned_sensors(Store& store);

}  // namespace vigil::ble
