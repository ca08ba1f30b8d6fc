// SPDX-License-Identifier: Apache-2.0
//
// The BLE procedures of a firmware update and of a configuration change on
// one vigil sensor (docs/protocol.md, "Firmware update and configuration"),
// over BluezBus:
//
//   dfu_send:   Connect → resolve the DFU characteristics → START (the
//               sensor resumes when it holds a partial copy of the same image
//               and tag) → read Status for where to resume → Data writes of
//               ≤ 240 bytes, Status read every `status_every` writes and at
//               the end (a bad_offset answer resynchronises to the sensor's
//               count) → VERIFY (the sensor checks CRC-32 and the AES-CMAC
//               tag under its own key) → ACTIVATE (it reboots into a test
//               boot) → Disconnect.
//   dfu_status: Connect → read Status → Disconnect; after the reboot this
//               tells confirmed (running_version is the new one, no error)
//               from reverted (error "reverted", old version running).
//   config_apply: write Desired, read Reported back.
//
// Every call blocks with the options' timeouts: run these on the BLE worker
// thread only (BleService::post_gatt_job). A dropped link mid-transfer
// returns the bus error; the next dfu_send resumes where the sensor stopped.
// A refusal by the sensor is kFailedPrecondition with its reason first in
// the message ("bad_tag: …"), so callers can tell it from a radio failure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "protocol/dfu.h"

namespace vigil::ble {

struct DfuClientOptions {
  BluezBus::Duration connect_timeout{10000};
  BluezBus::Duration gatt_timeout{5000};
  BluezBus::Duration resolve_wait{5000};  // characteristics appear after Connect
  std::size_t chunk = protocol::kDfuMaxData;
  std::size_t status_every = 32;  // Data writes between Status reads
  int max_resyncs = 8;            // bad_offset answers tolerated per transfer
};

struct DfuImageRef {
  std::vector<std::uint8_t> header;               // the 64-byte .vgfw header
  const std::vector<std::uint8_t>* payload = nullptr;  // not owned; outlives the call
  std::vector<std::uint8_t> tag;                  // 16 bytes, for this sensor
  bool force = false;                              // allow a downgrade / same version
};

// sent, total payload bytes.
using DfuProgressFn = std::function<void(std::size_t, std::size_t)>;

Result<protocol::DfuStatus> dfu_send(BluezBus& bus, const std::string& device_path, const DfuImageRef& image,
                                     const DfuClientOptions& o, const DfuProgressFn& progress = nullptr);
Result<protocol::DfuStatus> dfu_status(BluezBus& bus, const std::string& device_path, const DfuClientOptions& o);
// REQUIRES: validate_sensor_config(desired).ok(). The reported value as read back.
Result<protocol::ReportedConfig> config_apply(BluezBus& bus, const std::string& device_path,
                                              const protocol::SensorConfig& desired, const DfuClientOptions& o);

}  // namespace vigil::ble
