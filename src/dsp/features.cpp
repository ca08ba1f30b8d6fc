// SPDX-License-Identifier: Apache-2.0
#include "dsp/features.h"

#include <fftw3.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <vector>

namespace vigil::dsp {
namespace {

constexpr double kG = 9.80665;  // m/s² per g

// FFTW's planner is not thread-safe; plans are created under a global lock and
// executed with the new-array interface on per-thread buffers.
std::mutex& planner_mu() {
  static std::mutex mu;
  return mu;
}

struct R2C {
  int n = 0;
  double* in = nullptr;
  fftw_complex* out = nullptr;
  fftw_plan plan = nullptr;
  explicit R2C(int size) : n(size) {
    std::lock_guard lk(planner_mu());
    in = fftw_alloc_real(static_cast<std::size_t>(n));
    out = fftw_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
    plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  }
  ~R2C() {
    std::lock_guard lk(planner_mu());
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
  }
};

R2C& r2c_for(int n) {
  thread_local std::map<int, std::unique_ptr<R2C>> plans;
  auto& p = plans[n];
  if (!p) p = std::make_unique<R2C>(n);
  return *p;
}

}  // namespace

TimeFeatures time_features(std::span<const float> x) {
  TimeFeatures f;
  if (x.empty()) return f;
  double mean = 0;
  for (float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double m2 = 0, m4 = 0, peak = 0;
  for (float v : x) {
    double d = v - mean;
    double d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
    peak = std::max(peak, std::abs(d));
  }
  m2 /= static_cast<double>(x.size());
  m4 /= static_cast<double>(x.size());
  f.rms = std::sqrt(m2);
  f.peak = peak;
  f.crest = f.rms > 0 ? peak / f.rms : 0;
  f.kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0;
  return f;
}

double velocity_rms_mm_s(std::span<const float> accel_g, double fs, double lo_hz, double hi_hz) {
  const int n = static_cast<int>(accel_g.size());
  if (n < 16 || !(fs > 0)) return 0;
  R2C& t = r2c_for(n);
  double mean = 0;
  for (float v : accel_g) mean += v;
  mean /= n;
  for (int i = 0; i < n; ++i) t.in[i] = (accel_g[static_cast<std::size_t>(i)] - mean) * kG;
  fftw_execute(t.plan);
  // Parseval: RMS² = (1/N²)·(|X0|² + 2·Σ|Xk|² (+|X_N/2|²)). Integration
  // divides each bin by ω = 2πf; bins outside the band are dropped.
  const double df = fs / n;
  double sum = 0;
  for (int k = 1; k <= n / 2; ++k) {
    double f = k * df;
    if (f < lo_hz || f > hi_hz) continue;
    double re = t.out[k][0], im = t.out[k][1];
    double w = 2 * std::numbers::pi * f;
    double mag2 = (re * re + im * im) / (w * w);
    sum += (k == n / 2) ? mag2 : 2 * mag2;
  }
  double rms_m_s = std::sqrt(sum) / n;
  return rms_m_s * 1000.0;
}

}  // namespace vigil::dsp
