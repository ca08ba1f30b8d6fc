// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

TEST_CASE("health answers without authentication") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/health");
  CHECK(r.status == 200);
  CHECK(ApiFixture::js(r)["status"] == "ok");
}

TEST_CASE("sensors and alerts need a bearer token and answer 401 problem+json without one") {
  ApiFixture f;
  for (auto path : {"/api/v1/sensors", "/api/v1/alerts"}) {
    auto r = f.call("GET", path);
    CHECK(r.status == 401);
    CHECK(r.content_type == "application/problem+json");
    CHECK(ApiFixture::js(r)["code"] == "unauthenticated");
    CHECK(f.call("GET", path, f.viewer_token).status == 200);
    CHECK(f.call("GET", path, "vgl_" + std::string(64, '0')).status == 401);
  }
  auto s = ApiFixture::js(f.call("GET", "/api/v1/sensors", f.viewer_token));
  REQUIRE(s.size() == 1);
  CHECK(s[0]["address"] == "AA:BB:CC:DD:EE:01");
  CHECK(s[0]["latest"]["velocity_rms_mm_s"].get<double>() == Approx(1.47));
  CHECK(s[0]["last_seen"].is_string());
}

TEST_CASE("roles are enforced: viewers read, technicians act on alerts, admins administer") {
  ApiFixture f;
  auto id = f.add_alert();
  auto path = "/api/v1/alerts/" + std::to_string(id) + "/acknowledge";
  CHECK(f.call("POST", path, f.viewer_token, "{}").status == 403);
  CHECK(f.call("POST", path, f.tech_token, "{}").status == 200);
  CHECK(f.call("POST", "/api/v1/sites", f.tech_token, R"({"name":"Other"})").status == 403);
  CHECK(f.call("POST", "/api/v1/sites", f.admin_token, R"({"name":"Other"})").status == 201);
  CHECK(f.call("GET", "/api/v1/users", f.tech_token).status == 403);
  CHECK(f.call("GET", "/api/v1/users", f.admin_token).status == 200);
}

TEST_CASE("the series endpoint downsamples to the requested number of buckets and exports CSV") {
  ApiFixture f;
  const auto now = f.clock.now_ms();
  auto target = "/api/v1/series/" + std::to_string(f.series) + "?from=" + std::to_string(now - 86400000) +
                "&to=" + std::to_string(now) + "&points=10";
  auto j = ApiFixture::js(f.call("GET", target, f.viewer_token));
  CHECK(j["ts"].size() <= 10);
  CHECK(j["ts"].size() >= 3);  // 8 h of data in 2.4 h buckets
  std::int64_t total = 0;
  for (auto& c : j["count"]) total += c.get<std::int64_t>();
  CHECK(total == 48);
  auto csv = f.call("GET", target + "&format=csv", f.viewer_token);
  CHECK(csv.status == 200);
  CHECK(csv.content_type.rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("timestamp,count,min,max,mean\r\n", 0) == 0);
  auto raw = f.call("GET", target + "&format=csv&raw=1", f.viewer_token);
  CHECK(std::count(raw.body.begin(), raw.body.end(), '\n') == 49);
  CHECK(f.call("GET", "/api/v1/series/x", f.viewer_token).status == 400);
  CHECK(f.call("GET", target + "&points=0", f.viewer_token).status == 400);
}

TEST_CASE("the fleet overview rolls positions up into assets with open alert counts") {
  ApiFixture f;
  f.add_alert();
  f.add_alert("closed");
  auto j = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.viewer_token));
  REQUIRE(j["sites"].size() == 1);
  auto& a = j["sites"][0]["assets"][0];
  CHECK(a["name"] == "Pump P-1");
  CHECK(a["open_alerts"] == 1);
  CHECK(a["positions"][0]["latest"].contains("velocity_rms_mm_s"));
  CHECK(j["open_alerts"] == 1);
}

