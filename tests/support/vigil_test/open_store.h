// SPDX-License-Identifier: Apache-2.0
// Opens a Store on `path` for a test, stamping data with the test's clock;
// the test fails (REQUIRE) when it cannot be opened.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "vigil/clock.h"
#include "vigil/store.h"

namespace vigil_test {

inline std::unique_ptr<vigil::Store> open_store(const std::string& path, const vigil::Clock& clock) {
  vigil::StoreOptions o;
  o.path = path;
  o.clock = &clock;
  auto s = vigil::Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace vigil_test
