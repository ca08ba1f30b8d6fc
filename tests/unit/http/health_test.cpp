// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/health tells the truth (issue 12): every check listed, 503 with
// the failing ones named when the gateway cannot do its job; and a 500 answer
// carries a reference to the log, never the database's own error text.
#include <catch2/catch.hpp>

#include <filesystem>

#include "fixture.h"
#include "http/api_internal.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

TEST_CASE("health lists every check and answers 200 while they all pass") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/health");
  CHECK(r.status == 200);
  auto j = ApiFixture::js(r);
  CHECK(j["status"] == "ok");
  CHECK(j["failing"].empty());
  for (const char* name : {"integrity", "database_file", "disk", "clock"}) {
    INFO(name);
    CHECK(j["checks"][name]["ok"] == true);
  }
  CHECK(j["checks"]["database_file"]["status"] == "ok");
  CHECK(j["checks"]["clock"]["behind_ms"] == 0);
  CHECK(j["store"]["last_error"] == "");
  CHECK(j["store"]["disk_full"] == false);
}

TEST_CASE("health answers 503 error when the database file is deleted under the gateway") {
  ApiFixture f;
  std::filesystem::remove(f.store->path());
  auto r = f.call("GET", "/api/v1/health");
  CHECK(r.status == 503);
  auto j = ApiFixture::js(r);
  CHECK(j["status"] == "error");
  CHECK(j["failing"] == json::array({"database_file"}));
  CHECK(j["checks"]["database_file"]["status"] == "deleted");
  CHECK(j.contains("version"));  // the same body as a 200
}

TEST_CASE("health answers 503 degraded when the clock is behind the newest stored reading") {
  ApiFixture f;  // readings up to the fixture clock's now
  f.clock.set(f.clock.now_ms() - 3'600'000);
  auto r = f.call("GET", "/api/v1/health");
  CHECK(r.status == 503);
  auto j = ApiFixture::js(r);
  CHECK(j["status"] == "degraded");
  CHECK(j["failing"] == json::array({"clock"}));
  CHECK(j["checks"]["clock"]["ok"] == false);
  CHECK(j["checks"]["clock"]["behind_ms"].get<std::int64_t>() >= 3'000'000);
  CHECK(j["checks"]["clock"]["newest_point"].is_string());
}

TEST_CASE("a 500 answer names a log reference instead of the database's error text") {
  auto sqlite_text = vigil::Status::Corruption(
      "store: range of series 1: step 'SELECT data FROM chunks WHERE series_id = ?': database disk image is malformed");
  auto r = vigil::http::detail::from_status(sqlite_text);
  CHECK(r.status == 500);
  auto j = json::parse(r.body);
  const std::string detail = j["detail"];
  CHECK(detail.rfind("internal error (ref ", 0) == 0);
  CHECK(detail.find("SELECT") == std::string::npos);
  CHECK(detail.find("malformed") == std::string::npos);
  // Every answer gets its own reference.
  auto again = json::parse(vigil::http::detail::from_status(vigil::Status::IoError("disk I/O error")).body);
  CHECK(again["detail"] != j["detail"]);
  // Client errors keep their message: it is about the request.
  auto nf = json::parse(vigil::http::detail::from_status(vigil::Status::NotFound("no site with id 9")).body);
  CHECK(nf["detail"] == "no site with id 9");
}
