// SPDX-License-Identifier: Apache-2.0
//
// Gateway side of the vigil sensor's firmware-update (DFU) and configuration
// GATT services (docs/protocol.md, "Firmware update and configuration"):
// the values written to and read from their characteristics. Pure code, no
// I/O; every parser takes bytes a sensor (or an impostor) chose, so each
// one checks lengths and ranges and names what is wrong (fuzzed:
// tests/fuzz/protocol_decode).
//
//   write(kDfuControlCharUuid, dfu_start(force, header, tag));
//   auto st = parse_dfu_status(read(kDfuStatusCharUuid));   // resume at st->received
//   write(kDfuDataCharUuid, dfu_data(offset, bytes));        // ≤ kDfuMaxData each
//   write(kDfuControlCharUuid, dfu_op(DfuOp::kVerify));
//
// Thread-safety: plain functions and values.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "vigil/status.h"

namespace vigil::protocol {

inline constexpr const char* kDfuServiceUuid = "9e7a0010-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kDfuControlCharUuid = "9e7a0011-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kDfuDataCharUuid = "9e7a0012-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kDfuStatusCharUuid = "9e7a0013-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kConfigServiceUuid = "9e7a0020-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kConfigDesiredCharUuid = "9e7a0021-5c2b-4d0e-9b5f-766967696c00";
inline constexpr const char* kConfigReportedCharUuid = "9e7a0022-5c2b-4d0e-9b5f-766967696c00";

inline constexpr std::size_t kImageHeaderSize = 64;  // the .vgfw header the sensor checks
inline constexpr std::size_t kDfuTagSize = 16;       // AES-CMAC under the sensor's key
inline constexpr std::size_t kDfuMaxData = 240;      // payload bytes per Data write
inline constexpr std::size_t kDfuStatusSize = 16;

enum class DfuOp : std::uint8_t { kStart = 1, kAbort = 2, kVerify = 3, kActivate = 4, kConfirm = 5 };

enum class DfuState : std::uint8_t { kIdle = 0, kReceiving = 1, kVerified = 2, kTestBoot = 3, kError = 4 };

// Status.error as the sensor reports it; unknown codes read as "error_<n>".
enum class DfuError : std::uint8_t {
  kNone = 0, kBadHeader = 1, kWrongBoard = 2, kDowngrade = 3, kTooLarge = 4, kBadOffset = 5,
  kCrcMismatch = 6, kBadTag = 7, kFlashError = 8, kNotReady = 9, kReverted = 10,
};
std::string dfu_error_name(std::uint8_t code);
const char* dfu_state_name(DfuState s);

struct DfuStatus {
  DfuState state = DfuState::kIdle;
  std::uint8_t error = 0;              // DfuError
  std::uint32_t received = 0;          // payload bytes staged so far (resume here)
  std::uint32_t running_version = 0;   // major<<16 | minor<<8 | patch
  std::uint32_t staged_version = 0;
  std::uint8_t boots_since_activate = 0;
};
// 16 bytes; kInvalidArgument naming the field when short or out of range.
Result<DfuStatus> parse_dfu_status(Bytes b);

// START: op | flags (bit0 force) | header (64) | tag (16) = 82 bytes.
// REQUIRES: header.size() == kImageHeaderSize, tag.size() == kDfuTagSize.
std::vector<std::uint8_t> dfu_start(bool force, Bytes header, Bytes tag);
std::vector<std::uint8_t> dfu_op(DfuOp op);
// offset u32 | data. REQUIRES: 1 ≤ data.size() ≤ kDfuMaxData.
std::vector<std::uint8_t> dfu_data(std::uint32_t offset, Bytes data);

// A sensor's configuration: what the gateway wants (desired) and what the
// sensor says it applied (reported). Ranges are the firmware's.
struct SensorConfig {
  std::uint32_t seq = 0;                    // the desired version that produced it
  std::uint32_t measurement_interval_s = 600;
  std::uint16_t waveform_interval_min = 60;
  std::int8_t tx_power_dbm = 0;
};
inline constexpr std::uint32_t kMinMeasurementIntervalS = 10, kMaxMeasurementIntervalS = 86400;
inline constexpr std::uint16_t kMinWaveformIntervalMin = 1, kMaxWaveformIntervalMin = 10080;
// Ok, or kInvalidArgument naming the field and its allowed range.
Status validate_sensor_config(const SensorConfig& c);
// The 12-byte Desired value. REQUIRES: validate_sensor_config(c).ok().
std::vector<std::uint8_t> encode_desired_config(const SensorConfig& c);

struct ReportedConfig {
  SensorConfig config;
  std::uint32_t firmware_version = 0;
};
Result<ReportedConfig> parse_reported_config(Bytes b);

// "1.4.0" ↔ 0x010400 (each part 0..255).
Result<std::uint32_t> parse_firmware_version(const std::string& s);
std::string firmware_version_string(std::uint32_t v);

}  // namespace vigil::protocol
