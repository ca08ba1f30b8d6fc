// SPDX-License-Identifier: Apache-2.0
#include "protocol/waveform.h"

#include <cstring>

#include "protocol/bytes.h"

namespace vigil::protocol {
namespace {
constexpr std::uint32_t kMaxWaveformBytes = 4u << 20;  // far above any sensor RAM

using detail::le32;
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
}  // namespace

std::uint32_t crc32(Bytes data, std::uint32_t crc) {
  crc = ~crc;
  for (auto b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

Result<WaveformInfo> parse_waveform_info(Bytes b) {
  if (b.size() < kWaveformInfoSize) return Status::InvalidArgument("waveform info: truncated");
  WaveformInfo i;
  i.version = b[0];
  if (i.version != 1) return Status::InvalidArgument("waveform info: version " + std::to_string(i.version));
  i.axes = b[1];
  i.seq = static_cast<std::uint16_t>(b[2] | b[3] << 8);
  i.sample_rate_hz = le32(&b[4]);
  std::uint32_t s = le32(&b[8]);
  std::memcpy(&i.scale_g_per_count, &s, 4);
  i.samples_per_axis = le32(&b[12]);
  i.total_bytes = le32(&b[16]);
  i.crc32 = le32(&b[20]);
  if (i.axes < 1 || i.axes > 3) return Status::InvalidArgument("waveform info: axes out of range");
  if (i.total_bytes != std::uint64_t{i.axes} * i.samples_per_axis * 2 || i.total_bytes > kMaxWaveformBytes)
    return Status::InvalidArgument("waveform info: inconsistent sizes");
  if (i.sample_rate_hz == 0) return Status::InvalidArgument("waveform info: zero sample rate");
  return i;
}

std::array<std::uint8_t, kWaveformInfoSize> encode_waveform_info(const WaveformInfo& i) {
  std::array<std::uint8_t, kWaveformInfoSize> b{};
  b[0] = i.version;
  b[1] = i.axes;
  b[2] = static_cast<std::uint8_t>(i.seq);
  b[3] = static_cast<std::uint8_t>(i.seq >> 8);
  put32(&b[4], i.sample_rate_hz);
  std::uint32_t s;
  std::memcpy(&s, &i.scale_g_per_count, 4);
  put32(&b[8], s);
  put32(&b[12], i.samples_per_axis);
  put32(&b[16], i.total_bytes);
  put32(&b[20], i.crc32);
  return b;
}

std::array<std::uint8_t, 6> chunk_request(std::uint32_t offset, std::uint16_t max_len) {
  std::array<std::uint8_t, 6> b{};
  put32(b.data(), offset);
  b[4] = static_cast<std::uint8_t>(max_len);
  b[5] = static_cast<std::uint8_t>(max_len >> 8);
  return b;
}

WaveformAssembler::WaveformAssembler(const WaveformInfo& info) : info_(info) { data_.reserve(info.total_bytes); }

Status WaveformAssembler::add_chunk(Bytes c) {
  if (c.size() < kChunkHeaderSize) return Status::InvalidArgument("waveform chunk: truncated header");
  const std::uint16_t seq = static_cast<std::uint16_t>(c[0] | c[1] << 8);
  const std::uint32_t offset = le32(&c[2]);
  if (seq != info_.seq) return Status::Unavailable("waveform chunk: sensor took a new measurement; restart");
  if (offset != data_.size()) return Status::InvalidArgument("waveform chunk: offset " + std::to_string(offset) +
                                                             ", expected " + std::to_string(data_.size()));
  Bytes body = c.subspan(kChunkHeaderSize);
  if (body.size() > info_.total_bytes - data_.size()) return Status::InvalidArgument("waveform chunk: past the end");
  data_.insert(data_.end(), body.begin(), body.end());
  return Status::Ok();
}

Result<Waveform> WaveformAssembler::finish(TimestampMs ts) const {
  if (!complete()) return Status::InvalidArgument("waveform: incomplete");
  if (crc32(data_) != info_.crc32) return Status::Corruption("waveform: CRC-32 mismatch");
  Waveform w;
  w.ts = ts;
  w.sample_rate_hz = info_.sample_rate_hz;
  w.axes = info_.axes;
  w.scale = info_.scale_g_per_count;
  w.samples.resize(data_.size() / 2);
  for (std::size_t k = 0; k < w.samples.size(); ++k)
    w.samples[k] = static_cast<std::int16_t>(data_[2 * k] | data_[2 * k + 1] << 8);
  return w;
}

}  // namespace vigil::protocol
