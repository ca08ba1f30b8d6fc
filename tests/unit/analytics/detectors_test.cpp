// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "analytics/detectors.h"
#include "analytics/position.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr TimestampMs kHour = 3600 * 1000;

// A healthy machine: feature values with a few percent of lognormal noise.
struct Plant {
  std::mt19937 rng{42};
  std::normal_distribution<double> n{0, 0.03};
  double vel = 1.0, acc = 0.08, env = 0.01, kurt = 3.0;
  std::vector<dsp::Feature> sample(double env_factor = 1, double level = 1) {
    auto j = [&](double v) { return v * std::exp(n(rng)); };
    return {{"velocity_rms_mm_s", j(vel * level)}, {"accel_rms_g", j(acc * level)}, {"kurtosis", j(kurt)},
            {"envelope_rms_g", j(env * level)}, {"env_bpfo_g", j(env * env_factor)}, {"env_bpfi_g", j(env)}};
  }
};

AnalyticsOptions opts() {
  AnalyticsOptions o;
  o.learning_hours = 48;
  return o;
}

// Feeds `hours` of hourly measurements; returns the last assessment.
Assessment feed(PositionAnalyzer& pa, Plant& p, TimestampMs& t, int hours, double env_factor = 1, double level = 1) {
  Assessment a;
  for (int i = 0; i < hours; ++i, t += kHour) a = pa.assess_vibration(t, p.sample(env_factor, level));
  return a;
}
}  // namespace

TEST_CASE("ISO zones follow the machine class tables", "[analytics]") {
  auto l = ZoneTable::global().limits("iso10816_class2");
  REQUIRE(l.ok());
  CHECK(ZoneTable::zone(*l, 1.0) == Zone::kA);
  CHECK(ZoneTable::zone(*l, 2.0) == Zone::kB);
  CHECK(ZoneTable::zone(*l, 3.0) == Zone::kC);
  CHECK(ZoneTable::zone(*l, 7.1) == Zone::kD);
  CHECK(ZoneTable::state(Zone::kC) == HealthState::kWarning);
  CHECK(ZoneTable::state(Zone::kD) == HealthState::kAlarm);
  auto g = ZoneTable::global().limits("iso20816_3_group1_flexible");
  REQUIRE(g.ok());
  CHECK(g->cd == 11.0);
  CHECK(ZoneTable::global().limits("no_such_class").status().code() == Status::Code::kNotFound);
}

TEST_CASE("users can define their own machine classes", "[analytics]") {
  ZoneTable t;
  REQUIRE(t.register_class("fan_line_3", {0.5, 1.0, 2.0}).ok());
  CHECK(ZoneTable::zone(*t.limits("fan_line_3"), 1.5) == Zone::kC);
  CHECK(t.register_class("bad", {2.0, 1.0, 3.0}).code() == Status::Code::kInvalidArgument);
}

TEST_CASE("persistence needs N of the last M pointwise states", "[analytics]") {
  Persistence p(2, 3);
  CHECK(p.update(HealthState::kHealthy) == HealthState::kHealthy);
  CHECK(p.update(HealthState::kWarning) == HealthState::kHealthy);  // one blip
  CHECK(p.update(HealthState::kHealthy) == HealthState::kHealthy);
  CHECK(p.update(HealthState::kAlarm) == HealthState::kWarning);    // 2 of 3 ≥ warning
  CHECK(p.update(HealthState::kAlarm) == HealthState::kAlarm);      // 2 of 3 alarm
  CHECK(p.update(HealthState::kNotRunning) == HealthState::kNotRunning);
  CHECK(p.update(HealthState::kHealthy) == HealthState::kHealthy);  // window restarted
}

TEST_CASE("the baseline score is calibrated and robust to outliers in the learning data", "[analytics]") {
  std::mt19937 rng(1);
  std::normal_distribution<double> n(0, 0.05);
  Baseline b({{"a", true, 0.01}, {"b", true, 0.01}, {"c", true, 0.01}});
  for (int i = 0; i < 300; ++i) {
    double k = i % 50 == 0 ? 20.0 : 1.0;  // 2 % gross outliers
    REQUIRE(b.add({k * std::exp(n(rng)), std::exp(n(rng)), std::exp(n(rng))}).ok());
  }
  REQUIRE(b.fit().ok());
  CHECK(b.median_raw(0) == Approx(1.0).margin(0.02));
  // In-distribution points rarely pass 3 (≈ 1 in 740); a 2× jump is far out.
  int over = 0;
  for (int i = 0; i < 1000; ++i)
    over += b.score({std::exp(n(rng)), std::exp(n(rng)), std::exp(n(rng))}).score > 3;
  CHECK(over < 20);
  auto s = b.score({2.0, 1.0, 1.0});
  CHECK(s.score > 8);
  REQUIRE(!s.top.empty());
  CHECK(s.top[0].feature == "a");
  CHECK(s.top[0].ratio == Approx(2.0).epsilon(0.05));
}

TEST_CASE("a sudden change is caught and explained", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  auto a = feed(pa, p, t, 24);
  CHECK(a.state == HealthState::kInitializing);
  a = feed(pa, p, t, 48);
  CHECK(a.state == HealthState::kHealthy);
  a = feed(pa, p, t, 3, 6.0);  // BPFO envelope band jumps 6×: sustained evidence after 3
  CHECK(severity(a.state) >= severity(HealthState::kWarning));
  a = feed(pa, p, t, 6, 6.0, 3.0);  // and the whole machine three times louder: alarm within hours
  CHECK(a.state == HealthState::kAlarm);
  INFO(a.explanation);
  CHECK(a.explanation.find("BPFO envelope band") != std::string::npos);
  CHECK(a.explanation.find("× baseline") != std::string::npos);
}

