// SPDX-License-Identifier: Apache-2.0
//
// Over-the-air frames (docs/protocol.md): BTHome v2 service data and vigil
// frames in manufacturer data, each as a complete legacy advertisement
// (Flags + one data structure, ≤ 31 bytes). Explicit little-endian packing;
// no structs are sent as memory images.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/config.h"
#include "vigil_fw/hal.h"

namespace vigil_fw {

constexpr std::size_t kMaxAdvLen = 31;
constexpr std::uint16_t kBthomeUuid = 0xFCD2;
constexpr std::uint8_t kVigilMagic = 0x56;
constexpr std::uint8_t kVigilVersion = 1;
constexpr std::size_t kVigilPayloadSize = 13;

struct Advertisement {
  std::uint8_t bytes[kMaxAdvLen];
  std::size_t len = 0;
};

// Little-endian writer over a fixed buffer; ok() turns false on overflow.
class Writer {
 public:
  Writer(std::uint8_t* buf, std::size_t cap) : buf_(buf), cap_(cap) {}
  void u8(std::uint32_t v) {
    if (n_ < cap_) buf_[n_] = static_cast<std::uint8_t>(v); else overflow_ = true;
    ++n_;
  }
  void u16(std::uint32_t v) { u8(v); u8(v >> 8); }
  void u24(std::uint32_t v) { u16(v); u8(v >> 16); }
  void u32(std::uint32_t v) { u16(v); u16(v >> 16); }
  std::size_t size() const { return n_; }
  bool ok() const { return !overflow_; }

 private:
  std::uint8_t* buf_;
  std::size_t cap_;
  std::size_t n_ = 0;
  bool overflow_ = false;
};

// What the sensor publishes in its BTHome frame.
struct BthomeReadings {
  std::uint8_t packet_id = 0;
  std::uint8_t battery_pct = 0;
  float temperature_c = 0;
  std::uint16_t battery_mv = 0;
  float accel_rms_m_s2 = 0;  // total vector, BTHome 0x51 (0.001 m/s², ≤ 65.535)
};

// Encodes BthomeReadings as BTHome objects (ids ascending). Returns the length.
std::size_t bthome_objects(const BthomeReadings& r, std::uint8_t* out, std::size_t cap);

// vigil frame payload, version 1 (13 bytes, docs/protocol.md §3).
struct VigilFeatures {
  std::uint16_t seq = 0;
  std::uint8_t axis = 0;  // 0 total vector, 1 x, 2 y, 3 z
  float accel_rms_g = 0, velocity_rms_mm_s = 0, accel_peak_g = 0, crest_factor = 0, kurtosis = 0;
};
void vigil_payload(const VigilFeatures& f, std::uint8_t out[kVigilPayloadSize]);

// Encryption parameters; key == nullptr builds a plain frame.
struct Sealing {
  BlockCipher* aes = nullptr;
  const std::uint8_t* key = nullptr;  // 16 bytes
  const std::uint8_t* mac = nullptr;  // 6 bytes, printed order
  std::uint32_t counter = 0;
};

// Flags + Service Data (0xFCD2): device info 0x40 / 0x41, objects, [counter, MIC].
bool build_bthome_adv(const std::uint8_t* objects, std::size_t len, const Sealing& s, Advertisement& out);
// Flags + Manufacturer Data: company id, 0x56, control, payload, [counter, MIC].
bool build_vigil_adv(const std::uint8_t payload[kVigilPayloadSize], const Sealing& s, Advertisement& out);

}  // namespace vigil_fw
