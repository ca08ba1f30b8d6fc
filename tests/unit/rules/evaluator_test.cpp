// SPDX-License-Identifier: Apache-2.0
// The pure evaluator (shared by the live engine, preview and the backtest):
// durations, hysteresis, rates, binary states, silence, calendar windows.
#include <catch2/catch.hpp>

#include <date/date.h>

#include "rules/evaluator.h"

using namespace vigil;
using namespace vigil::rules;

namespace {

constexpr TimestampMs kMin = 60'000;
constexpr TimestampMs kT0 = 1'780'000'000'000LL;

Rule rule_with(std::vector<Condition> cs) {
  Rule r;
  r.id = 1;
  r.name = "test";
  r.conditions = std::move(cs);
  REQUIRE(validate_rule(r).ok());
  return r;
}

Condition cond(const std::string& metric, const std::string& op, double value, double for_s = 0) {
  Condition c;
  c.metric = metric;
  c.op = op;
  c.value = value;
  c.for_s = for_s;
  return c;
}

const Target kPump{1, 10, Id{100}, "UTC"};

TimestampMs utc(date::sys_seconds t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); }

}  // namespace

TEST_CASE("a for-10-minutes rule does not fire at 9 minutes", "[rules][evaluator]") {
  Evaluator ev(rule_with({cond("temperature_c", "above", 30, 600)}));
  std::vector<Fire> fires;
  ev.on_reading(kPump, "temperature_c", kT0, 35, fires);
  ev.advance(kT0 + 9 * kMin, fires);
  CHECK(fires.empty());
  SECTION("and fires at 10 minutes without another reading, saying since when") {
    ev.advance(kT0 + 10 * kMin, fires);
    REQUIRE(fires.size() == 1);
    CHECK(fires[0].ts == kT0 + 10 * kMin);
    CHECK(fires[0].asset_id == 10);
    CHECK(fires[0].position_id == 100);
    CHECK(fires[0].explanation.find("temperature_c 35 at position 100 above 30 since") != std::string::npos);
  }
}

TEST_CASE("a dip below the threshold starts the 10 minutes again", "[rules][evaluator]") {
  Evaluator ev(rule_with({cond("temperature_c", "above", 30, 600)}));
  std::vector<Fire> fires;
  ev.on_reading(kPump, "temperature_c", kT0, 35, fires);
  ev.on_reading(kPump, "temperature_c", kT0 + 5 * kMin, 29, fires);
  ev.on_reading(kPump, "temperature_c", kT0 + 6 * kMin, 31, fires);
  ev.advance(kT0 + 15 * kMin, fires);
  CHECK(fires.empty());
  ev.advance(kT0 + 16 * kMin, fires);
  CHECK(fires.size() == 1);
}

TEST_CASE("a rule fires once and re-arms only after its condition clears beyond the hysteresis",
          "[rules][evaluator]") {
  Condition c = cond("temperature_c", "above", 30);
  c.hysteresis = 2;
  Evaluator ev(rule_with({c}));
  std::vector<Fire> fires;
  TimestampMs t = kT0;
  for (double v : {31.0, 32.0, 29.0, 28.5, 31.0, 33.0}) ev.on_reading(kPump, "temperature_c", t += kMin, v, fires);
  CHECK(fires.size() == 1);  // 29 and 28.5 stay within the hysteresis band: no storm
  ev.on_reading(kPump, "temperature_c", t += kMin, 27.5, fires);  // clears (below 28)
  ev.on_reading(kPump, "temperature_c", t += kMin, 30.5, fires);
  CHECK(fires.size() == 2);
}

TEST_CASE("all conditions must hold on one asset at once", "[rules][evaluator]") {
  Evaluator ev(rule_with({cond("temperature_c", "above", 30), cond("running", "state_held", 0)}));
  std::vector<Fire> fires;
  ev.on_reading(kPump, "temperature_c", kT0, 35, fires);
  CHECK(fires.empty());
  const Target other{1, 11, Id{110}, "UTC"};
  ev.on_reading(other, "running", kT0 + 1000, 0, fires);  // another asset: no help
  CHECK(fires.empty());
  ev.on_reading(kPump, "running", kT0 + 2000, 0, fires);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].explanation.find("running = 0") != std::string::npos);
}

TEST_CASE("a rate rule fires on a fast rise between consecutive readings", "[rules][evaluator]") {
  Condition c = cond("temperature_c", "rate_above", 2);  // more than 2 °C per minute
  c.per_s = 60;
  Evaluator ev(rule_with({c}));
  std::vector<Fire> fires;
  ev.on_reading(kPump, "temperature_c", kT0, 20, fires);
  ev.on_reading(kPump, "temperature_c", kT0 + 2 * kMin, 23, fires);  // 1.5 per minute
  CHECK(fires.empty());
  ev.on_reading(kPump, "temperature_c", kT0 + 3 * kMin, 26, fires);  // 3 per minute
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].explanation.find("changing 3 per 60 s") != std::string::npos);
}

TEST_CASE("a door held open for 5 minutes fires, a door opened briefly does not", "[rules][evaluator]") {
  Evaluator ev(rule_with({cond("door_open", "state_held", 1, 300)}));
  std::vector<Fire> fires;
  ev.on_reading(kPump, "door_open", kT0, 1, fires);
  ev.on_reading(kPump, "door_open", kT0 + 2 * kMin, 0, fires);
  ev.advance(kT0 + 20 * kMin, fires);
  CHECK(fires.empty());
  ev.on_reading(kPump, "door_open", kT0 + 21 * kMin, 1, fires);
  ev.advance(kT0 + 26 * kMin, fires);
  CHECK(fires.size() == 1);
}

