// SPDX-License-Identifier: Apache-2.0
// The alert routes act through alerts::AlertService (the alerts table's only
// writer) and the spectra route reads through analytics::recent_spectra.
#include <catch2/catch.hpp>

#include <cstring>

#include "alerts/codes.h"
#include "fixture.h"

using vigil::test::ApiFixture;
using nlohmann::json;

namespace {

struct Sink : vigil::http::StreamSink {
  std::vector<std::string> got;
  bool send(std::string b) override {
    got.push_back(std::move(b));
    return true;
  }
  bool open() const override { return true; }
  // The data of every "alert" event so far.
  std::vector<json> alerts() const {
    std::vector<json> out;
    for (const auto& m : got) {
      if (m.find("event: alert\n") == std::string::npos) continue;
      auto at = m.find("data: ");
      out.push_back(json::parse(m.substr(at + 6, m.find('\n', at) - at - 6)));
    }
    return out;
  }
};

std::vector<std::uint8_t> float_blob(const std::vector<float>& v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u >> (8 * k));
  }
  return b;
}

}  // namespace

TEST_CASE("alert actions go through the alert service, answer the alert and reach live clients once each") {
  ApiFixture f;
  auto sink = std::make_shared<Sink>();
  f.events.subscribe(sink);
  const std::string id = std::to_string(f.add_alert());
  const std::string base = "/api/v1/alerts/" + id;

  auto ack = f.call("POST", base + "/acknowledge", f.tech_token, R"({"note":"crew on site"})");
  REQUIRE(ack.status == 200);
  CHECK(ApiFixture::js(ack)["status"] == "acknowledged");
  CHECK(ApiFixture::js(ack)["position_name"] == "Pump DE");
  REQUIRE(f.call("POST", base + "/mute", f.tech_token).status == 200);
  auto unmute = f.call("POST", base + "/unmute", f.tech_token);
  REQUIRE(unmute.status == 200);
  CHECK(ApiFixture::js(unmute)["status"] == "open");
  auto again = f.call("POST", base + "/unmute", f.tech_token);
  CHECK(again.status == 409);
  CHECK(ApiFixture::js(again)["code"] == "conflict");

  auto alerts = sink->alerts();
  REQUIRE(alerts.size() == 3);
  CHECK(alerts[0]["event"] == "acknowledged");
  CHECK(alerts[0]["id"] == std::stoll(id));
  CHECK(alerts[1]["event"] == "muted");
  CHECK(alerts[2]["event"] == "unmuted");
  CHECK(alerts[2]["status"] == "open");

  auto audit = f.store->audit_log(10);
  REQUIRE(audit.ok());
  bool noted = false;
  for (const auto& e : *audit) noted = noted || (e.action == "alert.acknowledge" && e.detail == "crew on site");
  CHECK(noted);
}

TEST_CASE("closing an alert maps the alert service's refusals: 422 unknown values, 404 unknown alert, 409 closed") {
  ApiFixture f;
  const std::string id = std::to_string(f.add_alert());
  const std::string close = "/api/v1/alerts/" + id + "/close";
  const std::string good = R"({"failure_mode":"IMBALANCE","failure_cause":"WEAR","action_taken":"ADJUST",)";
  auto bad_feedback = f.call("POST", close, f.tech_token, good + R"("feedback":"maybe"})");
  CHECK(bad_feedback.status == 422);
  CHECK(ApiFixture::js(bad_feedback)["code"] == "bad_code");
  auto bad_model = f.call("POST", close, f.tech_token, good + R"("models":["gutFeeling"]})");
  CHECK(bad_model.status == 422);
  CHECK(f.call("POST", close, f.tech_token, good + R"("models":"vibrationML"})").status == 422);
  CHECK(f.call("POST", "/api/v1/alerts/987654/close", f.tech_token, good + "\"notes\":\"\"}").status == 404);
  CHECK(f.call("POST", "/api/v1/alerts/987654/acknowledge", f.tech_token).status == 404);

  auto ok = f.call("POST", close, f.tech_token,
                   good + R"("feedback":"false_alarm","notes":"belt slipped","models":["vibrationISO"]})");
  REQUIRE(ok.status == 200);
  auto j = ApiFixture::js(ok);
  CHECK(j["status"] == "closed");
  CHECK(j["closed_by"] == "token:t");
  CHECK(j["notes"] == json{{"text", "belt slipped"}, {"feedback", "false_alarm"}, {"models", {"vibrationISO"}}});
  // The alert service reads back what the route wrote through it.
  auto a = f.alerts->get(std::stoll(id));
  REQUIRE(a.ok());
  CHECK(a->feedback == "false_alarm");
  CHECK(a->notes == "belt slipped");

  for (const char* action : {"close", "acknowledge", "mute"}) {
    auto r = f.call("POST", "/api/v1/alerts/" + id + "/" + action, f.tech_token,
                    std::string(action) == "close" ? good + "\"notes\":\"\"}" : "");
    CHECK(r.status == 409);
    CHECK(ApiFixture::js(r)["code"] == "alert_closed");
  }
}

