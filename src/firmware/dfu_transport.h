// SPDX-License-Identifier: Apache-2.0
//
// DfuTransport: the narrow seam between the rollout engine and whatever
// carries an image to one sensor (the BLE DFU GATT service of
// notes/dfu-protocol.md, next session; a fake in the unit tests).
//
// update() runs one sensor's whole update: START (flags, header, tag; it
// resumes a partial transfer of the same header+tag at status.received),
// data writes, VERIFY, ACTIVATE, and waiting for the test boot to confirm or
// revert. It reports progress through `progress` (phase changes and bytes
// acknowledged by the sensor) and returns:
//   - an outcome: confirmed, rejected by the sensor (bad tag, CRC, board…),
//     reverted (the test image did not confirm), or waiting (the transport
//     cannot reach the sensor by this means yet: nothing was attempted);
//   - kUnavailable when the connection dropped mid-way: the engine retries
//     later and the sensor resumes where it stopped.
//
// Threading: the engine calls update() from its one worker thread, one
// sensor at a time; `progress` is called on that thread during update().
// The transport does not own the image or target (valid during the call).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vigil/status.h"

namespace vigil::firmware {

struct SensorTarget {
  std::int64_t sensor_id = 0;
  std::string address;
  std::uint32_t board_id = 0;
};

struct DfuImage {
  std::span<const std::uint8_t> bytes;  // the whole .vgfw (header, payload, signature)
  std::uint32_t version = 0;
  std::uint8_t flags = 0;  // kFlagForce
};

enum class DfuPhase { kTransferring, kVerifying, kTestBoot };

struct DfuOutcome {
  enum class Kind { kConfirmed, kRejected, kReverted, kWaiting };
  Kind kind = Kind::kConfirmed;
  std::string reason;  // for rejected/reverted/waiting: the sensor's error or why
};

using DfuProgress = std::function<void(DfuPhase phase, std::uint64_t bytes_acknowledged)>;

class DfuTransport {
 public:
  virtual ~DfuTransport() = default;
  virtual Result<DfuOutcome> update(const SensorTarget& target, const DfuImage& image,
                                    const std::array<std::uint8_t, 16>& tag, const DfuProgress& progress) = 0;
};

// The gateway's transport until DFU over BLE lands: every target waits
// ("not yet supported over BLE").
class UnsupportedDfuTransport final : public DfuTransport {
 public:
  Result<DfuOutcome> update(const SensorTarget&, const DfuImage&, const std::array<std::uint8_t, 16>&,
                            const DfuProgress&) override {
    return DfuOutcome{DfuOutcome::Kind::kWaiting, "firmware update is not yet supported over BLE"};
  }
};

}  // namespace vigil::firmware
