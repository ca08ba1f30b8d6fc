// SPDX-License-Identifier: Apache-2.0
// Plant commands (uplink/plant_command.h): sealed commands between two
// gateways over an in-memory broker; forged, altered, stale, replayed and
// off-route commands are refused and counted, and never applied.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "uplink/plant_command.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using namespace vigil::uplink;
using nlohmann::json;

namespace {

PlantKey key_of(std::uint8_t b) {
  PlantKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(b + i);
  return k;
}

struct Msg {
  std::string topic, payload;
};

// Two gateways, "gw-a" and "gw-b", whose publications land in `wire`;
// deliver() hands each to the gateway whose topic it is.
struct Pair {
  MetricsRegistry metrics;
  std::vector<Msg> wire;
  std::vector<std::pair<RemoteRequest, std::string>> applied_on_b;  // (request, actor)
  std::unique_ptr<PlantCommands> a, b;
  std::vector<std::string> audit_a;
  explicit Pair(PlantKey ka = key_of(1), PlantKey kb = key_of(1)) {
    auto publish = [this](const std::string& t, const std::string& p) {
      wire.push_back({t, p});
      return Status::Ok();
    };
    a = std::make_unique<PlantCommands>(
        PlantCommandOptions{"works", "gw-a", ka}, publish,
        [](const RemoteRequest&, const std::string&) { return std::pair<int, json>{500, json()}; },
        [this](const std::string& actor, const std::string& action, const std::string& target, const std::string&) {
          audit_a.push_back(actor + " " + action + " " + target);
        },
        metrics);
    b = std::make_unique<PlantCommands>(
        PlantCommandOptions{"works", "gw-b", kb}, publish,
        [this](const RemoteRequest& r, const std::string& actor) {
          applied_on_b.emplace_back(r, actor);
          return std::pair<int, json>{201, json{{"id", 7}}};
        },
        nullptr, metrics);
  }
  // Delivers everything on the wire; returns how many were refused.
  int deliver(TimestampMs now) {
    int refused = 0;
    auto msgs = std::move(wire);
    wire.clear();
    for (const auto& m : msgs) {
      PlantCommands* to = m.topic.find("/gw-b/") != std::string::npos ? b.get() : a.get();
      if (!to->on_message(m.topic, m.payload, now)) ++refused;
    }
    return refused;
  }
  std::uint64_t rejected(const std::string& reason) const {
    return metrics.counter_value("vigil_plant_commands_rejected_total", "reason=\"" + reason + "\"");
  }
};

constexpr TimestampMs kNow = 1'796'205'600'000;
const RemoteRequest kCommission{"POST", "/api/v1/sensors",
                                json{{"address", "A4:C1:38:00:00:01"}, {"key", "00112233445566778899aabbccddeeff"}}};

}  // namespace

TEST_CASE("a command reaches the owner sealed, is applied as the sending user, and its result comes back") {
  Pair p;
  int answered = 0;
  auto id = p.a->send("gw-b", kCommission, "alice", kNow, [&](int status, const json& body) {
    ++answered;
    CHECK(status == 201);
    CHECK(body["id"] == 7);
  });
  REQUIRE(id.ok());
  REQUIRE(p.wire.size() == 1);
  CHECK(p.wire[0].topic == "vigil/plant/works/gateways/gw-b/cmd");
  // The sensor key never crosses the broker in the clear.
  CHECK(p.wire[0].payload.find("00112233445566778899aabbccddeeff") == std::string::npos);
  CHECK(p.wire[0].payload.find("A4:C1:38") == std::string::npos);
  CHECK(p.a->get(*id, kNow)->at("state") == "pending");

  CHECK(p.deliver(kNow + 50) == 0);  // the command, on B
  REQUIRE(p.applied_on_b.size() == 1);
  CHECK(p.applied_on_b[0].first.path == "/api/v1/sensors");
  CHECK(p.applied_on_b[0].first.body["key"] == "00112233445566778899aabbccddeeff");
  CHECK(p.applied_on_b[0].second == "plant:gw-a:alice");
  REQUIRE(p.wire.size() == 1);
  CHECK(p.wire[0].topic == "vigil/plant/works/gateways/gw-a/result");

  CHECK(p.deliver(kNow + 90) == 0);  // the result, on A
  CHECK(answered == 1);
  auto c = p.a->get(*id, kNow + 100);
  REQUIRE(c);
  CHECK((*c)["state"] == "applied");
  CHECK((*c)["status"] == 201);
  CHECK(p.a->list(kNow)[0]["id"] == *id);
  REQUIRE(p.audit_a.size() == 1);
  CHECK(p.audit_a[0] == "alice plant.cmd.sent gateway/gw-b");
}

TEST_CASE("a command sealed with another key is refused and not applied") {
  Pair p(key_of(1), key_of(9));
  REQUIRE(p.a->send("gw-b", kCommission, "mallory", kNow).ok());
  CHECK(p.deliver(kNow) == 1);
  CHECK(p.applied_on_b.empty());
  CHECK(p.rejected("bad_seal") == 1);
}

TEST_CASE("an altered envelope is refused: redirected, re-dated or tampered") {
  for (const char* what : {"to", "ts_ms", "sealed", "id"}) {
    Pair p;
    REQUIRE(p.a->send("gw-b", kCommission, "alice", kNow).ok());
    json env = json::parse(p.wire[0].payload);
    if (std::string(what) == "to") env["to"] = "gw-c";
    if (std::string(what) == "ts_ms") env["ts_ms"] = kNow + 1000;
    if (std::string(what) == "id") env["id"] = "other-1";
    if (std::string(what) == "sealed") {
      std::string s = env["sealed"];
      s[30] = s[30] == 'a' ? 'b' : 'a';
      env["sealed"] = s;
    }
    std::string why;
    CHECK_FALSE(p.b->on_message(p.wire[0].topic, env.dump(), kNow, &why));
    CHECK(p.applied_on_b.empty());
    INFO(what << ": " << why);
    CHECK((why.rfind("bad_seal", 0) == 0 || why.rfind("not_for_us", 0) == 0));
  }
}

