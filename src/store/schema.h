// SPDX-License-Identifier: Apache-2.0
//
// The core schema and the per-module migration runner. Each module that owns
// tables (core, auth, uplink, …) has an ordered list of SQL scripts; the
// table `schema_migrations` remembers how many of each have been applied.
// A database written by a newer vigil (more migrations than we know) is
// refused rather than misread.
#pragma once

#include <string>
#include <vector>

#include "vigil/sqlite.h"

namespace vigil::store_detail {

const std::vector<std::string>& core_migrations();
Status apply_migrations(sql::Db& db, const std::string& module,
                        const std::vector<std::string>& migrations);

}  // namespace vigil::store_detail
