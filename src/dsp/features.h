// SPDX-License-Identifier: Apache-2.0
//
// Vibration features of one waveform: the numbers a sensor sends and the
// analytics score. Pure functions; FFTW plans are cached per size in a
// thread-local planner, so calls are cheap after the first of each size.
//
// Units: acceleration input in g; velocity output in mm/s (RMS, band-limited
// by frequency-domain integration, ISO 20816 band 10–1000 Hz, or 2–1000 Hz
// for machines below 600 rpm).
#pragma once

#include <span>

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

}  // namespace vigil::dsp
