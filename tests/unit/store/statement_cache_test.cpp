// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"
#include "vigil/sqlite.h"

using vigil::sql::Db;

TEST_CASE("the prepared-statement cache stays bounded under distinct SQL texts") {
  TempDir dir;
  auto db = Db::open(dir.file("c.db"), Db::Mode::kReadWriteCreate).value();
  for (int i = 0; i < 1000; ++i) {
    auto q = db->prepare("SELECT " + std::to_string(i));
    REQUIRE(q);
    auto row = (*q)->step();
    REQUIRE(row);
    CHECK((*q)->i64(0) == i);
    (*q)->reset();
  }
  CHECK(db->cached_statements() <= Db::kMaxCachedStatements);
}

TEST_CASE("a recently used statement survives eviction of older ones") {
  TempDir dir;
  auto db = Db::open(dir.file("c.db"), Db::Mode::kReadWriteCreate).value();
  auto* hot = db->prepare("SELECT 'hot'").value();
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(db->prepare("SELECT " + std::to_string(i)));
    if (i % 16 == 0) CHECK(db->prepare("SELECT 'hot'").value() == hot);  // still the same cached object
  }
}

TEST_CASE("a statement mid-step is not evicted under its caller") {
  TempDir dir;
  auto db = Db::open(dir.file("c.db"), Db::Mode::kReadWriteCreate).value();
  auto* busy = db->prepare("SELECT 1 UNION ALL SELECT 2").value();
  REQUIRE(busy->step().value());
  for (int i = 0; i < 300; ++i) REQUIRE(db->prepare("SELECT " + std::to_string(i)));
  CHECK(busy->i64(0) == 1);
  REQUIRE(busy->step().value());
  CHECK(busy->i64(0) == 2);
  busy->reset();
}
