// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/waveform_service.h"

#include <string.h>

#include "vigil_fw/config.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/frames.h"

namespace vigil_fw {

std::uint8_t WaveformService::byte_at(std::uint32_t i) const {
  // Little-endian int16 regardless of the MCU's byte order.
  const std::uint16_t v = static_cast<std::uint16_t>(samples_[i / 2]);
  return static_cast<std::uint8_t>(i & 1 ? v >> 8 : v);
}

void WaveformService::publish(const std::int16_t* samples, std::size_t n_per_axis, std::size_t axes,
                              std::uint32_t rate_hz, float scale_g, std::uint16_t seq) {
  samples_ = samples;
  n_ = n_per_axis;
  axes_ = axes;
  rate_hz_ = rate_hz;
  scale_ = scale_g;
  seq_ = seq;
  offset_ = 0;
  std::uint32_t crc = 0;
  const std::uint32_t total = static_cast<std::uint32_t>(n_ * axes_ * 2);
  std::uint8_t buf[32];
  for (std::uint32_t i = 0; i < total;) {
    std::size_t k = 0;
    for (; k < sizeof buf && i < total; ++k, ++i) buf[k] = byte_at(i);
    crc = crc32(buf, k, crc);
  }
  crc_ = crc;
}

std::size_t WaveformService::read_info(std::uint8_t* out, std::size_t cap) const {
  Writer w(out, cap);
  w.u8(1);
  w.u8(static_cast<std::uint32_t>(axes_));
  w.u16(seq_);
  w.u32(rate_hz_);
  std::uint32_t s;
  memcpy(&s, &scale_, 4);  // IEEE-754 binary32
  w.u32(s);
  w.u32(static_cast<std::uint32_t>(n_));
  w.u32(static_cast<std::uint32_t>(n_ * axes_ * 2));
  w.u32(crc_);
  return w.ok() ? w.size() : 0;
}

bool WaveformService::write_request(const std::uint8_t* in, std::size_t len) {
  if (len != 6) return false;
  const std::uint32_t off = static_cast<std::uint32_t>(in[0]) | static_cast<std::uint32_t>(in[1]) << 8 |
                            static_cast<std::uint32_t>(in[2]) << 16 | static_cast<std::uint32_t>(in[3]) << 24;
  if (off > n_ * axes_ * 2) return false;
  offset_ = off;
  max_len_ = static_cast<std::uint16_t>(in[4] | in[5] << 8);
  return true;
}

std::size_t WaveformService::read_chunk(std::uint8_t* out, std::size_t cap) {
  if (cap < kChunkHeaderSize) return 0;
  const std::uint32_t total = static_cast<std::uint32_t>(n_ * axes_ * 2);
  std::size_t room = cap - kChunkHeaderSize;
  if (room > VIGIL_FW_GATT_CHUNK_MAX) room = VIGIL_FW_GATT_CHUNK_MAX;
  if (max_len_ && room > max_len_) room = max_len_;
  const std::size_t n = total - offset_ < room ? total - offset_ : room;
  Writer w(out, cap);
  w.u16(seq_);
  w.u32(offset_);
  for (std::size_t k = 0; k < n; ++k) out[kChunkHeaderSize + k] = byte_at(offset_ + static_cast<std::uint32_t>(k));
  offset_ += static_cast<std::uint32_t>(n);
  return kChunkHeaderSize + n;
}

}  // namespace vigil_fw