TEST_CASE("no_data fires when an asset falls silent and re-arms with the next reading", "[rules][evaluator]") {
  Condition c = cond("*", "no_data", 0, 900);
  Evaluator ev(rule_with({c}));
  std::vector<Fire> fires;
  ev.add_asset(kPump, kT0);
  ev.on_reading(kPump, "velocity_rms_mm_s", kT0 + kMin, 2, fires);
  ev.advance(kT0 + 15 * kMin, fires);
  CHECK(fires.empty());
  ev.advance(kT0 + 17 * kMin, fires);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].ts == kT0 + 16 * kMin);
  ev.advance(kT0 + 60 * kMin, fires);
  CHECK(fires.size() == 1);
  ev.on_reading(kPump, "temperature_c", kT0 + 61 * kMin, 20, fires);
  ev.advance(kT0 + 77 * kMin, fires);
  CHECK(fires.size() == 2);
}

namespace {
// Hourly readings of a counter rising 1 kWh per hour, from..to (UTC hours).
std::vector<Fire> hourly_kwh(const Rule& r, date::sys_seconds from, date::sys_seconds to) {
  Evaluator ev(r);
  const Target berlin{1, 10, Id{100}, "Europe/Berlin"};
  std::vector<Fire> fires;
  double kwh = 1000;
  for (auto t = from; t <= to; t += std::chrono::hours(1)) ev.on_reading(berlin, "energy_kwh", utc(t), kwh++, fires);
  return fires;
}
}  // namespace

TEST_CASE("daily kWh budget across the spring DST change uses a 23-hour day", "[rules][evaluator][dst]") {
  using namespace date;
  Condition c = cond("energy_kwh", "increase_above", 23.5);
  c.window = "day";
  const Rule r = rule_with({c});
  // Europe/Berlin, local midnight 2026-03-27 to 2026-03-31; 29 March has 23 hours.
  auto fires = hourly_kwh(r, sys_days{2026_y / March / 26} + std::chrono::hours(23),
                          sys_days{2026_y / March / 30} + std::chrono::hours(22));
  std::vector<TimestampMs> at;
  for (const auto& f : fires) at.push_back(f.ts);
  // 24 kWh on the 27th, 28th and 30th (each counted when its last hour ends), 23 on the 29th.
  CHECK(at == std::vector<TimestampMs>{utc(sys_days{2026_y / March / 27} + std::chrono::hours(23)),
                                       utc(sys_days{2026_y / March / 28} + std::chrono::hours(23)),
                                       utc(sys_days{2026_y / March / 30} + std::chrono::hours(22))});
}

TEST_CASE("daily kWh budget across the autumn DST change uses a 25-hour day", "[rules][evaluator][dst]") {
  using namespace date;
  Condition c = cond("energy_kwh", "increase_above", 24.5);
  c.window = "day";
  auto fires = hourly_kwh(rule_with({c}), sys_days{2026_y / October / 23} + std::chrono::hours(22),
                          sys_days{2026_y / October / 26} + std::chrono::hours(23));
  REQUIRE(fires.size() == 1);  // only 25 October (25 hours) uses more than 24.5 kWh
  // The 25th kWh of the day arrives at local 24:00 = 23:00 UTC on the 25th.
  CHECK(fires[0].ts == utc(sys_days{2026_y / October / 25} + std::chrono::hours(23)));
  CHECK(fires[0].explanation.find("Europe/Berlin") != std::string::npos);
}

TEST_CASE("a monthly budget counts from the counter at the start of the month, through a meter reset",
          "[rules][evaluator]") {
  using namespace date;
  Condition c = cond("energy_kwh", "increase_above", 100);
  c.window = "month";
  Evaluator ev(rule_with({c}));
  std::vector<Fire> fires;
  const Target t{1, 10, Id{100}, "UTC"};
  ev.on_reading(t, "energy_kwh", utc(sys_days{2026_y / May / 31}), 5000, fires);
  ev.on_reading(t, "energy_kwh", utc(sys_days{2026_y / June / 10}), 5060, fires);
  ev.on_reading(t, "energy_kwh", utc(sys_days{2026_y / June / 11}), 10, fires);  // reset to 0, then 10
  CHECK(fires.empty());  // 60·(9/10) of June before the reset + 10 = 64
  ev.on_reading(t, "energy_kwh", utc(sys_days{2026_y / June / 20}), 50, fires);
  CHECK(fires.size() == 1);  // 104
  ev.on_reading(t, "energy_kwh", utc(sys_days{2026_y / July / 2}), 52, fires);  // a new month
  CHECK(fires.size() == 1);
}

TEST_CASE("pending state written as JSON restores the same evaluation", "[rules][evaluator]") {
  const Rule r = rule_with({cond("temperature_c", "above", 30, 600)});
  Evaluator a(r);
  std::vector<Fire> fires;
  a.on_reading(kPump, "temperature_c", kT0, 35, fires);
  auto dirty = a.take_dirty();
  REQUIRE(dirty == std::vector<Id>{10});
  Evaluator b(r);
  REQUIRE(b.load_state(kPump, a.state_json(10)).ok());
  b.advance(kT0 + 10 * kMin, fires);
  CHECK(fires.size() == 1);
  SECTION("state of another shape is refused") {
    Evaluator c(rule_with({cond("temperature_c", "above", 30), cond("running", "state_held", 1)}));
    CHECK_FALSE(c.load_state(kPump, a.state_json(10)).ok());
    CHECK(c.assets() == 0);
  }
}
