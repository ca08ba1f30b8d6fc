// SPDX-License-Identifier: Apache-2.0
//
// ble_sensor_health: the ble module's own table (migration module "ble"),
// one row per commissioned sensor that was ever tracked: the health counters
// of SensorHealth, and the decoder's replay state — last_counter, with
// counter_key naming the key it was accepted under (key_fingerprint).
//
// save() upserts rows; a row saved without a counter keeps the stored one
// when the key is the same and clears it when the key changed. Nobody else
// writes this table; ble::persisted_health (ble_service.h) reads it for the
// REST API.
//
// Threading: blocking store calls; call without holding the scanner's lock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ble/scanner_types.h"
#include "vigil/store.h"

namespace vigil::ble {

struct StoredSensorHealth {
  SensorHealth health;                    // sensor_id, address and the counters
  std::optional<std::string> counter_key;  // key fingerprint health.last_counter belongs to
};

// Creates or upgrades the table.
Status migrate_sensor_health_table(Store& store);
// Every row.
Result<std::vector<StoredSensorHealth>> load_sensor_health(Store& store);
// Upserts the rows in one transaction; `now` is their updated_at.
Status save_sensor_health(Store& store, const std::vector<StoredSensorHealth>& rows, TimestampMs now);

}  // namespace vigil::ble
