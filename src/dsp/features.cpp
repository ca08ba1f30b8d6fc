// SPDX-License-Identifier: Apache-2.0
#include "dsp/features.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <vector>

namespace vigil::dsp {
namespace {

constexpr double kG = 9.80665;  // m/s² per g
constexpr double kTwoPi = 2 * std::numbers::pi;

// FFTW's planner is not thread-safe; plans are created under a global lock and
// executed on per-thread buffers owned by the plan object.
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
  R2C(const R2C&) = delete;
  R2C& operator=(const R2C&) = delete;
};

struct C2CBackward {
  int n = 0;
  fftw_complex* buf = nullptr;
  fftw_plan plan = nullptr;
  explicit C2CBackward(int size) : n(size) {
    std::lock_guard lk(planner_mu());
    buf = fftw_alloc_complex(static_cast<std::size_t>(n));
    plan = fftw_plan_dft_1d(n, buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  ~C2CBackward() {
    std::lock_guard lk(planner_mu());
    fftw_destroy_plan(plan);
    fftw_free(buf);
  }
  C2CBackward(const C2CBackward&) = delete;
  C2CBackward& operator=(const C2CBackward&) = delete;
};

R2C& r2c_for(int n) {
  thread_local std::map<int, std::unique_ptr<R2C>> plans;
  auto& p = plans[n];
  if (!p) p = std::make_unique<R2C>(n);
  return *p;
}

C2CBackward& c2c_for(int n) {
  thread_local std::map<int, std::unique_ptr<C2CBackward>> plans;
  auto& p = plans[n];
  if (!p) p = std::make_unique<C2CBackward>(n);
  return *p;
}

int next_pow2(int v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Largest amplitude within ±tol Hz of f (at least ±1 bin).
double peak_near(std::span<const double> amp, double df, double f, double tol) {
  if (!(f > 0) || amp.empty()) return 0;
  const double w = std::max(tol, df);
  long lo = std::lround(std::floor((f - w) / df));
  long hi = std::lround(std::ceil((f + w) / df));
  lo = std::max(lo, 1L);
  hi = std::min(hi, static_cast<long>(amp.size()) - 1);
  double m = 0;
  for (long k = lo; k <= hi; ++k) m = std::max(m, amp[static_cast<std::size_t>(k)]);
  return m;
}

std::string band_name(double lo, double hi) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "band_%.0f_%.0fhz_g", lo, hi);
  return buf;
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
    double w = kTwoPi * f;
    double mag2 = (re * re + im * im) / (w * w);
    sum += (k == n / 2) ? mag2 : 2 * mag2;
  }
  double rms_m_s = std::sqrt(sum) / n;
  return rms_m_s * 1000.0;
}

BearingFrequencies bearing_frequencies(const BearingGeometry& g, double fr) {
  BearingFrequencies b;
  if (g.rolling_elements <= 0 || !(g.pitch_diameter_mm > 0) || !(fr > 0)) return b;
  const double r = g.element_diameter_mm / g.pitch_diameter_mm *
                   std::cos(g.contact_angle_deg * std::numbers::pi / 180.0);
  const double n = g.rolling_elements;
  b.bpfo = n / 2 * fr * (1 - r);
  b.bpfi = n / 2 * fr * (1 + r);
  b.ftf = fr / 2 * (1 - r);
  b.bsf = g.pitch_diameter_mm / (2 * g.element_diameter_mm) * fr * (1 - r * r);
  return b;
}

ReducedSpectrum reduce_max_hold(std::span<const double> amp, double df, int max_bins) {
  ReducedSpectrum r;
  if (amp.empty() || max_bins <= 0) return r;
  const std::size_t group = (amp.size() + static_cast<std::size_t>(max_bins) - 1) /
                            static_cast<std::size_t>(max_bins);
  r.df_hz = df * static_cast<double>(group);
  r.bins.reserve(amp.size() / group + 1);
  for (std::size_t i = 0; i < amp.size(); i += group) {
    double m = 0;
    for (std::size_t j = i; j < std::min(amp.size(), i + group); ++j) m = std::max(m, amp[j]);
    r.bins.push_back(static_cast<float>(m));
  }
  return r;
}

void velocity_band_for_rpm(double rpm, FeatureOptions& o) {
  o.velocity_lo_hz = (rpm > 0 && rpm < 600) ? 2.0 : 10.0;
  o.velocity_hi_hz = 1000.0;
}

std::optional<double> FeatureSet::get(const std::string& name) const {
  for (auto& f : values)
    if (f.name == name) return f.value;
  return std::nullopt;
}

FeatureSet compute_features(std::span<const float> x, double fs, const FeatureOptions& o) {
  FeatureSet out;
  const int n = static_cast<int>(x.size());
  if (n < 64 || !(fs > 0)) return out;
  const double df = fs / n;
  const int nb = n / 2 + 1;

  // ---- time domain: mean, then one fused pass (moments, peak, FFT input) ----
  R2C& t = r2c_for(n);
  double mean = 0;
  for (float v : x) mean += v;
  mean /= n;
  double m2 = 0, m4 = 0, peak = 0;
  for (int i = 0; i < n; ++i) {
    const double d = x[static_cast<std::size_t>(i)] - mean;
    t.in[i] = d;
    const double d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
    peak = std::max(peak, std::abs(d));
  }
  m2 /= n;
  m4 /= n;
  TimeFeatures tf;
  tf.rms = std::sqrt(m2);
  tf.peak = peak;
  tf.crest = tf.rms > 0 ? peak / tf.rms : 0;
  tf.kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0;

  // ---- spectrum (g): one pass for mean-square per bin, velocity, bands ----
  fftw_execute(t.plan);
  // pow2[k]: the bin's share of the mean square (one-sided); its peak
  // amplitude is sqrt(2·pow2[k]). Peaks and max-hold work on pow2 and take
  // the root once at the end.
  thread_local std::vector<double> pow2;
  pow2.resize(static_cast<std::size_t>(nb));
  pow2[0] = 0;
  const double inv_n = 1.0 / n;
  const double scale = 2.0 * inv_n * inv_n;
  const int kv0 = std::max(1, static_cast<int>(std::ceil(o.velocity_lo_hz / df)));
  const int kv1 = std::min(nb - 1, static_cast<int>(std::floor(o.velocity_hi_hz / df)));
  double vsum_k = 0;  // Σ pow2[k] / k² over the velocity band
  for (int k = 1; k < nb; ++k) {
    const double re = t.out[k][0], im = t.out[k][1];
    const double p = (re * re + im * im) * scale;
    pow2[static_cast<std::size_t>(k)] = p;
  }
  if ((n % 2) == 0) pow2[static_cast<std::size_t>(n / 2)] *= 0.5;  // Nyquist bin is single
  for (int k = kv0; k <= kv1; ++k) {
    const double kk = k;
    vsum_k += pow2[static_cast<std::size_t>(k)] / (kk * kk);
  }
  // Integration divides each bin by ω² = (2π·k·df)².
  const double vel_rms = std::sqrt(vsum_k * (kG * kG) / ((kTwoPi * df) * (kTwoPi * df))) * 1000.0;

  auto& v = out.values;
  v.reserve(24);
  v.push_back({"velocity_rms_mm_s", vel_rms});
  v.push_back({"accel_rms_g", tf.rms});
  v.push_back({"accel_peak_g", tf.peak});
  v.push_back({"crest_factor", tf.crest});
  v.push_back({"kurtosis", tf.kurtosis});

  // ---- band energies (acceleration RMS per band) ----
  static constexpr double kEdges[] = {10, 1000, 2500, 5000, 10000, 20000, 40000};
  const double nyquist = fs / 2;
  for (std::size_t e = 0; e + 1 < std::size(kEdges); ++e) {
    double lo = kEdges[e], hi = std::min(kEdges[e + 1], nyquist);
    if (lo >= nyquist * 0.999) break;
    double sum = 0;
    int k0 = std::max(1, static_cast<int>(std::ceil(lo / df)));
    int k1 = std::min(nb - 1, static_cast<int>(std::floor(hi / df)));
    for (int k = k0; k <= k1; ++k) sum += pow2[static_cast<std::size_t>(k)];
    v.push_back({band_name(lo, hi), std::sqrt(sum)});
  }

  // ---- running-speed harmonics (velocity amplitude, mm/s peak) ----
  if (o.shaft_hz > 0) {
    static const char* kNames[] = {"harmonic_1x_mm_s", "harmonic_2x_mm_s", "harmonic_3x_mm_s"};
    for (int h = 1; h <= 3; ++h) {
      double f = h * o.shaft_hz;
      double a = f < nyquist ? std::sqrt(2 * peak_near(pow2, df, f, 0.01 * f)) : 0;
      v.push_back({kNames[h - 1], a * kG / (kTwoPi * f) * 1000.0});
    }
  }

  // ---- envelope (demodulated) spectrum ----
  double elo = o.envelope_lo_hz > 0 ? o.envelope_lo_hz : fs / 8;
  double ehi = o.envelope_hi_hz > 0 ? o.envelope_hi_hz : 0.4 * fs;
  ehi = std::min(ehi, nyquist * 0.98);
  if (elo >= ehi) elo = ehi / 2;
  out.envelope_lo_hz = elo;
  out.envelope_hi_hz = ehi;
  const int k1 = std::max(1, static_cast<int>(std::ceil(elo / df)));
  const int k2 = std::min(nb - 1, static_cast<int>(std::floor(ehi / df)));
  const int cnt = std::max(1, k2 - k1 + 1);
  // The analytic signal of the band, shifted to base band: |z| is unchanged
  // by the shift, and the band needs only M ≥ its width in bins samples.
  const int m = std::max(64, next_pow2(cnt));
  C2CBackward& c = c2c_for(m);
  for (int k = k1; k <= k2; ++k) {
    c.buf[k - k1][0] = t.out[k][0];
    c.buf[k - k1][1] = t.out[k][1];
  }
  for (int j = k2 - k1 + 1; j < m; ++j) c.buf[j][0] = c.buf[j][1] = 0;
  fftw_execute(c.plan);
  R2C& te = r2c_for(m);
  double esum = 0, esum2 = 0;
  for (int j = 0; j < m; ++j) {
    const double re = c.buf[j][0], im = c.buf[j][1];
    const double e = 2.0 * inv_n * std::sqrt(re * re + im * im);
    te.in[j] = e;  // the mean only lands in bin 0, which is not used
    esum += e;
    esum2 += e * e;
  }
  const double emean = esum / m;
  v.push_back({"envelope_rms_g", std::sqrt(std::max(0.0, esum2 / m - emean * emean))});
  fftw_execute(te.plan);
  const int mb = m / 2 + 1;
  // eamp2[k] = (peak amplitude)² of envelope bin k.
  thread_local std::vector<double> eamp2;
  eamp2.resize(static_cast<std::size_t>(mb));
  eamp2[0] = 0;
  const double escale = 4.0 / (static_cast<double>(m) * m);
  for (int k = 1; k < mb; ++k)
    eamp2[static_cast<std::size_t>(k)] = (te.out[k][0] * te.out[k][0] + te.out[k][1] * te.out[k][1]) * escale;
  // Envelope sample rate is m·df, so its bins are df apart as well.
  if (o.bearing) {
    const double fb[] = {o.bearing->bpfo, o.bearing->bpfi, o.bearing->bsf, o.bearing->ftf};
    static const char* kNames[] = {"env_bpfo_g", "env_bpfi_g", "env_bsf_g", "env_ftf_g"};
    const double env_nyq = m * df / 2;
    for (int i = 0; i < 4; ++i) {
      double s = 0;
      for (int h = 1; h <= 3; ++h) {
        double f = h * fb[i];
        if (f >= env_nyq) break;
        // ±3 %: actual defect frequencies run 1–3 % off the kinematic ones
        // (rolling-element slip, load angle, geometry tolerance).
        double a2 = peak_near(eamp2, df, f, 0.03 * f);
        s += a2;
      }
      v.push_back({kNames[i], std::sqrt(s)});
    }
  }

  if (o.keep_spectra) {
    // Max-hold on squared values, then the root: same as max-hold on amplitudes.
    out.spectrum = reduce_max_hold(pow2, df, o.display_bins);
    for (auto& b : out.spectrum.bins) b = static_cast<float>(std::sqrt(2.0 * b));
    const std::size_t keep =
        std::min(eamp2.size(), static_cast<std::size_t>(std::ceil(2000.0 / df)) + 1);
    out.envelope = reduce_max_hold(std::span<const double>(eamp2.data(), keep), df, o.display_bins);
    for (auto& b : out.envelope.bins) b = static_cast<float>(std::sqrt(static_cast<double>(b)));
  }
  return out;
}

}  // namespace vigil::dsp
