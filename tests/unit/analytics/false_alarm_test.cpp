// SPDX-License-Identifier: Apache-2.0
//
// False-alarm control of the learned vibration model: sustained evidence,
// hysteresis, learning that ends only when the baseline has settled, and a
// score that a small learning set does not turn into a hair trigger.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "analytics/detectors.h"
#include "analytics/position.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000;
constexpr TimestampMs k10s = 10'000;

bool bad(HealthState s) { return s == HealthState::kWarning || s == HealthState::kAlarm; }

HealthState state_of(double z) {
  return z >= 10 ? HealthState::kAlarm : z >= 5 ? HealthState::kWarning : HealthState::kHealthy;
}

// Ten log-normal features with a common machine factor, like a waveform's.
std::vector<dsp::Feature> machine(std::mt19937& rng, double level = 1, double spread = 0.05) {
  std::normal_distribution<double> n(0, spread);
  const double common = n(rng);
  std::vector<dsp::Feature> f;
  const char* names[] = {"accel_rms_g", "velocity_rms_mm_s", "crest_factor", "kurtosis", "envelope_rms_g",
                         "band_10_1000hz_g", "band_1000_2500hz_g", "band_2500_5000hz_g", "band_5000_10000hz_g",
                         "band_10000_12800hz_g"};
  for (const char* name : names) f.push_back({name, 0.5 * level * std::exp(common + n(rng))});
  return f;
}
}  // namespace

TEST_CASE("one odd measurement never raises a state, however high", "[analytics][evidence]") {
  Evidence e;
  CHECK(e.update(HealthState::kHealthy, 1) == HealthState::kHealthy);
  CHECK(e.update(HealthState::kAlarm, 80) == HealthState::kHealthy);  // a knock on the housing
  for (int i = 0; i < 10; ++i) CHECK(e.update(HealthState::kHealthy, 0.5) == HealthState::kHealthy);
  // Two isolated outliers a few measurements apart do not add up either.
  CHECK(e.update(state_of(7), 7) == HealthState::kHealthy);
  for (int i = 0; i < 3; ++i) e.update(HealthState::kHealthy, 0);
  CHECK(e.update(state_of(7), 7) == HealthState::kHealthy);
}

TEST_CASE("sustained evidence raises warning, then alarm, and the state holds without flicker",
          "[analytics][evidence]") {
  Evidence e;
  HealthState s = HealthState::kHealthy;
  int k = 0;
  for (; k < 10 && !bad(s); ++k) s = e.update(state_of(5.5), 5.5);
  CHECK(s == HealthState::kWarning);
  CHECK(k == 3);  // just above the warning level, three measurements (the dwell)
  // Scores hovering around the threshold (4..6) keep the warning: no flicker.
  for (int i = 0; i < 40; ++i) {
    const double z = i % 2 ? 4.0 : 6.0;
    CHECK(e.update(state_of(z), z) == HealthState::kWarning);
  }
  for (k = 0; k < 10 && s != HealthState::kAlarm; ++k) s = e.update(state_of(14), 14);
  CHECK(s == HealthState::kAlarm);
  // Back to normal: released only after the evidence has been gone a while.
  int healthy_at = -1;
  for (int i = 0; i < 20 && healthy_at < 0; ++i)
    if (e.update(HealthState::kHealthy, 0) == HealthState::kHealthy) healthy_at = i;
  CHECK(healthy_at >= 3);
  CHECK(healthy_at < 20);
}

TEST_CASE("evidence survives a save and restore exactly", "[analytics][evidence]") {
  Evidence a;
  for (double z : {3.0, 6.0, 7.0, 2.0}) a.update(state_of(z), z);
  Evidence b;
  REQUIRE(b.from_state(a.to_state()).ok());
  for (double z : {6.0, 6.0, 1.0, 0.0, 0.0, 0.0, 0.0}) CHECK(a.update(state_of(z), z) == b.update(state_of(z), z));
  CHECK(a.warning_evidence() == b.warning_evidence());
}

TEST_CASE("the score is calibrated to 0..1 with 0.5 at the warning level", "[analytics]") {
  CHECK(calibrated_score(5) == Approx(0.5));
  CHECK(calibrated_score(10) == Approx(0.9));
  CHECK(calibrated_score(0) == Approx(0.1));
  CHECK(calibrated_score(-3) > 0);
  CHECK(calibrated_score(40) < 1.0);
  CHECK(calibrated_score(40) > calibrated_score(30));
}

