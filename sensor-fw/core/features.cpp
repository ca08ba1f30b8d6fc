// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/features.h"

#include <math.h>

namespace vigil_fw {
namespace {
constexpr float kPi = 3.14159265358979f;
constexpr float kG = 9.80665f;  // m/s² per g
constexpr float kQ = 0.70710678f;  // Butterworth

inline float fsqrt(float x) { return x > 0 ? sqrtf(x) : 0.0f; }
}  // namespace

Biquad Biquad::highpass(float fc, float fs) {
  const float w = 2 * kPi * fc / fs, c = cosf(w), alpha = sinf(w) / (2 * kQ), a0 = 1 + alpha;
  Biquad q;
  q.b0 = (1 + c) / 2 / a0;
  q.b1 = -(1 + c) / a0;
  q.b2 = q.b0;
  q.a1 = -2 * c / a0;
  q.a2 = (1 - alpha) / a0;
  return q;
}

Biquad Biquad::lowpass(float fc, float fs) {
  const float w = 2 * kPi * fc / fs, c = cosf(w), alpha = sinf(w) / (2 * kQ), a0 = 1 + alpha;
  Biquad q;
  q.b0 = (1 - c) / 2 / a0;
  q.b1 = (1 - c) / a0;
  q.b2 = q.b0;
  q.a1 = -2 * c / a0;
  q.a2 = (1 - alpha) / a0;
  return q;
}

BurstFeatures compute_features(const std::int16_t* samples, std::size_t n, std::size_t axes, float scale_g,
                               float fs_hz, const BandPass& band) {
  BurstFeatures out;
  if (n == 0 || axes == 0 || axes > 3) return out;
  float mean[3] = {0, 0, 0};
  float sum_sq_rms = 0, sum_sq_vel = 0, max_kurt = 0;
  const float dt = 1.0f / fs_hz;
  const std::size_t settle = band.settle_samples < n ? band.settle_samples : 0;

  for (std::size_t a = 0; a < axes; ++a) {
    const std::int16_t* s = samples + a * n;
    // Pass 1: mean (DC and gravity), in counts.
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += s[i];
    const float m = static_cast<float>(sum) / static_cast<float>(n);
    mean[a] = m;
    // Pass 2: central moments, peak, and the velocity chain:
    // a (m/s²) → HP² (4th order) → LP → ∫ (trapezoid) → HP → v (m/s).
    Biquad hp1 = Biquad::highpass(band.hp_hz, fs_hz), hp2 = hp1, hp3 = hp1;
    Biquad lp = Biquad::lowpass(band.lp_hz, fs_hz);
    float m2 = 0, m4 = 0, peak = 0, v = 0, prev_acc = 0, vel_sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float x = (static_cast<float>(s[i]) - m) * scale_g;  // g
      const float x2 = x * x;
      m2 += x2;
      m4 += x2 * x2;
      const float ax = fabsf(x);
      if (ax > peak) peak = ax;
      const float acc = lp.step(hp2.step(hp1.step(x * kG)));
      v += 0.5f * (acc + prev_acc) * dt;
      prev_acc = acc;
      const float vf = hp3.step(v);
      if (i >= settle) vel_sq += vf * vf;
    }
    m2 /= static_cast<float>(n);
    m4 /= static_cast<float>(n);
    AxisFeatures& f = out.axis[a];
    f.accel_rms_g = fsqrt(m2);
    f.accel_peak_g = peak;
    f.crest_factor = f.accel_rms_g > 0 ? peak / f.accel_rms_g : 0;
    f.kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0;
    f.velocity_rms_mm_s = fsqrt(vel_sq / static_cast<float>(n - settle)) * 1000.0f;
    sum_sq_rms += m2;
    sum_sq_vel += f.velocity_rms_mm_s * f.velocity_rms_mm_s;
    if (f.kurtosis > max_kurt) max_kurt = f.kurtosis;
  }
  // Total vector peak: largest instantaneous magnitude.
  float peak_sq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float mag = 0;
    for (std::size_t a = 0; a < axes; ++a) {
      const float x = (static_cast<float>(samples[a * n + i]) - mean[a]) * scale_g;
      mag += x * x;
    }
    if (mag > peak_sq) peak_sq = mag;
  }
  out.total.accel_rms_g = fsqrt(sum_sq_rms);
  out.total.velocity_rms_mm_s = fsqrt(sum_sq_vel);
  out.total.accel_peak_g = fsqrt(peak_sq);
  out.total.crest_factor = out.total.accel_rms_g > 0 ? out.total.accel_peak_g / out.total.accel_rms_g : 0;
  out.total.kurtosis = max_kurt;
  return out;
}

}  // namespace vigil_fw
