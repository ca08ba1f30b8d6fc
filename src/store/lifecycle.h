// SPDX-License-Identifier: Apache-2.0
//
// Helpers the catalog writes share (catalog.cpp, lifecycle.cpp): run on the
// writer connection inside the caller's transaction.
#pragma once

#include <optional>
#include <string>

#include "vigil/sqlite.h"
#include "vigil/status.h"
#include "vigil/model.h"

namespace vigil::store_detail {

// History follows positions: when the sensor at `address` exists and its
// position differs from `new_position`, its current series are retired at
// `now` (they keep the old position; the next reading opens new ones).
Status retire_series_if_moving(sql::Db& db, const std::string& address, std::optional<Id> new_position,
                               TimestampMs now);

}  // namespace vigil::store_detail
