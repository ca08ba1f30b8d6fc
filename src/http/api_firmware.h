// SPDX-License-Identifier: Apache-2.0
//
// Sensor firmware REST routes (docs/firmware.md), backed by the firmware
// module's FirmwareService, which must outlive the router:
//   POST   /api/v1/firmware/images              admin; body: the .vgfw bytes
//                                                (application/octet-stream, ≤ 128 KiB)
//   GET    /api/v1/firmware/images[/{id}]       viewer
//   DELETE /api/v1/firmware/images/{id}         admin
//   POST   /api/v1/firmware/rollouts            admin; {image_id, tag?, percent?,
//                                                wave_size, failure_threshold, force?}
//   GET    /api/v1/firmware/rollouts[/{id}]     viewer; with per-sensor progress
//   POST   /api/v1/firmware/rollouts/{id}/stop|resume   admin
// Writes are audited (firmware.image.upload|delete, firmware.rollout.create|
// stop|resume). Errors: 400 malformed JSON, 404 unknown id, 409 a state
// conflict (duplicate image, downgrade without force, image in use, rollout
// not running/stopped, no signing key configured), 413 body over 128 KiB,
// 415 wrong content type, 422 a refused image or field, naming the cause.
#pragma once

#include "firmware/firmware_service.h"
#include "http/api.h"

namespace vigil::http {

inline constexpr std::size_t kMaxFirmwareUploadBytes = 128 * 1024;

void register_firmware_api(Router& router, ApiContext& ctx, firmware::FirmwareService& svc);

}  // namespace vigil::http
