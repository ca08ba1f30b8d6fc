// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "analytics/detectors.h"
#include "analytics/position.h"
#include "analytics/series_models.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr TimestampMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr TimestampMs kMin = 60'000;

AnalyticsOptions learn_first(int n) {
  AnalyticsOptions o;
  o.learn_count = n;
  return o;
}

bool bad(HealthState s) { return s == HealthState::kWarning || s == HealthState::kAlarm; }

// A room temperature with a daily cycle (±3 °C) and sensor noise, every 10 min.
double room(TimestampMs t, std::mt19937& rng) {
  std::normal_distribution<double> n(0, 0.15);
  const double h = static_cast<double>((t - kT0) % (24 * 60 * kMin)) / (60.0 * kMin);
  return 21 + 3 * std::sin(2 * M_PI * (h - 9) / 24) + n(rng);
}
}  // namespace

TEST_CASE("a daily cycle is not an anomaly", "[analytics][series]") {
  SeriesModel m("metric:temp", "temp", learn_first(6 * 24 * 3));  // three days to learn from
  std::mt19937 rng(7);
  int warnings = 0;
  TimestampMs t = kT0;
  for (int i = 0; i < 6 * 24 * 14; ++i, t += 10 * kMin) {
    auto s = m.update(t, room(t, rng), true);
    if (i >= 6 * 24 * 3) {
      REQUIRE(s.score.has_value());
      CHECK(*s.score >= 0);
      CHECK(*s.score <= 1);
      warnings += bad(s.persistent);
    }
  }
  CHECK(m.kind() == SeriesKind::kLevel);
  CHECK(m.cycle() == SeriesCycle::kDaily);
  CHECK(warnings == 0);
}

TEST_CASE("a level shift against the daily cycle is an anomaly, and stays one", "[analytics][series]") {
  SeriesModel m("metric:temp", "temp", learn_first(6 * 24 * 3));
  std::mt19937 rng(8);
  TimestampMs t = kT0;
  for (int i = 0; i < 6 * 24 * 5; ++i, t += 10 * kMin) m.update(t, room(t, rng), true);
  // +2 °C: small against the 6 °C daily swing, large against the noise.
  int first = -1, healthy_after = 0;
  for (int i = 0; i < 6 * 12; ++i, t += 10 * kMin) {
    auto s = m.update(t, room(t, rng) + 2, true);
    if (first < 0 && bad(s.persistent)) first = i;
    if (first >= 0 && !bad(s.persistent)) ++healthy_after;
  }
  CHECK(first >= 0);
  CHECK(first <= 12);         // within two hours
  CHECK(healthy_after == 0);  // not learned as normal within hours
}

TEST_CASE("a counter's jump in rate is an anomaly", "[analytics][series]") {
  // An energy meter: 2.2 kWh per 15 min by day, 1.2 at night, with noise.
  SeriesModel m("metric:energy_kwh", "energy_kwh", learn_first(4 * 24 * 4));
  std::mt19937 rng(9);
  std::normal_distribution<double> n(0, 0.08);
  double e = 1000;
  TimestampMs t = kT0;
  auto rate = [&](TimestampMs at) {
    const double h = static_cast<double>((at - kT0) % (24 * 60 * kMin)) / (60.0 * kMin);
    return h >= 6 && h < 22 ? 2.2 : 1.2;
  };
  int quiet_warnings = 0;
  for (int i = 0; i < 4 * 24 * 8; ++i, t += 15 * kMin) {
    e += rate(t) * (1 + n(rng));
    auto s = m.update(t, e, true);
    if (i > 4 * 24 * 4) quiet_warnings += bad(s.persistent);
  }
  CHECK(m.kind() == SeriesKind::kCounter);
  CHECK(quiet_warnings == 0);  // a total that only grows is not an anomaly
  int first = -1;
  for (int i = 0; i < 16; ++i, t += 15 * kMin) {
    e += 2 * rate(t) * (1 + n(rng));  // consumption doubles
    auto s = m.update(t, e, true);
    if (first < 0 && bad(s.persistent)) first = i;
  }
  CHECK(first >= 0);
  CHECK(first <= 4);
}

TEST_CASE("a counter reset is skipped, not scored as a huge drop", "[analytics][series]") {
  SeriesModel m("metric:energy_kwh", "energy_kwh", learn_first(50));
  double e = 10;
  TimestampMs t = kT0;
  for (int i = 0; i < 80; ++i, t += kMin) m.update(t, e += 1.0 + 0.05 * (i % 3), true);
  auto s = m.update(t += kMin, 0.5, true);  // the meter was replaced
  CHECK_FALSE(s.score.has_value());
  CHECK_FALSE(bad(s.persistent));
  s = m.update(t += kMin, 1.55, true);
  REQUIRE(s.score.has_value());
  CHECK_FALSE(bad(s.persistent));
}

