// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/plant: with and without a plant, viewer role, and the fleet
// document the plant state is built from.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

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
  auto want = snap;
  want["commands"] = false;  // no plant.command_key_file
  CHECK(json::parse(r.body) == want);
}

namespace {
// A router with the plant routes and a recording send_command; `answer`
// is what the owner says when the test calls the recorded `then`.
struct CommandRig {
  ApiFixture f;
  vigil::http::Router router;
  struct Sent {
    std::string to, method, path, actor;
    json body;
    vigil::http::PlantApi::Then then;
  };
  std::vector<Sent> sent;
  vigil::Status send_status = vigil::Status::Ok();
  CommandRig() {
    vigil::http::PlantApi pa{[] { return json{{"plant_id", "p1"}, {"gateways", json::array()}}; }, "gw-test", "t", "u"};
    pa.send_command = [this](const std::string& to, const std::string& method, const std::string& path,
                             const json& body, const std::string& actor,
                             vigil::http::PlantApi::Then then) -> vigil::Result<std::string> {
      if (!send_status.ok()) return send_status;
      sent.push_back({to, method, path, actor, body, std::move(then)});
      return "gw-test-1-" + std::to_string(sent.size());
    };
    pa.commands = [] { return json::array(); };
    pa.command = [](const std::string& id) -> std::optional<json> { return json{{"id", id}, {"state", "pending"}}; };
    vigil::http::register_plant_api(router, f.ctx, std::move(pa));
  }
  vigil::http::Response call(const std::string& method, const std::string& path, const json& body,
                             const std::string& token) {
    vigil::http::Request req;
    req.method = method;
    req.path = path;
    req.body = body.is_null() ? "" : body.dump();
    req.headers["content-type"] = "application/json";
    req.headers["authorization"] = "Bearer " + token;
    req.remote = "10.1.2.3";
    return router.dispatch(req);
  }
};
}  // namespace

TEST_CASE("POST /api/v1/plant/commands sends the call to the named gateway as the admin, and 202s") {
  CommandRig rig;
  auto r = rig.call("POST", "/api/v1/plant/commands",
                    {{"gateway", "gw-b"}, {"path", "/api/v1/sensors"}, {"body", {{"address", "A4:C1:38:00:00:01"}}}},
                    rig.f.admin_token);
  REQUIRE(r.status == 202);
  CHECK(json::parse(r.body)["state"] == "pending");
  REQUIRE(rig.sent.size() == 1);
  CHECK(rig.sent[0].to == "gw-b");
  CHECK(rig.sent[0].method == "POST");
  CHECK(rig.sent[0].body["address"] == "A4:C1:38:00:00:01");
  CHECK(rig.call("POST", "/api/v1/plant/commands", {{"gateway", "gw-b"}, {"path", "/x"}}, rig.f.viewer_token).status == 403);
  CHECK(rig.call("POST", "/api/v1/plant/commands", {{"gateway", "gw-b"}}, rig.f.admin_token).status == 422);
  CHECK(rig.call("POST", "/api/v1/plant/commands", {{"gateway", "gw-b"}, {"path", "/a"}, {"x", 1}}, rig.f.admin_token).status == 422);
  rig.send_status = vigil::Status::Unavailable("uplink: not connected");
  CHECK(rig.call("POST", "/api/v1/plant/commands", {{"gateway", "gw-b"}, {"path", "/api/v1/sensors"}}, rig.f.admin_token).status == 503);
}

TEST_CASE("re-assigning a sensor sends its key to the other gateway and decommissions it only after success") {
  CommandRig rig;
  auto& store = *rig.f.store;
  vigil::Sensor s;
  s.address = "A4:C1:38:00:00:07";
  s.format = "bthome";
  const std::vector<std::uint8_t> key(16, 0xab);
  auto id = store.commission_sensor(s, key);
  REQUIRE(id.ok());
  const std::string path = "/api/v1/sensors/" + std::to_string(*id) + "/reassign";
  auto r = rig.call("POST", path, {{"gateway", "gw-b"}, {"position_id", 12}}, rig.f.admin_token);
  REQUIRE(r.status == 202);
  REQUIRE(rig.sent.size() == 1);
  CHECK(rig.sent[0].path == "/api/v1/sensors");
  CHECK(rig.sent[0].body["address"] == "A4:C1:38:00:00:07");
  CHECK(rig.sent[0].body["key"] == "abababababababababababababababab");
  CHECK(rig.sent[0].body["position_id"] == 12);
  // The other gateway refused: the sensor stays here.
  rig.sent[0].then(422, {{"detail", "no such position"}});
  CHECK_FALSE(store.sensor(*id)->decommissioned_at.has_value());
  // Again, and this time it is commissioned there: decommissioned here.
  REQUIRE(rig.call("POST", path, {{"gateway", "gw-b"}, {"position_id", 12}}, rig.f.admin_token).status == 202);
  rig.sent[1].then(201, {{"id", 3}});
  CHECK(store.sensor(*id)->decommissioned_at.has_value());
  // A decommissioned sensor cannot be re-assigned; this gateway is not "another".
  CHECK(rig.call("POST", path, {{"gateway", "gw-b"}}, rig.f.admin_token).status == 409);
  CHECK(rig.call("POST", "/api/v1/sensors/999999/reassign", {{"gateway", "gw-b"}}, rig.f.admin_token).status == 404);
  CHECK(rig.call("POST", path, {{"gateway", "gw-test"}}, rig.f.admin_token).status == 422);
}

TEST_CASE("without a command key the command routes say so") {
  ApiFixture f;
  auto r = f.call("POST", "/api/v1/plant/commands", f.admin_token, R"({"gateway":"gw-b","path":"/api/v1/sensors"})");
  CHECK(r.status == 409);
  CHECK(r.body.find("plant_commands_off") != std::string::npos);
  auto l = f.call("GET", "/api/v1/plant/commands", f.admin_token);
  REQUIRE(l.status == 200);
  CHECK(json::parse(l.body)["enabled"] == false);
}

TEST_CASE("the fleet document for the plant state lists assets with their states") {
  ApiFixture f;
  auto fleet = vigil::http::fleet_document(f.ctx);
  REQUIRE(fleet.ok());
  REQUIRE((*fleet)["sites"].is_array());
  CHECK((*fleet).contains("open_alerts"));
}
