// SPDX-License-Identifier: Apache-2.0
//
// `vigil sensor import FILE.csv --config FILE [--dry-run] [--json]`: commission
// sensors in bulk from the CSV of http/sensor_csv.h (address,key,position).
// Every bad row is reported as FILE:LINE: message and nothing is written if
// any row is bad; a dry run says per row what would happen (new,
// recommissioned, unchanged) and writes nothing. While `vigil serve` owns the
// database it refuses with exit code 3 and points to POST /api/v1/sensors/import.
// Exit codes: 0 done, 1 the database failed, 2 bad file or rows, 3 served.
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"

namespace vigil::app {

struct SensorImportOptions {
  std::string file;
  bool dry_run = false;
  bool json = false;  // the REST answer's JSON instead of lines
};

int sensor_import(const Config& config, const SensorImportOptions& o, std::ostream& out, std::ostream& err);

}  // namespace vigil::app
