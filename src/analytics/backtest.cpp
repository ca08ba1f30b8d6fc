// SPDX-License-Identifier: Apache-2.0
// Placeholder until the analytics pipeline lands (issue 5).
#include "analytics/backtest.h"

#include <ostream>

namespace vigil::analytics {

int run_backtest(const BacktestOptions&, std::ostream&, std::ostream& err) {
  err << "vigil backtest: not built yet\n";
  return 2;
}

}  // namespace vigil::analytics