TEST_CASE("a small learning set is not a hair trigger", "[analytics]") {
  // The same new point is less surprising to a baseline of 20 samples than
  // to one of 2000 (Hotelling's predictive distribution), and the two agree
  // as n grows.
  CHECK(predictive_z(40, 10, 20) < predictive_z(40, 10, 2000));
  CHECK(predictive_z(40, 10, 1e6) == Approx(chi2_to_z(40, 10)).margin(0.02));
  CHECK(predictive_z(16, 1, 1e6) == Approx(4.0).margin(0.02));
  CHECK(predictive_z(16, 1, 10) < 3.2);
  // Fresh data from the learning distribution rarely scores 5 with 30
  // learning samples of 10 features.
  std::mt19937 rng(21);
  std::vector<FeatureSpec> specs;
  for (int j = 0; j < 10; ++j) specs.push_back({"f" + std::to_string(j), true, 0.01});
  Baseline b(specs);
  auto draw = [&] {
    std::normal_distribution<double> n(0, 0.05);
    std::vector<double> x;
    for (int j = 0; j < 10; ++j) x.push_back(std::exp(n(rng)));
    return x;
  };
  for (int i = 0; i < 30; ++i) (void)b.add(draw());
  REQUIRE(b.fit().ok());
  int over = 0;
  for (int i = 0; i < 2000; ++i) over += b.score(draw()).score >= 5;
  CHECK(over <= 4);
}

TEST_CASE("a drifting learning period widens the baseline instead of raising false alarms", "[analytics]") {
  // Learning data whose level wanders (a machine warming up, a rig running
  // in): the held-out half scores badly against the first, so the baseline
  // is inflated by the cross-calibration.
  std::mt19937 rng(22);
  std::vector<FeatureSpec> specs = {{"a", true, 0.01}, {"b", true, 0.01}, {"c", true, 0.01}};
  Baseline b(specs), still(specs);
  std::normal_distribution<double> n(0, 0.02);
  for (int i = 0; i < 200; ++i) {
    const double drift = 0.1 * std::sin(i / 30.0);
    (void)b.add({std::exp(drift + n(rng)), std::exp(drift + n(rng)), std::exp(n(rng))});
    (void)still.add({std::exp(n(rng)), std::exp(n(rng)), std::exp(n(rng))});
  }
  REQUIRE(b.fit().ok());
  REQUIRE(still.fit().ok());
  CHECK(b.calibration() > 2);
  CHECK(still.calibration() < 1.5);
}

TEST_CASE("learning waits until the baseline has settled and says why", "[analytics]") {
  AnalyticsOptions o;
  o.learn_count = 60;
  LearnedModel m(kVibrationMl, vibration_specs({"accel_rms_g", "kurtosis"}), o);
  TimestampMs t = kT0;
  std::mt19937 rng(23);
  std::normal_distribution<double> n(0, 0.03);
  // Running in: acceleration falls by half over the first 60 measurements.
  for (int i = 0; i < 60; ++i, t += k10s) {
    auto s = m.update(t, {std::exp(std::log(2.0) * (1 - i / 60.0) + n(rng)), 3 * std::exp(n(rng))}, true);
    CHECK(s.persistent == HealthState::kInitializing);
    CHECK(s.learning.find(" of 60 measurements") != std::string::npos);
  }
  // Planned period over, but the window's halves disagree: still learning.
  auto s = m.update(t += k10s, {std::exp(n(rng)), 3 * std::exp(n(rng))}, true);
  CHECK(s.persistent == HealthState::kInitializing);
  INFO(s.learning);
  CHECK(s.learning.find("acceleration RMS still moving") != std::string::npos);
  // Settled: learning ends within the limit (2 × 60), and the settled
  // machine is healthy.
  int scored_at = -1;
  for (int i = 0; i < 80; ++i, t += k10s) {
    s = m.update(t, {std::exp(n(rng)), 3 * std::exp(n(rng))}, true);
    if (scored_at < 0 && s.score) scored_at = i;
  }
  CHECK(scored_at > 0);
  CHECK(scored_at < 60);
  CHECK(s.persistent == HealthState::kHealthy);
}

TEST_CASE("a machine it was not tuned on stays quiet after a short learning period", "[analytics]") {
  // A 2-channel rig-like machine: 10-second snapshots, learning on the
  // first 60, a slow wander of the whole vibration level afterwards (±15 %
  // over hours), as on a real test rig: no warning.
  AnalyticsOptions o;
  o.learn_count = 60;
  PositionAnalyzer pa(MachineInfo{}, o);
  std::mt19937 rng(24);
  TimestampMs t = kT0;
  int warnings = 0;
  for (int i = 0; i < 1200; ++i, t += k10s) {
    const double wander = 1 + 0.15 * std::sin(i / 150.0);
    warnings += bad(pa.assess_vibration(t, machine(rng, wander)).state);
  }
  CHECK(warnings == 0);
  // Then the bearing degrades: vibration doubles over 100 snapshots.
  int first = -1;
  for (int i = 0; i < 150 && first < 0; ++i, t += k10s)
    if (bad(pa.assess_vibration(t, machine(rng, 1 + std::min(1.0, i / 100.0))).state)) first = i;
  CHECK(first > 0);
  CHECK(first < 100);
}

