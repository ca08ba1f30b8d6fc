// SPDX-License-Identifier: Apache-2.0
// The plant view (uplink/plant.h): documents, will, bounds, bad input; and
// the uplink's extra subscriptions and retained documents over the fake
// transport.
#include <catch2/catch.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "uplink/plant.h"
#include "uplink/uplink.h"
#include "vigil/store.h"
#include "vigil_test/eventually.h"
#include "vigil_test/fake_transport.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using namespace vigil::uplink;
using nlohmann::json;

namespace {

std::string doc(const std::string& plant, const std::string& gw, bool online = true, json extra = json::object()) {
  json j = {{"v", 1}, {"type", "vigil.plant.state"}, {"plant_id", plant}, {"gateway_id", gw}, {"online", online}};
  if (online) {
    j["name"] = "hall " + gw;
    j["url"] = "http://" + gw + ":8080/";
    j["assets"] = json::array({{{"id", 1}, {"name", "pump"}, {"state", "healthy"}, {"open_alerts", 0}}});
    j["open_alerts"] = 2;
    j["last_measurement"] = "2026-12-02T10:00:00.000Z";
  }
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j.dump();
}

json gateway(const json& snap, const std::string& id) {
  for (const auto& g : snap["gateways"])
    if (g["id"] == id) return g;
  return nullptr;
}


}  // namespace

TEST_CASE("plant topics and MQTT filter matching", "[plant]") {
  CHECK(plant_state_topic("p1", "gw-a") == "vigil/plant/p1/gateways/gw-a/state");
  CHECK(plant_state_filter("p1") == "vigil/plant/p1/gateways/+/state");
  CHECK(topic_matches("vigil/plant/p1/gateways/+/state", "vigil/plant/p1/gateways/gw-a/state"));
  CHECK_FALSE(topic_matches("vigil/plant/p1/gateways/+/state", "vigil/plant/p2/gateways/gw-a/state"));
  CHECK_FALSE(topic_matches("vigil/plant/p1/gateways/+/state", "vigil/plant/p1/gateways/a/b/state"));
  CHECK(topic_matches("home/+/BTtoMQTT/#", "home/esp32/BTtoMQTT/A4C138000007"));
  CHECK(topic_matches("home/#", "home"));
  CHECK(topic_matches("#", "a/b/c"));
  CHECK_FALSE(topic_matches("#", "$SYS/broker/uptime"));
  CHECK_FALSE(topic_matches("a/+", "a/b/c"));
  CHECK_FALSE(topic_matches("a/b", "a"));
  json will = json::parse(plant_will_payload("p1", "gw-a"));
  CHECK(will["online"] == false);
  CHECK(will["v"] == kPlantSchemaVersion);
  CHECK(will["gateway_id"] == "gw-a");
}

TEST_CASE("plant view keeps other gateways and marks them offline on their will", "[plant]") {
  MetricsRegistry m;
  PlantView v({"p1", "self", 256, kMaxPlantDocBytes}, m);
  v.set_self(json::parse(doc("p1", "self")), 1000);
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), doc("p1", "gw-b"), 2000));
  auto snap = v.snapshot();
  CHECK(snap["plant_id"] == "p1");
  REQUIRE(snap["gateways"].size() == 2);
  CHECK(snap["gateways"][0]["id"] == "self");
  CHECK(snap["gateways"][0]["self"] == true);
  auto b = gateway(snap, "gw-b");
  CHECK(b["online"] == true);
  CHECK(b["name"] == "hall gw-b");
  CHECK(b["url"] == "http://gw-b:8080/");
  CHECK(b["open_alerts"] == 2);
  CHECK(b["assets"].size() == 1);
  CHECK(b["last_seen"].is_string());

  // The broker publishes the will: offline, but what we knew stays (greyed, with last_seen).
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), plant_will_payload("p1", "gw-b"), 9000));
  b = gateway(v.snapshot(), "gw-b");
  CHECK(b["online"] == false);
  CHECK(b["name"] == "hall gw-b");
  CHECK(b["assets"].size() == 1);
  CHECK(b["last_seen"] == gateway(snap, "gw-b")["last_seen"]);

  // A will alone (we restarted after it died): listed, offline, nothing else known.
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-c"), plant_will_payload("p1", "gw-c"), 9000));
  auto c = gateway(v.snapshot(), "gw-c");
  CHECK(c["online"] == false);
  CHECK(c["last_seen"].is_null());
  CHECK(c["assets"].empty());

  // Back online.
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), doc("p1", "gw-b"), 10000));
  CHECK(gateway(v.snapshot(), "gw-b")["online"] == true);
  // A cleared retained message: the gateway left the plant.
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), "", 11000));
  CHECK(gateway(v.snapshot(), "gw-b").is_null());
  // Our own retained document (or old will) is not news.
  CHECK_FALSE(v.on_message(plant_state_topic("p1", "self"), plant_will_payload("p1", "self"), 12000));
  CHECK(v.snapshot()["gateways"][0]["online"] == true);
}

