// SPDX-License-Identifier: Apache-2.0
// The machine-class routes and the asset class check, with the real
// registry (analytics::MachineClasses over the fixture's store) wired into
// the API context the way the gateway wires it.
#include <catch2/catch.hpp>

#include "analytics/machine_classes.h"
#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;
using namespace vigil;

namespace {
struct ClassesFixture : ApiFixture {
  analytics::ZoneTable zones;
  analytics::MachineClasses classes{*store, zones};
  int changes = 0;  // calls of ctx.machines_changed

  ClassesFixture() {
    REQUIRE(classes.load({{"plant_fan", {1.0, 2.5, 5.0}}}).ok());
    ctx.machine_classes = [this] { return classes.list(); };
    ctx.put_machine_class = [this](const std::string& n, const ZoneLimits& l) { return classes.put(n, l); };
    ctx.delete_machine_class = [this](const std::string& n) { return classes.remove(n); };
    ctx.machines_changed = [this] { ++changes; };
  }
  json find(const std::string& name) {
    for (auto& c : js(call("GET", "/api/v1/machine-classes", viewer_token)))
      if (c["name"] == name) return c;
    return nullptr;
  }
  http::Response put(const std::string& name, const std::string& body, const std::string& token = "") {
    return call("PUT", "/api/v1/machine-classes/" + name, token.empty() ? admin_token : token, body);
  }
};
}  // namespace

TEST_CASE("viewers list every machine class with its limits and source") {
  ClassesFixture f;
  auto r = f.call("GET", "/api/v1/machine-classes", f.viewer_token);
  REQUIRE(r.status == 200);
  auto list = ApiFixture::js(r);
  CHECK(list.size() == 9);  // 8 built-in + 1 configured
  auto c2 = f.find("iso10816_class2");
  CHECK(c2["ab"] == 1.12);
  CHECK(c2["bc"] == 2.8);
  CHECK(c2["cd"] == 7.1);
  CHECK(c2["source"] == "builtin");
  CHECK(c2["overrides"].is_null());
  CHECK(f.find("plant_fan")["source"] == "config");
  CHECK(f.call("GET", "/api/v1/machine-classes").status == 401);
}

TEST_CASE("an admin creates a class with PUT, replaces it, and both are audited") {
  ClassesFixture f;
  auto r = f.put("pump_l7", R"({"ab": 2, "bc": 4, "cd": 8})");
  REQUIRE(r.status == 201);
  CHECK(ApiFixture::js(r) == json{{"name", "pump_l7"}, {"ab", 2}, {"bc", 4}, {"cd", 8}, {"source", "user"},
                                  {"overrides", nullptr}});
  r = f.put("pump_l7", R"({"ab": 2, "bc": 4.5, "cd": 9})");
  CHECK(r.status == 200);
  CHECK(f.find("pump_l7")["cd"] == 9);
  CHECK(f.changes == 2);
  auto audit = ApiFixture::js(f.call("GET", "/api/v1/audit", f.admin_token));
  CHECK(audit[0]["action"] == "machine_class.put");
  CHECK(audit[0]["target"] == "pump_l7");
  CHECK(audit[0]["actor"] == "token:a");
}

TEST_CASE("a PUT over a built-in or configured class overrides it") {
  ClassesFixture f;
  auto r = f.put("iso10816_class2", R"({"ab": 1.0, "bc": 2.0, "cd": 5.0})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["source"] == "user");
  CHECK(ApiFixture::js(r)["overrides"] == "builtin");
  CHECK(f.put("plant_fan", R"({"ab": 1.1, "bc": 2.6, "cd": 5.1})").status == 200);
  CHECK(f.find("plant_fan")["overrides"] == "config");
}

TEST_CASE("a PUT with bad limits or a bad name is refused with 422 and says why") {
  ClassesFixture f;
  auto down = f.put("fan", R"({"ab": 3, "bc": 2, "cd": 1})");
  CHECK(down.status == 422);
  CHECK(ApiFixture::js(down)["code"] == "bad_field");
  CHECK(ApiFixture::js(down)["detail"].get<std::string>().find("0 < ab < bc < cd") != std::string::npos);
  auto big = f.put("fan", R"({"ab": 1, "bc": 2, "cd": 1001})");
  CHECK(big.status == 422);
  CHECK(ApiFixture::js(big)["detail"].get<std::string>().find("at most 1000 mm/s") != std::string::npos);
  auto name = f.put("fan%20line", R"({"ab": 1, "bc": 2, "cd": 3})");
  CHECK(name.status == 422);
  CHECK(ApiFixture::js(name)["detail"].get<std::string>().find("A-Z a-z 0-9 . _ -") != std::string::npos);
  CHECK(f.put(std::string(65, 'x'), R"({"ab": 1, "bc": 2, "cd": 3})").status == 422);
  auto missing = f.put("fan", R"({"ab": 1, "bc": 2})");
  CHECK(missing.status == 422);
  CHECK(ApiFixture::js(missing)["code"] == "missing_field");
  CHECK(f.put("fan", R"({"ab": 1, "bc": "2", "cd": 3})").status == 422);
  CHECK(f.put("fan", "[1, 2, 3]").status == 400);
  CHECK(f.find("fan").is_null());
  CHECK(f.changes == 0);
}

TEST_CASE("only admins change machine classes") {
  ClassesFixture f;
  for (const auto& token : {f.viewer_token, f.tech_token}) {
    CHECK(f.put("fan", R"({"ab": 1, "bc": 2, "cd": 3})", token).status == 403);
    CHECK(f.call("DELETE", "/api/v1/machine-classes/plant_fan", token).status == 403);
  }
  CHECK(f.call("PUT", "/api/v1/machine-classes/fan", "", R"({"ab": 1, "bc": 2, "cd": 3})").status == 401);
  CHECK(f.call("DELETE", "/api/v1/machine-classes/fan").status == 401);
}

TEST_CASE("deleting a user class restores the class it overrode") {
  ClassesFixture f;
  REQUIRE(f.put("iso10816_class2", R"({"ab": 1.0, "bc": 2.0, "cd": 5.0})").status == 200);
  auto r = f.call("DELETE", "/api/v1/machine-classes/iso10816_class2", f.admin_token);
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["deleted"] == "iso10816_class2");
  CHECK(ApiFixture::js(r)["restored"]["source"] == "builtin");
  CHECK(ApiFixture::js(r)["restored"]["ab"] == 1.12);
  CHECK(f.changes == 2);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/audit", f.admin_token))[0]["action"] == "machine_class.delete");

  REQUIRE(f.put("pump_l7", R"({"ab": 2, "bc": 4, "cd": 8})").status == 201);
  r = f.call("DELETE", "/api/v1/machine-classes/pump_l7", f.admin_token);
  CHECK(r.status == 200);
  CHECK(ApiFixture::js(r)["restored"].is_null());
  CHECK(f.find("pump_l7").is_null());
}

