// SPDX-License-Identifier: Apache-2.0
// Hostile-client regressions of the REST handlers (issue 12): extreme
// ranges, distinct parameter values, wrapping ids, names, unknown ids.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

namespace {
std::size_t reader_statements(ApiFixture& f) {
  std::size_t n = 0;
  (void)f.store->read([&](vigil::sql::Db& db) -> vigil::Status {
    n = db.cached_statements();
    return vigil::Status::Ok();
  });
  return n;
}
}  // namespace

TEST_CASE("a series range from INT64_MIN to INT64_MAX with one point answers instead of trapping") {
  ApiFixture f;
  // Points still in the head (not checkpointed) take the roll-up + head merge path.
  std::vector<vigil::Reading> rs;
  for (int i = 0; i < 5; ++i) rs.push_back({"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", f.clock.now_ms() + i * 1000, 2.0});
  f.ingest->submit(rs);
  (void)f.store->flush();
  const std::string id = std::to_string(f.series);
  for (const char* q : {"?from=-9223372036854775808&to=9223372036854775807&points=1",
                        "?from=-9223372036854775808&to=9223372036854775807&points=10000",
                        "?from=-9223372036854775808&to=-9223372036854775807&points=1",
                        "?from=9223372036854775806&to=9223372036854775807&points=1",
                        "?from=-9223372036854775808&to=9223372036854775807&format=csv&raw=1"}) {
    INFO(q);
    auto r = f.call("GET", "/api/v1/series/" + id + q, f.viewer_token);
    CHECK(r.status == 200);
  }
  auto j = ApiFixture::js(f.call("GET", "/api/v1/series/" + id + "?from=-9223372036854775808&to=9223372036854775807&points=1",
                                 f.viewer_token));
  std::int64_t total = 0;
  for (auto& c : j["count"]) total += c.get<std::int64_t>();
  CHECK(total == 48 + 5);
}

TEST_CASE("measurements with an extreme range answer 200") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/positions/" + std::to_string(f.position) +
                             "/measurements?from=-9223372036854775808&to=9223372036854775807",
                  f.viewer_token);
  CHECK(r.status == 200);
}

TEST_CASE("distinct alert filter values do not grow a reader's statement cache") {
  ApiFixture f;
  f.add_alert();
  CHECK(f.call("GET", "/api/v1/alerts?since=1", f.viewer_token).status == 200);
  const auto before = reader_statements(f);
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i + 2);
    REQUIRE(f.call("GET", "/api/v1/alerts?since=" + n + "&asset_id=" + n + "&position_id=" + n + "&limit=" + n,
                   f.viewer_token)
                .status == 200);
  }
  CHECK(reader_statements(f) <= before + 1);
}

TEST_CASE("alert filters are bound, so they still select the right rows") {
  ApiFixture f;
  f.add_alert();
  f.add_alert("closed");
  auto all = ApiFixture::js(f.call("GET", "/api/v1/alerts", f.viewer_token));
  CHECK(all.size() == 2);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?status=active", f.viewer_token)).size() == 1);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?status=closed", f.viewer_token)).size() == 1);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?asset_id=" + std::to_string(f.asset), f.viewer_token)).size() == 2);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?asset_id=999", f.viewer_token)).empty());
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?severity=alarm", f.viewer_token)).empty());
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?limit=1", f.viewer_token)).size() == 1);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/alerts?since=9223372036854775807", f.viewer_token)).empty());
  CHECK(f.call("GET", "/api/v1/alerts?limit=0", f.viewer_token).status == 400);
  CHECK(f.call("GET", "/api/v1/alerts?since=1e3", f.viewer_token).status == 400);
}

TEST_CASE("a site id of 2^63 is refused instead of wrapping negative") {
  ApiFixture f;
  for (const char* id : {"9223372036854775808", "18446744073709551615", "-1", "0"}) {
    INFO(id);
    auto r = f.call("POST", "/api/v1/assets", f.admin_token,
                    std::string(R"({"name":"A","machine_class":"iso10816_class2","site_id":)") + id + "}");
    CHECK(r.status == 422);
  }
}

TEST_CASE("names with control characters, invalid UTF-8 or 100 KB are refused") {
  ApiFixture f;
  const std::string big(100 * 1024, 'x');
  for (const std::string& name : {std::string("a\\u0000b"), std::string("line\\nbreak"), big, std::string()}) {
    auto r = f.call("POST", "/api/v1/sites", f.admin_token, R"({"name":")" + name + R"("})");
    CHECK(r.status == 422);
  }
  auto bad_utf8 = f.call("POST", "/api/v1/sites", f.admin_token, "{\"name\":\"\xff\xfe\"}");
  CHECK(bad_utf8.status >= 400);
  CHECK(bad_utf8.status < 500);
  CHECK(f.call("POST", "/api/v1/sites", f.admin_token, R"({"name":"Halle 2 – Süd"})").status == 201);
  CHECK(f.call("POST", "/api/v1/positions", f.admin_token,
                R"({"asset_id":)" + std::to_string(f.asset) + R"(,"name":"x\u0007"})")
            .status == 422);
}

TEST_CASE("unknown ids answer 404, not an empty 200") {
  ApiFixture f;
  for (const char* path : {"/api/v1/series/999999", "/api/v1/positions/999999/series", "/api/v1/positions/999999/health",
                           "/api/v1/positions/999999/measurements", "/api/v1/positions/999999/spectra",
                           "/api/v1/assets/999999", "/api/v1/assets?site_id=999999", "/api/v1/positions?asset_id=999999"}) {
    INFO(path);
    CHECK(f.call("GET", path, f.viewer_token).status == 404);
  }
  CHECK(f.call("GET", "/api/v1/positions/" + std::to_string(f.position) + "/series", f.viewer_token).status == 200);
}

TEST_CASE("a read error in the fleet snapshot answers 5xx, not 200 with unknown states") {
  ApiFixture f;
  REQUIRE(f.call("GET", "/api/v1/fleet", f.viewer_token).status == 200);
  REQUIRE(f.store->write_txn([](vigil::sql::Db& db) { return db.exec("DROP TABLE health_states"); }).ok());
  for (const char* path : {"/api/v1/fleet", "/api/v1/assets", "/api/v1/positions"}) {
    INFO(path);
    CHECK(f.call("GET", path, f.viewer_token).status >= 500);
  }
}

TEST_CASE("a failed audit write is logged and counted, not dropped silently") {
  ApiFixture f;
  auto* failures = vigil::MetricsRegistry::global().counter("vigil_audit_write_failures_total",
                                                            "Audit log entries that could not be written");
  const auto before = failures->value();
  REQUIRE(f.store->write_txn([](vigil::sql::Db& db) { return db.exec("DROP TABLE audit_log"); }).ok());
  CHECK(f.call("POST", "/api/v1/sites", f.admin_token, R"({"name":"Audited"})").status == 201);
  CHECK(failures->value() == before + 1);
}