TEST_CASE("the fleet overview shows a change at once although it is cached") {
  ApiFixture f;
  auto before = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.viewer_token));
  CHECK(before["open_alerts"] == 0);
  f.add_alert();
  vigil::Asset a;
  a.site_id = f.site;
  a.name = "Fan F-9";
  REQUIRE(f.store->upsert_asset(a).ok());
  auto after = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.viewer_token));
  CHECK(after["open_alerts"] == 1);
  CHECK(after["sites"][0]["assets"].size() == 2);
  // A new reading moves the position's latest value.
  std::vector<vigil::Reading> rs{{"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", f.clock.now_ms(), 7.5}};
  f.ingest->submit(rs);
  REQUIRE(f.store->flush().ok());
  auto fresh = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.viewer_token));
  CHECK(fresh["sites"][0]["assets"][0]["positions"][0]["latest"]["velocity_rms_mm_s"]["value"] == 7.5);
}

TEST_CASE("closing an alert needs valid Monitron codes and records who closed it") {
  ApiFixture f;
  auto id = std::to_string(f.add_alert());
  auto bad = f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token,
                    R"({"failure_mode":"BROKEN","failure_cause":"WEAR","action_taken":"REPLACE"})");
  CHECK(bad.status == 422);
  CHECK(ApiFixture::js(bad)["code"] == "bad_code");
  auto ok = f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token,
                   R"({"failure_mode":"LUBRICATION","failure_cause":"MAINTENANCE","action_taken":"LUBRICATE",
                       "feedback":"confirmed","notes":"greased","models":["vibrationML"]})");
  REQUIRE(ok.status == 200);
  auto j = ApiFixture::js(ok);
  CHECK(j["status"] == "closed");
  CHECK(j["failure_mode"] == "LUBRICATION");
  CHECK(j["closed_by"] == "token:t");
  CHECK(j["notes"]["text"] == "greased");
  CHECK(f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token,
               R"({"failure_mode":"NO_ISSUE","failure_cause":"OTHER","action_taken":"NO_ACTION"})").status == 409);
  auto csv = f.call("GET", "/api/v1/alerts?format=csv&status=closed", f.viewer_token);
  CHECK(csv.body.find("LUBRICATION") != std::string::npos);
}

TEST_CASE("bad JSON is a 400 problem, a wrong content type a 415") {
  ApiFixture f;
  auto r = f.call("POST", "/api/v1/sites", f.admin_token, "{not json");
  CHECK(r.status == 400);
  CHECK(ApiFixture::js(r)["code"] == "bad_json");
  auto t = f.call("POST", "/api/v1/sites", f.admin_token, "name=x", {{"content-type", "application/x-www-form-urlencoded"}});
  CHECK(t.status == 415);
}

TEST_CASE("first-start setup signs the admin in with HttpOnly SameSite cookies, and CSRF guards unsafe methods") {
  ApiFixture f;
  auto s = ApiFixture::js(f.call("GET", "/api/v1/auth/session"));
  CHECK(s["setup_required"] == true);
  // The one-time setup code (the gateway logs it at start) is required.
  CHECK(f.call("POST", "/api/v1/auth/setup", "", R"({"name":"admin","password":"s3cret-pass"})").status == 403);
  const std::string code = f.auth->setup_code()->value();
  auto r = f.call("POST", "/api/v1/auth/setup", "",
                  R"({"name":"admin","password":"s3cret-pass","setup_code":")" + code + R"("})");
  REQUIRE(r.status == 201);
  std::string session, csrf;
  for (auto& [k, v] : r.headers) {
    if (k != "Set-Cookie") continue;
    if (v.rfind("vigil_session=", 0) == 0) {
      session = v.substr(14, 64);
      CHECK(v.find("HttpOnly") != std::string::npos);
      CHECK(v.find("SameSite=Strict") != std::string::npos);
    }
    if (v.rfind("vigil_csrf=", 0) == 0) csrf = v.substr(11, 64);
  }
  REQUIRE(session.size() == 64);
  CHECK(csrf == ApiFixture::js(r)["csrf"]);
  const std::string cookie = "vigil_session=" + session + "; vigil_csrf=" + csrf;
  CHECK(f.call("GET", "/api/v1/users", "", "", {{"cookie", cookie}}).status == 200);
  auto no_csrf = f.call("POST", "/api/v1/sites", "", R"({"name":"X"})", {{"cookie", cookie}, {"content-type", "application/json"}});
  CHECK(no_csrf.status == 403);
  CHECK(ApiFixture::js(no_csrf)["code"] == "csrf");
  CHECK(f.call("POST", "/api/v1/sites", "", R"({"name":"X"})",
               {{"cookie", cookie}, {"content-type", "application/json"}, {"x-csrf-token", csrf}}).status == 201);
  CHECK(f.call("POST", "/api/v1/auth/setup", "",
               R"({"name":"evil","password":"s3cret-pass","setup_code":")" + code + R"("})").status == 409);
}

