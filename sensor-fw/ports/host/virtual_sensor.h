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
// Firmware update and configuration (docs/protocol.md §8): the sensor also
// has a flash (slot A/B, scratch, boot state; a file in state_dir, else RAM)
// holding a host "firmware image" built by make_test_image(). Construction
// is a power-on: the bootloader logic runs, then the image in slot A "runs":
// its self-test passes if its payload is a good test image for this board
// and version; a good test boot confirms itself (unless self_confirm is
// off), a failing one resets at once so the bootloader reverts it.
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
  // Directory for flash.bin (slots) and, if state_file is empty, "state"
  // (key, counters, configuration). "" = RAM only (a reboot() keeps it).
  std::string state_dir;
  std::uint32_t version = 0x010000;  // factory image in a fresh slot A (1.0.0)
  bool self_confirm = true;          // a test image that passes its self-test confirms itself
};

// Result of a (re)boot: the version now running and what happened:
// "confirmed", "test_boot", "reverted", "rejected", "no_image", "flash_error".
struct BootInfo {
  std::uint32_t version = 0;
  std::string state;
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

  // DFU (9e7a0011 control, 0012 data, 0013 status) and configuration
  // (0021 desired, 0022 reported). Writes return the ATT code (0 = ok). An
  // ACTIVATE reboots right after its (successful) answer, as the device does.
  std::uint8_t gatt_write(std::uint16_t uuid16, std::span<const std::uint8_t> value);
  // Empty with *att set on an unknown/unreadable characteristic.
  std::vector<std::uint8_t> gatt_read(std::uint16_t uuid16, std::uint8_t* att);
  // Reset: bootloader logic, then the image's self-test (see above).
  BootInfo reboot();
  const BootInfo& last_boot() const;
  std::uint32_t interval_s() const;
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A host test-firmware payload of `size` bytes (≥ 20): "VGHOSTFW" | version
// u32 | board u32 | flags u8 (bit 0: the self-test fails) | 3 × 0 | pattern.
// Header and signature are added by `vigil firmware sign` on the gateway.
std::vector<std::uint8_t> make_test_image(std::uint32_t version, std::size_t size, std::uint32_t board, bool bad);

// The default synthetic machine: 1485 rpm motor, 1x/2x lines, noise, gravity.
void synthetic_motor(std::int64_t t_ms, double fs, int axis, std::span<float> out_g);

}  // namespace vigil_fw::host
