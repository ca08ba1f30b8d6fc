// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "dsp/features.h"

using namespace vigil;
using namespace vigil::dsp;

namespace {
constexpr double kPi = std::numbers::pi;
constexpr double kG = 9.80665;

std::vector<float> sine(double amp_g, double f, double fs, int n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(amp_g * std::sin(2 * kPi * f * i / fs));
  return x;
}

// Impacts at rate f_defect, each ringing a resonance at f_res, plus noise.
std::vector<float> impacts(double f_defect, double f_res, double fs, int n, double noise, unsigned seed) {
  std::vector<float> x(static_cast<std::size_t>(n), 0.0f);
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, noise);
  const double period = fs / f_defect;
  for (double t0 = 3; t0 < n; t0 += period) {
    for (int k = 0; k < 400 && static_cast<int>(t0) + k < n; ++k) {
      double t = k / fs;
      x[static_cast<std::size_t>(static_cast<int>(t0) + k)] +=
          static_cast<float>(1.0 * std::exp(-t * 800) * std::sin(2 * kPi * f_res * t));
    }
  }
  for (auto& v : x) v += static_cast<float>(nd(rng));
  return x;
}

double feature(const FeatureSet& f, const char* name) {
  auto v = f.get(name);
  REQUIRE(v.has_value());
  return *v;
}
}  // namespace

TEST_CASE("a sine of known amplitude gives the known velocity RMS", "[dsp]") {
  const double fs = 10240, f = 100, amp = 1.0;  // 1 g peak at 100 Hz, on a bin
  auto x = sine(amp, f, fs, 8192);
  const double want = amp * kG / (2 * kPi * f) / std::sqrt(2.0) * 1000.0;  // mm/s RMS ≈ 11.04
  CHECK(velocity_rms_mm_s(x, fs) == Approx(want).epsilon(0.01));
  auto fset = compute_features(x, fs, FeatureOptions{});
  CHECK(feature(fset, "velocity_rms_mm_s") == Approx(want).epsilon(0.01));
  CHECK(feature(fset, "accel_rms_g") == Approx(amp / std::sqrt(2.0)).epsilon(0.01));
  CHECK(feature(fset, "crest_factor") == Approx(std::sqrt(2.0)).epsilon(0.01));
  CHECK(feature(fset, "kurtosis") == Approx(1.5).epsilon(0.01));
}

TEST_CASE("the velocity band starts at 2 Hz only for machines below 600 rpm", "[dsp]") {
  const double fs = 2048;
  auto x = sine(0.1, 5, fs, 8192);  // 5 Hz: outside 10–1000 Hz, inside 2–1000 Hz
  FeatureOptions slow, fast;
  velocity_band_for_rpm(300, slow);
  velocity_band_for_rpm(1800, fast);
  CHECK(slow.velocity_lo_hz == 2.0);
  CHECK(fast.velocity_lo_hz == 10.0);
  double v_slow = feature(compute_features(x, fs, slow), "velocity_rms_mm_s");
  double v_fast = feature(compute_features(x, fs, fast), "velocity_rms_mm_s");
  CHECK(v_slow == Approx(0.1 * kG / (2 * kPi * 5) / std::sqrt(2.0) * 1000).epsilon(0.02));
  CHECK(v_fast < 0.01 * v_slow);
}

TEST_CASE("running-speed harmonics report the velocity amplitude at 1x, 2x and 3x", "[dsp]") {
  const double fs = 10240;
  auto x = sine(0.5, 25, fs, 8192);
  auto x2 = sine(0.2, 50, fs, 8192);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += x2[i];
  FeatureOptions o;
  o.shaft_hz = 25;
  auto f = compute_features(x, fs, o);
  CHECK(feature(f, "harmonic_1x_mm_s") == Approx(0.5 * kG / (2 * kPi * 25) * 1000).epsilon(0.02));
  CHECK(feature(f, "harmonic_2x_mm_s") == Approx(0.2 * kG / (2 * kPi * 50) * 1000).epsilon(0.02));
  CHECK(feature(f, "harmonic_3x_mm_s") < 0.01);
}

TEST_CASE("bearing defect frequencies follow the kinematic formulas", "[dsp]") {
  // IMS test rig: Rexnord ZA-2115, 16 rollers, 0.331 in / 2.815 in, 15.17°, 2000 rpm.
  BearingGeometry g{16, 0.331 * 25.4, 2.815 * 25.4, 15.17};
  auto b = bearing_frequencies(g, 2000.0 / 60);
  CHECK(b.bpfo == Approx(236.4).margin(0.2));
  CHECK(b.bpfi == Approx(296.9).margin(0.3));
  CHECK(b.ftf == Approx(14.78).margin(0.05));
  CHECK(b.bsf == Approx(139.9).margin(0.3));
}

