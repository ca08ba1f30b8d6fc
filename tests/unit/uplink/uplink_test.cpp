// SPDX-License-Identifier: Apache-2.0
// The uplink against a real temp SQLite store and the fake transport.
#include <catch2/catch.hpp>

#include "vigil_test/eventually.h"
#include "vigil_test/open_store.h"
#include "vigil_test/temp_dir.h"

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerts/alerts.h"
#include "vigil_test/fake_transport.h"
#include "uplink/messages.h"
#include "uplink/uplink.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::uplink;
using nlohmann::json;

namespace {
using vigil_test::open_store;


struct Rig {
  TempDir db;
  ManualClock clock{1'700'000'000'000};
  MetricsRegistry metrics;
  std::unique_ptr<Store> store = open_store(db.file("vigil.db"), clock);
  std::shared_ptr<FakeTransport::State> fake = std::make_shared<FakeTransport::State>();
  std::unique_ptr<Uplink> up;

  UplinkOptions options(std::size_t max_bytes = 1 << 20, int window = 32) {
    UplinkOptions o;
    o.gateway_id = "gw-1";
    o.outbox_max_bytes = max_bytes;
    o.window = window;
    o.summary_interval_s = 0;
    o.heartbeat_interval_s = 3600;
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 80;
    return o;
  }
  void make(UplinkOptions o, alerts::AlertService* as = nullptr) {
    auto u = Uplink::create(o, std::make_unique<FakeTransport>(fake), *store, clock, nullptr, as, metrics);
    REQUIRE(u.ok());
    up = std::move(*u);
  }
  // Delivers a command on our command topic (connecting first) and returns
  // the data of the reply it got.
  json command(const std::string& name, const std::string& payload) {
    up->start();
    REQUIRE(eventually([&] { return up->status()["connected"] == true; }));
    const std::size_t before = payloads("reply").size();
    FakeTransport::deliver(*fake, "vigil/gw-1/cmd/" + name, payload);
    REQUIRE(eventually([&] { return payloads("reply").size() == before + 1; }));
    return payloads("reply").back()["data"];
  }
  std::vector<FakeTransport::Published> published() {
    std::lock_guard lk(fake->mu);
    return fake->published;
  }
  std::vector<json> payloads(const std::string& type = "") {
    std::vector<json> v;
    for (auto& p : published()) {
      json j = json::parse(p.payload);
      if (type.empty() || j["type"] == type) v.push_back(j);
    }
    return v;
  }
};

json n(int i) { return {{"n", i}}; }
}  // namespace

TEST_CASE("the topic prefix substitutes the gateway id") {
  CHECK(expand_prefix("vigil/{gateway_id}", "gw-1") == "vigil/gw-1");
  CHECK(expand_prefix("plant/{gateway_id}/x/{gateway_id}/", "a") == "plant/a/x/a");
  CHECK(topic_for("vigil/gw-1", Kind::kAlert) == "vigil/gw-1/alert");
}

TEST_CASE("messages are published in outbox order with QoS 1 and removed only after their PUBACK") {
  Rig r;
  r.make(r.options());
  for (int i = 0; i < 5; ++i) REQUIRE(r.up->enqueue(Kind::kSummary, n(i)).ok());
  REQUIRE(r.up->outbox().rows() == 5);
  r.up->start();
  // 5 summaries + the heartbeat sent on connect.
  REQUIRE(eventually([&] { return r.published().size() == 6; }));
  auto ps = r.payloads();
  for (int i = 0; i < 5; ++i) {
    CHECK(ps[i]["data"]["n"] == i);
    CHECK(ps[i]["schema"] == kSchema);
    CHECK(ps[i]["gateway_id"] == "gw-1");
    CHECK(ps[i]["id"].get<std::string>().size() == 36);
  }
  CHECK(ps[0]["seq"].get<std::int64_t>() < ps[4]["seq"].get<std::int64_t>());
  CHECK(r.published()[0].topic == "vigil/gw-1/summary");
  CHECK(r.published()[0].qos == 1);
  REQUIRE(r.up->sync());
  CHECK(r.up->outbox().rows() == 6);  // nothing acknowledged yet
  FakeTransport::ack(*r.fake, r.published()[1].mid);
  REQUIRE(r.up->sync());
  CHECK(r.up->outbox().rows() == 5);
  FakeTransport::ack_all(*r.fake);
  REQUIRE(r.up->sync());
  CHECK(r.up->outbox().rows() == 0);
  CHECK(r.up->status()["delivered"] == 6);
  CHECK(r.up->status()["connected"] == true);
  CHECK(r.fake->subscriptions == std::vector<std::string>{"vigil/gw-1/cmd/#"});
}

