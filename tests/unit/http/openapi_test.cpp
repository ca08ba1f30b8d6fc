// SPDX-License-Identifier: Apache-2.0
// Keeps /api/v1/openapi.json true: every route of the real Router is
// documented, every documented operation is served, and real responses
// match their documented schemas (a small checker for the subset of JSON
// Schema the document uses: type, nullable, properties, additionalProperties,
// required, items, enum, $ref).
#include <catch2/catch.hpp>

#include <set>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_schema(const json& doc, const json& schema, const json& v, const std::string& where,
                  std::vector<std::string>& errors) {
  if (schema.contains("$ref")) {
    std::string name = schema["$ref"].get<std::string>().substr(std::string("#/components/schemas/").size());
    return check_schema(doc, doc["components"]["schemas"].at(name), v, where, errors);
  }
  if (v.is_null()) {
    if (!schema.value("nullable", false)) errors.push_back(where + ": null but not nullable");
    return;
  }
  std::string type = schema.value("type", "");
  bool ok = type.empty() || (type == "object" && v.is_object()) || (type == "array" && v.is_array()) ||
            (type == "string" && v.is_string()) || (type == "integer" && v.is_number_integer()) ||
            (type == "number" && v.is_number()) || (type == "boolean" && v.is_boolean());
  if (!ok) {
    errors.push_back(where + ": expected " + type + ", got " + v.type_name());
    return;
  }
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), v) == schema["enum"].end())
    errors.push_back(where + ": " + v.dump() + " not in enum");
  if (v.is_object()) {
    for (auto& r : schema.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) errors.push_back(where + ": missing required '" + r.get<std::string>() + "'");
    if (schema.contains("properties"))
      for (auto& [k, sub] : schema["properties"].items())
        if (v.contains(k)) check_schema(doc, sub, v[k], where + "." + k, errors);
    if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object())
      for (auto& [k, sub] : v.items())
        if (!schema.value("properties", json::object()).contains(k))
          check_schema(doc, schema["additionalProperties"], sub, where + "." + k, errors);
  }
  if (v.is_array() && schema.contains("items"))
    for (std::size_t i = 0; i < v.size(); ++i)
      check_schema(doc, schema["items"], v[i], where + "[" + std::to_string(i) + "]", errors);
}

}  // namespace

TEST_CASE("every route of the router is documented in the OpenAPI document and vice versa") {
  ApiFixture f;
  const json& doc = vigil::http::openapi_document();
  std::set<std::pair<std::string, std::string>> routes, documented;
  for (const auto& r : f.router.routes()) routes.insert({lower(r.method), r.pattern});
  // Operations another module registers (x-vigil-module) are checked where
  // that module runs (tests/integration/test_ble.py for "ble").
  for (auto& [path, ops] : doc["paths"].items())
    for (auto& [method, op] : ops.items())
      if (!op.contains("x-vigil-module")) documented.insert({method, path});
  for (const auto& r : routes) {
    INFO(r.first << " " << r.second);
    CHECK(documented.count(r) == 1);
  }
  for (const auto& d : documented) {
    INFO(d.first << " " << d.second);
    CHECK(routes.count(d) == 1);
  }
  CHECK(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);
}

TEST_CASE("the OpenAPI document is served at /api/v1/openapi.json without authentication") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/openapi.json");
  CHECK(r.status == 200);
  CHECK(ApiFixture::js(r) == vigil::http::openapi_document());
}

TEST_CASE("real responses of every documented JSON GET match their schemas") {
  ApiFixture f;
  auto alert = f.add_alert();
  const json& doc = vigil::http::openapi_document();
  int checked = 0;
  for (auto& [path, ops] : doc["paths"].items()) {
    if (!ops.contains("get")) continue;
    const json& op = ops["get"];
    auto& ok = op["responses"]["200"]["content"];
    if (!ok.contains("application/json") || path == "/api/v1/events") continue;
    if (op.contains("x-vigil-module")) continue;  // not registered here; see the module's own test
    // A command exists only where a plant sent one (api_plant_test.cpp).
    if (path == "/api/v1/plant/commands/{id}") continue;
    std::string target = path;
    auto pos = target.find("{id}");
    if (pos != std::string::npos) {
      vigil::Id id = path.find("/alerts/") != std::string::npos   ? alert
              : path.find("/rules/") != std::string::npos ? f.rule
              : path.find("/channels/") != std::string::npos ? f.channel
              : path.find("/series/") != std::string::npos ? f.series
              : path.find("/assets/") != std::string::npos ? f.asset
                                                          : f.position;
      target.replace(pos, 4, std::to_string(id));
    }
    if (path.find("closeout-preview") != std::string::npos) target += "?action_taken=LUBRICATE";  // required
    auto r = f.call("GET", target, f.admin_token);
    INFO("GET " << target << " → " << r.status << " " << r.body.substr(0, 300));
    REQUIRE(r.status == 200);
    std::vector<std::string> errors;
    check_schema(doc, ok["application/json"]["schema"], json::parse(r.body), path, errors);
    for (auto& e : errors) FAIL_CHECK(e);
    ++checked;
  }
  CHECK(checked >= 20);
}

TEST_CASE("error responses match the Problem schema") {
  ApiFixture f;
  const json& doc = vigil::http::openapi_document();
  for (auto target : {"/api/v1/alerts", "/api/v1/nope", "/api/v1/series/abc"}) {
    auto r = f.call("GET", target, std::string(target) == "/api/v1/alerts" ? "" : f.admin_token);
    CHECK(r.status >= 400);
    CHECK(r.content_type == "application/problem+json");
    std::vector<std::string> errors;
    check_schema(doc, json{{"$ref", "#/components/schemas/Problem"}}, json::parse(r.body), target, errors);
    CHECK(errors.empty());
  }
}

TEST_CASE("write operations return what the document promises") {
  ApiFixture f;
  const json& doc = vigil::http::openapi_document();
  auto r = f.call("POST", "/api/v1/tokens", f.admin_token, R"({"name":"ci","role":"viewer"})");
  REQUIRE(r.status == 201);
  std::vector<std::string> errors;
  check_schema(doc, doc["paths"]["/api/v1/tokens"]["post"]["responses"]["201"]["content"]["application/json"]["schema"],
               json::parse(r.body), "POST /tokens", errors);
  CHECK(errors.empty());
  auto a = f.call("POST", "/api/v1/alerts/" + std::to_string(f.add_alert()) + "/mute", f.admin_token, "{}");
  REQUIRE(a.status == 200);
  check_schema(doc, json{{"$ref", "#/components/schemas/Alert"}}, json::parse(a.body), "mute", errors);
  CHECK(errors.empty());
  auto fan = f.call("POST", "/api/v1/assets", f.admin_token,
                    R"({"site_id":)" + std::to_string(f.site) + R"(,"name":"Fan","envelope_band_hz":[1500,3500]})");
  REQUIRE(fan.status == 201);
  auto got = f.call("GET", "/api/v1/assets/" + json::parse(fan.body)["id"].dump(), f.admin_token);
  check_schema(doc, json{{"$ref", "#/components/schemas/Asset"}}, json::parse(got.body), "asset with a band", errors);
  CHECK(errors.empty());
}
