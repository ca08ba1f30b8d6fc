// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the .vgfw image parser (src/firmware/image.h): the
// bytes an admin uploads to POST /api/v1/firmware/images. Oracle: no crash,
// no sanitizer report; an accepted header is self-consistent (sizes within
// the slot and the input), and the signature check and the per-sensor tag
// run on any accepted image without reading past it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "firmware/image.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil::firmware;
  std::span<const std::uint8_t> bytes(data, size);
  auto info = parse_image(bytes);
  if (!info.ok()) {
    if (info.status().message().empty()) std::abort();  // a refusal must name its cause
    return 0;
  }
  if (info->payload_size == 0 || info->payload_size > kMaxPayload) std::abort();
  if (size != kHeaderSize + info->payload_size + kSignatureSize) std::abort();
  static const KeyPair key = *generate_keypair();
  (void)verify_signature(bytes, key.public_pem);
  static const std::uint8_t sensor_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  if (!dfu_tag(sensor_key, 0, bytes).ok()) std::abort();
  return 0;
}
