// SPDX-License-Identifier: Apache-2.0
//
// Health history from elsewhere: states another system's models reached
// (`vigil import --format monitron`), written into health_states, the
// analytics module's table (pipeline.h), the way the pipeline writes its own:
// a row only where a (scope, scope_id, model) state changes.
//
// Contract of import_health_history():
//   - runs on `db` inside the caller's write transaction (Store::write_txn),
//     so the states commit or roll back with the rest of the import; the
//     table must exist (Pipeline::migrate);
//   - the states are taken in time order per (scope, scope_id, model),
//     whatever order they come in;
//   - a state equal to the one in force at its time (the latest stored row at
//     or before its ts, or the previous state of the same input) adds no row;
//     so importing the same states again adds nothing (idempotent);
//   - model names are vigil's (detectors.h kVibrationIso, kVibrationMl,
//     kTemperatureMl); states are neither kUnknown-checked nor mapped here:
//     callers map their source's vocabulary first.
#pragma once

#include <span>
#include <string>

#include "vigil/model.h"
#include "vigil/sqlite.h"
#include "vigil/status.h"

namespace vigil::analytics {

struct ImportedHealthState {
  std::string scope = "position";  // "position" | "asset"
  Id scope_id = 0;
  std::string model;
  TimestampMs ts = 0;
  HealthState pointwise = HealthState::kUnknown;
  HealthState persistent = HealthState::kUnknown;
};

struct HealthImportCount {
  long written = 0;    // rows added to health_states
  long unchanged = 0;  // equal to the state in force at their time (incl. already imported)
};

Result<HealthImportCount> import_health_history(sql::Db& db, std::span<const ImportedHealthState> states);

}  // namespace vigil::analytics
