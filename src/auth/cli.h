// SPDX-License-Identifier: Apache-2.0
//
// `vigil user add` and `vigil token create`: they open the configured
// database directly (SQLite WAL: safe while `serve` runs) and return a
// process exit code, printing one clear line on failure.
#pragma once

#include <iosfwd>
#include <string>

#include "vigil/store.h"

namespace vigil::auth {

// `store_opts` are the configured database's options (app::store_options: its
// retention and page size apply to what the command opens or creates).
// Reads the password from the first line of `in` (no echo handling: pipe it
// or type it). Exit 0 on success, 1 on a store error, 2 on bad input.
int user_add_command(const StoreOptions& store_opts, const std::string& name, const std::string& role, std::istream& in,
                     std::ostream& out, std::ostream& err);
// Prints the new bearer token (only the hash is stored) on stdout.
int token_create_command(const StoreOptions& store_opts, const std::string& role, const std::string& name,
                         std::ostream& out, std::ostream& err);

}  // namespace vigil::auth
