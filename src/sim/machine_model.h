// SPDX-License-Identifier: Apache-2.0
//
// Machine physics for the demo plant and for tests: what an accelerometer
// and a thermometer on a bearing housing would see.
//
// Vibration = shaft-speed harmonics (unbalance at 1×, misalignment at 2×/3×)
//           + bearing-defect impacts at BPFO or BPFI (docs/domain.md), each
//             ringing a structural resonance as a damped sinusoid, with
//             slip jitter and (for BPFI) modulation by shaft rotation
//           + broadband noise,
// with the defect's impact energy growing over time after onset (and, late in
// life, raising 1× and the noise floor as clearances open). Temperature
// follows load and friction through a first-order thermal lag. Machines run
// on schedules and stop (no shaft harmonics, sensor noise only).
//
// Deterministic for a given seed. Thread-safety: none; one model per thread.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "vigil/clock.h"
#include "vigil/model.h"

namespace vigil::sim {

enum class FaultKind { kNone, kOuterRace, kInnerRace };

struct MachineSpec {
  double shaft_rpm = 1480;
  BearingGeometry bearing{9, 7.94, 39.04, 0};  // a 6205-class deep-groove bearing
  double unbalance_mm_s = 1.2;     // velocity RMS at 1× when healthy
  double misalignment_ratio = 0.3; // 2× amplitude relative to 1×
  double resonance_hz = 3200;      // housing resonance excited by impacts
  double damping_ratio = 0.06;
  double noise_g = 0.02;           // broadband RMS
  FaultKind fault = FaultKind::kNone;
  double fault_onset_h = 0;        // hours after the model's origin
  double fault_growth_h = 72;      // hours from onset to severe damage
  double max_impact_g = 2.5;       // impact peak at full severity
  // Schedule: runs from on_hour to off_hour (time of day, UTC); equal = always.
  double on_hour = 0, off_hour = 0;
  double ambient_c = 21;
  double temp_rise_c = 22;         // at full load
  double load_cycle_h = 0;         // >0: load alternates loaded/unloaded with this period
};

// Defect frequencies in Hz for a shaft frequency (docs/domain.md).
struct DefectFrequencies {
  double bpfo = 0, bpfi = 0, bsf = 0, ftf = 0;
};
DefectFrequencies defect_frequencies(const BearingGeometry& g, double shaft_hz);

class MachineModel {
 public:
  MachineModel(MachineSpec spec, std::uint32_t seed, TimestampMs origin);

  bool running(TimestampMs t) const;
  double load(TimestampMs t) const;      // 0..1
  double severity(TimestampMs t) const;  // 0 healthy … 1 severe
  // Fills `out_g` with one burst of acceleration (g) starting at t.
  void acceleration(TimestampMs t, double sample_rate_hz, std::span<float> out_g);
  // Housing temperature at t. Call with non-decreasing t (integrates the lag).
  double temperature_c(TimestampMs t);
  const MachineSpec& spec() const { return spec_; }

 private:
  MachineSpec spec_;
  TimestampMs origin_;
  std::mt19937 rng_;
  double temp_ = -1000;
  TimestampMs temp_t_ = 0;
};

}  // namespace vigil::sim
