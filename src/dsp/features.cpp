// SPDX-License-Identifier: Apache-2.0
#include "dsp/features.h"

#include <fftw3.h>

#include <algorithm>
#include <cstring>
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

// Out of place: FFTW's in-place complex plans copy through a scratch buffer.
struct C2CBackward {
  int n = 0;
  fftw_complex* in = nullptr;
  fftw_complex* out = nullptr;
  fftw_plan plan = nullptr;
  explicit C2CBackward(int size) : n(size) {
    std::lock_guard lk(planner_mu());
    in = fftw_alloc_complex(static_cast<std::size_t>(n));
    out = fftw_alloc_complex(static_cast<std::size_t>(n));
    plan = fftw_plan_dft_1d(n, in, out, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  ~C2CBackward() {
    std::lock_guard lk(planner_mu());
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
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

// Smallest even 2^a·3^b·5^c ≥ v: FFTW is fastest on these sizes, and the
// envelope transform only needs as many points as the band has bins (a
// power of two would nearly double the work for a band just over 2^k bins).
int next_fast_size(int v) {
  int best = 2;
  while (best < v) best <<= 1;
  for (long p5 = 1; p5 < best; p5 *= 5)
    for (long p35 = p5; p35 < best; p35 *= 3)
      for (long p = p35 * 2; p < best; p *= 2)
        if (p >= v) best = static_cast<int>(p);
  return best;
}

// The reductions below run four independent accumulator chains: a single
// chain is bound by the FP add latency, and without -ffast-math the compiler
// may not reassociate on its own. Results differ from the serial sum only
// in rounding.
double sum_of(std::span<const float> x) {
  double a[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 4 <= x.size(); i += 4)
    for (std::size_t l = 0; l < 4; ++l) a[l] += x[i + l];
  for (; i < x.size(); ++i) a[0] += x[i];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// Σ v[k] for k in [k0, k1].
double sum_range(const double* v, int k0, int k1) {
  double a[4] = {0, 0, 0, 0};
  int k = k0;
  for (; k + 4 <= k1 + 1; k += 4)
    for (int l = 0; l < 4; ++l) a[l] += v[k + l];
  for (; k <= k1; ++k) a[0] += v[k];
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// Mean-removed moments in one pass; also writes x - mean to out when given.
struct Moments {
  double m2 = 0, m4 = 0, peak = 0;  // Σd², Σd⁴, max|d|
};
// Two doubles per SSE2/NEON register (GCC vector extension): the compiler's
// own vectoriser leaves this loop scalar at Debian's -O2.
typedef double v2d __attribute__((vector_size(16)));

Moments central_moments(std::span<const float> x, double mean, double* out) {
  const std::size_t n = x.size();
  const v2d mv = {mean, mean};
  v2d s2a = {0, 0}, s2b = {0, 0}, s4a = {0, 0}, s4b = {0, 0}, pka = {0, 0}, pkb = {0, 0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v2d da = v2d{x[i], x[i + 1]} - mv;
    const v2d db = v2d{x[i + 2], x[i + 3]} - mv;
    if (out) {
      std::memcpy(out + i, &da, sizeof da);
      std::memcpy(out + i + 2, &db, sizeof db);
    }
    const v2d qa = da * da, qb = db * db;
    s2a += qa;
    s2b += qb;
    s4a += qa * qa;
    s4b += qb * qb;
    const v2d aa = da < 0 ? -da : da, ab = db < 0 ? -db : db;
    pka = aa > pka ? aa : pka;
    pkb = ab > pkb ? ab : pkb;
  }
  double a2[4] = {s2a[0], s2a[1], s2b[0], s2b[1]};
  double a4[4] = {s4a[0], s4a[1], s4b[0], s4b[1]};
  double pk[4] = {pka[0], pka[1], pkb[0], pkb[1]};
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    if (out) out[i] = d;
    a2[0] += d * d;
    a4[0] += d * d * d * d;
    pk[0] = std::fabs(d) > pk[0] ? std::fabs(d) : pk[0];
  }
  Moments m;
  m.m2 = (a2[0] + a2[1]) + (a2[2] + a2[3]);
  m.m4 = (a4[0] + a4[1]) + (a4[2] + a4[3]);
  m.peak = std::max(std::max(pk[0], pk[1]), std::max(pk[2], pk[3]));
  return m;
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
  // to_string of integers, not snprintf of doubles: this runs per snapshot.
  return "band_" + std::to_string(std::lround(lo)) + "_" + std::to_string(std::lround(hi)) + "hz_g";
}

}  // namespace

TimeFeatures time_features(std::span<const float> x) {
  TimeFeatures f;
  if (x.empty()) return f;
  const double mean = sum_of(x) / static_cast<double>(x.size());
  const Moments mo = central_moments(x, mean, nullptr);
  const double m2 = mo.m2 / static_cast<double>(x.size());
  const double m4 = mo.m4 / static_cast<double>(x.size());
  const double peak = mo.peak;
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
    const std::size_t end = std::min(amp.size(), i + group);
    for (std::size_t j = i; j < end; ++j) m = amp[j] > m ? amp[j] : m;
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
  const double mean = sum_of(x) / n;
  const Moments mo = central_moments(x, mean, t.in);
  const double m2 = mo.m2 / n, m4 = mo.m4 / n, peak = mo.peak;
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
  double vsum[4] = {0, 0, 0, 0};  // Σ pow2[k] / k² over the velocity band
  for (int k = 1; k < nb; ++k) {
    const double re = t.out[k][0], im = t.out[k][1];
    const double p = (re * re + im * im) * scale;
    pow2[static_cast<std::size_t>(k)] = p;
  }
  if ((n % 2) == 0) pow2[static_cast<std::size_t>(n / 2)] *= 0.5;  // Nyquist bin is single
  {
    int k = kv0;
    for (; k + 4 <= kv1 + 1; k += 4)
      for (int l = 0; l < 4; ++l) {
        const double kk = k + l;
        vsum[l] += pow2[static_cast<std::size_t>(k + l)] / (kk * kk);
      }
    for (; k <= kv1; ++k) vsum[0] += pow2[static_cast<std::size_t>(k)] / (static_cast<double>(k) * k);
  }
  const double vsum_k = (vsum[0] + vsum[1]) + (vsum[2] + vsum[3]);
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
    int k0 = std::max(1, static_cast<int>(std::ceil(lo / df)));
    int k1 = std::min(nb - 1, static_cast<int>(std::floor(hi / df)));
    const double sum = sum_range(pow2.data(), k0, k1);
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
  const int m = next_fast_size(std::max(64, cnt));
  C2CBackward& c = c2c_for(m);
  for (int k = k1; k <= k2; ++k) {
    c.in[k - k1][0] = t.out[k][0];
    c.in[k - k1][1] = t.out[k][1];
  }
  for (int j = k2 - k1 + 1; j < m; ++j) c.in[j][0] = c.in[j][1] = 0;
  fftw_execute(c.plan);
  R2C& te = r2c_for(m);
  const double escale_t = 2.0 * inv_n;
  for (int j = 0; j < m; ++j) {
    const double re = c.out[j][0], im = c.out[j][1];
    te.in[j] = escale_t * std::sqrt(re * re + im * im);  // the mean only lands in bin 0, unused
  }
  const double esum = sum_range(te.in, 0, m - 1);
  double esq[4] = {0, 0, 0, 0};
  for (int j = 0; j < m; ++j) esq[j & 3] += te.in[j] * te.in[j];
  const double esum2 = (esq[0] + esq[1]) + (esq[2] + esq[3]);
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
