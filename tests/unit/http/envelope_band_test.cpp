// SPDX-License-Identifier: Apache-2.0
// An asset's envelope (demodulation) band over REST: POST /api/v1/assets
// takes `envelope_band_hz`, the asset reads show it (null = automatic), and
// a band outside the rule is refused with 422 bad_field.
#include <catch2/catch.hpp>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;
using namespace vigil;

namespace {
struct BandFixture : ApiFixture {
  int changes = 0;  // calls of ctx.machines_changed
  BandFixture() {
    ctx.machines_changed = [this] { ++changes; };
  }
  http::Response post_fan(const std::string& band) {
    std::string body = R"({"site_id":)" + std::to_string(site) + R"(,"name":"Fan F-1","shaft_rpm":980)";
    if (!band.empty()) body += R"(,"envelope_band_hz":)" + band;
    return call("POST", "/api/v1/assets", admin_token, body + "}");
  }
  json fan_in_fleet() {
    const json fleet = js(call("GET", "/api/v1/fleet", viewer_token));
    for (auto& a : fleet["sites"][0]["assets"])
      if (a["name"] == "Fan F-1") return a;
    return nullptr;
  }
};
}  // namespace

TEST_CASE("an admin sets an asset's envelope band, every asset read shows it and the analytics are told") {
  BandFixture f;
  auto r = f.post_fan("[1500, 3500]");
  REQUIRE(r.status == 201);
  CHECK(ApiFixture::js(r)["envelope_band_hz"] == json::array({1500.0, 3500.0}));
  CHECK(f.changes == 1);
  const auto id = ApiFixture::js(r)["id"].get<Id>();
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/assets/" + std::to_string(id), f.viewer_token))["envelope_band_hz"] ==
        json::array({1500.0, 3500.0}));
  bool listed = false;
  const json assets = ApiFixture::js(f.call("GET", "/api/v1/assets", f.viewer_token));
  for (auto& a : assets)
    if (a["id"] == id) listed = a["envelope_band_hz"] == json::array({1500.0, 3500.0});
  CHECK(listed);
  CHECK(f.fan_in_fleet()["envelope_band_hz"] == json::array({1500.0, 3500.0}));
  auto stored = f.store->asset(id);
  REQUIRE(stored.ok());
  CHECK(stored->envelope_lo_hz == 1500);
  CHECK(stored->envelope_hi_hz == 3500);
}

TEST_CASE("an asset without an envelope band reads null, and null or [0, 0] makes a set band automatic again") {
  BandFixture f;
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/assets/" + std::to_string(f.asset), f.viewer_token))
            .at("envelope_band_hz")
            .is_null());
  for (const char* automatic : {"null", "[0, 0]", ""}) {
    INFO("envelope_band_hz: " << automatic);
    REQUIRE(f.post_fan("[1500, 3500]").status == 201);
    auto r = f.post_fan(automatic);
    REQUIRE(r.status == 201);
    CHECK(ApiFixture::js(r).at("envelope_band_hz").is_null());
    CHECK(f.fan_in_fleet().at("envelope_band_hz").is_null());
  }
}

TEST_CASE("an envelope band outside 100 <= lo < hi <= 50000 Hz is 422 bad_field saying why, and nothing changes") {
  BandFixture f;
  REQUIRE(f.post_fan("[1500, 3500]").status == 201);
  const int before = f.changes;
  for (const char* bad : {"[50, 3500]", "[3500, 1500]", "[2000, 2000]", "[1500, 60000]", "[0, 3500]"}) {
    INFO("envelope_band_hz: " << bad);
    auto r = f.post_fan(bad);
    CHECK(r.status == 422);
    CHECK(ApiFixture::js(r)["code"] == "bad_field");
    CHECK(ApiFixture::js(r)["detail"].get<std::string>().find("100 <= lo < hi <= 50000") != std::string::npos);
  }
  for (const char* malformed : {R"("auto")", "[1500]", "[1500, 3500, 5000]", R"([1500, "3500"])", "{}"}) {
    INFO("envelope_band_hz: " << malformed);
    auto r = f.post_fan(malformed);
    CHECK(r.status == 422);
    CHECK(ApiFixture::js(r)["code"] == "bad_field");
    CHECK(ApiFixture::js(r)["detail"].get<std::string>().find("[lo, hi]") != std::string::npos);
  }
  CHECK(f.changes == before);
  CHECK(f.fan_in_fleet()["envelope_band_hz"] == json::array({1500.0, 3500.0}));
}
