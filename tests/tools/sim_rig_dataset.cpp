// SPDX-License-Identifier: Apache-2.0
//
// Writes a simulated accelerated-life test rig in the waveform dataset format
// (docs/datasets.md of the shared folder): six bearings run to failure, each
// its own dataset with two channels (horizontal, vertical accelerometers),
// 2,560 samples at 25.6 kHz every 10 s, and no bearing geometry or shaft
// speed in the manifest, as on a rig vigil was not tuned on. The physics is
// the demo's (src/sim/machine_model.h); on top of it, what makes a real rig
// hard for a detector learned on the first 10 % of a life:
//
//   running-in     vibration starts up to 35 % high and settles over the
//                  first few percent of the life (inside the learning period)
//   warming up     the level keeps rising by 20–40 % over the first third
//                  of the life, well past the learning period, as the rig
//                  warms up
//   wander         the whole level drifts slowly (±10–20 % over hours), as
//                  temperature and lubrication change
//   shocks         the odd snapshot with a knock (1 % of snapshots)
//   two axes       the channels see the machine with different gains and
//                  housing resonances
//
// The fault (outer or inner race) starts at 65–90 % of the life and grows to
// failure at its end. The manifest's "truth" holds the life and the onset
// index; `vigil backtest` ignores it, scripts/eval-rig.py reads it.
//
//   vigil_test_sim_rig_dataset --list
//   vigil_test_sim_rig_dataset BEARING OUT_DIR
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "sim/machine_model.h"

using namespace vigil;

namespace {

struct Bearing {
  const char* name;
  double rpm;
  int life;            // snapshots to failure
  double onset_frac;   // fault onset, fraction of the life
  sim::FaultKind fault;
  double run_in;       // initial excess vibration (0.35 = +35 %)
  double wander;       // amplitude of the slow level wander
  std::uint32_t seed;
};

std::vector<Bearing> bearings() {
  using sim::FaultKind;
  return {
      {"rig-bearing1", 1800, 1400, 0.72, FaultKind::kOuterRace, 0.35, 0.15, 101},
      {"rig-bearing2", 1800, 800, 0.85, FaultKind::kInnerRace, 0.20, 0.10, 102},
      {"rig-bearing3", 1650, 1100, 0.65, FaultKind::kOuterRace, 0.30, 0.20, 103},
      {"rig-bearing4", 1650, 700, 0.88, FaultKind::kOuterRace, 0.25, 0.12, 104},
      {"rig-bearing5", 1500, 520, 0.80, FaultKind::kInnerRace, 0.35, 0.15, 105},
      {"rig-bearing6", 1500, 1250, 0.78, FaultKind::kOuterRace, 0.15, 0.18, 106},
  };
}

std::string iso(std::int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

int write(const Bearing& b, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const TimestampMs t0 = 1767225600000;
  const double fs = 25600, interval_s = 10;
  const int samples = 2560;
  const double life_h = b.life * interval_s / 3600.0;
  sim::MachineSpec spec;
  spec.shaft_rpm = b.rpm;
  spec.bearing = {11, 7.1, 28.5, 0};  // unknown to vigil: not in the manifest
  spec.unbalance_mm_s = 0.7;
  spec.noise_g = 0.08;
  spec.fault = b.fault;
  spec.fault_onset_h = b.onset_frac * life_h;
  spec.fault_growth_h = (1 - b.onset_frac) * life_h;
  spec.max_impact_g = 3;
  sim::MachineSpec vertical = spec;
  spec.resonance_hz = 3800;
  vertical.resonance_hz = 5200;
  vertical.noise_g = 0.06;
  sim::MachineModel horiz(spec, b.seed * 2 + 1, t0), vert(vertical, b.seed * 2 + 2, t0);
  std::mt19937 rng(b.seed);
  std::normal_distribution<double> walk(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const double scale = 0.0005;  // g per count: ±16 g full scale
  std::ofstream bin(dir / "snapshots.i16", std::ios::binary);
  std::vector<float> buf(static_cast<std::size_t>(samples));
  nlohmann::json timestamps = nlohmann::json::array();
  double phase = u(rng) * 6.28, period = b.life * (0.3 + 0.3 * u(rng));
  long long onset_index = -1;
  for (int i = 0; i < b.life; ++i) {
    const TimestampMs t = t0 + static_cast<TimestampMs>(i * interval_s * 1000);
    timestamps.push_back(iso(t));
    if (onset_index < 0 && horiz.severity(t) > 0) onset_index = i;
    const double run_in = 1 + b.run_in * std::exp(-i / (0.025 * b.life));
    const double wander = 1 + b.wander * std::sin(phase + 6.2832 * i / period);
    const double warm = 1 + (0.2 + b.run_in * 0.6) * (1 - std::exp(-i / (0.12 * b.life)));
    const bool shock = u(rng) < 0.01;
    int axis = 0;
    for (auto* m : {&horiz, &vert}) {
      m->acceleration(t, fs, buf);
      const double gain = run_in * wander * warm * (axis == 0 ? 1.0 : 0.8);
      for (auto& v : buf) v = static_cast<float>(v * gain);
      if (shock) {  // a knock: one decaying burst
        const std::size_t at = static_cast<std::size_t>(u(rng) * samples * 0.8);
        for (std::size_t k = 0; at + k < buf.size() && k < 1500; ++k)
          buf[at + k] += static_cast<float>(0.8 * std::exp(-static_cast<double>(k) / 300.0) * std::sin(0.9 * static_cast<double>(k)));
      }
      for (float v : buf) {
        const double c = std::round(v / scale);
        const auto s = static_cast<std::int16_t>(std::clamp(c, -32768.0, 32767.0));
        const auto w = static_cast<std::uint16_t>(s);
        const unsigned char le[2] = {static_cast<unsigned char>(w & 0xFF), static_cast<unsigned char>(w >> 8)};
        bin.write(reinterpret_cast<const char*>(le), 2);
      }
      ++axis;
    }
  }
  if (!bin) {
    std::cerr << "sim_rig_dataset: cannot write " << (dir / "snapshots.i16") << "\n";
    return 1;
  }
  nlohmann::json m = {
      {"name", std::string("vigil simulation: ") + b.name},
      {"description", "accelerated-life rig, 2 axes, 25.6 kHz, 2560 samples every 10 s, no bearing geometry"},
      {"origin", "generated by tests/tools/sim_rig_dataset.cpp (deterministic seeds)"},
      {"file", "snapshots.i16"},
      {"scale_g_per_count", scale},
      {"sample_rate_hz", fs},
      {"samples_per_snapshot", samples},
      {"channels", {"horizontal", "vertical"}},
      {"snapshot_interval_s", interval_s},
      {"timestamps", timestamps},
      {"truth", {{"life", b.life}, {"onset_index", onset_index}}},
  };
  std::ofstream(dir / "manifest.json") << m.dump(1) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto all = bearings();
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const auto& b : all) std::cout << b.name << "\n";
    return 0;
  }
  if (argc != 3) {
    std::cerr << "usage: vigil_test_sim_rig_dataset --list | BEARING OUT_DIR\n";
    return 2;
  }
  for (const auto& b : all)
    if (argv[1] == std::string(b.name)) return write(b, argv[2]);
  std::cerr << "sim_rig_dataset: unknown bearing '" << argv[1] << "' (see --list)\n";
  return 2;
}
