// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <sstream>

#include "protocol/decode_command.h"
#include "test_util.h"

using namespace vigil::protocol;

namespace {
struct Run {
  int rc;
  std::string out, err;
};
Run run(DecodeOptions o) {
  std::ostringstream out, err;
  int rc = run_decode(o, out, err);
  return {rc, out.str(), err.str()};
}
}  // namespace

TEST_CASE("vigil decode prints the spec's encrypted example as JSON") {
  auto r = run({"d2fc41e445f3c9962b332211006c7c4519", "231d39c1d7cc1ab1aee224cd096db932", "54:48:E6:8F:80:A5"});
  REQUIRE(r.rc == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "bthome");
  CHECK(j["encrypted"] == true);
  CHECK(j["counter"] == 0x00112233);
  CHECK(j["values"]["temperature_c"] == 25.06);
  CHECK(j["values"]["humidity_pct"] == 50.55);
  CHECK(r.err.empty());
}

TEST_CASE("vigil decode accepts a plain frame without a key, with or without the UUID") {
  for (auto h : {"d2fc4002c40903bf13", "40 02 C4 09 03 BF 13", "020106 0a16d2fc4002c40903bf13"}) {
    INFO(h);
    auto r = run({h, "", ""});
    REQUIRE(r.rc == 0);
    CHECK(nlohmann::json::parse(r.out)["values"]["temperature_c"] == 25.0);
  }
}

TEST_CASE("vigil decode reports bad hex, a bad MIC or a missing key on one line") {
  auto bad_hex = run({"d2fc4g", "", ""});
  CHECK(bad_hex.rc != 0);
  CHECK(bad_hex.out.empty());
  CHECK(std::count(bad_hex.err.begin(), bad_hex.err.end(), '\n') == 1);
  auto bad_mic = run({"d2fc41e445f3c9962b332211006c7c4518", "231d39c1d7cc1ab1aee224cd096db932", "54:48:E6:8F:80:A5"});
  CHECK(bad_mic.rc != 0);
  CHECK(bad_mic.err.find("bad_mic") != std::string::npos);
  CHECK(std::count(bad_mic.err.begin(), bad_mic.err.end(), '\n') == 1);
  auto no_key = run({"d2fc41e445f3c9962b332211006c7c4519", "", ""});
  CHECK(no_key.rc != 0);
  CHECK(no_key.err.find("--key") != std::string::npos);
  CHECK(run({"d2fc41e445f3c9962b332211006c7c4519", "231d", "54:48:E6:8F:80:A5"}).rc != 0);
  CHECK(run({"d2fc41e445f3c9962b332211006c7c4519", "231d39c1d7cc1ab1aee224cd096db932", ""}).rc != 0);
}

TEST_CASE("vigil decode prints vigil frames with per-axis metrics") {
  auto r = run({"ffff5610070002140005003d0031013601", "", ""});
  // "vigil frame plain" of tests/vectors/frames.json
  REQUIRE(r.rc == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "vigil");
  CHECK(j["axis"] == "y");
  CHECK(j["values"].contains("kurtosis.y"));
}