TEST_CASE("BPFO impacts show in the envelope spectrum at BPFO", "[dsp]") {
  const double fs = 20000, bpfo = 97.0;
  auto x = impacts(bpfo, 4000, fs, 8192, 0.05, 1);
  FeatureOptions o;
  o.shaft_hz = 25;
  // (BPFI left out on purpose: 3×BPFO ≈ 2×BPFI in real bearings.)
  o.bearing = BearingFrequencies{bpfo, 0.0, 40.0, 10.2};
  auto f = compute_features(x, fs, o);
  // The envelope spectrum's largest line below 500 Hz is at BPFO.
  const auto& e = f.envelope;
  REQUIRE(e.df_hz > 0);
  std::size_t best = 1;
  for (std::size_t k = 1; k < e.bins.size() && k * e.df_hz < 500; ++k)
    if (e.bins[k] > e.bins[best]) best = k;
  CHECK(std::abs(static_cast<double>(best) * e.df_hz - bpfo) <= 2 * e.df_hz);
  CHECK(feature(f, "env_ftf_g") * 5 < feature(f, "env_bpfo_g"));
  CHECK(feature(f, "env_bpfo_g") > 5 * feature(f, "env_bsf_g"));
  // Broadband noise alone has no BPFO line.
  std::mt19937 rng(2);
  std::normal_distribution<double> nd(0, 0.2);
  std::vector<float> noise(8192);
  for (auto& v : noise) v = static_cast<float>(nd(rng));
  auto fn = compute_features(noise, fs, o);
  CHECK(feature(fn, "env_bpfo_g") < 0.3 * feature(f, "env_bpfo_g"));
}

TEST_CASE("spectra are reduced to at most 1024 bins and keep narrow peaks", "[dsp]") {
  auto x = sine(1.0, 1234.5, 20000, 8192);
  auto f = compute_features(x, 20000, FeatureOptions{});
  REQUIRE(f.spectrum.bins.size() <= 1024);
  REQUIRE(f.envelope.bins.size() <= 1024);
  float peak = 0;
  for (float v : f.spectrum.bins) peak = std::max(peak, v);
  CHECK(peak > 0.6f);  // a 1 g sine survives max-hold (up to scalloping loss)
  std::vector<double> amp(5000, 0.0);
  amp[2501] = 3.0;
  auto r = reduce_max_hold(amp, 0.5, 1000);
  CHECK(r.bins.size() == 1000);
  CHECK(r.df_hz == 2.5);
  CHECK(r.bins[500] == 3.0f);
}

TEST_CASE("too short a waveform gives no features", "[dsp]") {
  std::vector<float> x(10, 1.0f);
  CHECK(compute_features(x, 1000, FeatureOptions{}).values.empty());
}

TEST_CASE("time-domain statistics match a plain two-pass computation at any length", "[dsp]") {
  std::mt19937 rng(7);
  std::normal_distribution<double> nd(0.3, 0.5);
  for (int n : {64, 1001, 4099, 8192}) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& v : x) v = static_cast<float>(nd(rng));
    x[static_cast<std::size_t>(n - 1)] = 4.0f;  // the peak sits in the unrolled loop's tail
    double mean = 0;
    for (float v : x) mean += v;
    mean /= n;
    double m2 = 0, m4 = 0, peak = 0;
    for (float v : x) {
      const double d = v - mean;
      m2 += d * d;
      m4 += d * d * d * d;
      peak = std::max(peak, std::abs(d));
    }
    m2 /= n;
    m4 /= n;
    auto f = compute_features(x, 20000, FeatureOptions{});
    CHECK(feature(f, "accel_rms_g") == Approx(std::sqrt(m2)).epsilon(1e-12));
    CHECK(feature(f, "accel_peak_g") == Approx(peak).epsilon(1e-12));
    CHECK(feature(f, "kurtosis") == Approx(m4 / (m2 * m2)).epsilon(1e-12));
    auto t = time_features(x);
    CHECK(t.rms == Approx(std::sqrt(m2)).epsilon(1e-12));
    CHECK(t.peak == Approx(peak).epsilon(1e-12));
  }
}

TEST_CASE("the envelope of a modulated carrier reads the modulation depth at the modulation frequency",
          "[dsp]") {
  // x = A·(1 + μ·cos 2π·fm·t)·sin 2π·fc·t: its envelope is A·(1 + μ·cos 2π·fm·t),
  // a line of amplitude A·μ at fm and an RMS of A·μ/√2 once the mean is removed.
  const double fs = 20000, n = 8192, df = fs / n;
  const double fm = 40 * df, fc = 2000 * df, a = 0.5, mu = 0.4;
  std::vector<float> x(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / fs;
    x[i] = static_cast<float>(a * (1 + mu * std::cos(2 * kPi * fm * t)) * std::sin(2 * kPi * fc * t));
  }
  FeatureOptions o;
  o.bearing = BearingFrequencies{fm, 0.0, 0.0, 0.0};
  // The automatic band (2.5–8 kHz) and a narrow one whose width is not a
  // power of two in bins: the envelope must not depend on the band's size.
  for (auto [lo, hi] : {std::pair{0.0, 0.0}, std::pair{3000.0, 5700.0}}) {
    o.envelope_lo_hz = lo;
    o.envelope_hi_hz = hi;
    auto f = compute_features(x, fs, o);
    CHECK(feature(f, "env_bpfo_g") == Approx(a * mu).epsilon(0.02));
    CHECK(feature(f, "envelope_rms_g") == Approx(a * mu / std::sqrt(2.0)).epsilon(0.02));
    const auto& e = f.envelope;
    REQUIRE(e.df_hz == Approx(df));
    REQUIRE(e.bins.size() > 40);
    CHECK(e.bins[40] == Approx(a * mu).epsilon(0.02));
    CHECK(e.bins[41] < 0.01 * a * mu);
  }
}
