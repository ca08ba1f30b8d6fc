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
