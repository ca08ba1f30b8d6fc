// SPDX-License-Identifier: Apache-2.0
//
// Vibration features of one burst, per axis and total vector (the Monitron
// set, docs/protocol.md §3): acceleration RMS (broadband, DC removed),
// velocity RMS in the ISO 20816 band (10–1000 Hz by default), peak, crest
// factor and kurtosis. Streaming over the int16 burst: no extra buffers,
// no heap; single-precision float (Cortex-M4F FPU).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil_fw {

struct AxisFeatures {
  float accel_rms_g = 0;
  float velocity_rms_mm_s = 0;
  float accel_peak_g = 0;  // max |a − mean|
  float crest_factor = 0;  // peak / RMS
  float kurtosis = 0;      // m4 / m2² (3 for Gaussian noise, 1.5 for a sine)
};

struct BurstFeatures {
  AxisFeatures axis[3];
  // Total vector: RMS values combine as √(x² + y² + z²); peak is the largest
  // instantaneous vector magnitude; crest = peak / RMS; kurtosis is the
  // largest per-axis kurtosis (impacts show on the axis they hit).
  AxisFeatures total;
};

struct BandPass {
  float hp_hz = 10.0f;
  float lp_hz = 1000.0f;
  std::size_t settle_samples = 0;  // excluded from the velocity RMS
};

// samples: axis-major [axes][n] counts; scale: g per count.
BurstFeatures compute_features(const std::int16_t* samples, std::size_t n, std::size_t axes, float scale_g,
                               float fs_hz, const BandPass& band);

// 2nd-order IIR section (transposed direct form II), RBJ Butterworth designs.
struct Biquad {
  float b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
  float z1 = 0, z2 = 0;
  static Biquad highpass(float fc, float fs);
  static Biquad lowpass(float fc, float fs);
  float step(float x) {
    float y = b0 * x + z1;
    z1 = b1 * x - a1 * y + z2;
    z2 = b2 * x - a2 * y;
    return y;
  }
};

}  // namespace vigil_fw
