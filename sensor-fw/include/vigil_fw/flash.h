// SPDX-License-Identifier: Apache-2.0
//
// The flash seam for firmware update: raw access to the application slots,
// the scratch page and the boot-state page (nRF52: NVMC; host: a file; tests:
// a RAM array that can lose power mid-operation, tests/fake_flash.h).
//
// Contract every implementation keeps:
// - Pages are kFlashPageSize (4 KiB) and page-aligned; erase sets all 0xFF.
// - write() programs whole words: addr and len are multiples of
//   kFlashWordSize. Programming only clears bits (new = old & data), so the
//   target must be erased first unless the caller means to AND.
// - A failed call (false) may leave the touched page/words in any state:
//   this is what a power cut looks like, and the boot logic is written so
//   that re-running it from the last boot-state record repairs it.
// - No allocation; called from the core's one thread of control.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil_fw {

constexpr std::uint32_t kFlashPageSize = 4096;
constexpr std::uint32_t kFlashWordSize = 4;

class Flash {
 public:
  virtual bool read(std::uint32_t addr, std::uint8_t* out, std::size_t len) = 0;
  virtual bool erase_page(std::uint32_t addr) = 0;
  virtual bool write(std::uint32_t addr, const std::uint8_t* data, std::size_t len) = 0;
};

// Where the slots are (all page-aligned). Slot A runs; slot B stages.
struct FlashLayout {
  std::uint32_t slot_a;
  std::uint32_t slot_b;
  std::uint32_t slot_size;  // bytes, a multiple of the page size; header + payload fit in it
  std::uint32_t scratch;    // one page: staging metadata, then the swap buffer
  std::uint32_t state;      // one page: the boot-state log (boot.h)
};

// nRF52840, 1 MiB (docs/protocol.md §8): bootloader 0x00000 (32 KiB) ·
// slot A 0x08000 · slot B 0x20000 (96 KiB each) · scratch 0x38000 · state 0x39000.
constexpr FlashLayout kNrf52FlashLayout{0x08000, 0x20000, 96u * 1024u, 0x38000, 0x39000};

}  // namespace vigil_fw
