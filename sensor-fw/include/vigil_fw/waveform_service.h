// SPDX-License-Identifier: Apache-2.0
//
// The vigil Waveform GATT service (docs/protocol.md §4). The port's GATT
// server forwards attribute reads/writes here; this class formats values.
// It serves the latest burst in place (no copy): a new measurement replaces
// it and bumps seq, which the gateway sees in every chunk header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil_fw {

// Service 9e7a0001-5c2b-4d0e-9b5f-766967696c00; characteristics 0002 info
// (read), 0003 chunk request (write), 0004 chunk data (read).
constexpr std::size_t kWaveformInfoSize = 24;
constexpr std::size_t kChunkHeaderSize = 6;

class WaveformService {
 public:
  // Publishes a finished burst (axis-major int16). Computes its CRC-32.
  void publish(const std::int16_t* samples, std::size_t n_per_axis, std::size_t axes, std::uint32_t rate_hz,
               float scale_g, std::uint16_t seq);
  // Info characteristic (24 bytes). Returns bytes written (0 if cap too small).
  std::size_t read_info(std::uint8_t* out, std::size_t cap) const;
  // Chunk Request write: offset u32 LE, max_len u16 LE (0 = as much as fits).
  bool write_request(const std::uint8_t* in, std::size_t len);
  // Chunk Data read: seq u16 | offset u32 | data; advances the offset so
  // repeated reads stream the waveform. Returns bytes written.
  std::size_t read_chunk(std::uint8_t* out, std::size_t cap);

 private:
  const std::int16_t* samples_ = nullptr;
  std::size_t n_ = 0, axes_ = 0;
  std::uint32_t rate_hz_ = 0;
  float scale_ = 0;
  std::uint16_t seq_ = 0;
  std::uint32_t crc_ = 0;
  std::uint32_t offset_ = 0;
  std::uint16_t max_len_ = 0;
  std::uint8_t byte_at(std::uint32_t i) const;
};

}  // namespace vigil_fw