TEST_CASE("a replayed command is refused, and so is one outside the clock window") {
  Pair p;
  REQUIRE(p.a->send("gw-b", kCommission, "alice", kNow).ok());
  const Msg m = p.wire[0];
  CHECK(p.b->on_message(m.topic, m.payload, kNow));
  CHECK_FALSE(p.b->on_message(m.topic, m.payload, kNow + 1000));
  CHECK(p.rejected("replayed") == 1);
  CHECK(p.applied_on_b.size() == 1);

  Pair q;
  REQUIRE(q.a->send("gw-b", kCommission, "alice", kNow).ok());
  CHECK_FALSE(q.b->on_message(q.wire[0].topic, q.wire[0].payload, kNow + 6 * 60'000));
  CHECK(q.rejected("stale") == 1);
  CHECK(q.applied_on_b.empty());
}

TEST_CASE("only sensor lifecycle routes may be called on another gateway") {
  CHECK(allowed_remote_route("POST", "/api/v1/sensors"));
  CHECK(allowed_remote_route("POST", "/api/v1/sensors/12/move"));
  CHECK(allowed_remote_route("POST", "/api/v1/sensors/12/decommission"));
  CHECK(allowed_remote_route("POST", "/api/v1/sensors/12/reassign"));
  CHECK(allowed_remote_route("PATCH", "/api/v1/sensors/12"));
  CHECK(allowed_remote_route("GET", "/api/v1/sensors/discovered"));
  CHECK_FALSE(allowed_remote_route("POST", "/api/v1/users"));
  CHECK_FALSE(allowed_remote_route("DELETE", "/api/v1/sites/1"));
  CHECK_FALSE(allowed_remote_route("POST", "/api/v1/sensors/0/move"));
  CHECK_FALSE(allowed_remote_route("POST", "/api/v1/sensors/12/move/../../users"));
  CHECK_FALSE(allowed_remote_route("GET", "/api/v1/backup"));

  Pair p;
  auto r = p.a->send("gw-b", RemoteRequest{"POST", "/api/v1/tokens", json::object()}, "alice", kNow);
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(p.wire.empty());
}

TEST_CASE("malformed, oversized and foreign messages are counted and dropped") {
  Pair p;
  const std::string topic = plant_command_topic("works", "gw-b");
  CHECK_FALSE(p.b->on_message(topic, "{not json", kNow));
  CHECK_FALSE(p.b->on_message(topic, json{{"v", 2}}.dump(), kNow));
  CHECK_FALSE(p.b->on_message(topic, std::string(kMaxPlantCommandBytes + 1, 'x'), kNow));
  json other = {{"v", 1},    {"type", "vigil.plant.command"}, {"plant_id", "elsewhere"}, {"from", "gw-a"},
                {"to", "gw-b"}, {"id", "x-1"},              {"ts_ms", kNow},          {"sealed", "00"}};
  CHECK_FALSE(p.b->on_message(topic, other.dump(), kNow));
  CHECK(p.rejected("malformed") == 2);
  CHECK(p.rejected("oversized") == 1);
  CHECK(p.rejected("other_plant") == 1);
  CHECK(p.applied_on_b.empty());
}

TEST_CASE("a command without an answer reads no_answer after the timeout") {
  Pair p;
  auto id = p.a->send("gw-b", kCommission, "alice", kNow);
  REQUIRE(id.ok());
  CHECK(p.a->get(*id, kNow + 31'000)->at("state") == "no_answer");
}

TEST_CASE("the command key file holds 64 hex digits") {
  TempDir dir;
  const auto path = dir.file("plant.key");
  std::ofstream(path) << "  00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
  auto k = read_plant_key(path);
  REQUIRE(k.ok());
  CHECK((*k)[1] == 0x11);
  std::ofstream(path) << "0011";
  CHECK(read_plant_key(path).status().message().find("64 hex digits") != std::string::npos);
  std::ofstream(path) << std::string(64, '0');
  CHECK_FALSE(read_plant_key(path).ok());
  CHECK(read_plant_key(path + ".missing").status().code() == Status::Code::kNotFound);
}

TEST_CASE("an answer that arrives before send() returns is still matched to its command") {
  // A broker that delivers at once, on the publishing thread: B answers
  // inside A's publish, before A's send() has returned.
  MetricsRegistry metrics;
  std::unique_ptr<PlantCommands> a, b;
  auto publish = [&](const std::string& t, const std::string& p) {
    PlantCommands* to = t.find("/gw-b/") != std::string::npos ? b.get() : a.get();
    to->on_message(t, p, kNow);
    return Status::Ok();
  };
  auto apply = [](const RemoteRequest&, const std::string&) { return std::pair<int, json>{201, json::object()}; };
  a = std::make_unique<PlantCommands>(PlantCommandOptions{"works", "gw-a", key_of(1)}, publish, apply, nullptr, metrics);
  b = std::make_unique<PlantCommands>(PlantCommandOptions{"works", "gw-b", key_of(1)}, publish, apply, nullptr, metrics);
  auto id = a->send("gw-b", kCommission, "alice", kNow);
  REQUIRE(id.ok());
  CHECK(a->get(*id, kNow)->at("state") == "applied");
  CHECK(metrics.counter_value("vigil_plant_commands_rejected_total", "reason=\"unknown_command\"") == 0);
}