TEST_CASE("a slow drift is caught", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  feed(pa, p, t, 60);
  int first_warning = -1;
  for (int h = 0; h < 24 * 14; ++h, t += kHour) {
    double level = 1.0 + 0.004 * h;  // +0.4 % an hour: doubles in ~10 days
    auto a = pa.assess_vibration(t, p.sample(1, level));
    if (first_warning < 0 && severity(a.state) >= severity(HealthState::kWarning)) first_warning = h;
  }
  CHECK(first_warning > 12);          // not at once
  CHECK(first_warning < 24 * 6);      // well before the level doubles
}

TEST_CASE("a machine that stops reads not_running and is not scored", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  feed(pa, p, t, 60);
  auto a = pa.assess_vibration(t, p.sample(1, 0.02));  // 2 % of normal vibration
  CHECK(a.state == HealthState::kNotRunning);
  CHECK_FALSE(a.running);
  CHECK_FALSE(a.score.has_value());
  t += kHour;
  a = pa.assess_vibration(t, p.sample());
  CHECK(a.state == HealthState::kHealthy);
  // Before any baseline only the absolute floor applies.
  PositionAnalyzer fresh(MachineInfo{}, opts());
  CHECK(fresh.assess_vibration(t, {{"accel_rms_g", 1e-4}, {"velocity_rms_mm_s", 0.001}}).state ==
        HealthState::kNotRunning);
}

TEST_CASE("a NO_ISSUE closure absorbs the new behaviour as normal", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  feed(pa, p, t, 60);
  const TimestampMs since = t;
  auto a = feed(pa, p, t, 12, 1, 1.6);  // a new, steady operating point
  REQUIRE(severity(a.state) >= severity(HealthState::kWarning));
  pa.absorb_since(kVibrationMl, since);
  a = feed(pa, p, t, 6, 1, 1.6);
  CHECK(a.state == HealthState::kHealthy);
}

TEST_CASE("a maintenance closure re-baselines", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  feed(pa, p, t, 60);
  pa.rebaseline("");
  auto a = feed(pa, p, t, 2, 1, 0.5);  // new bearing: quieter
  CHECK(a.state == HealthState::kInitializing);
  a = feed(pa, p, t, 60, 1, 0.5);
  CHECK(a.state == HealthState::kHealthy);
}

TEST_CASE("the ISO model flags zone C and D without any learning", "[analytics]") {
  MachineInfo m;
  m.machine_class = "iso10816_class2";
  PositionAnalyzer pa(m, opts());
  TimestampMs t = 1'700'000'000'000;
  Assessment a;
  for (int i = 0; i < 3; ++i) a = pa.assess_vibration(t += kHour, {{"velocity_rms_mm_s", 8.0}});
  REQUIRE(a.zone.has_value());
  CHECK(*a.zone == Zone::kD);
  CHECK(a.state == HealthState::kAlarm);
}

TEST_CASE("temperature and any metric get their own learned model", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  TimestampMs t = 1'700'000'000'000;
  std::mt19937 rng(3);
  std::normal_distribution<double> n(0, 0.5);
  Assessment a;
  for (int i = 0; i < 60; ++i) a = pa.assess_metric(t += kHour, "temperature_c", 40 + n(rng));
  CHECK(a.state == HealthState::kHealthy);
  for (int i = 0; i < 6; ++i) a = pa.assess_metric(t += kHour, "temperature_c", 55);
  CHECK(a.state == HealthState::kAlarm);
  CHECK(a.models[0].model == kTemperatureMl);
  CHECK(a.explanation.find("temperature_c 55 vs expected") != std::string::npos);
  for (int i = 0; i < 60; ++i) a = pa.assess_metric(t += kHour, "power_w", 1000 + 10 * n(rng));
  CHECK(a.models[0].model == "metric:power_w");
  CHECK(a.state == HealthState::kHealthy);
}

TEST_CASE("a learned baseline gives each metric a normal band around its median", "[analytics]") {
  PositionAnalyzer pa(MachineInfo{}, opts());
  Plant p;
  TimestampMs t = 1'700'000'000'000;
  feed(pa, p, t, 24);
  CHECK(pa.baseline_bands(3).empty());  // still learning
  feed(pa, p, t, 40);
  std::mt19937 rng(5);
  std::normal_distribution<double> n(0, 0.5);
  for (int i = 0; i < 60; ++i) pa.assess_metric(t += kHour, "temperature_c", 40 + n(rng));
  auto bands = pa.baseline_bands(3);
  auto find = [&](const std::string& m) {
    for (auto& b : bands)
      if (b.metric == m) return b;
    FAIL("no band for " << m);
    return MetricBand{};
  };
  auto vel = find("velocity_rms_mm_s");
  CHECK(vel.model == kVibrationMl);
  CHECK(vel.median == Approx(1.0).epsilon(0.03));
  CHECK(vel.lo < vel.median);
  CHECK(vel.hi > vel.median);
  // A log feature's band is a ratio band; its width is floored at ±10 % per σ.
  CHECK(vel.hi / vel.median == Approx(vel.median / vel.lo).epsilon(1e-9));
  CHECK(vel.hi / vel.median >= std::exp(0.3) - 1e-9);
  auto temp = find("temperature_c");
  CHECK(temp.model == kTemperatureMl);
  CHECK(temp.median == Approx(40).margin(0.3));
  CHECK(temp.hi - temp.median == Approx(temp.median - temp.lo));
  // A wider k gives a wider band.
  for (auto& b : pa.baseline_bands(5))
    if (b.metric == "temperature_c") CHECK(b.hi - b.lo > temp.hi - temp.lo);
}
