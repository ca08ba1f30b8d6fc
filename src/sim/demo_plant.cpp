// SPDX-License-Identifier: Apache-2.0
#include "sim/demo_plant.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "dsp/features.h"

namespace vigil::sim {
namespace {

struct PositionPlan {
  const char* name;
  PositionType type;
  MachineSpec spec;
};
struct AssetPlan {
  const char* name;
  const char* machine_class;
  double rpm;
  std::vector<PositionPlan> positions;
};

MachineSpec spec(double rpm, double unbalance, double resonance, double noise) {
  MachineSpec s;
  s.shaft_rpm = rpm;
  s.unbalance_mm_s = unbalance;
  s.resonance_hz = resonance;
  s.noise_g = noise;
  return s;
}

std::vector<AssetPlan> plant(const DemoConfig& c) {
  MachineSpec faulty = spec(1480, 1.1, 3400, 0.02);
  faulty.fault = FaultKind::kOuterRace;
  faulty.fault_onset_h = c.fault_onset_hours;
  faulty.fault_growth_h = c.fault_growth_hours;
  MachineSpec fan_day = spec(740, 1.6, 2100, 0.015);
  fan_day.on_hour = 6;
  fan_day.off_hour = 22;
  MachineSpec fan_day_motor = spec(740, 0.9, 2600, 0.015);
  fan_day_motor.on_hour = 6;
  fan_day_motor.off_hour = 22;
  MachineSpec comp = spec(2950, 1.4, 4100, 0.03);
  comp.load_cycle_h = 0.5;
  comp.temp_rise_c = 30;
  MachineSpec comp_motor = spec(2950, 0.9, 3900, 0.025);
  comp_motor.load_cycle_h = 0.5;
  return {
      {"Cooling water pump P-101", "iso10816_class2", 1480,
       {{"Motor DE", PositionType::kMotor, spec(1480, 0.9, 3000, 0.018)},
        {"Pump DE", PositionType::kPump, faulty}}},
      {"Air compressor C-201", "iso10816_class3", 2950,
       {{"Motor DE", PositionType::kMotor, comp_motor}, {"Compressor", PositionType::kCompressor, comp}}},
      {"Supply fan F-301", "iso10816_class2", 980,
       {{"Motor DE", PositionType::kMotor, spec(980, 0.8, 2800, 0.015)},
        {"Fan bearing", PositionType::kFan, spec(980, 1.9, 2200, 0.02)}}},
      {"Conveyor gearbox G-401", "iso10816_class2", 1450,
       {{"Motor DE", PositionType::kMotor, spec(1450, 0.7, 3100, 0.02)},
        {"Gearbox input", PositionType::kGearbox, spec(1450, 1.3, 5200, 0.05)}}},
      {"Process pump P-102", "iso10816_class2", 1475,
       {{"Motor DE", PositionType::kMotor, spec(1475, 1.0, 3050, 0.018)},
        {"Pump DE", PositionType::kPump, spec(1475, 1.5, 3600, 0.022)}}},
      {"Exhaust fan F-302", "iso10816_class1", 740,
       {{"Motor DE", PositionType::kMotor, fan_day_motor}, {"Fan bearing", PositionType::kFan, fan_day}}},
  };
}

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace

DemoPlant::DemoPlant(Store& store, Ingest& ingest, const DemoConfig& config, TimestampMs origin)
    : store_(store), ingest_(ingest), config_(config), origin_(origin), burst_(kSamples) {
  waveform_every_ = std::max(1, static_cast<int>(std::lround(3600.0 / config_.measurement_interval_s)));
}

Status DemoPlant::setup() {
  auto site = store_.upsert_site(Site{0, "Demo plant", "UTC"});
  if (!site) return site.status();
  std::uint32_t seed = config_.seed;
  for (const auto& a : plant(config_)) {
    Asset asset;
    asset.site_id = *site;
    asset.name = a.name;
    asset.machine_class = a.machine_class;
    asset.shaft_rpm = a.rpm;
    asset.bearing = a.positions.front().spec.bearing;
    auto aid = store_.upsert_asset(asset);
    if (!aid) return aid.status();
    for (const auto& p : a.positions) {
      auto pid = store_.upsert_position(Position{0, *aid, p.name, p.type});
      if (!pid) return pid.status();
      SimPosition sp;
      sp.position_id = *pid;
      sp.address = "sim:" + slug(a.name) + "/" + slug(p.name);
      Sensor s;
      s.address = sp.address;
      s.name = std::string(a.name) + " · " + p.name;
      s.format = "sim";
      s.position_id = *pid;
      s.commissioned_at = origin_;
      auto sid = store_.upsert_sensor(s);
      if (!sid) return sid.status();
      sp.model = std::make_unique<MachineModel>(p.spec, seed++, origin_);
      // Stagger sensors across the interval, as real ones drift apart.
      sp.next = origin_ + static_cast<TimestampMs>(config_.measurement_interval_s * 1000.0 *
                                                   static_cast<double>(positions_.size()) / 12.0);
      positions_.push_back(std::move(sp));
    }
  }
  ingest_.invalidate_sensors();
  spdlog::info("demo: plant ready, {} positions", positions_.size());
  return Status::Ok();
}

int DemoPlant::tick(TimestampMs now) {
  int n = 0;
  const auto step = static_cast<TimestampMs>(config_.measurement_interval_s * 1000.0);
  for (auto& p : positions_) {
    // Cap catch-up so a stalled process does not emit a burst of thousands.
    int budget = 50;
    while (p.next <= now && budget-- > 0) {
      measure(p, p.next);
      p.next += step;
      ++n;
    }
    if (p.next <= now) p.next = now + step;
  }
  return n;
}

void DemoPlant::measure(SimPosition& p, TimestampMs t) {
  p.model->acceleration(t, kSampleRateHz, burst_);
  auto tf = dsp::time_features(burst_);
  const bool running = p.model->running(t);
  double lo_hz = p.model->spec().shaft_rpm < 600 ? 2.0 : 10.0;
  double vel = dsp::velocity_rms_mm_s(burst_, kSampleRateHz, lo_hz, 1000.0);
  p.battery_pct = std::max(0.0, p.battery_pct - 0.0004);
  std::vector<Reading> r = {
      {p.address, "velocity_rms_mm_s", t, vel},
      {p.address, "accel_rms_g", t, tf.rms},
      {p.address, "accel_peak_g", t, tf.peak},
      {p.address, "crest_factor", t, tf.crest},
      {p.address, "kurtosis", t, tf.kurtosis},
      {p.address, "temperature_c", t, p.model->temperature_c(t)},
      {p.address, "battery_pct", t, std::round(p.battery_pct * 10) / 10},
      {p.address, "running", t, running ? 1.0 : 0.0},
  };
  auto res = ingest_.submit(r);
  if (res.rejected_total() > 0) spdlog::debug("demo: {} readings rejected for {}", res.rejected_total(), p.address);
  if (p.count++ % static_cast<std::uint64_t>(waveform_every_) == 0) {
    Waveform w;
    w.ts = t;
    w.sample_rate_hz = kSampleRateHz;
    w.axes = 1;
    w.scale = 16.0 / 32768.0;  // ±16 g full scale, as a MEMS sensor
    w.samples.resize(burst_.size());
    for (std::size_t i = 0; i < burst_.size(); ++i) {
      double c = std::round(burst_[i] / w.scale);
      w.samples[i] = static_cast<std::int16_t>(std::clamp(c, -32768.0, 32767.0));
    }
    auto id = ingest_.submit_waveform(p.address, std::move(w));
    if (!id) spdlog::warn("demo: waveform for {}: {}", p.address, id.status().ToString());
  }
}

}  // namespace vigil::sim
