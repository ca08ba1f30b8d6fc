// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the bulk-commissioning CSV (http/sensor_csv.h) that
// POST /api/v1/sensors/import and `vigil sensor import` read: files from a
// box of sensors, of any origin. Oracle: no crash or sanitizer report; the
// bounds hold; every row has a normalised address, a 16-byte key or none and
// a position; every error names a line within the text and a field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/sensor_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = vigil::http::parse_sensor_csv(text);
  if (r.rows.size() > vigil::http::kSensorCsvMaxRows) std::abort();
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& row : r.rows) {
    if (row.address.size() != 17 || row.position.empty() || row.line < 2 || row.line > lines) std::abort();
    if (row.key && row.key->size() != 16) std::abort();
  }
  for (const auto& e : r.errors)
    if (e.line < 0 || e.line > lines || e.field.empty() || e.message.empty()) std::abort();
  return 0;
}