TEST_CASE("no more than the window of messages is in flight") {
  Rig r;
  r.make(r.options(1 << 20, 4));
  for (int i = 0; i < 20; ++i) REQUIRE(r.up->enqueue(Kind::kState, n(i)).ok());
  r.up->start();
  REQUIRE(eventually([&] { return r.published().size() == 4; }));
  REQUIRE(r.up->sync());
  CHECK(r.published().size() == 4);
  FakeTransport::ack(*r.fake, r.published()[0].mid);
  REQUIRE(eventually([&] { return r.published().size() == 5; }));
  for (int k = 0; k < 10 && r.up->outbox().rows() > 0; ++k) {
    FakeTransport::ack_all(*r.fake);
    REQUIRE(r.up->sync());
  }
  REQUIRE(eventually([&] {
    FakeTransport::ack_all(*r.fake);
    return r.up->outbox().rows() == 0;
  }));
  auto ps = r.payloads("state");
  REQUIRE(ps.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(ps[i]["data"]["n"] == i);
}

TEST_CASE("a lost connection resends every unacknowledged message in order with the same id and bytes") {
  Rig r;
  r.make(r.options());
  for (int i = 0; i < 4; ++i) REQUIRE(r.up->enqueue(Kind::kAlert, n(i)).ok());
  r.up->start();
  REQUIRE(eventually([&] { return r.published().size() == 5; }));  // 4 alerts + heartbeat
  auto first = r.published();
  FakeTransport::ack(*r.fake, first[0].mid);
  FakeTransport::ack(*r.fake, first[1].mid);
  REQUIRE(r.up->sync());
  FakeTransport::drop_connection(*r.fake, "connection lost: broker went away");
  REQUIRE(eventually([&] { return r.up->status()["last_error"] == "connection lost: broker went away"; }));
  // Reconnects after back-off and resends alerts 2 and 3, then the heartbeats.
  REQUIRE(eventually([&] { return r.payloads("alert").size() == 6; }));
  auto alerts = r.payloads("alert");
  CHECK(alerts[4]["data"]["n"] == 2);
  CHECK(alerts[5]["data"]["n"] == 3);
  CHECK(alerts[4]["id"] == alerts[2]["id"]);
  auto all = r.published();
  std::vector<std::string> resent;
  for (auto& p : all)
    if (p.payload == first[2].payload) resent.push_back(p.payload);
  CHECK(resent.size() == 2);
  // Old PUBACKs from the closed session change nothing.
  FakeTransport::ack(*r.fake, first[3].mid + 1000);
  REQUIRE(eventually([&] {
    FakeTransport::ack_all(*r.fake);
    return r.up->outbox().rows() == 0;
  }));
  // De-duplicated by id: every alert exactly once, in order.
  std::vector<int> seen;
  std::set<std::string> ids;
  for (auto& a : r.payloads("alert"))
    if (ids.insert(a["id"].get<std::string>()).second) seen.push_back(a["data"]["n"].get<int>());
  CHECK(seen == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("the outbox survives a restart: an earlier backlog is delivered by the next uplink") {
  Rig r;
  {
    r.fake->accept_connect = false;
    r.make(r.options());
    r.up->start();
    for (int i = 0; i < 3; ++i) REQUIRE(r.up->enqueue(Kind::kAlert, n(i)).ok());
    REQUIRE(eventually([&] { return r.fake->connect_calls >= 2; }));
    CHECK(r.published().empty());
    r.up.reset();
  }
  r.fake->accept_connect = true;
  r.make(r.options());
  CHECK(r.up->outbox().rows() == 3);
  r.up->start();
  REQUIRE(eventually([&] { return r.payloads("alert").size() == 3; }));
  auto a = r.payloads("alert");
  for (int i = 0; i < 3; ++i) CHECK(a[i]["data"]["n"] == i);
}

TEST_CASE("a full outbox evicts the oldest summaries first, never alerts, and counts every drop") {
  Rig r;
  // Each message is ~250 bytes with overhead: room for about 8.
  r.make(r.options(2000));
  for (int i = 0; i < 4; ++i) REQUIRE(r.up->enqueue(Kind::kAlert, n(i)).ok());
  for (int i = 0; i < 4; ++i) REQUIRE(r.up->enqueue(Kind::kSummary, n(100 + i)).ok());
  CHECK(r.up->outbox().bytes() <= 2000);
  auto before = r.up->outbox().rows();
  for (int i = 0; i < 3; ++i) REQUIRE(r.up->enqueue(Kind::kSummary, n(200 + i)).ok());
  CHECK(r.up->outbox().rows() <= before);
  CHECK(r.up->outbox().bytes() <= 2000);
  const auto dropped = r.metrics.counter_value("vigil_uplink_dropped_total", "kind=\"summary\"");
  CHECK(dropped >= 3);
  CHECK(r.metrics.counter_value("vigil_uplink_dropped_total", "kind=\"alert\"") == 0);
  CHECK(r.up->status()["dropped"]["summary"] == dropped);
  // More alerts go in regardless of the cap.
  for (int i = 4; i < 12; ++i) REQUIRE(r.up->enqueue(Kind::kAlert, n(i)).ok());
  CHECK(r.up->outbox().bytes() > 2000);
  // A summary that cannot fit any more (only alerts left) is dropped and counted.
  REQUIRE(r.up->enqueue(Kind::kSummary, n(999)).ok());
  CHECK(r.metrics.counter_value("vigil_uplink_dropped_total", "kind=\"summary\"") > dropped);
  // Delivered: all 12 alerts in order, and the newest summaries that survived.
  r.up->start();
  REQUIRE(eventually([&] {
    FakeTransport::ack_all(*r.fake);
    return r.up->outbox().rows() == 0;
  }));
  std::vector<int> alerts, summaries;
  for (auto& p : r.payloads("alert")) alerts.push_back(p["data"]["n"].get<int>());
  for (auto& p : r.payloads("summary")) summaries.push_back(p["data"]["n"].get<int>());
  CHECK(alerts == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(std::find(summaries.begin(), summaries.end(), 100) == summaries.end());  // oldest went first
  CHECK(std::find(summaries.begin(), summaries.end(), 999) == summaries.end());
}

TEST_CASE("a new heartbeat supersedes queued ones without counting a drop") {
  Rig r;
  r.make(r.options());
  for (int i = 0; i < 3; ++i) REQUIRE(r.up->enqueue(Kind::kHeartbeat, n(i)).ok());
  CHECK(r.up->outbox().rows() == 1);
  CHECK(r.metrics.counter_value("vigil_uplink_dropped_total", "kind=\"heartbeat\"") == 0);
}

TEST_CASE("a refused connection shows a clear last_error and is retried with back-off, not a crash") {
  Rig r;
  r.fake->accept_connect = false;
  r.fake->refuse_reason = "tls: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed";
  r.make(r.options());
  r.up->start();
  REQUIRE(eventually([&] { return r.fake->connect_calls >= 3; }));
  auto st = r.up->status();
  CHECK(st["connected"] == false);
  CHECK(st["last_error"].get<std::string>().find("certificate verify failed") != std::string::npos);
  CHECK(st["connection_failures"].get<int>() >= 3);
  // Back-off grows to its cap: no more than a few attempts in 300 ms (20, 40, 80, 80 ms …).
  int before = r.fake->connect_calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(r.fake->connect_calls - before <= 6);
  r.fake->accept_connect = true;
  REQUIRE(eventually([&] { return r.up->status()["connected"] == true; }));
}

TEST_CASE("commands are accepted only on the gateway's own command topic and in the documented form") {
  const std::string p = "vigil/gw-1";
  CHECK(parse_command(p, p + "/cmd/ack", R"({"id":"c1","alert_id":3})").ok());
  CHECK(parse_command(p, p + "/cmd/summary", R"({"id":"c2"})").ok());
  CHECK(parse_command(p, p + "/cmd/threshold", R"({"id":"c3","machine_class":"iso10816_class2","ab":1,"bc":2,"cd":3})").ok());
  CHECK_FALSE(parse_command(p, "vigil/gw-2/cmd/ack", R"({"id":"c1","alert_id":3})").ok());  // someone else's
  CHECK_FALSE(parse_command(p, p + "/cmd/reboot", R"({"id":"c1"})").ok());               // unknown command
  CHECK_FALSE(parse_command(p, p + "/cmd/ack", R"({"alert_id":3})").ok());               // no id
  CHECK_FALSE(parse_command(p, p + "/cmd/ack", R"({"id":"c1","alert_id":-3})").ok());
  CHECK_FALSE(parse_command(p, p + "/cmd/ack", R"({"id":"c1","alert_id":3,"sql":"x"})").ok());  // unknown field
  CHECK_FALSE(parse_command(p, p + "/cmd/ack", "not json").ok());
  CHECK_FALSE(parse_command(p, p + "/cmd/threshold", R"({"id":"c3","machine_class":"x","ab":3,"bc":2,"cd":1})").ok());
  CHECK_FALSE(parse_command(p, p + "/cmd/ack", R"({"id":"c1","alert_id":3,"actor":"a b"})").ok());
  CHECK_FALSE(parse_command(p, p + "/cmd/summary", std::string(5000, ' ')).ok());
}

TEST_CASE("an acknowledge command acknowledges the alert, is audited and answered; bad ones are rejected and counted") {
  Rig r;
  auto service = alerts::AlertService::create(*r.store, r.clock);
  REQUIRE(service.ok());
  alerts::AlertService& as = **service;
  r.make(r.options(), &as);  // subscribes to the alert service's events
  analytics::StateChange c;
  c.position_id = 1;
  c.asset_id = 1;
  c.model = "vibrationISO";
  c.ts = r.clock.now_ms();
  c.persistent = HealthState::kWarning;
  c.previous = HealthState::kHealthy;
  c.explanation = "velocity 5.1 mm/s (zone C)";
  // The alert service opens an alert: an "opened" alert event; the state
  // change itself goes up as a state message.
  auto id = as.on_state_change(c);
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  REQUIRE(r.up->state_change(c).ok());
  r.up->start();
  REQUIRE(eventually([&] { return r.payloads("alert").size() == 1; }));
  CHECK(r.payloads("alert")[0]["data"]["event"] == "opened");
  CHECK(r.payloads("alert")[0]["data"]["explanation"] == "velocity 5.1 mm/s (zone C)");
  CHECK(r.payloads("state").size() == 1);

  FakeTransport::deliver(*r.fake, "vigil/gw-1/cmd/ack",
                         json{{"id", "c-1"}, {"alert_id", **id}, {"actor", "alice"}}.dump());
  REQUIRE(eventually([&] { return r.payloads("reply").size() == 1; }));
  auto reply = r.payloads("reply")[0]["data"];
  CHECK(reply["ok"] == true);
  CHECK(reply["command_id"] == "c-1");
  CHECK(as.get(**id)->status == "acknowledged");
  REQUIRE(eventually([&] { return r.payloads("alert").size() == 2; }));
  CHECK(r.payloads("alert")[1]["data"]["event"] == "acknowledged");
  CHECK(r.payloads("alert")[1]["data"]["actor"] == "cloud:alice");
  auto audit = r.store->audit_log(20);
  REQUIRE(audit.ok());
  bool found = false;
  for (auto& e : *audit) found = found || (e.action == "uplink.cmd.ack" && e.actor == "cloud:alice");
  CHECK(found);
  CHECK(r.metrics.counter_value("vigil_uplink_commands_total", "result=\"accepted\"") == 1);

  FakeTransport::deliver(*r.fake, "vigil/gw-1/cmd/reboot", R"({"id":"c-2"})");
  FakeTransport::deliver(*r.fake, "vigil/other/cmd/ack", R"({"id":"c-3","alert_id":1})");
  FakeTransport::deliver(*r.fake, "vigil/gw-1/cmd/ack", R"({"id":"c-4","alert_id":99999})");
  REQUIRE(r.up->sync());
  CHECK(r.metrics.counter_value("vigil_uplink_commands_total", "result=\"rejected\"") == 2);
  CHECK(r.metrics.counter_value("vigil_uplink_commands_total", "result=\"failed\"") == 1);  // no such alert
  CHECK(r.up->status()["commands"]["rejected"] == 2);
  REQUIRE(eventually([&] { return r.payloads("reply").size() == 3; }));  // c-2 (rejected) and c-4 (failed) answered
}

TEST_CASE("every alert change the alert service makes goes up as an alert event, sensor alerts and REST actions too") {
  Rig r;
  auto service = alerts::AlertService::create(*r.store, r.clock);
  REQUIRE(service.ok());
  alerts::AlertService& as = **service;
  r.make(r.options(), &as);
  alerts::ExternalAlert e;
  e.source = "sensor:AA:BB:CC:DD:EE:01";
  e.kind = "battery_low";
  e.model = alerts::kSensorHealthModel;
  e.severity = "warning";
  e.title = "Sensor AA:BB:CC:DD:EE:01: battery low";
  e.explanation = "18 %";
  auto id = as.raise(e);
  REQUIRE(id.ok());
  e.explanation = "12 %";
  REQUIRE(as.raise(e).ok());
  REQUIRE(as.mute(*id, "alice").ok());
  r.up->start();
  REQUIRE(eventually([&] { return r.payloads("alert").size() == 3; }));
  auto a = r.payloads("alert");
  CHECK(a[0]["data"]["event"] == "opened");
  CHECK(a[0]["data"]["model"] == "sensorHealth");
  CHECK(a[0]["data"]["actor"] == "sensor:AA:BB:CC:DD:EE:01");
  CHECK(a[1]["data"]["event"] == "updated");
  CHECK(a[1]["data"]["explanation"] == "12 %");
  CHECK(a[2]["data"]["event"] == "muted");
  CHECK(a[2]["data"]["actor"] == "alice");
  for (auto& m : a) CHECK(m["data"]["alert_id"] == *id);
}

TEST_CASE("a threshold command changes the machine class's zone limits and persists them") {
  Rig r;
  r.make(r.options());
  r.up->start();
  REQUIRE(eventually([&] { return r.up->status()["connected"] == true; }));
  FakeTransport::deliver(*r.fake, "vigil/gw-1/cmd/threshold",
                         R"({"id":"t-1","machine_class":"iso10816_class3","ab":2.0,"bc":5.0,"cd":9.0})");
  REQUIRE(eventually([&] { return r.payloads("reply").size() == 1; }));
  CHECK(r.payloads("reply")[0]["data"]["ok"] == true);
  auto l = analytics::ZoneTable::global().limits("iso10816_class3");
  REQUIRE(l.ok());
  CHECK(l->bc == 5.0);
}

TEST_CASE("a threshold command stores a user class that the next start re-applies") {
  Rig r;
  r.make(r.options());
  CHECK(r.command("threshold", R"({"id":"t-2","machine_class":"iso10816_class4","ab":3.0,"bc":7.5,"cd":19.0})")["ok"] ==
        true);
  auto stored = r.store->machine_classes();
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 1);
  CHECK((*stored)[0].name == "iso10816_class4");
  CHECK((*stored)[0].limits == ZoneLimits{3.0, 7.5, 19.0});
  CHECK(analytics::ZoneTable::global().find("iso10816_class4")->source == ClassSource::kUser);

  r.up.reset();
  analytics::ZoneTable::global().unregister_class("iso10816_class4");  // as after a restart
  r.make(r.options());
  CHECK(analytics::ZoneTable::global().limits("iso10816_class4")->bc == 7.5);
  analytics::ZoneTable::global().unregister_class("iso10816_class4");
}

TEST_CASE("a threshold command for an unknown class fails and stores nothing") {
  Rig r;
  r.make(r.options());
  auto reply = r.command("threshold", R"({"id":"t-3","machine_class":"no_such_class","ab":1,"bc":2,"cd":3})");
  CHECK(reply["ok"] == false);
  CHECK(reply["error"].get<std::string>().find("unknown machine class") != std::string::npos);
  CHECK(r.store->machine_classes()->empty());
}

TEST_CASE("zone limits an older vigil kept in uplink_kv still apply after the upgrade") {
  Rig r;
  // The uplink tables as version 1 of the module left them, with two
  // threshold rows and one that never was valid JSON.
  REQUIRE(r.store->migrate("uplink", {"CREATE TABLE uplink_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                                      "msg_id TEXT NOT NULL, kind TEXT NOT NULL, topic TEXT NOT NULL, "
                                      "payload BLOB NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL);"
                                      "CREATE INDEX uplink_outbox_kind ON uplink_outbox(kind, seq);"
                                      "CREATE TABLE uplink_kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);"})
              .ok());
  REQUIRE(r.store->write_txn([](sql::Db& db) {
                   return db.exec("INSERT INTO uplink_kv VALUES"
                                  "('zone:iso10816_class1', '{\"ab\":0.8,\"bc\":2.0,\"cd\":5.0}'),"
                                  "('zone:iso20816_3_group2_rigid', '{\"ab\":1.5,\"bc\":3.0,\"cd\":5.0}'),"
                                  "('zone:broken', 'not json'), ('summary_end', '42')");
                 }).ok());
  r.make(r.options());
  CHECK(analytics::ZoneTable::global().limits("iso10816_class1")->ab == 0.8);
  CHECK(analytics::ZoneTable::global().find("iso20816_3_group2_rigid")->source == ClassSource::kUser);
  CHECK(r.store->machine_classes()->size() == 2);
  std::int64_t left = -1;
  REQUIRE(r.store->read([&](sql::Db& db) -> Status {
                   auto q = db.prepare("SELECT count(*) FROM uplink_kv WHERE key LIKE 'zone:%'");
                   if (!q) return q.status();
                   auto row = (*q)->step();
                   if (!row) return row.status();
                   left = (*q)->i64(0);
                   (*q)->reset();
                   return Status::Ok();
                 }).ok());
  CHECK(left == 0);
  for (auto c : {"iso10816_class1", "iso20816_3_group2_rigid"}) analytics::ZoneTable::global().unregister_class(c);
}
