// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the CSV time-series reader and the timestamp parser
// behind `vigil backtest --csv` (src/analytics/dataset): user files of any
// origin. Oracle: no crash or sanitizer report; an accepted series is
// rectangular, has one timestamp per row, and no NaN or infinite value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "analytics/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The first line on its own, as a single timestamp.
  (void)vigil::analytics::parse_timestamp(text.substr(0, text.find('\n')));
  std::istringstream in(text);
  auto r = vigil::analytics::parse_csv_series(in, "fuzz.csv");
  if (!r.ok()) {
    if (r.status().message().rfind("fuzz.csv", 0) != 0) std::abort();
    return 0;
  }
  if (r->rows.empty() || r->ts.size() != r->rows.size() || r->ts_text.size() != r->rows.size()) std::abort();
  for (const auto& row : r->rows) {
    if (row.size() != r->columns.size()) std::abort();
    for (const auto& v : row)
      if (v && !std::isfinite(*v)) std::abort();
  }
  return 0;
}
