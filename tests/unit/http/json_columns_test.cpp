// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "http/json_columns.h"

using vigil::http::JsonColumns;

namespace {
struct Row {
  std::int64_t t;
  double v;
};
}  // namespace

TEST_CASE("numeric columns read back as the same numbers, non-finite ones as null", "[http]") {
  std::vector<Row> rows{{1'700'000'000'000, 0.1},
                        {-5, 1.0 / 3.0},
                        {0, 6.02214076e23},
                        {7, std::numeric_limits<double>::quiet_NaN()},
                        {8, -std::numeric_limits<double>::infinity()},
                        {9, -0.0}};
  std::span<const Row> span(rows);
  std::string text = JsonColumns()
                         .field("id", 42)
                         .column("t", span, [](const Row& r) { return r.t; })
                         .column("v", span, [](const Row& r) { return r.v; })
                         .finish();
  auto j = nlohmann::json::parse(text);
  CHECK(j["id"] == 42);
  REQUIRE(j["t"].size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) CHECK(j["t"][i].get<std::int64_t>() == rows[i].t);
  CHECK(j["v"][0].get<double>() == 0.1);
  CHECK(j["v"][1].get<double>() == 1.0 / 3.0);
  CHECK(j["v"][2].get<double>() == 6.02214076e23);
  CHECK(j["v"][3].is_null());
  CHECK(j["v"][4].is_null());
  CHECK(j["v"][5].get<double>() == 0.0);
}

TEST_CASE("an empty column is an empty array", "[http]") {
  std::vector<Row> none;
  std::string text = JsonColumns().column("v", std::span<const Row>(none), [](const Row& r) { return r.v; }).finish();
  CHECK(text == R"({"v":[]})");
}
