// SPDX-License-Identifier: Apache-2.0
// A close-out re-learns only the models it names (issue 16): re-learning the
// temperature model leaves the vibration models — and a fault they see —
// alone; learning by time reports its progress in hours.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "analytics/position.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000;
constexpr TimestampMs kHour = 3600 * 1000;

struct Machine {
  std::mt19937 rng{11};
  std::normal_distribution<double> n{0, 0.05};
  std::vector<dsp::Feature> sample(double fault = 1) {
    auto j = [&](double v) { return v * std::exp(n(rng)); };
    return {{"velocity_rms_mm_s", j(1.2)}, {"accel_rms_g", j(0.09)}, {"accel_peak_g", j(0.4)},
            {"kurtosis", j(3.1)},          {"envelope_rms_g", j(0.01 * fault)}, {"env_bpfo_g", j(0.004 * fault)}};
  }
  double temperature(int i) { return 40 + 2 * std::sin(i * 0.3) + n(rng); }
};

const ModelState* find(const std::vector<ModelState>& v, const char* model) {
  for (const auto& m : v)
    if (m.model == model) return &m;
  return nullptr;
}
}  // namespace

TEST_CASE("re-learning the temperature model leaves a vibration fault flagged", "[analytics][relearn]") {
  AnalyticsOptions o;
  o.learn_count = 12;
  PositionAnalyzer pa(MachineInfo{}, o);
  Machine m;
  int i = 0;
  for (; i < 40; ++i) {
    pa.assess_vibration(kT0 + i * kHour, m.sample());
    pa.assess_metric(kT0 + i * kHour + 1, "temperature_c", m.temperature(i));
  }
  // The bearing fault grows: the envelope ×20.
  for (; i < 52; ++i) {
    pa.assess_vibration(kT0 + i * kHour, m.sample(20));
    pa.assess_metric(kT0 + i * kHour + 1, "temperature_c", m.temperature(i));
  }
  auto before = pa.states();
  REQUIRE(find(before, kVibrationMl) != nullptr);
  const HealthState vib_before = find(before, kVibrationMl)->persistent;
  REQUIRE((vib_before == HealthState::kWarning || vib_before == HealthState::kAlarm));
  const HealthState iso_before = find(before, kVibrationIso)->persistent;

  pa.rebaseline(kTemperatureMl, kT0 + i * kHour);
  auto after = pa.states();
  CHECK(find(after, kTemperatureMl)->persistent == HealthState::kInitializing);
  CHECK(find(after, kVibrationMl)->persistent == vib_before);
  CHECK(find(after, kVibrationIso)->persistent == iso_before);
  // The next faulty measurement is still scored against the old baseline.
  auto a = pa.assess_vibration(kT0 + (i + 1) * kHour, m.sample(20));
  const HealthState next = find(a.models, kVibrationMl)->persistent;
  CHECK((next == HealthState::kWarning || next == HealthState::kAlarm));
}

TEST_CASE("a model learning by time says how many hours it has learned of how many", "[analytics][relearn]") {
  AnalyticsOptions o;
  o.learning_hours = 48;
  PositionAnalyzer pa(MachineInfo{}, o);
  Machine m;
  for (int i = 0; i <= 32; ++i) {
    pa.assess_vibration(kT0 + i * kHour, m.sample());
    pa.assess_metric(kT0 + i * kHour + 1, "temperature_c", m.temperature(i));
  }
  auto st = pa.states();
  const ModelState* vib = find(st, kVibrationMl);
  REQUIRE(vib != nullptr);
  CHECK(vib->persistent == HealthState::kInitializing);
  REQUIRE(vib->learned_hours.has_value());
  CHECK(*vib->learned_hours == Approx(32));
  CHECK(vib->learning_hours == Approx(48));
  const ModelState* temp = find(st, kTemperatureMl);
  REQUIRE(temp != nullptr);
  REQUIRE(temp->learned_hours.has_value());
  CHECK(*temp->learning_hours == Approx(48));
  // The progress survives the learned state's round trip.
  auto j = model_state_json(*vib);
  auto back = model_state_from(j);
  REQUIRE(back.ok());
  CHECK(back->learned_hours == vib->learned_hours);
  // A model learned by count has no hours to report.
  AnalyticsOptions c;
  c.learn_count = 100;
  PositionAnalyzer counted(MachineInfo{}, c);
  counted.assess_vibration(kT0, m.sample());
  CHECK_FALSE(find(counted.states(), kVibrationMl)->learned_hours.has_value());
}
