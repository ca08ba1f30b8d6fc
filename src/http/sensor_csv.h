// SPDX-License-Identifier: Apache-2.0
//
// The bulk-commissioning CSV, shared by POST /api/v1/sensors/import and
// `vigil sensor import`. A header line names the columns: `address`, `key`
// and `position` are required (in any order), `name` and `format` optional,
// nothing else. Then one sensor per line: a MAC address, an AES-128 key as
// 32 hex digits or empty (an unencrypted sensor), and a position id or a
// "Site/Asset/Position" path. Fields may be double-quoted ("" inside quotes
// is a quote); blank lines and lines starting with '#' are skipped; a UTF-8
// byte-order mark and CRLF line ends are accepted.
//
// Bounded: at most kSensorCsvMaxBytes of text and kSensorCsvMaxRows rows.
// Every problem is reported with its line (1 = the header; 0 = the file as a
// whole) and the column; a parse with errors must not be imported.
#pragma once

#include <string_view>
#include <vector>

#include "vigil/store.h"

namespace vigil::http {

inline constexpr std::size_t kSensorCsvMaxBytes = 1 << 20;
inline constexpr std::size_t kSensorCsvMaxRows = 5000;

struct SensorCsv {
  std::vector<SensorImportRow> rows;
  std::vector<SensorImportError> errors;
};

SensorCsv parse_sensor_csv(std::string_view text);

}  // namespace vigil::http
