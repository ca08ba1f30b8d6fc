// SPDX-License-Identifier: Apache-2.0
//
// The bootloader logic (portable; docs/protocol.md §8): the boot-state log,
// the power-fail-safe A↔B swap through the scratch page, verification of a
// staged image before it is swapped in, test boot with an attempt counter,
// confirmation, and the automatic revert of a test image that never confirms.
//
// Boot-state log: the state page holds 256 records of 16 bytes, appended in
// order; the valid record (CRC-32) with the highest position wins; an empty
// page means "confirmed, nothing pending". Record:
//   seq u32 | phase u8 | page u8 | step u8 | attempts u8 | last_error u8 |
//   reserved u8 | pages u16 | crc32 u32 (of the 12 bytes before it)
// Phases: 0 confirmed, 1 pending (staged image verified, test boot wanted),
// 2 swapping to test, 3 testing (new image unconfirmed), 4 swapping back.
// The page is erased (compacted) only before an update starts, never during
// a swap or a test boot: an update needs at most 2 × (3 × 24 + 2) + test
// boots + 2 records (≤ 160 of 256), so a compacted page always has room.
//
// Swap of page i (A = slot A page i, B = slot B page i, S = scratch):
//   step 0: erase S, copy A→S, record (i, 1)
//   step 1: erase A, copy B→A, record (i, 2)
//   step 2: erase B, copy S→B, record (i + 1, 0)
// A power cut anywhere re-runs the step named by the last record; each step
// only reads a copy that an earlier record guarantees is intact, so the swap
// finishes on the next boot. A revert is the same swap again.
//
// Staging metadata (before a swap the scratch page is free): the DFU
// service writes magic "VGST" | flags u8 | 3 × 0 | tag[16] | crc32 there at
// START, so the bootloader can re-verify the staged image's tag itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/config.h"
#include "vigil_fw/flash.h"
#include "vigil_fw/hal.h"
#include "vigil_fw/image.h"

namespace vigil_fw {

enum class BootPhase : std::uint8_t { kConfirmed = 0, kPending = 1, kSwapToTest = 2, kTesting = 3, kSwapBack = 4 };

struct BootRecord {
  std::uint32_t seq = 0;
  BootPhase phase = BootPhase::kConfirmed;
  std::uint8_t page = 0;
  std::uint8_t step = 0;
  std::uint8_t attempts = 0;  // boots of the test image since ACTIVATE
  DfuError last_error = DfuError::kNone;
  std::uint16_t pages = 0;    // pages the swap moves
};

class BootStateLog {
 public:
  static constexpr std::uint32_t kRecordSize = 16;
  static constexpr std::uint32_t kCells = kFlashPageSize / kRecordSize;
  // Records one whole update needs (pending, swap, test boots, revert,
  // confirm: 2 × (3 × 24 + 2) + test boots + 2) with room to spare.
  static constexpr std::uint32_t kUpdateRecords = 2 * (3 * 24 + 2) + VIGIL_FW_DFU_TEST_BOOTS + 8;

  BootStateLog(Flash& flash, std::uint32_t page_addr) : flash_(flash), page_(page_addr) {}
  // Scans the page. False on a flash read error (current() is then the default).
  bool load();
  const BootRecord& current() const { return cur_; }
  std::uint32_t free_cells() const { return kCells - next_; }
  // Appends r as the new current record. A full page is compacted only for
  // a quiescent phase (confirmed/pending); otherwise false.
  bool append(const BootRecord& r);
  // Appends r, compacting first if fewer than `need` cells are free.
  // REQUIRES: r.phase is confirmed or pending (losing the page to a power
  // cut during compaction then means "confirmed", which is safe).
  bool append_with_room(const BootRecord& r, std::uint32_t need);

 private:
  bool write_at(std::uint32_t cell, BootRecord r);
  Flash& flash_;
  std::uint32_t page_;
  BootRecord cur_{};
  std::uint32_t next_ = 0;  // first never-written cell
};

// Staging metadata in the scratch page (see above).
bool write_staging_meta(Flash& flash, std::uint32_t scratch, std::uint8_t flags, const std::uint8_t tag[16]);
bool read_staging_meta(Flash& flash, std::uint32_t scratch, std::uint8_t* flags, std::uint8_t tag[16]);

// Reads and parses the header of the image in a slot.
DfuError read_slot_header(Flash& flash, std::uint32_t slot, ImageHeader* out);

enum class BootOutcome : std::uint8_t {
  kConfirmed,   // running a confirmed image (nothing pending)
  kTestBoot,    // running the new image, unconfirmed: it must CONFIRM
  kReverted,    // the test image never confirmed; the old image runs again
  kRejected,    // a pending image failed verification; the old image runs
  kNoImage,     // slot A holds no valid image (nothing to run)
  kFlashError,  // flash failed (power cut mid-boot): the next boot resumes
};
const char* to_string(BootOutcome o);

struct BootReport {
  BootOutcome outcome = BootOutcome::kNoImage;
  DfuError error = DfuError::kNone;  // why rejected / reverted
  std::uint32_t version = 0;         // of the image in slot A after boot
  std::uint8_t attempts = 0;
};

class Bootloader {
 public:
  // key: the sensor's AES-128 key (tags); max_test_boots: boots a test image
  // gets to confirm before the revert (VIGIL_FW_DFU_TEST_BOOTS).
  Bootloader(Flash& flash, const FlashLayout& layout, BlockCipher& aes, const std::uint8_t key[16],
             std::uint32_t board_id, std::uint8_t max_test_boots = VIGIL_FW_DFU_TEST_BOOTS);
  // Runs at every reset; when it returns, slot A holds the image to start.
  BootReport boot();

 private:
  bool swap(BootRecord r);  // from r (phase kSwapToTest/kSwapBack) to the end
  bool copy_page(std::uint32_t from, std::uint32_t to, std::uint8_t* buf);
  BootReport finish(BootOutcome o, DfuError e);
  Flash& flash_;
  FlashLayout layout_;
  BlockCipher& aes_;
  const std::uint8_t* key_;
  std::uint32_t board_;
  std::uint8_t max_test_boots_;
  BootStateLog log_;
};

// Called by the running application after its self-test: a test image
// becomes the confirmed one. kNotReady if no test boot is in progress.
DfuError confirm_running_image(BootStateLog& log);

}  // namespace vigil_fw
