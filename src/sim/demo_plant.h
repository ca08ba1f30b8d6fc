// SPDX-License-Identifier: Apache-2.0
//
// The demo plant: one site, six assets, twelve positions, each with a
// simulated sensor driven by a MachineModel. One machine (the cooling-water
// pump's pump-side bearing) develops an outer-race fault on the accelerated
// clock; one fan runs on a day schedule and stops at night; the compressor
// cycles between loaded and unloaded.
//
// Every measurement interval each position's virtual sensor captures a burst,
// computes the features a sensor would send (dsp::time_features and
// dsp::velocity_rms_mm_s) and hands them to Ingest — the same road BLE
// frames take. Every `waveform_every` measurements it also hands over the raw
// waveform, as the gateway's hourly waveform pull would.
//
// Thread-safety: setup() and tick() from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "sim/machine_model.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

namespace vigil::sim {

class DemoPlant {
 public:
  static constexpr double kSampleRateHz = 25600;
  static constexpr std::size_t kSamples = 8192;

  DemoPlant(Store& store, Ingest& ingest, const DemoConfig& config, TimestampMs origin);

  // Creates (or re-uses) the site, assets, positions and commissioned sensors.
  Status setup();
  // Emits every measurement due at or before `now`; returns how many.
  int tick(TimestampMs now);
  std::size_t positions() const { return positions_.size(); }

 private:
  struct SimPosition {
    Id position_id = 0;
    std::string address;
    std::unique_ptr<MachineModel> model;
    TimestampMs next = 0;
    std::uint64_t count = 0;
    double battery_pct = 100;
  };
  void measure(SimPosition& p, TimestampMs t);

  Store& store_;
  Ingest& ingest_;
  DemoConfig config_;
  TimestampMs origin_;
  std::vector<SimPosition> positions_;
  std::vector<float> burst_;
  int waveform_every_ = 6;
};

}  // namespace vigil::sim
