// SPDX-License-Identifier: Apache-2.0
// The first column of the first row of `sql` (a count, a PRAGMA), read on
// one of the store's reader connections; the test fails (REQUIRE) when the
// query does, and the result is -1 when it returns no row.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "vigil/store.h"

namespace vigil_test {

inline std::int64_t scalar(vigil::Store& store, const std::string& sql) {
  std::int64_t n = -1;
  REQUIRE(store
              .read([&](vigil::sql::Db& db) -> vigil::Status {
                auto q = db.prepare(sql);
                if (!q) return q.status();
                auto row = (*q)->step();
                if (!row) return row.status();
                if (*row) n = (*q)->i64(0);
                (*q)->reset();
                return vigil::Status::Ok();
              })
              .ok());
  return n;
}

}  // namespace vigil_test
