// SPDX-License-Identifier: Apache-2.0
#include "sim/machine_model.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vigil::sim {
namespace {
constexpr double kPi = std::numbers::pi;
constexpr double kG = 9.80665;
constexpr double kHourMs = 3600.0 * 1000.0;
}  // namespace

DefectFrequencies defect_frequencies(const BearingGeometry& g, double fr) {
  DefectFrequencies d;
  if (g.rolling_elements <= 0 || g.pitch_diameter_mm <= 0) return d;
  const double r = g.element_diameter_mm / g.pitch_diameter_mm * std::cos(g.contact_angle_deg * kPi / 180);
  const double n = g.rolling_elements;
  d.bpfo = n / 2 * fr * (1 - r);
  d.bpfi = n / 2 * fr * (1 + r);
  d.ftf = fr / 2 * (1 - r);
  d.bsf = g.pitch_diameter_mm / (2 * g.element_diameter_mm) * fr * (1 - r * r);
  return d;
}

MachineModel::MachineModel(MachineSpec spec, std::uint32_t seed, TimestampMs origin)
    : spec_(spec), origin_(origin), rng_(seed) {}

bool MachineModel::running(TimestampMs t) const {
  if (spec_.on_hour == spec_.off_hour) return true;
  double hod = std::fmod(static_cast<double>(t) / kHourMs, 24.0);
  if (hod < 0) hod += 24;
  if (spec_.on_hour < spec_.off_hour) return hod >= spec_.on_hour && hod < spec_.off_hour;
  return hod >= spec_.on_hour || hod < spec_.off_hour;
}

double MachineModel::load(TimestampMs t) const {
  if (!running(t)) return 0;
  if (spec_.load_cycle_h <= 0) return 0.85;
  double phase = std::fmod(static_cast<double>(t) / kHourMs / spec_.load_cycle_h, 1.0);
  return phase < 0.6 ? 1.0 : 0.35;
}

double MachineModel::severity(TimestampMs t) const {
  if (spec_.fault == FaultKind::kNone) return 0;
  double h = static_cast<double>(t - origin_) / kHourMs - spec_.fault_onset_h;
  if (h <= 0) return 0;
  // Defects grow slowly at first, then accelerate (spall propagation).
  double x = std::min(h / spec_.fault_growth_h, 1.2);
  return std::min(1.0, 0.05 * x + 0.95 * x * x * x);
}

void MachineModel::acceleration(TimestampMs t, double fs, std::span<float> out) {
  std::normal_distribution<double> noise(0.0, 1.0);
  const std::size_t n = out.size();
  const double dt = 1.0 / fs;
  if (!running(t)) {
    for (auto& v : out) v = static_cast<float>(0.002 * noise(rng_));  // sensor floor
    return;
  }
  const double sev = severity(t);
  const double ld = load(t);
  const double fr = spec_.shaft_rpm / 60.0;
  // Velocity RMS v (mm/s) at f → acceleration amplitude: √2·v·2πf / 1000 / g.
  auto accel_amp_g = [&](double v_mm_s, double f) { return std::sqrt(2.0) * v_mm_s * 2 * kPi * f / 1000 / kG; };
  const double v1 = spec_.unbalance_mm_s * (0.8 + 0.2 * ld) * (1 + 1.5 * sev * sev);
  const double a1 = accel_amp_g(v1, fr);
  const double a2 = accel_amp_g(v1 * spec_.misalignment_ratio, 2 * fr);
  const double a3 = accel_amp_g(v1 * 0.1, 3 * fr);
  std::uniform_real_distribution<double> u(0, 2 * kPi);
  const double p1 = u(rng_), p2 = u(rng_), p3 = u(rng_);
  const double noise_g = spec_.noise_g * (1 + 3 * sev * sev);
  for (std::size_t i = 0; i < n; ++i) {
    double tt = static_cast<double>(i) * dt;
    out[i] = static_cast<float>(a1 * std::sin(2 * kPi * fr * tt + p1) + a2 * std::sin(2 * kPi * 2 * fr * tt + p2) +
                                a3 * std::sin(2 * kPi * 3 * fr * tt + p3) + noise_g * noise(rng_));
  }
  if (sev <= 0) return;
  // Impacts: each rolling element passing the defect rings the resonance.
  auto df = defect_frequencies(spec_.bearing, fr);
  const double f_def = spec_.fault == FaultKind::kOuterRace ? df.bpfo : df.bpfi;
  if (f_def <= 0) return;
  const double wn = 2 * kPi * spec_.resonance_hz;
  const double zeta = spec_.damping_ratio;
  const double wd = wn * std::sqrt(1 - zeta * zeta);
  const std::size_t ring = static_cast<std::size_t>(std::min<double>(n, 6.0 / (zeta * wn) * fs));
  std::normal_distribution<double> slip(0.0, 0.01);
  double next = std::uniform_real_distribution<double>(0, 1 / f_def)(rng_);
  const double span_s = static_cast<double>(n) * dt;
  while (next < span_s) {
    double amp = spec_.max_impact_g * sev * (0.8 + 0.4 * std::uniform_real_distribution<double>(0, 1)(rng_));
    if (spec_.fault == FaultKind::kInnerRace) {
      // The defect rotates with the shaft through the load zone.
      amp *= 0.55 + 0.45 * std::cos(2 * kPi * fr * next);
    }
    auto i0 = static_cast<std::size_t>(next * fs);
    for (std::size_t k = 0; k < ring && i0 + k < n; ++k) {
      double tk = static_cast<double>(k) * dt;
      out[i0 + k] += static_cast<float>(amp * std::exp(-zeta * wn * tk) * std::sin(wd * tk));
    }
    next += (1 / f_def) * (1 + slip(rng_));
  }
}

double MachineModel::temperature_c(TimestampMs t) {
  const double target = spec_.ambient_c + 2.0 * std::sin(2 * kPi * static_cast<double>(t) / (24 * kHourMs)) +
                        spec_.temp_rise_c * load(t) + 18.0 * severity(t) * (running(t) ? 1 : 0);
  if (temp_ < -500) {
    temp_ = target;
  } else {
    const double tau_h = 0.75;  // housing thermal time constant
    double dh = std::max(0.0, static_cast<double>(t - temp_t_) / kHourMs);
    temp_ = target + (temp_ - target) * std::exp(-dh / tau_h);
  }
  temp_t_ = t;
  std::normal_distribution<double> noise(0.0, 0.08);
  return temp_ + noise(rng_);
}

}  // namespace vigil::sim
