// SPDX-License-Identifier: Apache-2.0
//
// bench_analytics_features: features + score of one 8192-sample snapshot,
// next to FFTW's r2c transform of the same snapshot in the same run (the
// floor; target ≤ 4× the FFT), then the whole IMS test 2 backtest (3,936
// channel-snapshots; target ≤ 3 s) when ../shared/data holds the dataset.
#include <fftw3.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <vector>

#include "analytics/backtest.h"
#include "analytics/position.h"
#include "dsp/features.h"

using namespace vigil;

namespace {
// Thread CPU time: the machine is shared, so wall time would measure the
// neighbours; CPU time of this thread is what the work costs.
struct Steady {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }
};
double us_per(double a, double b, int n) { return (b - a) / n; }
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
}  // namespace

int main(int argc, char** argv) {
  const int n = 8192;
  const double fs = 20000;
  std::mt19937 rng(1);
  std::normal_distribution<double> nd(0, 0.1);
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(0.3 * std::sin(0.02 * i) + nd(rng));

  // Floor: FFTW r2c of the same snapshot (same planner flags as dsp).
  double* in = fftw_alloc_real(n);
  fftw_complex* out = fftw_alloc_complex(n / 2 + 1);
  fftw_plan plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  const int reps = 2000;
  for (int i = 0; i < n; ++i) in[i] = x[static_cast<std::size_t>(i)];
  fftw_execute(plan);
  auto t0 = Steady::now();
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < n; ++i) in[i] = x[static_cast<std::size_t>(i)];
    fftw_execute(plan);
  }
  auto t1 = Steady::now();
  const double fft_us = us_per(t0, t1, reps);

  // Features + score, as the pipeline does it (IMS-like machine: speed and
  // bearing known, so harmonics and defect bands are computed too).
  analytics::MachineInfo m;
  m.shaft_rpm = 2000;
  m.bearing = BearingGeometry{16, 8.4074, 71.501, 15.17};
  analytics::AnalyticsOptions ao;
  ao.learn_count = 50;
  analytics::PositionAnalyzer pa(m, ao);
  auto fo = pa.feature_options(fs);
  fo.keep_spectra = true;
  TimestampMs ts = 1'700'000'000'000;
  for (int i = 0; i < 60; ++i) {
    for (auto& v : x) v *= static_cast<float>(1 + 0.001 * nd(rng));
    pa.assess_vibration(ts += 600000, dsp::compute_features(x, fs, fo).values);
  }
  volatile double sink = 0;
  t0 = Steady::now();
  for (int r = 0; r < reps; ++r) {
    auto f = dsp::compute_features(x, fs, fo);
    auto a = pa.assess_vibration(ts += 600000, f.values);
    sink = sink + a.score.value_or(0);
  }
  t1 = Steady::now();
  const double feat_us = us_per(t0, t1, reps);
  std::printf("snapshot 8192 samples @ 20 kHz (thread CPU time, mean of %d runs)\n", reps);
  std::printf("  fftw r2c (floor, FFTW_ESTIMATE)      %8.1f us\n", fft_us);
  std::printf("  features + score (pipeline path)     %8.1f us  = %.2fx FFT (target <= 4x)\n", feat_us,
              feat_us / fft_us);
  fftw_destroy_plan(plan);
  fftw_free(in);
  fftw_free(out);

  // Whole IMS test 2 backtest.
  std::string shared = argc > 1 ? argv[1] : (std::getenv("SHARED_DIR") ? std::getenv("SHARED_DIR") : "../shared");
  std::string manifest = shared + "/data/ims-bearing-test2/manifest.json";
  if (!std::filesystem::exists(manifest)) {
    std::printf("IMS test 2 backtest: SKIPPED, dataset absent at %s\n", manifest.c_str());
    return 0;
  }
  analytics::BacktestOptions bo;
  bo.waveforms = manifest;
  bo.out = (std::filesystem::temp_directory_path() / "vigil-bench-ims.csv").string();
  std::ostringstream so, se;
  auto w0 = std::chrono::steady_clock::now();
  const double c0 = process_cpu_s();
  int rc = analytics::run_backtest(bo, so, se);
  const double cpu = process_cpu_s() - c0;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  std::filesystem::remove(bo.out);
  if (rc != 0) {
    std::printf("IMS test 2 backtest failed: %s", se.str().c_str());
    return 1;
  }
  std::printf("IMS test 2 backtest, 3936 channel-snapshots: %.2f s wall, %.2f s CPU (target <= 3 s), "
              "%.0f us CPU per channel-snapshot\n", s, cpu, cpu * 1e6 / 3936);
  return 0;
}
