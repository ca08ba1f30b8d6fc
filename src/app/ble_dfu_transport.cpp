// SPDX-License-Identifier: Apache-2.0
#include "app/ble_dfu_transport.h"

#include <spdlog/spdlog.h>

#include <future>
#include <memory>
#include <thread>

#include "firmware/image.h"
#include "protocol/dfu.h"

namespace vigil::app {

using firmware::DfuOutcome;

Status BleDfuTransport::run(const std::string& address, ble::Scanner::GattJob job) {
  if (cancelled_.load()) return Status::Unavailable("the gateway is stopping");
  auto done = std::make_shared<std::promise<Status>>();
  auto fut = done->get_future();
  VIGIL_RETURN_IF_ERROR(ble_.post_gatt_job(address, std::move(job), [done](Status s) { done->set_value(s); }));
  if (fut.wait_for(o_.job_timeout) != std::future_status::ready)
    return Status::Unavailable("the BLE worker did not run the firmware job in time");
  return fut.get();
}

Result<DfuOutcome> BleDfuTransport::update(const firmware::SensorTarget& target, const firmware::DfuImage& image,
                                           const std::array<std::uint8_t, 16>& tag,
                                           const firmware::DfuProgress& progress) {
  auto info = firmware::parse_image(image.bytes);
  if (!info) return info.status();
  // The payload outlives both jobs: this call waits for them.
  const std::vector<std::uint8_t> payload(image.bytes.begin() + firmware::kHeaderSize,
                                          image.bytes.begin() + firmware::kHeaderSize + info->payload_size);
  ble::DfuImageRef ref;
  ref.header.assign(image.bytes.begin(), image.bytes.begin() + firmware::kHeaderSize);
  ref.payload = &payload;
  ref.tag.assign(tag.begin(), tag.end());
  ref.force = (image.flags & 1) != 0;

  if (progress) progress(firmware::DfuPhase::kTransferring, 0);
  std::uint32_t before_version = 0;
  Status sent = run(target.address, [&](ble::BluezBus& bus, const std::string& path) -> Status {
    auto st = ble::dfu_send(bus, path, ref, o_.client, [&](std::size_t n, std::size_t) {
      if (progress) progress(firmware::DfuPhase::kTransferring, n);
    });
    if (st) before_version = st->running_version;
    return st.status();
  });
  if (!sent.ok()) {
    switch (sent.code()) {
      case Status::Code::kFailedPrecondition:  // the sensor said no; its reason comes first
        return DfuOutcome{DfuOutcome::Kind::kRejected, sent.message()};
      case Status::Code::kNotFound:  // not heard by this radio, or no DFU service
        return DfuOutcome{DfuOutcome::Kind::kWaiting, sent.message()};
      default:
        return sent;  // a dropped link: retried, and the transfer resumes
    }
  }
  if (progress) progress(firmware::DfuPhase::kTestBoot, payload.size());

  // The sensor reboots into the test image; it confirms it after its
  // self-test, or its bootloader reverts to the old one.
  const auto deadline = std::chrono::steady_clock::now() + o_.confirm_wait;
  std::string last = "no answer after the reboot";
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(o_.poll);
    if (cancelled_.load()) return Status::Unavailable("the gateway is stopping");
    std::optional<protocol::DfuStatus> st;
    Status read = run(target.address, [&](ble::BluezBus& bus, const std::string& path) -> Status {
      auto s = ble::dfu_status(bus, path, o_.client);
      if (s) st = *s;
      return s.status();
    });
    if (!read.ok()) {
      last = read.ToString();  // rebooting: not connectable for a moment
      continue;
    }
    if (st->error == static_cast<std::uint8_t>(protocol::DfuError::kReverted))
      return DfuOutcome{DfuOutcome::Kind::kReverted,
                        "the new image did not confirm; " + protocol::firmware_version_string(st->running_version) +
                            " runs again"};
    if (st->state == protocol::DfuState::kError)
      return DfuOutcome{DfuOutcome::Kind::kRejected, protocol::dfu_error_name(st->error) + ": refused at boot"};
    if (st->running_version == image.version && st->state != protocol::DfuState::kTestBoot)
      return DfuOutcome{DfuOutcome::Kind::kConfirmed, ""};
    last = std::string("state ") + protocol::dfu_state_name(st->state) + ", running " +
           protocol::firmware_version_string(st->running_version);
  }
  spdlog::warn("firmware: sensor {}: no confirmation of {} within {} s (was {}): {}", target.address,
               protocol::firmware_version_string(image.version),
               std::chrono::duration_cast<std::chrono::seconds>(o_.confirm_wait).count(),
               protocol::firmware_version_string(before_version), last);
  return DfuOutcome{DfuOutcome::Kind::kReverted, "no confirmation of the new image: " + last};
}

}  // namespace vigil::app
