// SPDX-License-Identifier: Apache-2.0
//
// Times as users type them on the command line and in imported files.
#pragma once

#include <optional>
#include <string>

#include "vigil/model.h"

namespace vigil::app {

// "1700000000000" (epoch ms), "2026-11-01", "2026-11-01T10:00:00Z",
// "2026-11-01T10:00:00+01:00" (no zone = UTC) → epoch ms; nullopt when it
// is none of these.
std::optional<TimestampMs> parse_time_arg(const std::string& s);

}  // namespace vigil::app
