// SPDX-License-Identifier: Apache-2.0
// A full disk for store tests: caps the database at its current size with
// PRAGMA max_page_count on the writer connection, so every write that needs
// a new page fails with SQLITE_FULL, as on a full file system; free_disk()
// lifts the cap again.
#pragma once

#include <cstdint>
#include <string>

#include "vigil/store.h"

namespace vigil_test {

inline vigil::Result<std::int64_t> page_count(vigil::Store& s) {
  std::int64_t pages = 0;
  auto st = s.read([&](vigil::sql::Db& db) -> vigil::Status {
    auto q = db.prepare("PRAGMA page_count");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    pages = (*q)->i64(0);
    (*q)->reset();
    return vigil::Status::Ok();
  });
  if (!st.ok()) return st;
  return pages;
}

inline vigil::Status cap_pages(vigil::Store& s, std::int64_t n) {
  return s.write_txn([n](vigil::sql::Db& db) { return db.exec("PRAGMA max_page_count = " + std::to_string(n)); });
}

inline vigil::Status fill_disk(vigil::Store& s) {
  auto n = page_count(s);
  if (!n) return n.status();
  return cap_pages(s, *n);
}

inline vigil::Status free_disk(vigil::Store& s) { return cap_pages(s, std::int64_t{1} << 30); }

}  // namespace vigil_test
