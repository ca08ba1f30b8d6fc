// SPDX-License-Identifier: Apache-2.0
// A RAM-array flash for the boot and DFU tests (host and target; no heap),
// with power cuts: after `ops_left` program/erase operations the next one
// tears (half done) and every later one fails, until power_on().
#pragma once

#include <string.h>

#include "vigil_fw/boot.h"
#include "vigil_fw/flash.h"
#include "vigil_fw/image.h"
#include "vigil_fw/crypto.h"

namespace vtest {

// Small slots keep "cut power at every operation" tests fast under qemu:
// slot A = pages 0-2, slot B = pages 3-5, scratch = page 6, state = page 7.
constexpr vigil_fw::FlashLayout kTestLayout{0, 3 * 4096, 3 * 4096, 6 * 4096, 7 * 4096};
constexpr std::uint32_t kTestFlashSize = 8 * 4096;
inline std::uint8_t g_flash_mem[kTestFlashSize];  // static: the target stack is 8 KB

class FakeFlash final : public vigil_fw::Flash {
 public:
  long ops_left = -1;      // -1: power never fails
  std::uint32_t ops = 0;   // program/erase operations done
  int bad_writes = 0;      // writes that tried to turn a 0 bit into 1 (missing erase)
  FakeFlash() { memset(g_flash_mem, 0xFF, sizeof g_flash_mem); }
  void power_on() { ops_left = -1; }
  bool read(std::uint32_t addr, std::uint8_t* out, std::size_t len) override {
    if (addr + len > kTestFlashSize) return false;
    memcpy(out, g_flash_mem + addr, len);
    return true;
  }
  bool erase_page(std::uint32_t addr) override {
    if (addr % vigil_fw::kFlashPageSize || addr >= kTestFlashSize) return false;
    bool tear = false;
    if (!power(&tear)) return false;
    memset(g_flash_mem + addr, 0xFF, tear ? vigil_fw::kFlashPageSize / 2 : vigil_fw::kFlashPageSize);
    return !tear;
  }
  bool write(std::uint32_t addr, const std::uint8_t* data, std::size_t len) override {
    if (addr % 4 || len % 4 || addr + len > kTestFlashSize) return false;
    bool tear = false;
    if (!power(&tear)) return false;
    const std::size_t n = tear ? len / 2 : len;
    for (std::size_t i = 0; i < n; ++i) {
      if ((g_flash_mem[addr + i] & data[i]) != data[i]) ++bad_writes;
      g_flash_mem[addr + i] &= data[i];
    }
    return !tear;
  }

 private:
  bool power(bool* tear) {
    if (ops_left == 0) return false;
    ++ops;
    if (ops_left > 0 && --ops_left == 0) *tear = true;
    return true;
  }
};

// Builds an image (header + payload) in `out`; the payload is a pattern
// from `seed`. Returns the total length (64 + size).
inline std::size_t make_image(std::uint32_t version, std::uint32_t size, std::uint8_t seed, std::uint32_t board,
                              std::uint8_t* out) {
  std::uint8_t* p = out + vigil_fw::kImageHeaderSize;
  for (std::uint32_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(i * 7u + seed + (i >> 8));
  vigil_fw::ImageHeader h;
  h.board_id = board;
  h.version = version;
  h.payload_size = size;
  h.payload_crc32 = vigil_fw::crc32(p, size);
  vigil_fw::encode_image_header(h, out);
  return vigil_fw::kImageHeaderSize + size;
}

// Programs bytes at a page-aligned address (erasing the pages first).
inline bool program(vigil_fw::Flash& f, std::uint32_t addr, const std::uint8_t* b, std::size_t len) {
  for (std::uint32_t p = 0; p < len; p += vigil_fw::kFlashPageSize)
    if (!f.erase_page(addr + p)) return false;
  const std::size_t whole = len & ~static_cast<std::size_t>(3);
  if (whole && !f.write(addr, b, whole)) return false;
  if (len > whole) {
    std::uint8_t w[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    memcpy(w, b + whole, len - whole);
    if (!f.write(static_cast<std::uint32_t>(addr + whole), w, 4)) return false;
  }
  return true;
}

inline bool flash_equals(vigil_fw::Flash& f, std::uint32_t addr, const std::uint8_t* b, std::size_t len) {
  std::uint8_t chunk[64];
  for (std::size_t off = 0; off < len; off += sizeof chunk) {
    const std::size_t n = len - off < sizeof chunk ? len - off : sizeof chunk;
    if (!f.read(static_cast<std::uint32_t>(addr + off), chunk, n) || memcmp(chunk, b + off, n) != 0) return false;
  }
  return true;
}

}  // namespace vtest
