// SPDX-License-Identifier: Apache-2.0
//
// `vigil backtest --csv FILE --rules RULES.json --out OUT.csv`: runs rules
// over a `timestamp,value[,value…]` CSV (the analytics backtest's reader;
// header names are metric names) through the live engine's Evaluator and
// writes one row per firing: `timestamp,rule,event` (ISO 8601 UTC, the
// rule's name, "fired: <explanation>"). The CSV stands for one asset with
// one position at one site in `timezone` (calendar windows of
// increase_above). RULES.json is one rule, an array of rules, or
// {"rules": [...]}. Returns the exit code (0, 1 for bad input, 2 for bad
// options); errors go to `err` as one line.
#pragma once

#include <iosfwd>
#include <string>

namespace vigil::rules {

struct BacktestOptions {
  std::string csv, rules, out;
  std::string timezone = "UTC";
};

int run_backtest(const BacktestOptions& o, std::ostream& out, std::ostream& err);

}  // namespace vigil::rules
