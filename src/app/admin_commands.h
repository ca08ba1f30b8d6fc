// SPDX-License-Identifier: Apache-2.0
//
// Admin subcommands that work on the configured database. Each writes the
// audit log. `vigil serve` owns a live database (store.h, "Ownership"): while
// it runs these commands refuse with exit code 3 and one line saying where
// the same work is done instead (the dashboard or the REST API), so they
// never write beside it.
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

// Exit code of an admin command refused because a gateway owns the database.
inline constexpr int kExitServed = 3;

// When `vigil serve` (or `vigil demo`) holds the database at db_path: prints
//   vigil COMMAND: vigil serve (pid N) is running on PATH; HINT, or stop the service first
// to err and returns kExitServed; otherwise nullopt (go ahead).
std::optional<int> refuse_while_served(const std::string& command, const std::string& db_path,
                                       const std::string& hint, std::ostream& err);

int sensor_add(const Config& config, const SensorAddOptions& o, std::ostream& out, std::ostream& err);
int sensor_list(const Config& config, std::ostream& out, std::ostream& err);

}  // namespace vigil::app