TEST_CASE("without an alert service the alert actions answer 503 and change nothing") {
  ApiFixture f;
  const auto id = f.add_alert();
  f.ctx.alerts = nullptr;
  auto r = f.call("POST", "/api/v1/alerts/" + std::to_string(id) + "/acknowledge", f.tech_token);
  CHECK(r.status == 503);
  CHECK(f.alerts->get(id)->status == "open");
}

TEST_CASE("a sensor alert raised through the alert service is listed with its model and reaches live clients") {
  ApiFixture f;
  auto sink = std::make_shared<Sink>();
  f.events.subscribe(sink);
  vigil::alerts::ExternalAlert e;
  e.asset_id = f.asset;
  e.position_id = f.position;
  e.source = "sensor:AA:BB:CC:DD:EE:01";
  e.kind = "silent";
  e.model = vigil::alerts::kSensorHealthModel;
  e.severity = "warning";
  e.title = "Sensor AA:BB:CC:DD:EE:01: not heard for 3 intervals";
  e.explanation = "Check the battery, range and mounting.";
  auto id = f.alerts->raise(e);
  REQUIRE(id.ok());
  auto list = ApiFixture::js(f.call("GET", "/api/v1/alerts?status=active", f.viewer_token));
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == *id);
  CHECK(list[0]["model"] == "sensorHealth");
  CHECK(list[0]["asset_name"] == "Pump P-1");
  auto events = sink->alerts();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["event"] == "opened");
  CHECK(events[0]["title"] == e.title);
}

TEST_CASE("the close-out codes the API offers are the alert module's lists") {
  ApiFixture f;
  auto j = ApiFixture::js(f.call("GET", "/api/v1/closeout-codes", f.viewer_token));
  CHECK(j["failure_mode"] == json(vigil::alerts::failure_modes()));
  CHECK(j["failure_cause"] == json(vigil::alerts::failure_causes()));
  CHECK(j["action_taken"] == json(vigil::alerts::actions_taken()));
  CHECK(j["models"] == json(vigil::alerts::model_names()));
  CHECK(j["feedback"] == json(vigil::alerts::feedback_values()));
}

TEST_CASE("spectra are read from the analytics' table, newest first, at most limit, with their bins") {
  ApiFixture f;
  const vigil::TimestampMs t0 = f.clock.now_ms();
  REQUIRE(f.store
              ->write_txn([&](vigil::sql::Db& db) -> vigil::Status {
                auto q = db.prepare(
                    "INSERT INTO spectra(measurement_id, position_id, ts, kind, df_hz, bins) VALUES(?, ?, ?, ?, ?, ?)");
                if (!q) return q.status();
                for (int i = 0; i < 3; ++i) {
                  auto blob = float_blob({0.5f * static_cast<float>(i), 0.25f});
                  VIGIL_RETURN_IF_ERROR((*q)->bind(1, static_cast<std::int64_t>(100 + i)).bind(2, f.position)
                                            .bind(3, t0 + i * 1000).bind(4, "accel").bind(5, 2.5)
                                            .bind_blob(6, blob.data(), blob.size()).run());
                }
                return vigil::Status::Ok();
              })
              .ok());
  auto pos = std::to_string(f.position);
  auto two = ApiFixture::js(f.call("GET", "/api/v1/positions/" + pos + "/spectra?kind=accel&limit=2", f.viewer_token));
  REQUIRE(two.size() == 2);
  CHECK(two[0]["measurement_id"] == 102);
  CHECK(two[1]["measurement_id"] == 101);
  CHECK(two[0]["df_hz"] == 2.5);
  CHECK(two[0]["bins"] == json{1.0, 0.25});
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/positions/" + pos + "/spectra?kind=envelope", f.viewer_token)).empty());
}
