// SPDX-License-Identifier: Apache-2.0
//
// `vigil backtest`: runs the production analytics pipeline offline over a
// waveform dataset (docs/datasets.md format) or a CSV time series and writes
// one CSV row per measurement. Contract in DESIGN.md. Returns the exit code;
// errors go to `err` as one clear line.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace vigil::analytics {

struct BacktestOptions {
  std::string waveforms;   // MANIFEST.json of a waveform dataset, or empty
  std::string csv;         // timestamp,value[,value…] CSV, or empty
  std::string out;         // output CSV path
  std::optional<int> learn;  // learn the baseline from the first N measurements
  std::string config;      // optional vigil.json for analytics settings
};

int run_backtest(const BacktestOptions& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::analytics
