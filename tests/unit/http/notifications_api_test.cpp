// SPDX-License-Identifier: Apache-2.0
// Rules, channels, routes and acknowledge links over the REST routes
// (src/http/api_notify.cpp) against the real RulesEngine and Notifier.
#include <catch2/catch.hpp>

#include "fixture.h"

using vigil::test::ApiFixture;
using nlohmann::json;

namespace {
const char* kJson = "application/json";
vigil::http::Response post(ApiFixture& f, const std::string& target, const std::string& token, const json& body) {
  return f.call("POST", target, token, body.dump(), {{"content-type", kJson}});
}
}  // namespace

TEST_CASE("a malformed rule is refused with a problem naming the field") {
  ApiFixture f;
  auto r = post(f, "/api/v1/rules", f.tech_token,
                {{"name", "x"}, {"conditions", {{{"metric", "velocity_rms_mm_s"}, {"op", "above"}, {"value", 1},
                                                 {"for_s", -3}}}}});
  REQUIRE(r.status == 422);
  CHECK(ApiFixture::js(r)["field"] == "conditions[0].for_s");
  auto unknown = post(f, "/api/v1/rules", f.tech_token,
                      {{"name", "x"}, {"conditions", {{{"metric", "nope_metric"}, {"op", "above"}, {"value", 1}}}}});
  REQUIRE(unknown.status == 422);
  CHECK(ApiFixture::js(unknown)["field"] == "conditions[0].metric");
}

TEST_CASE("viewers read rules and preview them but only technicians write them") {
  ApiFixture f;
  json rule = {{"name", "fast"}, {"conditions", {{{"metric", "velocity_rms_mm_s"}, {"op", "above"}, {"value", 1.2}}}}};
  CHECK(post(f, "/api/v1/rules", f.viewer_token, rule).status == 403);
  CHECK(f.call("GET", "/api/v1/rules", f.viewer_token).status == 200);
  auto created = post(f, "/api/v1/rules", f.tech_token, rule);
  REQUIRE(created.status == 201);
  const auto id = ApiFixture::js(created)["id"].get<long long>();
  CHECK(f.call("DELETE", "/api/v1/rules/" + std::to_string(id), f.viewer_token).status == 403);
  CHECK(f.call("DELETE", "/api/v1/rules/" + std::to_string(id), f.tech_token).status == 204);
  CHECK(f.call("GET", "/api/v1/rules/" + std::to_string(id), f.viewer_token).status == 404);
}

TEST_CASE("a preview counts the fires over stored history and refuses a range over a year") {
  ApiFixture f;
  // The fixture stored 48 readings rising from 1.00 to 1.47 mm/s, ten minutes apart.
  json rule = {{"name", "above 1.3"}, {"conditions", {{{"metric", "velocity_rms_mm_s"}, {"op", "above"}, {"value", 1.3}}}}};
  auto r = post(f, "/api/v1/rules/preview", f.viewer_token,
                {{"rule", rule}, {"from", f.clock.now_ms() - 86'400'000LL}, {"to", f.clock.now_ms()}});
  REQUIRE(r.status == 200);
  auto j = ApiFixture::js(r);
  CHECK(j["fires"] == 1);  // it crosses once and stays above: one firing, no storm
  REQUIRE(j["times"].size() == 1);
  CHECK(j["times"][0]["ts"].get<long long>() > f.clock.now_ms() - 86'400'000LL);
  auto year = post(f, "/api/v1/rules/preview", f.viewer_token,
                   {{"rule", rule}, {"from", 0}, {"to", f.clock.now_ms()}});
  CHECK(year.status == 422);
  auto bad = post(f, "/api/v1/rules/preview", f.viewer_token, {{"rule", {{"name", "x"}}}});
  REQUIRE(bad.status == 422);
  CHECK(ApiFixture::js(bad)["field"].get<std::string>().rfind("rule.", 0) == 0);
}

TEST_CASE("channel secrets and header values never come back, and an update keeps them") {
  ApiFixture f;
  json c = {{"name", "Teams"}, {"type", "webhook"},
            {"webhook", {{"url", "https://hooks.plant.example/x"}, {"secret", "s3cret-value"},
                         {"headers", {{"Authorization", "Bearer abc123"}}}}}};
  CHECK(post(f, "/api/v1/notifications/channels", f.tech_token, c).status == 403);
  auto r = post(f, "/api/v1/notifications/channels", f.admin_token, c);
  REQUIRE(r.status == 201);
  CHECK(r.body.find("s3cret-value") == std::string::npos);
  CHECK(r.body.find("abc123") == std::string::npos);
  const auto id = ApiFixture::js(r)["id"].get<long long>();
  c["name"] = "Teams (ops)";
  c["webhook"].erase("secret");
  auto u = f.call("PUT", "/api/v1/notifications/channels/" + std::to_string(id), f.admin_token, c.dump(),
                  {{"content-type", kJson}});
  REQUIRE(u.status == 200);
  CHECK(ApiFixture::js(u)["webhook"]["secret_set"] == true);
  auto list = f.call("GET", "/api/v1/notifications/channels", f.viewer_token);
  CHECK(list.body.find("s3cret-value") == std::string::npos);
  // A webhook to the gateway itself is refused naming the field.
  json self = {{"name", "loop"}, {"type", "webhook"}, {"webhook", {{"url", "http://127.0.0.1:8443/api/v1/alerts"}}}};
  auto loop = post(f, "/api/v1/notifications/channels", f.admin_token, self);
  REQUIRE(loop.status == 422);
  CHECK(ApiFixture::js(loop)["field"].get<std::string>().rfind("webhook.url", 0) == 0);
}

TEST_CASE("an acknowledge link shows the alert on GET and acknowledges once on POST") {
  ApiFixture f;
  vigil::alerts::ExternalAlert e;
  e.source = "rule:1";
  e.kind = "rule";
  e.model = "rule";
  e.severity = "alarm";
  e.title = "Freezer too warm on Truck 7";
  auto id = f.alerts->raise(e);
  REQUIRE(id.ok());
  const std::string link = f.notifier->ack_link(*id, "ops@plant.example");
  const std::string path = link.substr(link.find("/ack/"));
  auto page = f.call("GET", path);
  REQUIRE(page.status == 200);
  CHECK(page.body.find("<form method=\"post\">") != std::string::npos);
  CHECK(page.body.find("Freezer too warm") != std::string::npos);
  CHECK(f.alerts->get(*id)->status == "open");  // a prefetching scanner acknowledges nothing
  auto ack = f.call("POST", path);
  REQUIRE(ack.status == 200);
  CHECK(f.alerts->get(*id)->status == "acknowledged");
  auto evs = f.alerts->events_of(*id);
  REQUIRE(evs->size() == 2);
  CHECK((*evs)[1].actor == "link:ops@plant.example");
  // Used: the page says so; the alert stays as it is.
  auto again = f.call("POST", path);
  CHECK((again.status == 410 || again.status == 200));
  CHECK(f.alerts->events_of(*id)->size() == 2);
  // Tampered: refused.
  std::string bad = path;
  bad[bad.size() - 2] = bad[bad.size() - 2] == 'A' ? 'B' : 'A';
  CHECK(f.call("POST", bad).status == 404);
  CHECK(f.call("GET", "/ack/not-a-token").status == 404);
}
