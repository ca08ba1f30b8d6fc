// SPDX-License-Identifier: Apache-2.0
// Every BTHome v2 object id of shared/docs/bthome-v2.md.
#include <catch2/catch.hpp>
#include <set>

#include "protocol/bthome.h"
#include "protocol/decoder.h"
#include "test_util.h"
#include "vigil/ingest.h"

using namespace vigil::protocol;
using namespace vigil::protocol::test;

namespace {
DecodedFrame parse(const std::vector<std::uint8_t>& objects) {
  DecodedFrame f;
  auto st = bthome::parse_objects(objects, f);
  REQUIRE(st.ok());
  return f;
}
}  // namespace

TEST_CASE("knows every object id listed in the BTHome v2 summary") {
  std::set<int> want;
  for (int id = 0x00; id <= 0x63; ++id) want.insert(id);
  for (int id : {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3B}) want.erase(id);
  want.insert({0xF0, 0xF1, 0xF2});
  std::set<int> have;
  for (const auto& d : bthome::all_objects()) have.insert(d.id);
  CHECK(have == want);
}

TEST_CASE("every value object decodes with its size, sign and factor") {
  for (const auto& d : bthome::all_objects()) {
    if (d.kind != bthome::Kind::kValue) continue;
    INFO("object 0x" << std::hex << int(d.id));
    // Value bytes 0x81, 0x02, 0x03, 0x04 (negative when signed and 1 byte).
    std::vector<std::uint8_t> obj{d.id};
    std::int64_t raw = 0;
    for (int k = 0; k < d.size; ++k) {
      std::uint8_t b = static_cast<std::uint8_t>(k == d.size - 1 ? 0x81 : k + 2);
      obj.push_back(b);
      raw |= static_cast<std::int64_t>(b) << (8 * k);
    }
    if (d.is_signed) raw -= std::int64_t{1} << (8 * d.size);
    auto f = parse(obj);
    REQUIRE(f.values.size() == 1);
    CHECK(f.values[0].metric == d.metric);
    CHECK(f.values[0].object_id == d.id);
    CHECK(f.values[0].value == Approx(static_cast<double>(raw) * d.num / d.den));
    // Every metric name is a known vigil metric.
    CHECK(vigil::find_metric(d.metric) != nullptr);
  }
}

TEST_CASE("spot values match the specification's units") {
  auto f = parse(hex("02c409 03bf13 0c7b0d 0b102700 0a881300 4d40420f00 1a01 2101 3dffff 5ae8ff 45fbff 58fe 5c9cffffff"));
  CHECK(find_value(f, "temperature_c")->value == 25.0);
  CHECK(find_value(f, "humidity_pct")->value == 50.55);
  CHECK(find_value(f, "voltage_v")->value == 3.451);
  CHECK(find_value(f, "power_w")->value == Approx(100.0));
  CHECK(find_value(f, "energy_kwh")->value == Approx(5.0));
  CHECK(find_value(f, "energy_kwh.2")->value == Approx(1000.0));
  CHECK(find_value(f, "door_open")->value == 1.0);
  CHECK(find_value(f, "motion")->value == 1.0);
  CHECK(find_value(f, "count")->value == 65535);
  CHECK(find_value(f, "count.2")->value == -24);
  CHECK(find_value(f, "temperature_c.2")->value == Approx(-0.5));
  CHECK(find_value(f, "temperature_c.3")->value == Approx(-0.7));
  CHECK(find_value(f, "power_w.2")->value == Approx(-1.0));
}

TEST_CASE("binary sensors decode to 0 or 1") {
  for (const auto& d : bthome::all_objects()) {
    if (d.kind != bthome::Kind::kBinary) continue;
    INFO("object 0x" << std::hex << int(d.id));
    auto f = parse({d.id, 0x00, d.id, 0x01});
    REQUIRE(f.values.size() == 2);
    CHECK(f.values[0].value == 0.0);
    CHECK(f.values[1].value == 1.0);
    CHECK(f.values[1].metric == std::string(d.metric) + ".2");
    CHECK(vigil::find_metric(d.metric) != nullptr);
  }
}

TEST_CASE("metadata objects fill the frame's fields") {
  auto f = parse(hex("00 2a 50 5d4f6766 60 03 f0 0100 f1 04030201"));
  CHECK(f.packet_id == 42);
  CHECK(f.device_timestamp == 0x66674f5du);
  CHECK(f.channel == 3);
  CHECK(f.device_type == 1);
  CHECK(f.firmware_version == "1.2.3.4");
  CHECK(parse(hex("f2 030201")).firmware_version == "1.2.3");
}

TEST_CASE("button and dimmer events decode with their names") {
  auto f = parse(hex("3a 01 3a 04 3a 80 3c 0103 3c 0205"));
  REQUIRE(f.events.size() == 5);
  CHECK(f.events[0].name == "press");
  CHECK(f.events[1].name == "long_press");
  CHECK(f.events[1].instance == 2);
  CHECK(f.events[2].name == "hold_press");
  CHECK(f.events[3].type == "dimmer");
  CHECK(f.events[3].name == "rotate_left");
  CHECK(f.events[3].steps == 3);
  CHECK(f.events[4].name == "rotate_right");
  CHECK(f.events[4].steps == 5);
  CHECK(parse(hex("3a 00")).events[0].name == "none");
}

TEST_CASE("text and raw objects carry their length-prefixed bytes") {
  auto f = parse(hex("53 05 48656c6c6f 54 03 010203 53 00"));
  REQUIRE(f.texts.size() == 2);
  CHECK(f.texts[0] == "Hello");
  CHECK(f.texts[1].empty());
  REQUIRE(f.raw.size() == 1);
  CHECK(f.raw[0] == std::vector<std::uint8_t>{1, 2, 3});
}

TEST_CASE("parsing stops at the first unknown id and keeps earlier values") {
  auto f = parse(hex("02c409 30 ffff 03bf13"));
  REQUIRE(f.values.size() == 1);
  CHECK(f.unknown_object_id == 0x30);
  CHECK(parse(hex("ee 02c409")).values.empty());
}

TEST_CASE("an object cut short is an error, not a guess") {
  for (auto h : {"02c4", "04 0102", "53", "53 05 4865", "3c 01", "f1 0102"}) {
    INFO(h);
    DecodedFrame f;
    CHECK_FALSE(bthome::parse_objects(hex(h), f).ok());
  }
}
