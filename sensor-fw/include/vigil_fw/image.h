// SPDX-License-Identifier: Apache-2.0
//
// Firmware images (docs/protocol.md §8, /work/notes/dfu-protocol.md): the
// 64-byte header, its checks, the DFU error codes shared by the DFU service
// and the bootloader, and the per-sensor AES-CMAC tag
//   tag = AES-CMAC(sensor_key, "VGDFU1" || flags(1) || header(64) || payload)
// computed while the payload streams from flash (no heap, 256-byte buffer on
// the stack). The sensor never sees the vendor's Ed25519 signature: the
// gateway checks it at upload and re-authenticates the image to each sensor
// with that sensor's own key.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/flash.h"
#include "vigil_fw/hal.h"

namespace vigil_fw {

constexpr std::uint32_t kImageHeaderSize = 64;
constexpr std::uint16_t kImageHeaderVersion = 1;
constexpr std::uint32_t kBoardNrf52840 = 0x52840001;
constexpr std::uint32_t kBoardHost = 0x484F5354;  // "HOST": the Linux virtual sensor
constexpr std::uint8_t kDfuFlagForce = 0x01;     // START flags bit 0: allow downgrade / same version

// Status error byte of the DFU service; also the bootloader's verdicts.
enum class DfuError : std::uint8_t {
  kNone = 0,
  kBadHeader = 1,
  kWrongBoard = 2,
  kDowngrade = 3,
  kTooLarge = 4,
  kBadOffset = 5,
  kCrcMismatch = 6,
  kBadTag = 7,
  kFlashError = 8,
  kNotReady = 9,
  kReverted = 10,
};
const char* to_string(DfuError e);

struct ImageHeader {
  std::uint32_t board_id = 0;
  std::uint32_t version = 0;  // major << 16 | minor << 8 | patch
  std::uint32_t payload_size = 0;
  std::uint32_t payload_crc32 = 0;
  std::uint8_t sha256[32] = {0};  // carried and MACed, not recomputed on the sensor
};

// Parses and checks the format: magic "VGFW", header_version 1,
// header_size 64, reserved bytes zero, version < 2^24 and not 0.
DfuError parse_image_header(const std::uint8_t in[kImageHeaderSize], ImageHeader* out);
// The inverse (tests, the host image builder). Reserved bytes zero.
void encode_image_header(const ImageHeader& h, std::uint8_t out[kImageHeaderSize]);
// Acceptance for this device, in this order: board, size (header + payload
// ≤ slot), version (must be newer than `running_version` unless force).
DfuError check_image_header(const ImageHeader& h, std::uint32_t board_id, std::uint32_t slot_size,
                            std::uint32_t running_version, bool force);

// Tag over an image in memory (gateway-side reference, tests, host tools).
bool image_tag(BlockCipher& aes, const std::uint8_t key[16], std::uint8_t flags,
               const std::uint8_t header[kImageHeaderSize], const std::uint8_t* payload, std::size_t len,
               std::uint8_t tag[16]);
// Verifies the image stored at slot_addr (header at +0, payload at +64):
// header parses, CRC-32 of the payload, then the tag (constant-time compare).
// Returns kBadHeader / kCrcMismatch / kBadTag / kFlashError or kNone.
DfuError verify_stored_image(Flash& flash, std::uint32_t slot_addr, BlockCipher& aes, const std::uint8_t key[16],
                             std::uint8_t flags, const std::uint8_t tag[16]);

// Pages an image occupies in a slot (header included).
inline std::uint32_t image_pages(const ImageHeader& h) {
  return (kImageHeaderSize + h.payload_size + kFlashPageSize - 1) / kFlashPageSize;
}
inline std::uint32_t version_of(std::uint8_t major, std::uint8_t minor, std::uint8_t patch) {
  return static_cast<std::uint32_t>(major) << 16 | static_cast<std::uint32_t>(minor) << 8 | patch;
}

}  // namespace vigil_fw
