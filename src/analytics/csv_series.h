// SPDX-License-Identifier: Apache-2.0
//
// The `timestamp,value[,value…]` CSV reader of `vigil backtest --csv`, public
// so every offline tool reads CSV alike (the rules backtest too). Pure
// parsing; thread-safe (no shared state).
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "vigil/clock.h"
#include "vigil/status.h"

namespace vigil::analytics {

// Parses "2004-02-12T10:32:39", "2004-02-12 10:32:39.5Z", "…+01:00" (no zone
// = UTC for arithmetic; datasets keep their source's local time) or epoch
// seconds ("1076582000", "1076582000.25"). kInvalidArgument otherwise.
Result<TimestampMs> parse_timestamp(const std::string& text);

struct CsvSeries {
  std::vector<std::string> columns;  // value column names ("value", "value2"… without header)
  std::vector<std::string> ts_text;
  std::vector<TimestampMs> ts;
  std::vector<std::vector<std::optional<double>>> rows;  // [row][column]; empty cell = nullopt
};
// Reads `timestamp,value[,value…]` rows (optional header row, `#` comments,
// quoted cells, empty cell = missing value). Errors are kInvalidArgument as
// "PATH:LINE: why"; kNotFound when the file cannot be opened.
Result<CsvSeries> read_csv_series(const std::string& path);
// The same from a stream; `name` stands for the path in messages. Input is
// untrusted (fuzzed: tests/fuzz/csv_series_fuzz.cpp).
Result<CsvSeries> parse_csv_series(std::istream& in, const std::string& name);

}  // namespace vigil::analytics
