// SPDX-License-Identifier: Apache-2.0
// Fakes behind the HAL for core tests (host and target). No heap.
#pragma once

#include <math.h>
#include <string.h>

#include "vigil_fw/crypto.h"
#include "vigil_fw/frames.h"
#include "vigil_fw/hal.h"

namespace vtest {

// Sine per axis: amplitude_g[a] at freq_hz[a], plus 1 g gravity on z.
class SineAccel final : public vigil_fw::Accelerometer {
 public:
  float amplitude_g[3] = {0.5f, 0.25f, 0.1f};
  float freq_hz[3] = {100.0f, 100.0f, 100.0f};
  bool fail = false;
  bool capture(std::uint32_t rate_hz, std::size_t n, std::int16_t* out) override {
    if (fail) return false;
    for (std::size_t a = 0; a < 3; ++a)
      for (std::size_t i = 0; i < n; ++i) {
        float t = static_cast<float>(i) / static_cast<float>(rate_hz);
        float g = amplitude_g[a] * sinf(2.0f * 3.14159265f * freq_hz[a] * t) + (a == 2 ? 1.0f : 0.0f);
        out[a * n + i] = static_cast<std::int16_t>(lrintf(g / scale_g_per_count()));
      }
    return true;
  }
  float scale_g_per_count() const override { return 16.0f / 32768.0f; }
};

struct FixedTemp final : vigil_fw::TemperatureSensor {
  float c = 23.45f;
  bool read_c(float* out) override { *out = c; return true; }
};
struct FixedBattery final : vigil_fw::Battery {
  std::uint16_t mv = 3581;
  bool read_mv(std::uint16_t* out) override { *out = mv; return true; }
};

class RecordingRadio final : public vigil_fw::Radio {
 public:
  static constexpr std::size_t kMax = 16;
  vigil_fw::Advertisement ads[kMax];
  std::size_t count = 0;
  std::uint8_t mac[6] = {0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x01};
  bool advertise(const std::uint8_t* ad, std::size_t len, std::uint32_t, std::uint32_t) override {
    if (len > vigil_fw::kMaxAdvLen) return false;
    vigil_fw::Advertisement& a = ads[count % kMax];
    memcpy(a.bytes, ad, len);
    a.len = len;
    ++count;
    return true;
  }
  void address(std::uint8_t out[6]) const override { memcpy(out, mac, 6); }
  std::int8_t tx_power_dbm = 0;
  bool set_tx_power_dbm(std::int8_t dbm) override {
    tx_power_dbm = dbm;
    return true;
  }
};

class FakeClock final : public vigil_fw::Clock {
 public:
  std::uint32_t t = 0;
  std::uint32_t now_ms() override { return t; }
  void sleep_ms(std::uint32_t ms) override { t += ms; }
};

// In-memory records; can be told to fail writes.
class MemStorage final : public vigil_fw::Storage {
 public:
  struct Rec { bool present = false; std::uint8_t len = 0; std::uint8_t data[32]; };
  Rec recs[4];
  bool fail_writes = false;
  int writes = 0;
  bool read(vigil_fw::Record r, std::uint8_t* buf, std::size_t len) override {
    Rec& x = recs[static_cast<int>(r)];
    if (!x.present || x.len != len) return false;
    memcpy(buf, x.data, len);
    return true;
  }
  bool write(vigil_fw::Record r, const std::uint8_t* buf, std::size_t len) override {
    if (fail_writes || len > 32) return false;
    Rec& x = recs[static_cast<int>(r)];
    memcpy(x.data, buf, len);
    x.len = static_cast<std::uint8_t>(len);
    x.present = true;
    ++writes;
    return true;
  }
};

struct FakeHal {
  SineAccel accel;
  FixedTemp temp;
  FixedBattery battery;
  RecordingRadio radio;
  vigil_fw::SoftAes aes;
  FakeClock clock;
  MemStorage storage;
  vigil_fw::Hal hal() { return {accel, temp, battery, radio, aes, clock, storage}; }
};

}  // namespace vtest
