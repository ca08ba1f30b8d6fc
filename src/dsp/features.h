// SPDX-License-Identifier: Apache-2.0
//
// Vibration features of one waveform: the numbers a sensor sends and the
// analytics score. Pure functions; FFTW plans are cached per size in a
// thread-local planner, so calls are cheap after the first of each size.
//
// Units: acceleration input in g; velocity output in mm/s (RMS, band-limited
// by frequency-domain integration, ISO 20816 band 10–1000 Hz, or 2–1000 Hz
// for machines below 600 rpm).
//
// Thread-safety: every function may be called from any thread concurrently
// (plan creation is serialised internally; execution uses per-thread buffers).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vigil/model.h"

namespace vigil::dsp {

struct TimeFeatures {
  double rms = 0;       // broadband RMS (input units)
  double peak = 0;      // max |x - mean|
  double crest = 0;     // peak / rms
  double kurtosis = 0;  // fourth standardized moment (3 for Gaussian)
};

// Mean-removed time-domain statistics.
TimeFeatures time_features(std::span<const float> x);

// Velocity RMS in mm/s from acceleration in g over [lo_hz, hi_hz].
double velocity_rms_mm_s(std::span<const float> accel_g, double sample_rate_hz,
                         double lo_hz = 10.0, double hi_hz = 1000.0);

// Bearing defect frequencies in Hz (docs/domain.md formulas).
struct BearingFrequencies {
  double bpfo = 0, bpfi = 0, bsf = 0, ftf = 0;
};
// REQUIRES: geometry with rolling_elements > 0 and pitch > element diameter.
BearingFrequencies bearing_frequencies(const BearingGeometry& g, double shaft_hz);

// A spectrum reduced for display: bins[k] covers [k·df_hz, (k+1)·df_hz),
// each the maximum single-sided amplitude (g, peak) of the fine bins it holds
// (max-hold, so narrow peaks survive the reduction).
struct ReducedSpectrum {
  double df_hz = 0;
  std::vector<float> bins;
};

// Max-hold reduction of amplitudes with bin width df to at most max_bins.
ReducedSpectrum reduce_max_hold(std::span<const double> amplitude, double df_hz, int max_bins);

struct FeatureOptions {
  double shaft_hz = 0;  // running speed; 0 = unknown (no harmonics)
  std::optional<BearingFrequencies> bearing;  // defect bands in the envelope spectrum
  // Velocity band; set lo to 2 Hz for machines below 600 rpm (use
  // velocity_band_for_rpm()).
  double velocity_lo_hz = 10, velocity_hi_hz = 1000;
  // Envelope (demodulation) band; 0 = automatic [fs/8, 0.4·fs], capped to
  // the usual accelerometer resonance region.
  double envelope_lo_hz = 0, envelope_hi_hz = 0;
  int display_bins = 1024;  // ≤ this many bins per kept spectrum
  bool keep_spectra = true;
};
// ISO 20816: 10–1000 Hz, 2–1000 Hz below 600 rpm. rpm 0 = unknown (10 Hz).
void velocity_band_for_rpm(double rpm, FeatureOptions& o);

// One named scalar feature.
struct Feature {
  std::string name;
  double value = 0;
};

// Every feature of one waveform, in a fixed order for a given option set.
// Names (units in the suffix):
//   velocity_rms_mm_s, accel_rms_g, accel_peak_g, crest_factor, kurtosis,
//   band_<lo>_<hi>hz_g (acceleration RMS per band),
//   harmonic_1x_mm_s / 2x / 3x (velocity amplitude at n·shaft, when known),
//   envelope_rms_g, env_bpfo_g / env_bpfi_g / env_bsf_g / env_ftf_g (envelope
//   spectrum amplitude at 1–3× the defect frequency, when geometry known).
struct FeatureSet {
  std::vector<Feature> values;
  ReducedSpectrum spectrum;  // acceleration amplitude spectrum (g)
  ReducedSpectrum envelope;  // envelope spectrum (g)
  double envelope_lo_hz = 0, envelope_hi_hz = 0;  // band actually used
  std::optional<double> get(const std::string& name) const;
};

// Computes every feature of one acceleration waveform (g) sampled at fs.
// Returns an empty set for fewer than 64 samples or a non-positive rate.
FeatureSet compute_features(std::span<const float> accel_g, double sample_rate_hz,
                            const FeatureOptions& options);

}  // namespace vigil::dsp
