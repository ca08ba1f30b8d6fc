// SPDX-License-Identifier: Apache-2.0
//
// Admin subcommands that work on the configured database, also while `serve`
// runs (SQLite WAL + busy timeout). Each writes the audit log.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "config/config.h"

namespace vigil::app {

struct SensorAddOptions {
  std::string address;   // MAC "AA:BB:CC:DD:EE:FF"
  std::string key_hex;   // optional 32 hex digits
  std::optional<long long> position_id;
  std::string name;
  std::string format = "bthome";
};

int sensor_add(const Config& config, const SensorAddOptions& o, std::ostream& out, std::ostream& err);
int sensor_list(const Config& config, std::ostream& out, std::ostream& err);

}  // namespace vigil::app
