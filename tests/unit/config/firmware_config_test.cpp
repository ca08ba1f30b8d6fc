// SPDX-License-Identifier: Apache-2.0
// The "firmware" section: the vendor's signing key and the rollout engine.
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace vigil;

TEST_CASE("the firmware section defaults to no signing key", "[config][firmware]") {
  auto c = parse_config("{}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->firmware.signing_public_key_file.empty());
  CHECK(c->firmware.engine_interval_s == 10);
  CHECK(c->firmware.max_attempts == 3);
  auto shipped = load_config(std::string(VIGIL_SOURCE_DIR) + "/config/vigil.json");
  REQUIRE(shipped.ok());
  CHECK(shipped->firmware.signing_public_key_file == c->firmware.signing_public_key_file);
  CHECK(shipped->firmware.engine_interval_s == c->firmware.engine_interval_s);
  CHECK(shipped->firmware.max_attempts == c->firmware.max_attempts);
}

TEST_CASE("the firmware section is read, and a bad value is named with its line", "[config][firmware]") {
  auto c = parse_config(R"({"firmware": {"signing_public_key_file": "/etc/vigil/vendor.pub.pem", "max_attempts": 5}})",
                        "v.json");
  REQUIRE(c.ok());
  CHECK(c->firmware.signing_public_key_file == "/etc/vigil/vendor.pub.pem");
  CHECK(c->firmware.max_attempts == 5);
  auto bad = parse_config("{\"firmware\": {\n\"engine_interval_s\": 0}}", "v.json");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::StartsWith("v.json:2: firmware.engine_interval_s"));
  auto unknown = parse_config("{\"firmware\": {\n\"signing_key\": \"x\"}}", "v.json");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("unknown key 'signing_key'"));
}
