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
  // Resumable runs. `state` names a SQLite file holding the learned state of
  // every channel (the gateway's learned_state/learned_journal format,
  // learned_state.h) and the progress: rows (snapshots) done, the label of
  // the last one, the bytes of `out` written for them, the summary so far.
  // It is committed after every row, after `out` is flushed, so a run
  // stopped at any moment (kill -9 included) continues where it stopped
  // when started again with the same --state: `out` is cut back to what the
  // state accounts for and the rest is appended, giving exactly the output
  // of one uninterrupted run. The input may have grown meanwhile (rows
  // appended); a state written for other options or another input is
  // refused.
  std::string state;
  // With `state`: stop once this many rows (snapshots) of the input are done.
  std::optional<long> stop_after;
};

int run_backtest(const BacktestOptions& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::analytics
