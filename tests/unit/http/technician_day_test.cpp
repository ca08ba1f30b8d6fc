// SPDX-License-Identifier: Apache-2.0
// The fleet's triage states (never healthy beside an active alert, not
// running, learning with hours left, no data, worst first) and the
// close-out's preview and confirmation over REST (issue 16).
#include <catch2/catch.hpp>

#include "fixture.h"

using vigil::test::ApiFixture;
using nlohmann::json;
using namespace vigil;

namespace {
json first_position(ApiFixture& f) {
  auto r = f.call("GET", "/api/v1/assets", f.viewer_token);
  REQUIRE(r.status == 200);
  return ApiFixture::js(r)[0]["positions"][0];
}
void model_states(ApiFixture& f, HealthState vib) {
  f.alerts->set_model_states([vib](Id) -> Result<std::vector<analytics::ModelHealth>> {
    analytics::ModelHealth ml, temp;
    ml.model = "vibrationML";
    ml.persistent = ml.pointwise = vib;
    temp.model = "temperatureML";
    temp.persistent = temp.pointwise = HealthState::kHealthy;
    return std::vector<analytics::ModelHealth>{ml, temp};
  });
}
}  // namespace

TEST_CASE("a position with an active alert is never healthy in the fleet") {
  ApiFixture f;
  f.ctx.position_state = [](Id) { return std::string("healthy"); };
  auto p = first_position(f);
  CHECK(p["state"] == "healthy");
  CHECK(p["triage_state"] == "healthy");
  CHECK(p["active_alerts"] == 0);

  f.add_alert();  // a vibrationML warning on the position
  p = first_position(f);
  CHECK(p["state"] == "warning");
  CHECK(p["model_state"] == "healthy");
  CHECK(p["triage_state"] == "warning");
  CHECK(p["alert_severity"] == "warning");
  CHECK(p["active_alerts"] == 1);
  CHECK(p["severity_rank"] == 5);

  auto fleet = f.call("GET", "/api/v1/fleet", f.viewer_token);
  REQUIRE(fleet.status == 200);
  auto j = ApiFixture::js(fleet);
  const auto& asset = j["sites"][0]["assets"][0];
  CHECK(asset["state"] == "warning");
  CHECK(asset["triage_state"] == "warning");
  CHECK(j["asset_states"]["healthy"] == 0);
  CHECK(j["asset_states"]["warning"] == 1);
  CHECK(j["triage_counts"]["warning"] == 1);
}

TEST_CASE("a stopped machine reads not running, a silent one no data since its last reading") {
  ApiFixture f;
  f.ctx.position_state = [](Id) { return std::string("not_running"); };
  auto p = first_position(f);
  CHECK(p["triage_state"] == "not_running");
  CHECK(p["severity_rank"] == 3);
  const auto last = p["last_seen_ts"].get<std::int64_t>();
  CHECK(last == f.clock.now_ms() - 600'000);  // readings every 10 minutes, the newest 10 minutes ago

  // Three of its usual 10-minute intervals and more without a reading.
  f.clock.advance(31 * 60 * 1000);
  p = first_position(f);
  CHECK(p["triage_state"] == "no_data");
  CHECK(p["severity_rank"] == 4);
  CHECK(p["last_seen_ts"] == last);
  CHECK(p["last_seen"].is_string());
}

TEST_CASE("a learning position says how many hours are left") {
  ApiFixture f;
  f.ctx.position_state = [](Id) { return std::string("initializing"); };
  f.ctx.position_health = [](Id id) -> std::optional<json> {
    return json{{"position_id", id},
                {"state", "initializing"},
                {"models", json::array({json{{"model", "vibrationML"}, {"learned_hours", 32.0}, {"learning_hours", 48.0}},
                                        json{{"model", "temperatureML"}, {"learned_hours", 40.0}, {"learning_hours", 48.0}}})}};
  };
  auto p = first_position(f);
  CHECK(p["triage_state"] == "learning");
  CHECK(p["learning"]["learned_hours"] == 32.0);
  CHECK(p["learning"]["learning_hours"] == 48.0);
  CHECK(p["learning"]["remaining_hours"] == 16.0);
}

TEST_CASE("fleet assets come worst first") {
  ApiFixture f;
  f.ctx.position_state = [](Id) { return std::string("healthy"); };
  Asset fan;
  fan.site_id = f.site;
  fan.name = "Fan F-2";
  const Id fan_id = *f.store->upsert_asset(fan);
  const Id fan_pos = *f.store->upsert_position(Position{0, fan_id, "motor end", PositionType::kFan});
  alerts::ExternalAlert e;
  e.asset_id = fan_id;
  e.position_id = fan_pos;
  e.source = "rule:9";
  e.kind = "rule";
  e.model = "rule";
  e.severity = "alarm";
  e.title = "Fan F-2, motor end: current above 40 A";
  REQUIRE(f.alerts->raise(e).ok());
  auto j = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.viewer_token));
  const auto& assets = j["sites"][0]["assets"];
  REQUIRE(assets.size() == 2);
  CHECK(assets[0]["name"] == "Fan F-2");  // alarm before healthy, although added later
  CHECK(assets[0]["triage_state"] == "alarm");
  CHECK(assets[0]["severity_rank"] == 6);
  CHECK(assets[1]["name"] == "Pump P-1");
  CHECK(j["sites"][0]["triage_state"] == "alarm");
}

