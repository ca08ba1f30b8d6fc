// SPDX-License-Identifier: Apache-2.0
// Config section "plant" and ble.relay_topics (docs/plant.md).
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace vigil;

TEST_CASE("plant and relay_topics default to off") {
  auto c = parse_config("{}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->plant.id.empty());
  CHECK(c->plant.state_interval_s == 60);
  CHECK(c->plant.max_gateways == 256);
  CHECK(c->ble.relay_topics.empty());
}

TEST_CASE("plant and relay_topics are read") {
  auto c = parse_config(R"({"plant": {"id": "north-site_1", "state_interval_s": 30, "url": "https://gw:8443/",
                                      "max_gateways": 10},
                            "ble": {"relay_topics": ["home/+/BTtoMQTT/#", "theengs/ble"]}})",
                        "v.json");
  INFO((c ? std::string() : c.status().message()));
  REQUIRE(c.ok());
  CHECK(c->plant.id == "north-site_1");
  CHECK(c->plant.state_interval_s == 30);
  CHECK(c->plant.url == "https://gw:8443/");
  CHECK(c->plant.max_gateways == 10);
  CHECK(c->ble.relay_topics == std::vector<std::string>{"home/+/BTtoMQTT/#", "theengs/ble"});
}

TEST_CASE("bad plant ids and topic filters are rejected with file and line") {
  auto c = parse_config("{\n  \"plant\": {\n    \"id\": \"a/b\"\n  }\n}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:3: plant.id", 0) == 0);
  c = parse_config("{\"plant\": {\"id\": \"" + std::string(65, 'x') + "\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  c = parse_config("{\"plant\": {\"id\": \"p\", \"state_interval_s\": 1}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("plant.state_interval_s must be between 5 and 86400") != std::string::npos);
  c = parse_config("{\"plant\": {\"idd\": \"p\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("unknown key 'idd' in section 'plant'") != std::string::npos);
  for (const char* bad : {"a/#/b", "a/b#", "a+/b", ""}) {
    INFO(bad);
    auto r = parse_config(std::string("{\n\"ble\": {\n\"relay_topics\": [\"") + bad + "\"]}}", "v.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().rfind("v.json:3: ble.relay_topics", 0) == 0);
  }
  c = parse_config("{\"ble\": {\"relay_topics\": \"home/#\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("must be a list of strings") != std::string::npos);
}

TEST_CASE("ble.relay_rate_per_s defaults to 1000 and names file:line when out of range") {
  auto c = parse_config("{}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->ble.relay_rate_per_s == 1000);
  c = parse_config("{\"ble\": {\"relay_rate_per_s\": 25}}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->ble.relay_rate_per_s == 25);
  for (const char* bad : {"0", "100001", "1.5", "\"fast\""}) {
    INFO(bad);
    auto r = parse_config(std::string("{\n\"ble\": {\n\"relay_rate_per_s\": ") + bad + "}}", "v.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().rfind("v.json:3: ble.relay_rate_per_s", 0) == 0);
  }
}

TEST_CASE("a gateway joining a plant needs a gateway id usable as a topic level") {
  auto c = parse_config("{\"gateway\": {\"id\": \"hall/2\"},\n \"plant\": {\"id\": \"p\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:2: plant.id is set, so gateway.id 'hall/2'", 0) == 0);
  // Without a plant the old rule holds: any gateway id.
  CHECK(parse_config("{\"gateway\": {\"id\": \"hall/2\"}}", "v.json").ok());
}

TEST_CASE("plant relaying is on by default at 200 adverts a second, and can be turned off") {
  auto c = parse_config("{}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->plant.relay);
  CHECK(c->plant.relay_out_per_s == 200);
  c = parse_config(R"({"plant": {"id": "p", "relay": false, "relay_out_per_s": 50}})", "v.json");
  REQUIRE(c.ok());
  CHECK_FALSE(c->plant.relay);
  CHECK(c->plant.relay_out_per_s == 50);
  c = parse_config(R"({"plant": {"relay_out_per_s": 0}})", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("plant.relay_out_per_s") != std::string::npos);
}
