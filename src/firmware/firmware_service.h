// SPDX-License-Identifier: Apache-2.0
//
// FirmwareService: the sensor firmware images and rollouts, and the only
// writer of the tables firmware_images, firmware_rollouts and
// firmware_rollout_targets (its own migrations, FirmwareService::migrate).
//
//   upload_image   parse_image + verify_signature against the vendor public
//                  key + a known board; kInvalidArgument (unsigned,
//                  truncated, too large, other board), kPermissionDenied
//                  (wrong signature), kAlreadyExists (same SHA-256),
//                  kFailedPrecondition (no vendor key configured).
//   create_rollout selects the commissioned sensors of the image's board
//                  (a sensor's board: its tag "board" — nrf52840 | host |
//                  0xHEX — else nrf52840 for format "vigil"; other formats
//                  have none), optionally those with a tag key=value, then
//                  the first `percent` % of them by id (rounded up). Sensors
//                  already running the image's version are left out unless
//                  force. A sensor running a newer version refuses the
//                  rollout (kFailedPrecondition "downgrade …") unless force.
//                  Targets get waves of wave_size in id order.
//   step           the engine: for every running rollout, updates the
//                  queued targets of its lowest unfinished wave through the
//                  transport (so a wave starts only when the previous one is
//                  finished); failed + reverted ≥ the threshold → the
//                  rollout becomes "failed"; all targets finished →
//                  "completed". A dropped connection (kUnavailable) requeues
//                  the target (attempts counted; failed after max_attempts).
//                  A "waiting" outcome leaves the target queued with the
//                  reason and ends the rollout's step.
//   stop/resume    running → stopped → running (kFailedPrecondition otherwise).
//
// Restart: open() requeues targets left transferring/verifying/test_boot.
//
// Thread-safety: step() runs on one thread at a time (the engine worker);
// every other method may be called from any thread. A stop arriving during
// a target's transfer takes effect before the next target. The transport
// must outlive the service.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "firmware/dfu_transport.h"
#include "firmware/image.h"
#include "vigil/clock.h"
#include "vigil/store.h"

namespace vigil::firmware {

struct StoredImage {
  Id id = 0;
  std::uint32_t board_id = 0;
  std::uint32_t version = 0;
  std::string sha256;  // hex, of the whole .vgfw file (unique)
  std::int64_t size = 0;  // the .vgfw file's bytes
  std::string uploaded_by;
  TimestampMs uploaded_at = 0;
};

struct RolloutRequest {
  Id image_id = 0;
  std::optional<std::string> tag;  // "key=value"
  std::optional<double> percent;   // (0, 100]
  int wave_size = 1;               // ≥ 1
  std::string failure_threshold;   // "N" (count ≥ 1) or "P%" (0 < P ≤ 100)
  bool force = false;
};

struct RolloutTarget {
  Id sensor_id = 0;
  std::string address;
  int wave = 0;
  std::string state;  // queued | transferring | verifying | test_boot | confirmed | failed | reverted
  std::string reason;
  int attempts = 0;
  std::int64_t bytes_sent = 0;
  std::optional<TimestampMs> started_at, finished_at;
  TimestampMs updated_at = 0;
};

struct Rollout {
  Id id = 0;
  Id image_id = 0;
  std::optional<std::string> tag;
  std::optional<double> percent;
  int wave_size = 1;
  std::string failure_threshold;
  bool force = false;
  std::string state;  // running | paused | stopped | completed | failed
  std::string reason;
  std::string created_by;
  TimestampMs created_at = 0, updated_at = 0;
  std::vector<RolloutTarget> targets;
};

struct FirmwareOptions {
  std::string signing_public_key_pem;  // empty: uploads are refused
  int max_attempts = 3;
};

class FirmwareService {
 public:
  static Status migrate(Store& store);
  static Result<std::unique_ptr<FirmwareService>> open(Store& store, const Clock& clock, DfuTransport& transport,
                                                       FirmwareOptions options);

  Result<StoredImage> upload_image(std::span<const std::uint8_t> bytes, const std::string& actor);
  Result<std::vector<StoredImage>> images();
  Result<StoredImage> image(Id id);
  // kFailedPrecondition while a rollout names it.
  Status delete_image(Id id);

  // kNotFound (image), kInvalidArgument (a field, named), kFailedPrecondition
  // (downgrade without force; no sensor selected).
  Result<Rollout> create_rollout(const RolloutRequest& req, const std::string& actor);
  Result<std::vector<Rollout>> rollouts();  // newest first, with targets
  Result<Rollout> rollout(Id id);
  Status stop(Id id);
  Status resume(Id id);

  // One pass of the engine (see above). Returns the number of targets it
  // handed to the transport.
  Result<int> step();

 private:
  FirmwareService(Store& store, const Clock& clock, DfuTransport& transport, FirmwareOptions options);
  Status requeue_in_flight();
  Status set_target(Id rollout_id, Id sensor_id, const std::string& state, const std::string& reason,
                    std::optional<std::int64_t> bytes, bool attempt, bool finished);
  Status set_rollout_state(Id id, const std::string& state, const std::string& reason);
  Result<bool> step_rollout(const Rollout& r, int& handed);

  Store& store_;
  const Clock& clock_;
  DfuTransport& transport_;
  FirmwareOptions options_;
  std::mutex mu_;  // serialises state changes of rollouts (stop/resume against the engine)
};

// "N" or "P%" → ok; kInvalidArgument naming failure_threshold otherwise.
Status check_threshold(const std::string& t);
// Whether `failed` failures out of `total` targets cross threshold `t`.
bool threshold_crossed(const std::string& t, int failed, int total);

}  // namespace vigil::firmware
