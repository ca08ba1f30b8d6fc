// SPDX-License-Identifier: Apache-2.0
//
// The host port: a Linux virtual sensor running the same firmware core as the
// nRF52 build, producing the exact advertisement bytes and serving the
// waveform GATT service in-process. For the gateway's simulator and tests.
//
//   vigil_fw::host::VirtualSensor s({.mac = ..., .key = ...});
//   s.set_accel_source([&](std::int64_t t_ms, double fs, int axis, std::span<float> out_g) {
//     plant.acceleration(t_ms, fs, out_g);   // one axis at a time
//   });
//   for (auto& ad : s.measure(now_ms)) scanner.feed(mac, ad);  // 5 advertisements
//
// Thread-safety: one VirtualSensor per thread. C++20 (the core stays C++17).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vigil_fw/features.h"

namespace vigil_fw::host {

// Fills out_g (one axis, g) with samples from time t_ms at fs Hz.
using AccelSource = std::function<void(std::int64_t t_ms, double fs, int axis, std::span<float> out_g)>;

struct VirtualSensorOptions {
  std::array<std::uint8_t, 6> mac{0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x01};  // printed order
  std::optional<std::array<std::uint8_t, 16>> key;  // none → plain frames
  std::string state_file;  // persists key + counter reservation ("" = memory)
  std::uint32_t interval_s = 600;
  float temperature_c = 24.0f;
  std::uint16_t battery_mv = 3600;
};

class VirtualSensor {
 public:
  explicit VirtualSensor(VirtualSensorOptions options);
  ~VirtualSensor();
  VirtualSensor(const VirtualSensor&) = delete;
  VirtualSensor& operator=(const VirtualSensor&) = delete;

  // "" if the sensor started; else why not (e.g. unreadable state file).
  const std::string& error() const;

  void set_accel_source(AccelSource source);  // default: a synthetic motor
  void set_temperature(float c);
  void set_battery_mv(std::uint16_t mv);

  // One measurement cycle at time t_ms: the advertisements (AD structures,
  // ≤ 31 bytes each) in transmit order. Empty on error (see error()).
  std::vector<std::vector<std::uint8_t>> measure(std::int64_t t_ms);
  const BurstFeatures& last_features() const;

  // GATT waveform service (docs/protocol.md §4).
  std::vector<std::uint8_t> read_waveform_info();
  bool write_chunk_request(std::span<const std::uint8_t> value);
  std::vector<std::uint8_t> read_chunk(std::size_t att_payload = 244);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The default synthetic machine: 1485 rpm motor, 1x/2x lines, noise, gravity.
void synthetic_motor(std::int64_t t_ms, double fs, int axis, std::span<float> out_g);

}  // namespace vigil_fw::host
