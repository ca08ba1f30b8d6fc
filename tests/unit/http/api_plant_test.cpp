// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/plant: with and without a plant, viewer role, and the fleet
// document the plant state is built from.
#include <catch2/catch.hpp>

#include "fixture.h"
#include "http/api_plant.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

TEST_CASE("GET /api/v1/plant without a plant lists this gateway alone") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/plant", f.viewer_token);
  REQUIRE(r.status == 200);
  auto j = json::parse(r.body);
  CHECK(j["plant_id"].is_null());
  REQUIRE(j["gateways"].size() == 1);
  CHECK(j["gateways"][0]["id"] == "gw-test");
  CHECK(j["gateways"][0]["online"] == true);
  CHECK(j["gateways"][0]["self"] == true);
}

TEST_CASE("GET /api/v1/plant answers the plant view's snapshot, to viewers only") {
  ApiFixture f;
  vigil::http::Router router;
  json snap = {{"plant_id", "p1"},
               {"gateway_id", "gw-test"},
               {"gateways", json::array({{{"id", "gw-test"}, {"online", true}, {"assets", json::array()}},
                                         {{"id", "gw-b"}, {"online", false}, {"assets", json::array()}}})}};
  vigil::http::register_plant_api(router, f.ctx, {[snap] { return snap; }, "gw-test", "t", "u"});
  vigil::http::Request req;
  req.method = "GET";
  req.path = "/api/v1/plant";
  req.remote = "10.1.2.3";
  auto anon = router.dispatch(req);
  CHECK(anon.status == 401);
  req.headers["authorization"] = "Bearer " + f.viewer_token;
  auto r = router.dispatch(req);
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body) == snap);
}

TEST_CASE("the fleet document for the plant state lists assets with their states") {
  ApiFixture f;
  auto fleet = vigil::http::fleet_document(f.ctx);
  REQUIRE(fleet.ok());
  REQUIRE((*fleet)["sites"].is_array());
  CHECK((*fleet).contains("open_alerts"));
}
