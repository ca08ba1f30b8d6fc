// SPDX-License-Identifier: Apache-2.0
// The bulk-commissioning CSV (http/sensor_csv.h): what is accepted, and each
// bad line named with its column.
#include <catch2/catch.hpp>

#include "http/sensor_csv.h"

using vigil::http::parse_sensor_csv;

TEST_CASE("a CSV with a header, quotes, CRLF and a BOM reads as rows with normalised addresses") {
  auto r = parse_sensor_csv(
      "\xEF\xBB\xBF" "Position,address,KEY,name\r\n"
      "# comment line\r\n"
      "\r\n"
      "\"North/Pump 1/Motor DE\", aa:bb:cc:dd:ee:01 ,00112233445566778899AABBCCDDEEFF,\"DE, drive end\"\r\n"
      "7,AA-BB-CC-DD-EE-02,,\r\n");
  CHECK(r.errors.empty());
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].line == 4);
  CHECK(r.rows[0].address == "AA:BB:CC:DD:EE:01");
  CHECK(r.rows[0].position == "North/Pump 1/Motor DE");
  REQUIRE(r.rows[0].key.has_value());
  CHECK(r.rows[0].key->size() == 16);
  CHECK(r.rows[0].name == "DE, drive end");
  CHECK(r.rows[1].line == 5);
  CHECK(r.rows[1].position == "7");
  CHECK_FALSE(r.rows[1].key.has_value());
}

TEST_CASE("every bad line is named with its column") {
  auto r = parse_sensor_csv(
      "address,key,position\n"
      "not-a-mac,,1\n"
      "AA:BB:CC:DD:EE:01,1234,1\n"
      "AA:BB:CC:DD:EE:02,,\n"
      "AA:BB:CC:DD:EE:03,,1,extra\n"
      "\"AA:BB:CC:DD:EE:04,,1\n"
      "AA:BB:CC:DD:EE:05,,1\n");
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0].line == 2);
  CHECK(r.errors[0].field == "address");
  CHECK(r.errors[1].line == 3);
  CHECK(r.errors[1].field == "key");
  CHECK(r.errors[2].line == 4);
  CHECK(r.errors[2].field == "position");
  CHECK(r.errors[3].line == 5);
  CHECK(r.errors[4].line == 6);
  REQUIRE(r.rows.size() == 1);  // the good one is parsed, but the caller imports nothing
  CHECK(r.rows[0].line == 7);
}

TEST_CASE("a header without the required columns, or none at all, is refused") {
  auto missing = parse_sensor_csv("address,position\nAA:BB:CC:DD:EE:01,1\n");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].line == 1);
  CHECK(missing.errors[0].message.find("'key'") != std::string::npos);
  auto unknown = parse_sensor_csv("address,key,position,colour\n");
  REQUIRE(unknown.errors.size() == 1);
  CHECK(unknown.errors[0].message.find("colour") != std::string::npos);
  CHECK(parse_sensor_csv("").errors.size() == 1);
  auto no_header = parse_sensor_csv("AA:BB:CC:DD:EE:01,,1\n");  // a data line is no header
  CHECK_FALSE(no_header.errors.empty());
  CHECK(no_header.rows.empty());
}

TEST_CASE("the CSV is bounded in bytes and rows") {
  std::string big = "address,key,position\n";
  for (std::size_t i = 0; i <= vigil::http::kSensorCsvMaxRows; ++i) {
    char line[64];
    std::snprintf(line, sizeof line, "AA:BB:CC:%02X:%02X:%02X,,1\n", unsigned((i >> 16) & 0xff),
                  unsigned((i >> 8) & 0xff), unsigned(i & 0xff));
    big += line;
  }
  auto rows = parse_sensor_csv(big);
  REQUIRE(rows.errors.size() == 1);
  CHECK(rows.errors[0].field == "file");
  CHECK(rows.errors[0].line == static_cast<int>(vigil::http::kSensorCsvMaxRows) + 2);
  auto bytes = parse_sensor_csv(std::string(vigil::http::kSensorCsvMaxBytes + 1, 'a'));
  REQUIRE(bytes.errors.size() == 1);
  CHECK(bytes.errors[0].line == 0);
}
