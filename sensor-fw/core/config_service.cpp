// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/config_service.h"

#include "vigil_fw/dfu_service.h"
#include "vigil_fw/frames.h"

namespace vigil_fw {
namespace {
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
const std::int8_t kTxPowers[] = {-20, -16, -12, -8, -4, 0, 4};
bool tx_power_allowed(std::int8_t dbm) {
  for (std::int8_t a : kTxPowers)
    if (a == dbm) return true;
  return false;
}
}  // namespace

bool parse_desired_config(const std::uint8_t* v, std::size_t len, SensorConfig* out) {
  if (len != kConfigDesiredSize) return false;
  SensorConfig c;
  c.seq = le32(v);
  c.measurement_interval_s = le32(v + 4);
  c.waveform_interval_min = static_cast<std::uint16_t>(v[8] | v[9] << 8);
  c.tx_power_dbm = static_cast<std::int8_t>(v[10]);
  if (c.measurement_interval_s < VIGIL_FW_INTERVAL_MIN_S || c.measurement_interval_s > VIGIL_FW_INTERVAL_MAX_S)
    return false;
  if (c.waveform_interval_min < 1 || c.waveform_interval_min > 10080) return false;
  if (static_cast<std::uint32_t>(c.waveform_interval_min) * 60u < c.measurement_interval_s) return false;
  if (!tx_power_allowed(c.tx_power_dbm) || v[11] != 0) return false;
  *out = c;
  return true;
}

void encode_desired_config(const SensorConfig& c, std::uint8_t out[kConfigDesiredSize]) {
  Writer w(out, kConfigDesiredSize);
  w.u32(c.seq);
  w.u32(c.measurement_interval_s);
  w.u16(c.waveform_interval_min);
  w.u8(static_cast<std::uint8_t>(c.tx_power_dbm));
  w.u8(0);
}

ConfigService::ConfigService(Sensor& sensor, Storage& storage, Radio& radio, std::uint32_t firmware_version)
    : sensor_(sensor), storage_(storage), radio_(radio), version_(firmware_version) {}

void ConfigService::init() {
  std::uint8_t b[kConfigDesiredSize];
  SensorConfig c;
  c.measurement_interval_s = sensor_.interval_s();
  if (storage_.read(Record::kConfig, b, sizeof b) && parse_desired_config(b, sizeof b, &c)) {
    apply(c);
    return;
  }
  cur_ = c;  // nothing stored: report what runs
  sensor_.set_waveform_interval_min(c.waveform_interval_min);
}

void ConfigService::apply(const SensorConfig& c) {
  sensor_.set_interval_s(c.measurement_interval_s);
  sensor_.set_waveform_interval_min(c.waveform_interval_min);
  radio_.set_tx_power_dbm(c.tx_power_dbm);  // the stack rounds to what it supports
  cur_ = c;
}

std::uint8_t ConfigService::write_desired(const std::uint8_t* v, std::size_t len) {
  if (len != kConfigDesiredSize) return kAttInvalidLength;
  SensorConfig c;
  if (!parse_desired_config(v, len, &c)) return kAttValueNotAllowed;
  // Persist first: what runs is then always what a reset brings back.
  if (!storage_.write(Record::kConfig, v, len)) return kAttAppError;
  apply(c);
  return 0;
}

std::size_t ConfigService::read_reported(std::uint8_t* out, std::size_t cap) const {
  Writer w(out, cap);
  w.u32(cur_.seq);
  w.u32(sensor_.interval_s());
  w.u16(cur_.waveform_interval_min);
  w.u8(static_cast<std::uint8_t>(cur_.tx_power_dbm));
  w.u8(0);
  w.u32(version_);
  return w.ok() ? w.size() : 0;
}

}  // namespace vigil_fw
