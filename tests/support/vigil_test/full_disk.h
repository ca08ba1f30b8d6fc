// SPDX-License-Identifier: Apache-2.0
// A full disk for store tests: caps the database at its current size with
// PRAGMA max_page_count on the writer connection, so every write that needs
// a new page fails with SQLITE_FULL, as on a full file system; free_disk()
// lifts the cap again.
#pragma once

#include <cstdint>
#include <string>

#include "vigil/store.h"
#include "vigil_test/store_scalar.h"

namespace vigil_test {

inline vigil::Status cap_pages(vigil::Store& s, std::int64_t n) {
  return s.write_txn([n](vigil::sql::Db& db) { return db.exec("PRAGMA max_page_count = " + std::to_string(n)); });
}

inline vigil::Status fill_disk(vigil::Store& s) { return cap_pages(s, scalar(s, "PRAGMA page_count")); }

inline vigil::Status free_disk(vigil::Store& s) { return cap_pages(s, std::int64_t{1} << 30); }

}  // namespace vigil_test
