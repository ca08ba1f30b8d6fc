// SPDX-License-Identifier: Apache-2.0
//
// Gateway side of the vigil Waveform GATT service (docs/protocol.md §4): parse
// the Waveform Info characteristic, build chunk requests, reassemble chunks
// and verify the CRC-32 into a vigil::Waveform.
//
// Usage (BLE client):
//   auto info = parse_waveform_info(read(kInfoCharUuid));
//   WaveformAssembler a(*info);
//   while (!a.complete()) {
//     write(kChunkRequestCharUuid, chunk_request(a.next_offset(), 0));
//     if (auto s = a.add_chunk(read(kChunkDataCharUuid)); !s.ok()) ...;
//   }
//   Result<Waveform> w = a.finish();
//
// Thread-safety: a WaveformAssembler is a plain value (one per download).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "protocol/types.h"
#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::protocol {

inline constexpr const char* kWaveformServiceUuid = "9e7a0001-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kWaveformInfoCharUuid = "9e7a0002-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kChunkRequestCharUuid = "9e7a0003-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kChunkDataCharUuid = "9e7a0004-5c2b-4d0e-9b5f-766967696c00";

// CRC-32 (IEEE 802.3: reflected, poly 0xEDB88320, init and xor-out 0xFFFFFFFF).
std::uint32_t crc32(Bytes data, std::uint32_t crc = 0);

struct WaveformInfo {
  std::uint8_t version = 1;
  std::uint8_t axes = 3;
  std::uint16_t seq = 0;             // measurement sequence (as in vigil frames)
  std::uint32_t sample_rate_hz = 0;
  float scale_g_per_count = 0;
  std::uint32_t samples_per_axis = 0;
  std::uint32_t total_bytes = 0;     // axes * samples_per_axis * 2
  std::uint32_t crc32 = 0;           // over all sample bytes
};
inline constexpr std::size_t kWaveformInfoSize = 24;
inline constexpr std::size_t kChunkHeaderSize = 6;  // seq u16, offset u32

Result<WaveformInfo> parse_waveform_info(Bytes b);
std::array<std::uint8_t, kWaveformInfoSize> encode_waveform_info(const WaveformInfo& i);
// The 6-byte value written to the Chunk Request characteristic.
std::array<std::uint8_t, 6> chunk_request(std::uint32_t offset, std::uint16_t max_len);

class WaveformAssembler {
 public:
  explicit WaveformAssembler(const WaveformInfo& info);
  // A Chunk Data read: seq u16 | offset u32 | bytes. Chunks must belong to the
  // same seq and arrive in order (offset == next_offset()).
  Status add_chunk(Bytes chunk);
  std::uint32_t next_offset() const { return static_cast<std::uint32_t>(data_.size()); }
  bool complete() const { return data_.size() == info_.total_bytes; }
  // REQUIRES: complete(). Verifies the CRC; samples are axis-major int16.
  Result<Waveform> finish(TimestampMs ts) const;

 private:
  WaveformInfo info_;
  std::vector<std::uint8_t> data_;
};

}  // namespace vigil::protocol