TEST_CASE("the close-out preview names the models that will re-learn and their states") {
  ApiFixture f;
  model_states(f, HealthState::kAlarm);
  const std::string id = std::to_string(f.add_alert());  // a vibration alert
  auto r = f.call("GET", "/api/v1/alerts/" + id + "/closeout-preview?action_taken=LUBRICATE", f.viewer_token);
  REQUIRE(r.status == 200);
  auto j = ApiFixture::js(r);
  CHECK(j["relearn"] == json::array({json{{"model", "vibrationML"}, {"state", "alarm"}}}));
  CHECK(j["needs_confirmation"] == true);
  r = f.call("GET", "/api/v1/alerts/" + id + "/closeout-preview?action_taken=NO_ACTION", f.viewer_token);
  CHECK(ApiFixture::js(r)["relearn"].empty());
  CHECK(ApiFixture::js(r)["needs_confirmation"] == false);
  CHECK(f.call("GET", "/api/v1/alerts/" + id + "/closeout-preview?action_taken=PAINT", f.viewer_token).status == 400);
  CHECK(f.call("GET", "/api/v1/alerts/" + id + "/closeout-preview", f.viewer_token).status == 400);
  CHECK(f.call("GET", "/api/v1/alerts/999/closeout-preview?action_taken=CLEAN", f.viewer_token).status == 404);
}

TEST_CASE("closing with a re-learn of an alarming model answers 409 until confirmed") {
  ApiFixture f;
  model_states(f, HealthState::kAlarm);
  const std::string id = std::to_string(f.add_alert());
  const std::string body = R"({"failure_mode":"OTHER","failure_cause":"WEAR","action_taken":"REPLACE")";
  auto r = f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token, body + "}");
  REQUIRE(r.status == 409);
  auto j = ApiFixture::js(r);
  CHECK(j["code"] == "relearn_needs_confirmation");
  CHECK(j["detail"].get<std::string>().find("vibrationML (alarm)") != std::string::npos);
  CHECK(j["relearn"][0] == json{{"model", "vibrationML"}, {"state", "alarm"}});
  CHECK(f.alerts->get(std::stoll(id))->status == "open");

  CHECK(f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token, body + R"(,"confirm_relearn":"yes"})").status ==
        422);
  r = f.call("POST", "/api/v1/alerts/" + id + "/close", f.tech_token, body + R"(,"confirm_relearn":true})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["status"] == "closed");
}

TEST_CASE("alerts show their family, the models that flagged them and the value since opening") {
  ApiFixture f;
  analytics::StateChange c;
  c.position_id = f.position;
  c.asset_id = f.asset;
  c.model = "vibrationML";
  c.ts = f.clock.now_ms();
  c.persistent = c.pointwise = HealthState::kWarning;
  c.z = 6.0;
  c.explanation = "BPFO envelope band 6.2× baseline";
  auto id = f.alerts->on_state_change(c);
  REQUIRE(id.ok());
  c.persistent = c.pointwise = HealthState::kAlarm;
  c.z = 9.9;
  REQUIRE(f.alerts->on_state_change(c).ok());
  auto j = ApiFixture::js(f.call("GET", "/api/v1/alerts/" + std::to_string(**id), f.viewer_token));
  CHECK(j["title"] == "Pump P-1, Pump DE: vibration above its learned normal (bearing outer-race pattern rising)");
  CHECK(j["family"] == "vibration");
  CHECK(j["flagged_by"] == json::array({"vibrationML"}));
  CHECK(j["value"]["kind"] == "anomaly_score");
  CHECK(j["value"]["opening"] == 6.0);
  CHECK(j["value"]["current"] == 9.9);
  CHECK(j["value"]["trend"] == "rising");
  auto worst = ApiFixture::js(f.call("GET", "/api/v1/alerts?status=active&sort=worst", f.viewer_token));
  CHECK(worst[0]["severity"] == "alarm");
  CHECK(f.call("GET", "/api/v1/alerts?sort=best", f.viewer_token).status == 400);
}
