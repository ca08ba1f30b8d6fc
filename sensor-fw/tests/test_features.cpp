// SPDX-License-Identifier: Apache-2.0
#include <math.h>

#include "fakes.h"
#include "test.h"
#include "vigil_fw/features.h"

using namespace vigil_fw;

namespace {
constexpr std::size_t kN = 4096;
std::int16_t g_buf[3 * kN];
BurstFeatures run(float f0, float amp, float fs = 6400.0f) {
  vtest::SineAccel acc;
  for (int a = 0; a < 3; ++a) {
    acc.freq_hz[a] = f0;
    acc.amplitude_g[a] = amp;
  }
  acc.capture(static_cast<std::uint32_t>(fs), kN, g_buf);
  return compute_features(g_buf, kN, 3, acc.scale_g_per_count(), fs, BandPass{10.0f, 1000.0f, kN / 8});
}
}  // namespace

TEST("a 1 g 100 Hz sine gives RMS 0.707 g, crest 1.41, kurtosis 1.5") {
  BurstFeatures f = run(100.0f, 1.0f);
  for (int a = 0; a < 3; ++a) {
    CHECK(vtest::near(f.axis[a].accel_rms_g, 0.70711f, 0.01f));
    CHECK(vtest::near(f.axis[a].accel_peak_g, 1.0f, 0.01f));
    CHECK(vtest::near(f.axis[a].crest_factor, 1.41421f, 0.02f));
    CHECK(vtest::near(f.axis[a].kurtosis, 1.5f, 0.02f));
  }
  CHECK(vtest::near(f.total.accel_rms_g, 1.2247f, 0.01f));
}

TEST("velocity RMS of a 1 g 100 Hz sine is 11.04 mm/s (a / 2 pi f / sqrt 2)") {
  BurstFeatures f = run(100.0f, 1.0f);
  const float want = 9806.65f / (2.0f * 3.14159265f * 100.0f) / 1.41421356f;
  for (int a = 0; a < 3; ++a) CHECK(vtest::near(f.axis[a].velocity_rms_mm_s, want, 0.03f));
  CHECK(vtest::near(f.total.velocity_rms_mm_s, want * 1.7320508f, 0.03f));
}

TEST("velocity band rejects 3 Hz and 3 kHz but passes 50 and 500 Hz") {
  const float at50 = run(50.0f, 1.0f).axis[0].velocity_rms_mm_s;
  CHECK(vtest::near(at50, 9806.65f / (2.0f * 3.14159265f * 50.0f) / 1.41421356f, 0.05f));
  const float at500 = run(500.0f, 1.0f).axis[0].velocity_rms_mm_s;
  CHECK(vtest::near(at500, 9806.65f / (2.0f * 3.14159265f * 500.0f) / 1.41421356f, 0.05f));
  const float at3 = run(3.0f, 1.0f).axis[0].velocity_rms_mm_s;
  CHECK(at3 < 0.1f * 9806.65f / (2.0f * 3.14159265f * 3.0f) / 1.41421356f);
  const float at3k = run(3000.0f, 1.0f, 25600.0f).axis[0].velocity_rms_mm_s;
  CHECK(at3k < 0.25f * 9806.65f / (2.0f * 3.14159265f * 3000.0f) / 1.41421356f);
}

TEST("gravity and offsets do not enter the features") {
  BurstFeatures f = run(100.0f, 0.0f);
  for (int a = 0; a < 3; ++a) {
    CHECK(f.axis[a].accel_rms_g < 1e-3f);
    CHECK(f.axis[a].velocity_rms_mm_s < 0.05f);
  }
}

TEST("an impulse train raises crest factor and kurtosis") {
  for (std::size_t i = 0; i < 3 * kN; ++i) g_buf[i] = static_cast<std::int16_t>((i % 7) * 10 - 30);
  for (std::size_t i = 100; i < kN; i += 400) g_buf[i] = 20000;
  BurstFeatures f = compute_features(g_buf, kN, 3, 16.0f / 32768.0f, 6400.0f, BandPass{10.0f, 1000.0f, 512});
  CHECK(f.axis[0].crest_factor > 10.0f);
  CHECK(f.axis[0].kurtosis > 50.0f);
  CHECK(f.total.kurtosis >= f.axis[0].kurtosis);
}
