// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "config/config.h"

using namespace vigil;

TEST_CASE("an empty object gives every default") {
  auto c = parse_config("{}", "t.json");
  REQUIRE(c.ok());
  CHECK(c->storage.path == "/var/lib/vigil/vigil.db");
  CHECK(c->http.port == 8080);
  CHECK(c->analytics.learning_hours == 48);
}

TEST_CASE("comments are allowed and values are read") {
  auto c = parse_config(R"({
    // the web server
    "http": { "port": 9000, /* inline */ "address": "127.0.0.1" },
    "storage": { "path": "/tmp/x.db" }
  })", "t.json");
  REQUIRE(c.ok());
  CHECK(c->http.port == 9000);
  CHECK(c->http.address == "127.0.0.1");
  CHECK(c->storage.path == "/tmp/x.db");
}

TEST_CASE("an unknown key is rejected with file and line") {
  auto c = parse_config("{\n  \"http\": {\n    \"prot\": 80\n  }\n}", "/etc/vigil/vigil.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("/etc/vigil/vigil.json:3: ", 0) == 0);
  CHECK(c.status().message().find("unknown key 'prot'") != std::string::npos);
}

TEST_CASE("an unknown section is rejected with its line") {
  auto c = parse_config("{\n\n  \"htp\": {}\n}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() == "v.json:3: unknown section 'htp'");
}

TEST_CASE("a value of the wrong type is rejected with its line") {
  auto c = parse_config("{\"storage\": {\n\"raw_retention_days\": \"ten\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:2: storage.raw_retention_days must be an integer", 0) == 0);
}

TEST_CASE("an out-of-range value is rejected") {
  auto c = parse_config("{\"http\": {\"port\": 70000}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("http.port must be between 0 and 65535") != std::string::npos);
}

TEST_CASE("an enumerated value outside its set is rejected") {
  auto c = parse_config("{\"gateway\": {\"log_level\": \"loud\"}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().find("must be one of") != std::string::npos);
}

TEST_CASE("malformed JSON reports the line of the syntax error") {
  auto c = parse_config("{\n \"http\": {\n  \"port\": 80,\n }\n", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:4: ", 0) == 0);
}

TEST_CASE("a number too large for a double is an error with its line, not a crash") {
  auto c = parse_config("// big\n{\n \"http\": {\n  \"port\": 1E999\n }\n}\n", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:4: ", 0) == 0);
  CHECK(c.status().message().find("1E999") != std::string::npos);
}

TEST_CASE("a missing file is an I/O error naming the file") {
  auto c = load_config("/nonexistent/vigil.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Status::Code::kIoError);
  CHECK(c.status().message().find("/nonexistent/vigil.json") != std::string::npos);
}

TEST_CASE("persistence N may not exceed M") {
  auto c = parse_config("{\"analytics\": {\"persistence_n\": 4, \"persistence_m\": 3}}", "v.json");
  REQUIRE_FALSE(c.ok());
}

// ---------------------------------------------------------- machine classes
TEST_CASE("machine classes default to none") {
  auto c = parse_config("{}", "v.json");
  REQUIRE(c.ok());
  CHECK(c->analytics.machine_classes.empty());
}

TEST_CASE("machine classes are read as name to zone limits") {
  auto c = parse_config(R"({"analytics": {"machine_classes": {
    "cooling_fan_l3": {"ab": 1.4, "bc": 3.5, "cd": 6},
    "iso10816_class2": {"ab": 1.0, "bc": 2.5, "cd": 6.3}
  }}})", "v.json");
  REQUIRE(c.ok());
  REQUIRE(c->analytics.machine_classes.size() == 2);
  CHECK(c->analytics.machine_classes.at("cooling_fan_l3") == ZoneLimits{1.4, 3.5, 6});
  CHECK(c->analytics.machine_classes.at("iso10816_class2").bc == 2.5);
}

TEST_CASE("machine classes that are not an object are rejected with their line") {
  auto c = parse_config("{\"analytics\": {\n\"machine_classes\": []}}", "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message() == "v.json:2: analytics.machine_classes must be an object");
}

TEST_CASE("a machine class with limits out of order is rejected with the line of the class") {
  auto c = parse_config(
      "{\"analytics\": {\"machine_classes\": {\n  \"ok\": {\"ab\": 1, \"bc\": 2, \"cd\": 3},\n"
      "  \"fan\": {\"ab\": 3, \"bc\": 2, \"cd\": 4}\n}}}",
      "v.json");
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().message().rfind("v.json:3: analytics.machine_classes: machine class 'fan': zone limits must ascend", 0) ==
        0);
}

TEST_CASE("a machine class limit above 1000 mm/s or not a number is rejected with its own line") {
  auto big = parse_config("{\"analytics\": {\"machine_classes\": {\"fan\": {\n\"ab\": 1, \"bc\": 2,\n\"cd\": 2000}}}}",
                          "v.json");
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message() == "v.json:3: analytics.machine_classes.fan.cd must be between 0 and 1000");
  auto text = parse_config("{\"analytics\": {\"machine_classes\": {\"fan\": {\"ab\": \"1\", \"bc\": 2, \"cd\": 3}}}}",
                           "v.json");
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().message().find("analytics.machine_classes.fan.ab must be a number") != std::string::npos);
}

TEST_CASE("a machine class missing a limit or with an unknown key is rejected") {
  auto missing = parse_config("{\"analytics\": {\"machine_classes\": {\n\"fan\": {\"ab\": 1, \"bc\": 2}}}}", "v.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "v.json:2: analytics.machine_classes.fan needs \"ab\", \"bc\" and \"cd\"");
  auto extra = parse_config(
      "{\"analytics\": {\"machine_classes\": {\"fan\": {\"ab\": 1, \"bc\": 2, \"cd\": 3,\n\"de\": 4}}}}", "v.json");
  REQUIRE_FALSE(extra.ok());
  CHECK(extra.status().message() ==
        "v.json:2: unknown key 'de' in section 'analytics.machine_classes.fan'");
}

TEST_CASE("a machine class name outside [A-Za-z0-9._-] or longer than 64 characters is rejected") {
  for (const std::string& name : {std::string("fan line"), std::string("fan/3"), std::string(65, 'x'), std::string()}) {
    INFO(name);
    auto c = parse_config("{\"analytics\": {\"machine_classes\": {\n\"" + name +
                              "\": {\"ab\": 1, \"bc\": 2, \"cd\": 3}}}}",
                          "v.json");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find("is not a valid class name") != std::string::npos);
  }
  CHECK(parse_config("{\"analytics\": {\"machine_classes\": {\"" + std::string(64, 'x') +
                         "\": {\"ab\": 1, \"bc\": 2, \"cd\": 3}}}}",
                     "v.json")
            .ok());
}