TEST_CASE("deleting an unknown class is 404, a built-in or configured one 409 class_read_only") {
  ClassesFixture f;
  auto unknown = f.call("DELETE", "/api/v1/machine-classes/no_such_class", f.admin_token);
  CHECK(unknown.status == 404);
  CHECK(ApiFixture::js(unknown)["code"] == "not_found");
  for (auto name : {"iso10816_class1", "plant_fan"}) {
    auto r = f.call("DELETE", std::string("/api/v1/machine-classes/") + name, f.admin_token);
    CHECK(r.status == 409);
    CHECK(ApiFixture::js(r)["code"] == "class_read_only");
  }
  CHECK(f.changes == 0);
}

TEST_CASE("a class an asset still uses is not deleted, and the 409 names the asset") {
  ClassesFixture f;
  REQUIRE(f.put("pump_l7", R"({"ab": 2, "bc": 4, "cd": 8})").status == 201);
  auto a = f.call("POST", "/api/v1/assets", f.admin_token,
                  json{{"site_id", f.site}, {"name", "Cooling pump"}, {"machine_class", "pump_l7"}}.dump());
  REQUIRE(a.status == 201);
  auto r = f.call("DELETE", "/api/v1/machine-classes/pump_l7", f.admin_token);
  CHECK(r.status == 409);
  CHECK(ApiFixture::js(r)["code"] == "class_in_use");
  CHECK(ApiFixture::js(r)["detail"].get<std::string>().find("'Cooling pump'") != std::string::npos);
  CHECK(f.find("pump_l7")["source"] == "user");
}

TEST_CASE("an asset naming an unknown machine class is refused with the known classes") {
  ClassesFixture f;
  auto r = f.call("POST", "/api/v1/assets", f.admin_token,
                  json{{"site_id", f.site}, {"name", "Fan"}, {"machine_class", "fan_l9"}}.dump());
  CHECK(r.status == 422);
  CHECK(ApiFixture::js(r)["code"] == "bad_field");
  auto detail = ApiFixture::js(r)["detail"].get<std::string>();
  CHECK(detail.find("machine_class 'fan_l9' is unknown") != std::string::npos);
  CHECK(detail.find("iso10816_class2") != std::string::npos);
  CHECK(detail.find("plant_fan") != std::string::npos);
  CHECK(f.changes == 0);

  REQUIRE(f.put("fan_l9", R"({"ab": 1, "bc": 2, "cd": 3})").status == 201);
  CHECK(f.call("POST", "/api/v1/assets", f.admin_token,
               json{{"site_id", f.site}, {"name", "Fan"}, {"machine_class", "fan_l9"}}.dump())
            .status == 201);
  CHECK(f.changes == 2);  // the class, then the asset: the analytics reload both
}

TEST_CASE("without the registry the routes answer 503 and assets are not checked") {
  ApiFixture f;
  f.ctx.machine_classes = nullptr;
  CHECK(f.call("GET", "/api/v1/machine-classes", f.viewer_token).status == 503);
  CHECK(f.call("PUT", "/api/v1/machine-classes/fan", f.admin_token, R"({"ab": 1, "bc": 2, "cd": 3})").status == 503);
  CHECK(f.call("POST", "/api/v1/assets", f.admin_token,
               json{{"site_id", f.site}, {"name", "Fan"}, {"machine_class", "anything"}}.dump())
            .status == 201);
}
