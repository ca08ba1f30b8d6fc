// SPDX-License-Identifier: Apache-2.0
//
// `vigil user add` and `vigil token create`: they open the configured
// database directly (SQLite WAL: safe while `serve` runs) and return a
// process exit code, printing one clear line on failure.
#pragma once

#include <iosfwd>
#include <string>

namespace vigil::auth {

// Reads the password from the first line of `in` (no echo handling: pipe it
// or type it). Exit 0 on success, 1 on a store error, 2 on bad input.
int user_add_command(const std::string& db_path, const std::string& name, const std::string& role, std::istream& in,
                     std::ostream& out, std::ostream& err);
// Prints the new bearer token (only the hash is stored) on stdout.
int token_create_command(const std::string& db_path, const std::string& role, const std::string& name,
                         std::ostream& out, std::ostream& err);

}  // namespace vigil::auth