TEST_CASE("a gateway silent for 3 of its intervals reads offline and stale", "[plant]") {
  MetricsRegistry m;
  PlantView v({"p1", "self", 256, kMaxPlantDocBytes}, m);
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), doc("p1", "gw-b", true, {{"state_interval_s", 10}}), 1000));
  auto b = gateway(v.snapshot(1000 + 59'000), "gw-b");
  CHECK(b["online"] == true);
  CHECK(b["stale"] == false);
  b = gateway(v.snapshot(1000 + 61'000), "gw-b");
  CHECK(b["online"] == false);
  CHECK(b["stale"] == true);
  CHECK(gateway(v.snapshot(), "gw-b")["online"] == true);  // no clock given: as received
  // A fresh document: online again.
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-b"), doc("p1", "gw-b", true, {{"state_interval_s", 10}}), 70'000));
  CHECK(gateway(v.snapshot(71'000), "gw-b")["online"] == true);
}

TEST_CASE("plant view drops and counts other plants, bad documents and too many gateways", "[plant]") {
  MetricsRegistry m;
  PlantView v({"p1", "self", 2, 1024}, m);
  const auto t = plant_state_topic("p1", "gw-b");
  std::string why;
  CHECK_FALSE(v.on_message(t, doc("p2", "gw-b"), 1, &why));
  CHECK(why == "other_plant");
  CHECK_FALSE(v.on_message(plant_state_topic("p2", "gw-b"), doc("p2", "gw-b"), 1, &why));
  CHECK(why == "other_plant");
  CHECK_FALSE(v.on_message(t, doc("p1", "gw-x"), 1, &why));
  CHECK(why == "topic_mismatch");
  CHECK_FALSE(v.on_message(t, "{\"v\":1,", 1, &why));
  CHECK(why == "malformed_json");
  CHECK_FALSE(v.on_message(t, "[1,2]", 1, &why));
  CHECK(why == "malformed_json");
  CHECK_FALSE(v.on_message(t, doc("p1", "gw-b", true, {{"v", 2}}), 1, &why));
  CHECK(why == "bad_schema");
  CHECK_FALSE(v.on_message(t, doc("p1", "gw-b", true, {{"online", "yes"}}), 1, &why));
  CHECK(why == "bad_schema");
  CHECK_FALSE(v.on_message(t, doc("p1", "gw-b", true, {{"assets", "many"}}), 1, &why));
  CHECK(why == "bad_schema");
  CHECK_FALSE(v.on_message(t, doc("p1", "gw-b", true, {{"pad", std::string(2000, 'x')}}), 1, &why));
  CHECK(why == "oversized");
  CHECK(v.size() == 0);
  CHECK(v.dropped("other_plant") == 2);
  CHECK(v.dropped("malformed_json") == 2);
  CHECK(m.render_prometheus().find("vigil_plant_messages_dropped_total{reason=\"oversized\"} 1") != std::string::npos);

  // Unknown fields are kept out of the answer but do not make a document bad.
  REQUIRE(v.on_message(t, doc("p1", "gw-b", true, {{"future_field", {1, 2}}}), 1));
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-c"), doc("p1", "gw-c"), 1));
  // Bounded: a third gateway does not fit; an update of a known one does.
  CHECK_FALSE(v.on_message(plant_state_topic("p1", "gw-d"), doc("p1", "gw-d"), 1, &why));
  CHECK(why == "too_many_gateways");
  CHECK(v.on_message(t, doc("p1", "gw-b"), 2));
  CHECK(v.size() == 2);
  CHECK_FALSE(v.snapshot()["gateways"][1].contains("future_field"));
}

TEST_CASE("the state document is compacted from the fleet and fits its bound", "[plant]") {
  json fleet = {{"sites", json::array()}};
  json site = {{"id", 1}, {"name", "hall 1"}, {"assets", json::array()}};
  for (int i = 0; i < 200; ++i) {
    json a = {{"id", i},
              {"name", "asset " + std::to_string(i)},
              {"state", i == 7 ? "alarm" : "healthy"},
              {"triage_state", i == 7 ? "alarm" : "healthy"},
              {"severity_rank", i == 7 ? 6 : 1},
              {"open_alerts", i == 7 ? 3 : 0},
              {"last_seen", i == 9 ? "2026-12-02T10:00:00.000Z" : "2026-12-01T10:00:00.000Z"},
              {"latest", {{"velocity_rms_mm_s", {{"value", 1.0}}}}},
              {"positions", json::array({{{"id", i * 10}, {"name", "DE"}, {"state", "healthy"}, {"latest", json::object()}}})}};
    site["assets"].push_back(a);
  }
  fleet["sites"].push_back(site);
  GatewayInfo self{"p1", "gw-a", "hall A", "1.2.3", "http://a:8080/", 60};
  json d = json::parse(plant_state_document(self, fleet, 1'700'000'000'000));
  CHECK(d["v"] == kPlantSchemaVersion);
  CHECK(d["plant_id"] == "p1");
  CHECK(d["gateway_id"] == "gw-a");
  CHECK(d["online"] == true);
  CHECK(d["open_alerts"] == 3);
  CHECK(d["last_measurement"] == "2026-12-02T10:00:00.000Z");
  CHECK(d["truncated"] == false);
  REQUIRE(d["assets"].size() == 200);
  CHECK(d["assets"][0]["id"] == 7);  // worst first
  CHECK(d["assets"][0]["site"] == "hall 1");
  CHECK_FALSE(d["assets"][0].contains("latest"));
  CHECK(d["assets"][0]["positions"][0]["id"] == 70);

  const std::string small = plant_state_document(self, fleet, 1'700'000'000'000, 4096);
  CHECK(small.size() <= 4096);
  json s = json::parse(small);
  CHECK(s["truncated"] == true);
  CHECK(s["assets"].size() > 0);
  CHECK(s["assets"].size() < 200);
  CHECK(s["assets"][0]["id"] == 7);  // the alarm survives truncation

  // A gateway with nothing commissioned yet.
  json e = json::parse(plant_state_document(self, json::object(), 1));
  CHECK(e["assets"].empty());
  CHECK(e["last_measurement"].is_null());
}

TEST_CASE("the uplink routes plant topics to their handler and publishes retained documents", "[plant]") {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  MetricsRegistry metrics;
  StoreOptions so;
  so.path = dir.file("vigil.db");
  so.clock = &clock;
  auto store = Store::open(so);
  REQUIRE(store.ok());
  auto fake = std::make_shared<FakeTransport::State>();
  UplinkOptions o;
  o.gateway_id = "gw-a";
  o.summary_interval_s = 0;
  o.heartbeat_interval_s = 3600;
  auto u = Uplink::create(o, std::make_unique<FakeTransport>(fake), **store, clock, nullptr, nullptr, metrics);
  REQUIRE(u.ok());
  auto& up = **u;
  PlantView view({"p1", "gw-a", 256, kMaxPlantDocBytes}, metrics);
  std::atomic<int> made{0};
  up.add_subscription(plant_state_filter("p1"), 1024, [&](const std::string& t, const std::string& p) {
    view.on_message(t, p, 5);
  });
  up.add_retained(plant_state_topic("p1", "gw-a"), [&] {
    ++made;
    return doc("p1", "gw-a");
  }, 3600);
  up.start();
  REQUIRE(eventually([&] { return up.connected(); }));
  // Subscribed on connection; the retained document published at once, retained, QoS 1.
  REQUIRE(eventually([&] {
    std::lock_guard lk(fake->mu);
    for (const auto& p : fake->published)
      if (p.topic == plant_state_topic("p1", "gw-a")) return p.retain && p.qos == 1;
    return false;
  }));
  {
    std::lock_guard lk(fake->mu);
    CHECK(std::find(fake->subscriptions.begin(), fake->subscriptions.end(), plant_state_filter("p1")) !=
          fake->subscriptions.end());
  }
  FakeTransport::deliver(*fake, plant_state_topic("p1", "gw-b"), doc("p1", "gw-b"));
  REQUIRE(eventually([&] { return view.size() == 1; }));
  // Too large for the subscription: dropped before the worker, counted.
  FakeTransport::deliver(*fake, plant_state_topic("p1", "gw-c"), doc("p1", "gw-c", true, {{"pad", std::string(2000, 'x')}}));
  REQUIRE(up.sync());
  CHECK(view.size() == 1);
  CHECK(metrics.counter_value("vigil_uplink_inbound_dropped_total") == 1);
  // A refresh republishes at once; a reconnection too.
  const int before = made.load();
  up.refresh_retained();
  REQUIRE(eventually([&] { return made.load() > before; }));
  const int before2 = made.load();
  FakeTransport::drop_connection(*fake, "lost");
  REQUIRE(eventually([&] { return made.load() > before2; }, 10000));
  up.stop();
}

TEST_CASE("the state document carries the 50 worst active alerts, alarms first, and the plant view passes them on") {
  GatewayInfo self{"p1", "gw-a", "hall A", "1.2.3", "http://a:8080/", 60};
  json alerts = json::array();
  for (int i = 0; i < 80; ++i)
    alerts.push_back({{"id", i},
                      {"asset_id", 7},
                      {"position_id", 70},
                      {"severity", i == 40 ? "alarm" : "warning"},
                      {"status", "open"},
                      {"title", "alert " + std::to_string(i)},
                      {"opened_at", "2026-12-02T10:" + std::string(i < 10 ? "0" : "") + std::to_string(i % 60) + ":00.000Z"},
                      {"explanation", std::string(5000, 'x')}});  // not carried
  alerts.push_back("junk");
  json d = json::parse(plant_state_document(self, json::object(), 1, kMaxPlantDocBytes, alerts));
  REQUIRE(d["alerts"].size() == kMaxPlantAlerts);
  CHECK(d["alerts"][0]["id"] == 40);  // the alarm first
  CHECK(d["alerts"][0]["severity"] == "alarm");
  CHECK_FALSE(d["alerts"][0].contains("explanation"));
  CHECK(d["alerts"][1]["opened_at"] > d["alerts"][2]["opened_at"]);  // then newest first

  PlantView v({"p1", "gw-b"});
  d["gateway_id"] = "gw-a";
  d["alerts"][1]["id"] = json::object({{"nested", "nonsense"}});  // a hostile peer's id
  REQUIRE(v.on_message(plant_state_topic("p1", "gw-a"), d.dump(), 2));
  json snap = v.snapshot();
  json a;
  for (const auto& g : snap["gateways"])
    if (g["id"] == "gw-a") a = g["alerts"];
  REQUIRE(a.size() == kMaxPlantAlerts);
  CHECK(a[0]["title"] == "alert 40");
  CHECK(a[1]["id"].is_null());
}
