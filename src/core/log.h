// SPDX-License-Identifier: Apache-2.0
//
// Logging set-up. vigil logs through spdlog to stderr. Under systemd
// (JOURNAL_STREAM set) each line starts with a syslog "<N>" priority prefix,
// which journald turns into the entry's priority, and omits the timestamp
// journald already records.
#pragma once

#include <string>

#include "vigil/status.h"

namespace vigil::log {

// level: trace|debug|info|warn|error|off. Safe to call again (SIGHUP reload).
Status setup(const std::string& level);

}  // namespace vigil::log