TEST_CASE("login is rate-limited with 429 and Retry-After") {
  ApiFixture f;
  REQUIRE(f.auth->add_user("eve", vigil::auth::Role::kViewer, "password1", "test"));
  // Three failures are free, then the address backs off for this account
  // (and the per-address burst of five would stop it soon after anyway).
  for (int i = 0; i < 3; ++i)
    CHECK(f.call("POST", "/api/v1/auth/login", "", R"({"name":"eve","password":"nope-nope"})").status == 401);
  vigil::http::Response r;
  for (int i = 0; i < 10 && r.status != 429; ++i)
    r = f.call("POST", "/api/v1/auth/login", "", R"({"name":"eve","password":"password1"})");
  CHECK(r.status == 429);
  bool retry = false;
  for (auto& [k, v] : r.headers) retry = retry || k == "Retry-After";
  CHECK(retry);
}

TEST_CASE("commissioning a sensor normalises its address and never returns the key") {
  ApiFixture f;
  auto r = f.call("POST", "/api/v1/sensors", f.admin_token,
                  R"({"address":"a4c1385a1b2c","key":"00112233445566778899aabbccddeeff","position_id":)" +
                      std::to_string(f.position) + "}");
  REQUIRE(r.status == 201);
  auto j = ApiFixture::js(r);
  CHECK(j["address"] == "A4:C1:38:5A:1B:2C");
  CHECK(j["has_key"] == true);
  CHECK(r.body.find("00112233") == std::string::npos);
  CHECK(f.call("POST", "/api/v1/sensors", f.admin_token, R"({"address":"nope"})").status == 422);
}

TEST_CASE("readings are published to live clients as one event per measurement") {
  ApiFixture f;
  struct Sink : vigil::http::StreamSink {
    std::vector<std::string> got;
    bool send(std::string b) override {
      got.push_back(std::move(b));
      return true;
    }
    bool open() const override { return true; }
  };
  auto sink = std::make_shared<Sink>();
  auto r = f.call("GET", "/api/v1/events", f.viewer_token);
  REQUIRE(r.is_stream);
  CHECK(r.content_type.rfind("text/event-stream", 0) == 0);
  r.on_stream(sink);
  f.ingest->on_readings([&](std::span<const vigil::AcceptedReading> rs) { vigil::http::publish_readings(f.events, rs); });
  std::vector<vigil::Reading> rs = {{"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", f.clock.now_ms() + 1000, 2.5},
                                    {"AA:BB:CC:DD:EE:01", "temperature_c", f.clock.now_ms() + 1000, 41}};
  f.ingest->submit(rs);
  REQUIRE(sink->got.size() == 2);  // the "connected" comment + one event
  CHECK(sink->got[1].find("event: reading\n") != std::string::npos);
  CHECK(sink->got[1].find("\"temperature_c\":41") != std::string::npos);
}

TEST_CASE("a slow live client is dropped instead of buffered without bound") {
  vigil::http::EventHub hub;
  struct Full : vigil::http::StreamSink {
    int n = 0;
    bool send(std::string) override { return ++n < 3; }
    bool open() const override { return n < 3; }
  };
  hub.subscribe(std::make_shared<Full>());
  CHECK(hub.clients() == 1);
  hub.publish("reading", "{}");
  hub.publish("reading", "{}");
  CHECK(hub.clients() == 0);
  CHECK(hub.dropped() == 1);
}
