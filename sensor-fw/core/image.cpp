// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/image.h"

#include <string.h>

#include "vigil_fw/crypto.h"
#include "vigil_fw/frames.h"

namespace vigil_fw {
namespace {
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
const std::uint8_t kMagic[4] = {'V', 'G', 'F', 'W'};
const std::uint8_t kTagPrefix[6] = {'V', 'G', 'D', 'F', 'U', '1'};
}  // namespace

const char* to_string(DfuError e) {
  switch (e) {
    case DfuError::kNone: return "none";
    case DfuError::kBadHeader: return "bad_header";
    case DfuError::kWrongBoard: return "wrong_board";
    case DfuError::kDowngrade: return "downgrade";
    case DfuError::kTooLarge: return "too_large";
    case DfuError::kBadOffset: return "bad_offset";
    case DfuError::kCrcMismatch: return "crc_mismatch";
    case DfuError::kBadTag: return "bad_tag";
    case DfuError::kFlashError: return "flash_error";
    case DfuError::kNotReady: return "not_ready";
    case DfuError::kReverted: return "reverted";
  }
  return "?";
}

DfuError parse_image_header(const std::uint8_t in[kImageHeaderSize], ImageHeader* out) {
  if (memcmp(in, kMagic, 4) != 0) return DfuError::kBadHeader;
  if (le16(in + 4) != kImageHeaderVersion || le16(in + 6) != kImageHeaderSize) return DfuError::kBadHeader;
  for (int i = 56; i < 64; ++i)
    if (in[i] != 0) return DfuError::kBadHeader;
  ImageHeader h;
  h.board_id = le32(in + 8);
  h.version = le32(in + 12);
  h.payload_size = le32(in + 16);
  h.payload_crc32 = le32(in + 20);
  memcpy(h.sha256, in + 24, 32);
  if (h.version == 0 || h.version > 0xFFFFFFu) return DfuError::kBadHeader;
  *out = h;
  return DfuError::kNone;
}

void encode_image_header(const ImageHeader& h, std::uint8_t out[kImageHeaderSize]) {
  memset(out, 0, kImageHeaderSize);
  Writer w(out, kImageHeaderSize);
  for (std::uint8_t c : kMagic) w.u8(c);
  w.u16(kImageHeaderVersion);
  w.u16(kImageHeaderSize);
  w.u32(h.board_id);
  w.u32(h.version);
  w.u32(h.payload_size);
  w.u32(h.payload_crc32);
  memcpy(out + 24, h.sha256, 32);
}

DfuError check_image_header(const ImageHeader& h, std::uint32_t board_id, std::uint32_t slot_size,
                            std::uint32_t running_version, bool force) {
  if (h.board_id != board_id) return DfuError::kWrongBoard;
  if (h.payload_size > slot_size - kImageHeaderSize) return DfuError::kTooLarge;
  if (!force && h.version <= running_version) return DfuError::kDowngrade;
  return DfuError::kNone;
}

bool image_tag(BlockCipher& aes, const std::uint8_t key[16], std::uint8_t flags,
               const std::uint8_t header[kImageHeaderSize], const std::uint8_t* payload, std::size_t len,
               std::uint8_t tag[16]) {
  Cmac c;
  return c.init(aes, key) && c.update(kTagPrefix, sizeof kTagPrefix) && c.update(&flags, 1) &&
         c.update(header, kImageHeaderSize) && c.update(payload, len) && c.final(tag);
}

DfuError verify_stored_image(Flash& flash, std::uint32_t slot_addr, BlockCipher& aes, const std::uint8_t key[16],
                             std::uint8_t flags, const std::uint8_t tag[16]) {
  std::uint8_t hdr[kImageHeaderSize];
  if (!flash.read(slot_addr, hdr, sizeof hdr)) return DfuError::kFlashError;
  ImageHeader h;
  if (parse_image_header(hdr, &h) != DfuError::kNone) return DfuError::kBadHeader;
  // Two passes (CRC, then MAC): the CRC catches a transfer error cheaply and
  // tells it apart from a forged or wrong-key image.
  std::uint8_t buf[256];
  std::uint32_t crc = 0;
  for (std::uint32_t off = 0; off < h.payload_size;) {
    const std::uint32_t n = h.payload_size - off < sizeof buf ? h.payload_size - off : sizeof buf;
    if (!flash.read(slot_addr + kImageHeaderSize + off, buf, n)) return DfuError::kFlashError;
    crc = crc32(buf, n, crc);
    off += n;
  }
  if (crc != h.payload_crc32) return DfuError::kCrcMismatch;
  Cmac c;
  if (!c.init(aes, key) || !c.update(kTagPrefix, sizeof kTagPrefix) || !c.update(&flags, 1) ||
      !c.update(hdr, sizeof hdr))
    return DfuError::kBadTag;
  for (std::uint32_t off = 0; off < h.payload_size;) {
    const std::uint32_t n = h.payload_size - off < sizeof buf ? h.payload_size - off : sizeof buf;
    if (!flash.read(slot_addr + kImageHeaderSize + off, buf, n)) return DfuError::kFlashError;
    if (!c.update(buf, n)) return DfuError::kBadTag;
    off += n;
  }
  std::uint8_t mine[16];
  if (!c.final(mine)) return DfuError::kBadTag;
  return equal_ct(mine, tag, 16) ? DfuError::kNone : DfuError::kBadTag;
}

}  // namespace vigil_fw
