// SPDX-License-Identifier: Apache-2.0
//
// The configuration GATT service 9e7a0020-5c2b-4d0e-9b5f-766967696c00
// (docs/protocol.md §8): the gateway writes the desired configuration, the
// sensor validates it as a whole, persists it (Record::kConfig, so it
// survives a reset) and applies it to the running Sensor and Radio; the
// reported value says what is applied.
//   0021 Desired (write, 12 bytes): config_seq u32 | measurement_interval_s u32
//        (10..86400) | waveform_interval_min u16 (1..10080, × 60 ≥ the
//        measurement interval) | tx_power_dbm i8 ∈ {-20,-16,-12,-8,-4,0,4} | 0
//   0022 Reported (read, 16 bytes): config_seq u32 | measurement_interval_s u32 |
//        waveform_interval_min u16 | tx_power_dbm i8 | 0 | firmware version u32
// ATT results: 0x0D wrong length; 0x13 (value not allowed) for any field out
// of range — then nothing is stored or applied; 0x80 if storage failed
// (nothing applied either).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/hal.h"
#include "vigil_fw/sensor.h"

namespace vigil_fw {

constexpr std::size_t kConfigDesiredSize = 12;
constexpr std::size_t kConfigReportedSize = 16;

struct SensorConfig {
  std::uint32_t seq = 0;
  std::uint32_t measurement_interval_s = VIGIL_FW_MEASUREMENT_INTERVAL_S;
  std::uint16_t waveform_interval_min = VIGIL_FW_WAVEFORM_INTERVAL_MIN;
  std::int8_t tx_power_dbm = VIGIL_FW_TX_POWER_DBM;
};

// Parses a Desired value; false if any field is out of range.
bool parse_desired_config(const std::uint8_t* v, std::size_t len, SensorConfig* out);
void encode_desired_config(const SensorConfig& c, std::uint8_t out[kConfigDesiredSize]);

class ConfigService {
 public:
  ConfigService(Sensor& sensor, Storage& storage, Radio& radio, std::uint32_t firmware_version);
  // Loads the persisted configuration (if any) and applies it; without one
  // the sensor's current interval is reported with config_seq 0.
  void init();
  std::uint8_t write_desired(const std::uint8_t* v, std::size_t len);
  std::size_t read_reported(std::uint8_t* out, std::size_t cap) const;
  const SensorConfig& current() const { return cur_; }

 private:
  void apply(const SensorConfig& c);
  Sensor& sensor_;
  Storage& storage_;
  Radio& radio_;
  std::uint32_t version_;
  SensorConfig cur_{};
};

}  // namespace vigil_fw