TEST_CASE("doors, batteries and signal strength get no learned alerts", "[analytics][series]") {
  SeriesModel door("metric:door_open", "door_open", learn_first(10));
  SeriesModel battery("metric:battery_pct", "battery_pct", learn_first(10));
  SeriesModel unnamed("metric:value", "value", learn_first(20));  // 0/1 values learned as a state
  TimestampMs t = kT0;
  for (int i = 0; i < 40; ++i, t += kMin) {
    auto a = door.update(t, i % 7 == 0 ? 1 : 0, true);
    auto b = battery.update(t, i < 30 ? 90 : 5, true);  // a sudden drop is sensor health's business
    auto c = unnamed.update(t, i > 30 ? 1 : (i % 5 == 0), true);
    CHECK_FALSE(bad(a.persistent));
    CHECK_FALSE(bad(b.persistent));
    CHECK_FALSE(bad(c.persistent));
    CHECK_FALSE(a.score.has_value());
    CHECK_FALSE(b.score.has_value());
  }
  CHECK(door.kind() == SeriesKind::kBinary);
  CHECK(battery.kind() == SeriesKind::kSensorHealth);
  CHECK(unnamed.kind() == SeriesKind::kBinary);
}

TEST_CASE("a random walk is followed, and a jump in its volatility is an anomaly", "[analytics][series]") {
  SeriesModel m("metric:x", "x", learn_first(400));
  std::mt19937 rng(11);
  std::normal_distribution<double> n(0, 1);
  double x = 100;
  TimestampMs t = kT0;
  int calm_warnings = 0;
  for (int i = 0; i < 2000; ++i, t += kMin) {
    x += 0.2 * n(rng);
    auto s = m.update(t, x, true);
    if (i >= 400) calm_warnings += bad(s.persistent) ? 1 : 0;
  }
  CHECK(m.adaptation() >= 0.3);  // a wandering level is tracked, not pinned
  CHECK(calm_warnings == 0);
  bool flagged = false;
  for (int i = 0; i < 200 && !flagged; ++i, t += kMin) {
    x += 2.0 * n(rng);
    flagged = bad(m.update(t, x, true).persistent);
  }
  CHECK(flagged);
}

TEST_CASE("slow adaptation does not learn an anomaly as normal, but a lasting change becomes normal",
          "[analytics][series]") {
  SeriesModel m("metric:x", "x", learn_first(200));
  std::mt19937 rng(12);
  std::normal_distribution<double> n(0, 1);
  TimestampMs t = kT0;
  for (int i = 0; i < 400; ++i, t += kMin) m.update(t, 50 + n(rng), true);
  int warn = 0, steps = 0, score_high_after_onset = 0;
  for (; steps < 600; ++steps, t += kMin) {
    auto s = m.update(t, 60 + n(rng), true);  // +10 σ, lasting
    if (!bad(s.persistent)) {
      if (warn > 0) break;  // released: taken as the new normal
      continue;
    }
    ++warn;
    if (warn > 5 && s.score && *s.score > 0.5) ++score_high_after_onset;
  }
  CHECK(steps < 5 + warn);  // flagged within a few values
  CHECK(warn >= 150);  // flagged for as long as the learning period...
  CHECK(warn <= 260);  // ...then taken as the new normal
  CHECK(score_high_after_onset < 10);  // the score marks the change, not every value after it
  auto s = m.update(t += kMin, 60 + n(rng), true);
  CHECK_FALSE(bad(s.persistent));
}

TEST_CASE("series scores are calibrated: a threshold means the same on very different series", "[analytics][series]") {
  // Two series with scales 1e-3 and 1e4 and different tails; the share of
  // normal values above score 0.5 must be small on both.
  for (double scale : {1e-3, 1e4}) {
    SeriesModel m("metric:x", "x", learn_first(300));
    std::mt19937 rng(scale < 1 ? 1 : 2);
    std::student_t_distribution<double> td(4);
    TimestampMs t = kT0;
    int over = 0, scored = 0;
    for (int i = 0; i < 3000; ++i, t += kMin) {
      auto s = m.update(t, scale * (5 + td(rng)), true);
      if (s.score) {
        ++scored;
        over += *s.score > 0.5;
      }
    }
    INFO("scale " << scale);
    CHECK(scored > 2500);
    CHECK(over <= 3);
  }
}

TEST_CASE("a series model's learned state round-trips exactly", "[analytics][series]") {
  SeriesModel a("metric:temp", "temp", learn_first(6 * 24 * 2));
  std::mt19937 rng(13);
  TimestampMs t = kT0;
  for (int i = 0; i < 6 * 24 * 3; ++i, t += 10 * kMin) a.update(t, room(t, rng), true);
  SeriesModel b("metric:temp", "temp", learn_first(6 * 24 * 2));
  REQUIRE(b.from_state(a.to_state()).ok());
  for (int i = 0; i < 100; ++i, t += 10 * kMin) {
    const double v = room(t, rng) + (i > 50 ? 3 : 0);
    auto sa = a.update(t, v, true), sb = b.update(t, v, true);
    CHECK(sa.persistent == sb.persistent);
    CHECK(sa.score == sb.score);
  }
  SeriesModel c("metric:other", "other", learn_first(10));
  CHECK_FALSE(c.from_state(a.to_state()).ok());
  // Mid-learning and before any value, too.
  SeriesModel d("metric:temp", "temp", learn_first(50)), e("metric:temp", "temp", learn_first(50));
  {
    auto st = e.from_state(d.to_state());
    INFO(st.ToString());
    CHECK(st.ok());
  }
  for (int i = 0; i < 5; ++i, t += 10 * kMin) d.update(t, room(t, rng), true);
  auto st = e.from_state(d.to_state());
  INFO(st.ToString());
  CHECK(st.ok());
}
