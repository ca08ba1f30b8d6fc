// SPDX-License-Identifier: Apache-2.0
//
// Small formatting helpers of the rules module (private): ISO 8601 UTC
// times and short numbers for explanations, the backtest and messages.
#pragma once

#include <string>

#include "vigil/clock.h"

namespace vigil::rules {

// "2026-03-29T01:00:00Z" (milliseconds shown only when not zero).
std::string iso_time(TimestampMs ts);
// Up to 6 significant digits, no trailing zeros: 23.5, -18, 0.001.
std::string fmt_num(double v);

}  // namespace vigil::rules
