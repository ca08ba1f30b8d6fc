// SPDX-License-Identifier: Apache-2.0
// DFU and configuration values (protocol/dfu.h): encodings match the wire
// formats of docs/protocol.md, and parsers refuse what a sensor cannot send.
#include <catch2/catch.hpp>

#include "protocol/dfu.h"

using namespace vigil;
using namespace vigil::protocol;

TEST_CASE("DFU status is parsed field by field and refuses short or unknown values") {
  std::vector<std::uint8_t> b{2, 0, 0x10, 0x27, 0, 0, 0x00, 0x03, 0x01, 0, 0x00, 0x04, 0x01, 0, 1, 0};
  auto s = parse_dfu_status(b);
  REQUIRE(s.ok());
  CHECK(s->state == DfuState::kVerified);
  CHECK(s->received == 10000);
  CHECK(s->running_version == 0x010300);
  CHECK(s->staged_version == 0x010400);
  CHECK(s->boots_since_activate == 1);
  CHECK_FALSE(parse_dfu_status(std::span(b.data(), 15)).ok());
  b[0] = 9;
  CHECK(parse_dfu_status(b).status().message().find("state") != std::string::npos);
}

TEST_CASE("START, Data and operations have the documented layout") {
  std::vector<std::uint8_t> header(64, 0x11), tag(16, 0x22), data{1, 2, 3};
  auto st = dfu_start(true, header, tag);
  REQUIRE(st.size() == 82);
  CHECK(st[0] == 1);
  CHECK(st[1] == 1);
  CHECK(st[2] == 0x11);
  CHECK(st[81] == 0x22);
  auto d = dfu_data(0x01020304, data);
  CHECK(d == std::vector<std::uint8_t>{4, 3, 2, 1, 1, 2, 3});
  CHECK(dfu_op(DfuOp::kActivate) == std::vector<std::uint8_t>{4});
}

TEST_CASE("Sensor error codes have names, unknown ones a number") {
  CHECK(dfu_error_name(7) == "bad_tag");
  CHECK(dfu_error_name(10) == "reverted");
  CHECK(dfu_error_name(200) == "error_200");
}

TEST_CASE("A sensor configuration outside the firmware's ranges is refused naming the field") {
  SensorConfig c;
  CHECK(validate_sensor_config(c).ok());
  c.measurement_interval_s = 9;
  CHECK(validate_sensor_config(c).message().find("measurement_interval_s") != std::string::npos);
  c.measurement_interval_s = 7200;
  c.waveform_interval_min = 60;
  CHECK(validate_sensor_config(c).message().find("shorter") != std::string::npos);
  c.measurement_interval_s = 600;
  c.tx_power_dbm = 3;
  CHECK(validate_sensor_config(c).message().find("tx_power_dbm") != std::string::npos);
  c.tx_power_dbm = -20;
  auto v = encode_desired_config(c);
  REQUIRE(v.size() == 12);
  std::vector<std::uint8_t> rep(v);
  rep.insert(rep.end(), {0x00, 0x04, 0x01, 0x00});
  auto r = parse_reported_config(rep);
  REQUIRE(r.ok());
  CHECK(r->config.measurement_interval_s == 600);
  CHECK(r->config.tx_power_dbm == -20);
  CHECK(r->firmware_version == 0x010400);
}

TEST_CASE("Firmware versions read and print as MAJOR.MINOR.PATCH") {
  CHECK(*parse_firmware_version("1.4.0") == 0x010400);
  CHECK(firmware_version_string(0x010A03) == "1.10.3");
  for (const char* bad : {"", "1.4", "1.4.0.1", "1.256.0", "a.b.c", "1..0", "1.4.0 "})
    CHECK_FALSE(parse_firmware_version(bad).ok());
}
