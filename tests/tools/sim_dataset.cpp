// SPDX-License-Identifier: Apache-2.0
//
// Writes simulated run-to-failure datasets in the waveform dataset format
// that `vigil backtest --waveforms` reads (docs/datasets.md of the shared
// folder: manifest.json + little-endian int16 [snapshots][channels][samples]),
// from the demo's machine physics (src/sim/machine_model.h). Each scenario is
// a different machine — speed, bearing, housing resonance, noise, schedule,
// fault kind — so scripts/eval-sim.sh can check that vigil's *default*
// settings, chosen on nothing but the IMS run, hold on other machines too.
//
// Every scenario has two channels on one machine: "faulty" (develops the
// scenario's fault, or none for the control) and "healthy" (same machine,
// another seed, no fault). The manifest carries the ground truth under
// "truth" (fault onset and the snapshot where severity reaches 0.5), which
// the backtest ignores and the evaluation script reads.
//
//   vigil_test_sim_dataset --list
//   vigil_test_sim_dataset SCENARIO OUT_DIR
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/machine_model.h"

using namespace vigil;
using sim::FaultKind;
using sim::MachineSpec;

namespace {

struct Scenario {
  const char* name;
  const char* description;
  MachineSpec spec;
  double hours;           // length of the run
  double interval_min;    // snapshot interval
  double sample_rate_hz;
  int samples;
  // The envelope band an engineer set for the machine (manifest key
  // envelope_band_hz, read by the backtest); 0, 0 = automatic, not written.
  double envelope_lo_hz = 0, envelope_hi_hz = 0;
};

MachineSpec machine(double rpm, BearingGeometry b, double resonance_hz, double noise_g, double unbalance_mm_s) {
  MachineSpec s;
  s.shaft_rpm = rpm;
  s.bearing = b;
  s.resonance_hz = resonance_hz;
  s.noise_g = noise_g;
  s.unbalance_mm_s = unbalance_mm_s;
  return s;
}

std::vector<Scenario> scenarios() {
  std::vector<Scenario> v;
  {  // a belt-driven fan: 6205-class bearing, soft housing (low resonance)
    auto s = machine(980, {9, 7.94, 39.04, 0}, 2200, 0.02, 1.6);
    s.fault = FaultKind::kOuterRace;
    s.fault_onset_h = 96;
    s.fault_growth_h = 120;
    v.push_back({"fan-980rpm-outer", "fan, 980 rpm, 6205 bearing, outer race fault", s, 264, 30, 25600, 8192});
    // The same fan and data, with the envelope band an engineer sets around
    // its 2.2 kHz housing resonance (below the automatic band's fs/8).
    v.push_back({"fan-980rpm-outer-band",
                 "fan, 980 rpm, 6205 bearing, outer race fault, envelope band set to 1.5-3.5 kHz (housing resonance)",
                 s, 264, 30, 25600, 8192, 1500, 3500});
  }
  {  // a 2-pole motor on a day shift: 6308 bearing, stiff housing, inner race
    auto s = machine(2970, {8, 15.0, 65.0, 0}, 4500, 0.03, 1.0);
    s.fault = FaultKind::kInnerRace;
    s.fault_onset_h = 96;
    s.fault_growth_h = 96;
    s.on_hour = 6;
    s.off_hour = 22;
    v.push_back({"motor-2970rpm-inner-dayshift", "motor, 2970 rpm, 6308 bearing, inner race fault, stopped 22:00-06:00",
                 s, 240, 20, 25600, 8192});
  }
  {  // a slow conveyor drive: large spherical roller bearing, below 600 rpm
    auto s = machine(300, {19, 25.0, 150.0, 10}, 3000, 0.015, 0.8);
    s.fault = FaultKind::kOuterRace;
    s.fault_onset_h = 120;
    s.fault_growth_h = 144;
    s.max_impact_g = 1.5;
    v.push_back({"conveyor-300rpm-outer", "conveyor drive, 300 rpm, 22220-class roller bearing, outer race fault", s,
                 312, 30, 25600, 8192});
  }
  {  // a pump whose load cycles: nothing fails; any warning is a false alarm
    auto s = machine(1480, {9, 7.94, 39.04, 0}, 3400, 0.02, 1.1);
    s.load_cycle_h = 5;
    v.push_back({"pump-1480rpm-healthy-cycling", "pump, 1480 rpm, load cycling every 5 h, no fault (control)", s, 240,
                 30, 25600, 8192});
  }
  return v;
}

std::string iso(TimestampMs t) {
  std::time_t s = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

int write(const Scenario& sc, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const TimestampMs t0 = 1767225600000;  // 2026-01-01T00:00:00Z: schedules are in UTC hours
  const auto n = static_cast<std::size_t>(sc.hours * 60 / sc.interval_min);
  const double scale = 0.0005;  // g per count: ±16 g full scale, as a MEMS sensor's ±16 g range
  MachineSpec healthy_spec = sc.spec;
  healthy_spec.fault = FaultKind::kNone;
  sim::MachineModel faulty(sc.spec, 0x5EED0001u, t0), healthy(healthy_spec, 0x5EED0002u, t0);
  std::ofstream bin(dir / "snapshots.i16", std::ios::binary);
  std::vector<float> buf(static_cast<std::size_t>(sc.samples));
  std::vector<std::int16_t> counts(buf.size());
  nlohmann::json timestamps = nlohmann::json::array();
  long long onset_index = -1, half_index = -1;
  for (std::size_t i = 0; i < n; ++i) {
    const TimestampMs t = t0 + static_cast<TimestampMs>(i * sc.interval_min * 60000);
    timestamps.push_back(iso(t));
    if (onset_index < 0 && faulty.severity(t) > 0) onset_index = static_cast<long long>(i);
    if (half_index < 0 && faulty.severity(t) >= 0.5) half_index = static_cast<long long>(i);
    for (auto* m : {&faulty, &healthy}) {
      m->acceleration(t, sc.sample_rate_hz, buf);
      for (std::size_t k = 0; k < buf.size(); ++k) {
        const double c = std::round(buf[k] / scale);
        const auto v = static_cast<std::int16_t>(std::max(-32768.0, std::min(32767.0, c)));
        const auto u = static_cast<std::uint16_t>(v);
        const unsigned char le[2] = {static_cast<unsigned char>(u & 0xFF), static_cast<unsigned char>(u >> 8)};
        bin.write(reinterpret_cast<const char*>(le), 2);
      }
    }
  }
  if (!bin) {
    std::cerr << "sim_dataset: cannot write " << (dir / "snapshots.i16") << "\n";
    return 1;
  }
  const auto& b = sc.spec.bearing;
  nlohmann::json m = {
      {"name", std::string("vigil simulation: ") + sc.name},
      {"description", sc.description},
      {"origin", "generated by tests/tools/sim_dataset.cpp from src/sim/machine_model (deterministic seeds)"},
      {"file", "snapshots.i16"},
      {"scale_g_per_count", scale},
      {"sample_rate_hz", sc.sample_rate_hz},
      {"samples_per_snapshot", sc.samples},
      {"channels", {"faulty", "healthy"}},
      {"snapshot_interval_s", sc.interval_min * 60},
      {"timestamps", timestamps},
      {"bearing_geometry",
       {{"shaft_rpm", sc.spec.shaft_rpm},
        {"rolling_elements", b.rolling_elements},
        {"roller_diameter_mm", b.element_diameter_mm},
        {"pitch_diameter_mm", b.pitch_diameter_mm},
        {"contact_angle_deg", b.contact_angle_deg}}},
      {"truth",
       {{"fault", sc.spec.fault == FaultKind::kOuterRace   ? "outer_race"
                  : sc.spec.fault == FaultKind::kInnerRace ? "inner_race"
                                                           : "none"},
        {"onset_index", onset_index},
        {"severity_half_index", half_index},
        {"stopped_hours_utc", sc.spec.on_hour == sc.spec.off_hour
                                  ? nlohmann::json(nullptr)
                                  : nlohmann::json({sc.spec.off_hour, sc.spec.on_hour})}}},
  };
  if (sc.envelope_lo_hz > 0) m["envelope_band_hz"] = {sc.envelope_lo_hz, sc.envelope_hi_hz};
  std::ofstream(dir / "manifest.json") << m.dump(1) << "\n";
  std::cout << sc.name << ": " << n << " snapshots × 2 channels → " << dir.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto all = scenarios();
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const auto& s : all) std::cout << s.name << "\n";
    return 0;
  }
  if (argc != 3) {
    std::cerr << "usage: vigil_test_sim_dataset --list | SCENARIO OUT_DIR\n";
    return 2;
  }
  for (const auto& s : all)
    if (argv[1] == std::string(s.name)) return write(s, argv[2]);
  std::cerr << "sim_dataset: unknown scenario '" << argv[1] << "' (see --list)\n";
  return 2;
}