TEST_CASE("the Bonferroni correction costs little and never saturates", "[analytics]") {
  CHECK(bonferroni_z(3, 1) == 3);
  // Q(3) = 0.00135; 20 looks make it 0.027, z = 1.93.
  CHECK(bonferroni_z(3, 20) == Approx(1.927).margin(0.01));
  CHECK(bonferroni_z(1, 20) == 0);  // no evidence left
  // Far in the tail the correction shrinks to sqrt(z² − 2 ln p) and the
  // order of scores is kept.
  CHECK(bonferroni_z(50, 20) < 50);
  CHECK(bonferroni_z(50, 20) == Approx(std::sqrt(2500 - 2 * std::log(20.0))).margin(0.05));
  CHECK(bonferroni_z(200, 20) > bonferroni_z(50, 20));
  for (double z = 0.5; z < 40; z += 0.5) CHECK(bonferroni_z(z + 0.5, 12) >= bonferroni_z(z, 12));
}

namespace {
// Twenty log-normal features of an hourly sensor.
std::vector<double> hourly(std::mt19937& rng, double level1 = 1) {
  std::normal_distribution<double> n(0, 0.05);
  std::vector<double> x;
  for (int j = 0; j < 20; ++j) x.push_back((j == 0 ? level1 : 1.0) * std::exp(n(rng)));
  return x;
}
std::vector<FeatureSpec> twenty_features() {
  std::vector<FeatureSpec> specs;
  for (int j = 0; j < 20; ++j) specs.push_back({"f" + std::to_string(j), true, 0.01});
  return specs;
}
}  // namespace

TEST_CASE("one feature's tenfold jump is seen by a baseline with few samples per feature", "[analytics]") {
  // 48 hourly measurements of 20 features: the joint F(20, 28) tail alone is
  // too heavy to ever reach the warning level; the single-feature score is not.
  AnalyticsOptions o;
  o.learn_count = 48;
  o.max_learning_factor = 1;
  LearnedModel m(kVibrationMl, twenty_features(), o);
  std::mt19937 rng(31);
  TimestampMs t = kT0;
  for (int i = 0; i < 48; ++i, t += 3'600'000) m.update(t, hourly(rng), true);
  // Fresh normal data: no warning-level point in 500.
  int high = 0;
  for (int i = 0; i < 500; ++i, t += 3'600'000) {
    auto s = m.update(t, hourly(rng), true);
    REQUIRE(s.z.has_value());
    high += *s.z >= o.warning_score;
  }
  CHECK(high == 0);
  // The 1× line ten times higher: warning-level at once, alarm once evidence has built.
  ModelState s;
  for (int i = 0; i < 4; ++i, t += 3'600'000) {
    s = m.update(t, hourly(rng, 10), true);
    CHECK(*s.z >= o.warning_score);
  }
  CHECK(s.persistent == HealthState::kAlarm);
  CHECK(s.explanation.find("f0") != std::string::npos);
}

TEST_CASE("a level a user calls normal founds a regime that holds, next to the learned one, across a restart",
          "[analytics][state]") {
  AnalyticsOptions o;
  o.learn_count = 48;
  o.max_learning_factor = 1;
  LearnedModel m(kVibrationMl, twenty_features(), o);
  std::mt19937 rng(32);
  TimestampMs t = kT0;
  for (int i = 0; i < 60; ++i, t += 3'600'000) m.update(t, hourly(rng), true);
  // A new duty point: three times the 1× line. The alert opens after a few
  // measurements; the technician closes it NO_ISSUE.
  TimestampMs opened = 0;
  for (int i = 0; i < 10 && !opened; ++i, t += 3'600'000)
    if (bad(m.update(t, hourly(rng, 3), true).persistent)) opened = t;
  REQUIRE(opened != 0);
  m.absorb_since(opened);
  // Restart: the regime comes back with the rest of the state.
  LearnedModel restored(kVibrationMl, twenty_features(), o);
  REQUIRE(restored.from_state(m.to_state()).ok());
  CHECK(restored.to_state() == m.to_state());
  int bad_new = 0, bad_old = 0;
  for (int i = 0; i < 50; ++i, t += 3'600'000) {
    auto x = hourly(rng, 3);
    auto a = m.update(t, x, true), b = restored.update(t, x, true);
    CHECK(a.z == b.z);
    bad_new += bad(a.persistent);
  }
  // ... and the old level is still normal too.
  for (int i = 0; i < 20; ++i, t += 3'600'000) bad_old += bad(m.update(t, hourly(rng), true).persistent);
  CHECK(bad_new == 0);
  CHECK(bad_old == 0);
  // A fault at neither level is still seen.
  int seen = 0;
  for (int i = 0; i < 8; ++i, t += 3'600'000) seen += bad(m.update(t, hourly(rng, 30), true).persistent);
  CHECK(seen > 0);
  // Re-learning forgets the regimes with the baseline.
  m.rebaseline(t);
  CHECK(m.to_state()["regimes"].empty());
}
