// SPDX-License-Identifier: Apache-2.0
// The gateway's self-monitoring against fake probes and a recording sink.
#include <catch2/catch.hpp>

#include <vector>

#include "app/self_monitor.h"

using namespace vigil;
using namespace vigil::app;

namespace {
struct Rig {
  double disk = 50;
  std::optional<bool> uplink = true;
  std::optional<std::string> ble;
  StoreStats stats;
  TimestampMs wall = 1'700'000'000'000;
  std::int64_t mono = 1000;
  std::vector<alerts::ExternalAlert> raised;
  MonitoringConfig cfg;

  SelfMonitor make() {
    SelfProbes p;
    p.disk_free_pct = [this] { return std::optional<double>(disk); };
    p.uplink_connected = [this] { return uplink; };
    p.ble_problem = [this] { return ble; };
    p.store_stats = [this] { return stats; };
    p.wall_ms = [this] { return wall; };
    p.monotonic_ms = [this] { return mono; };
    return SelfMonitor(cfg, p, [this](const alerts::ExternalAlert& e) {
      raised.push_back(e);
      return Status::Ok();
    });
  }
  void pass(std::int64_t ms) {
    mono += ms;
    wall += ms;
  }
  int count(const std::string& kind) const {
    int n = 0;
    for (const auto& e : raised) n += e.kind == kind;
    return n;
  }
};
}  // namespace

TEST_CASE("a healthy gateway raises nothing", "[self_monitor]") {
  Rig r;
  auto m = r.make();
  for (int i = 0; i < 10; ++i) {
    m.check();
    r.pass(10'000);
  }
  CHECK(r.raised.empty());
}

TEST_CASE("a nearly full disk is a warning, then an alarm", "[self_monitor]") {
  Rig r;
  auto m = r.make();
  r.disk = 8;
  m.check();
  REQUIRE(r.count("disk_low") == 1);
  CHECK(r.raised.back().severity == "warning");
  CHECK(r.raised.back().model == "gateway");
  r.disk = 2;
  m.check();
  CHECK(r.raised.back().severity == "alarm");
  CHECK(r.raised.back().explanation.find("2.0 %") != std::string::npos);
}

TEST_CASE("an uplink outage is raised only after it lasted the configured minutes", "[self_monitor]") {
  Rig r;
  r.cfg.uplink_down_alert_min = 30;
  auto m = r.make();
  r.uplink = false;
  m.check();
  r.pass(29 * 60'000);
  m.check();
  CHECK(r.count("uplink_down") == 0);
  r.pass(60'000);
  m.check();
  CHECK(r.count("uplink_down") == 1);
  // Reconnecting resets the clock: a short outage later is not an alert.
  r.uplink = true;
  m.check();
  r.uplink = false;
  r.pass(60'000);
  m.check();
  CHECK(r.count("uplink_down") == 1);
  // A disabled uplink (nullopt) is never "down".
  r.uplink.reset();
  r.pass(3'600'000);
  m.check();
  CHECK(r.count("uplink_down") == 1);
}

TEST_CASE("a Bluetooth adapter that stays unusable is an alarm naming why", "[self_monitor]") {
  Rig r;
  r.cfg.ble_down_alert_min = 5;
  auto m = r.make();
  r.ble = "no adapter hci0";
  m.check();
  r.pass(5 * 60'000);
  m.check();
  REQUIRE(r.count("ble_down") == 1);
  CHECK(r.raised.back().explanation.find("no adapter hci0") == 0);
}

TEST_CASE("a store writer that stops committing with readings queued is raised", "[self_monitor]") {
  Rig r;
  r.cfg.writer_lag_alert_s = 60;
  auto m = r.make();
  r.stats.queued_points = 500;
  r.stats.points_committed = 10;
  m.check();  // first sight: progress since start
  r.pass(30'000);
  r.stats.points_committed = 20;  // still committing: fine
  m.check();
  r.pass(30'000);
  m.check();
  r.pass(59'000);
  m.check();
  CHECK(r.count("writer_behind") == 0);
  r.pass(2'000);
  r.stats.last_error = "database or disk is full";
  m.check();
  REQUIRE(r.count("writer_behind") == 1);
  CHECK(r.raised.back().explanation.find("disk is full") != std::string::npos);
}

TEST_CASE("a wall clock step against the monotonic clock is raised, steady time is not", "[self_monitor]") {
  Rig r;
  r.cfg.clock_jump_alert_s = 300;
  auto m = r.make();
  m.check();
  r.pass(10'000);
  m.check();
  CHECK(r.count("clock_jump") == 0);
  r.pass(10'000);
  r.wall -= 3'600'000;  // RTC reset an hour back
  m.check();
  REQUIRE(r.count("clock_jump") == 1);
  CHECK(r.raised.back().explanation.find("-3600.0 s") != std::string::npos);
}

TEST_CASE("checks set to 0 are off", "[self_monitor]") {
  Rig r;
  r.cfg = MonitoringConfig{0, 0, 0, 0, 0, 0, 10};
  auto m = r.make();
  r.disk = 0.5;
  r.uplink = false;
  r.ble = "adapter off";
  r.stats.queued_points = 10;
  for (int i = 0; i < 5; ++i) {
    r.pass(3'600'000);
    r.wall += 1'000'000;
    m.check();
  }
  CHECK(r.raised.empty());
}
