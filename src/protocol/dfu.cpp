// SPDX-License-Identifier: Apache-2.0
#include "protocol/dfu.h"

#include <charconv>

#include "protocol/bytes.h"

namespace vigil::protocol {

using detail::le16;
using detail::le32;

namespace {
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void put16(std::vector<std::uint8_t>& v, std::uint16_t x) {
  v.push_back(static_cast<std::uint8_t>(x));
  v.push_back(static_cast<std::uint8_t>(x >> 8));
}
constexpr std::int8_t kTxPowers[] = {-20, -16, -12, -8, -4, 0, 4};
}  // namespace

std::string dfu_error_name(std::uint8_t code) {
  static const char* const kNames[] = {"none",        "bad_header", "wrong_board", "downgrade",
                                       "too_large",   "bad_offset", "crc_mismatch", "bad_tag",
                                       "flash_error", "not_ready",  "reverted"};
  if (code < std::size(kNames)) return kNames[code];
  return "error_" + std::to_string(code);
}

const char* dfu_state_name(DfuState s) {
  switch (s) {
    case DfuState::kIdle: return "idle";
    case DfuState::kReceiving: return "receiving";
    case DfuState::kVerified: return "verified";
    case DfuState::kTestBoot: return "test_boot";
    case DfuState::kError: return "error";
  }
  return "unknown";
}

Result<DfuStatus> parse_dfu_status(Bytes b) {
  if (b.size() < kDfuStatusSize)
    return Status::InvalidArgument("DFU status is " + std::to_string(b.size()) + " bytes, want " +
                                   std::to_string(kDfuStatusSize));
  if (b[0] > static_cast<std::uint8_t>(DfuState::kError))
    return Status::InvalidArgument("DFU status: unknown state " + std::to_string(b[0]));
  DfuStatus s;
  s.state = static_cast<DfuState>(b[0]);
  s.error = b[1];
  s.received = le32(&b[2]);
  s.running_version = le32(&b[6]);
  s.staged_version = le32(&b[10]);
  s.boots_since_activate = b[14];
  return s;
}

std::vector<std::uint8_t> dfu_start(bool force, Bytes header, Bytes tag) {
  std::vector<std::uint8_t> v{static_cast<std::uint8_t>(DfuOp::kStart), static_cast<std::uint8_t>(force ? 1 : 0)};
  v.insert(v.end(), header.begin(), header.end());
  v.insert(v.end(), tag.begin(), tag.end());
  return v;
}

std::vector<std::uint8_t> dfu_op(DfuOp op) { return {static_cast<std::uint8_t>(op)}; }

std::vector<std::uint8_t> dfu_data(std::uint32_t offset, Bytes data) {
  std::vector<std::uint8_t> v;
  v.reserve(4 + data.size());
  put32(v, offset);
  v.insert(v.end(), data.begin(), data.end());
  return v;
}

Status validate_sensor_config(const SensorConfig& c) {
  if (c.measurement_interval_s < kMinMeasurementIntervalS || c.measurement_interval_s > kMaxMeasurementIntervalS)
    return Status::InvalidArgument("measurement_interval_s must be " + std::to_string(kMinMeasurementIntervalS) +
                                   ".." + std::to_string(kMaxMeasurementIntervalS));
  if (c.waveform_interval_min < kMinWaveformIntervalMin || c.waveform_interval_min > kMaxWaveformIntervalMin)
    return Status::InvalidArgument("waveform_interval_min must be " + std::to_string(kMinWaveformIntervalMin) +
                                   ".." + std::to_string(kMaxWaveformIntervalMin));
  if (static_cast<std::uint32_t>(c.waveform_interval_min) * 60 < c.measurement_interval_s)
    return Status::InvalidArgument("waveform_interval_min must not be shorter than measurement_interval_s");
  for (auto p : kTxPowers)
    if (p == c.tx_power_dbm) return Status::Ok();
  return Status::InvalidArgument("tx_power_dbm must be one of -20, -16, -12, -8, -4, 0, 4");
}

std::vector<std::uint8_t> encode_desired_config(const SensorConfig& c) {
  std::vector<std::uint8_t> v;
  v.reserve(12);
  put32(v, c.seq);
  put32(v, c.measurement_interval_s);
  put16(v, c.waveform_interval_min);
  v.push_back(static_cast<std::uint8_t>(c.tx_power_dbm));
  v.push_back(0);
  return v;
}

Result<ReportedConfig> parse_reported_config(Bytes b) {
  if (b.size() < 16)
    return Status::InvalidArgument("reported configuration is " + std::to_string(b.size()) + " bytes, want 16");
  ReportedConfig r;
  r.config.seq = le32(&b[0]);
  r.config.measurement_interval_s = le32(&b[4]);
  r.config.waveform_interval_min = le16(&b[8]);
  r.config.tx_power_dbm = static_cast<std::int8_t>(b[10]);
  r.firmware_version = le32(&b[12]);
  return r;
}

Result<std::uint32_t> parse_firmware_version(const std::string& s) {
  std::uint32_t parts[3] = {0, 0, 0};
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 3; ++i) {
    unsigned v = 0;
    auto [q, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || q == p || v > 255)
      return Status::InvalidArgument("firmware version '" + s + "': want MAJOR.MINOR.PATCH, each 0..255");
    parts[i] = v;
    p = q;
    if (i < 2) {
      if (p == end || *p != '.')
        return Status::InvalidArgument("firmware version '" + s + "': want MAJOR.MINOR.PATCH, each 0..255");
      ++p;
    }
  }
  if (p != end) return Status::InvalidArgument("firmware version '" + s + "': want MAJOR.MINOR.PATCH, each 0..255");
  return parts[0] << 16 | parts[1] << 8 | parts[2];
}

std::string firmware_version_string(std::uint32_t v) {
  return std::to_string((v >> 16) & 0xFF) + "." + std::to_string((v >> 8) & 0xFF) + "." + std::to_string(v & 0xFF);
}

}  // namespace vigil::protocol
