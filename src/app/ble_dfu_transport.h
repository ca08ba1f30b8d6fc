// SPDX-License-Identifier: Apache-2.0
//
// BleDfuTransport: the rollout engine's DfuTransport over Bluetooth LE — the
// sensor's DFU GATT service (docs/protocol.md §8), driven by
// ble::dfu_send / ble::dfu_status on the BLE worker thread
// (BleService::post_gatt_job).
//
// update(): transfer (resuming where the sensor stopped), VERIFY and
// ACTIVATE in one GATT job; then, after the sensor's reboot, Status is read
// every `poll` until it tells:
//   confirmed  running_version == the image's version, no error;
//   reverted   error "reverted" (the test image did not confirm; the old one
//              runs again), or still the old version when `confirm_wait`
//              has passed;
//   rejected   the sensor refused the image (bad_tag, crc_mismatch,
//              wrong_board, downgrade, …);
//   waiting    the sensor is not within reach now (BlueZ does not know it,
//              or it has no DFU service): nothing was attempted;
//   kUnavailable  the link dropped mid-way: the engine retries and the
//              transfer resumes.
//
// Threading: update() blocks its caller (the engine worker) until the BLE
// worker has run the jobs; it never runs on the BLE worker itself.
#pragma once

#include <atomic>
#include <chrono>

#include "ble/ble_service.h"
#include "ble/dfu_client.h"
#include "firmware/dfu_transport.h"

namespace vigil::app {

class BleDfuTransport final : public firmware::DfuTransport {
 public:
  struct Options {
    ble::DfuClientOptions client;
    std::chrono::milliseconds poll{1000};           // Status reads after ACTIVATE
    std::chrono::milliseconds confirm_wait{60000};  // for the test boot to confirm
    std::chrono::milliseconds job_timeout{600000};  // one GATT job, queue included
  };
  // `ble` must outlive the transport.
  BleDfuTransport(ble::BleService& ble, Options o) : ble_(ble), o_(o) {}
  explicit BleDfuTransport(ble::BleService& ble) : BleDfuTransport(ble, Options{}) {}

  // From any thread (a stopping gateway): the update in progress returns
  // kUnavailable at its next step (the engine requeues it; the transfer
  // resumes after the restart) and later ones at once.
  void cancel() { cancelled_.store(true); }

  Result<firmware::DfuOutcome> update(const firmware::SensorTarget& target, const firmware::DfuImage& image,
                                      const std::array<std::uint8_t, 16>& tag,
                                      const firmware::DfuProgress& progress) override;

 private:
  // Runs `job` on the BLE worker for `address` and waits for its outcome.
  Status run(const std::string& address, ble::Scanner::GattJob job);

  ble::BleService& ble_;
  Options o_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace vigil::app
