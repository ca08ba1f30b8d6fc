// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/boot.h"

#include <string.h>

#include "vigil_fw/crypto.h"
#include "vigil_fw/frames.h"

namespace vigil_fw {
namespace {
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
bool all_ff(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0xFF) return false;
  return true;
}
bool quiescent(BootPhase p) { return p == BootPhase::kConfirmed || p == BootPhase::kPending; }
constexpr std::uint32_t kMetaMagic = 0x54534756;  // "VGST"
constexpr std::size_t kMetaSize = 28;
}  // namespace

const char* to_string(BootOutcome o) {
  switch (o) {
    case BootOutcome::kConfirmed: return "confirmed";
    case BootOutcome::kTestBoot: return "test_boot";
    case BootOutcome::kReverted: return "reverted";
    case BootOutcome::kRejected: return "rejected";
    case BootOutcome::kNoImage: return "no_image";
    case BootOutcome::kFlashError: return "flash_error";
  }
  return "?";
}

// --- boot-state log -----------------------------------------------------------

bool BootStateLog::load() {
  cur_ = BootRecord{};
  next_ = 0;
  std::uint8_t b[kRecordSize];
  for (std::uint32_t cell = 0; cell < kCells; ++cell) {
    if (!flash_.read(page_ + cell * kRecordSize, b, sizeof b)) return false;
    if (all_ff(b, sizeof b)) break;  // appended in order: the first blank cell ends the log
    next_ = cell + 1;
    if (crc32(b, 12) != le32(b + 12) || b[4] > static_cast<std::uint8_t>(BootPhase::kSwapBack)) continue;  // torn
    BootRecord r;
    r.seq = le32(b);
    r.phase = static_cast<BootPhase>(b[4]);
    r.page = b[5];
    r.step = b[6];
    r.attempts = b[7];
    r.last_error = static_cast<DfuError>(b[8]);
    r.pages = static_cast<std::uint16_t>(b[10] | b[11] << 8);
    cur_ = r;
  }
  return true;
}

bool BootStateLog::write_at(std::uint32_t cell, BootRecord r) {
  r.seq = cur_.seq + 1;
  std::uint8_t b[kRecordSize];
  Writer w(b, sizeof b);
  w.u32(r.seq);
  w.u8(static_cast<std::uint8_t>(r.phase));
  w.u8(r.page);
  w.u8(r.step);
  w.u8(r.attempts);
  w.u8(static_cast<std::uint8_t>(r.last_error));
  w.u8(0);
  w.u16(r.pages);
  w.u32(crc32(b, 12));
  next_ = cell + 1;  // even if the write tears: that cell is no longer blank
  if (!flash_.write(page_ + cell * kRecordSize, b, sizeof b)) return false;
  cur_ = r;
  return true;
}

bool BootStateLog::append(const BootRecord& r) {
  if (next_ < kCells) return write_at(next_, r);
  return append_with_room(r, kCells);
}

bool BootStateLog::append_with_room(const BootRecord& r, std::uint32_t need) {
  if (free_cells() >= need) return write_at(next_, r);
  if (!quiescent(r.phase)) return false;  // never lose a swap or test-boot record
  if (!flash_.erase_page(page_)) return false;
  next_ = 0;
  return write_at(0, r);
}

// --- staging metadata ----------------------------------------------------------

bool write_staging_meta(Flash& flash, std::uint32_t scratch, std::uint8_t flags, const std::uint8_t tag[16]) {
  std::uint8_t b[kMetaSize] = {0};
  Writer w(b, sizeof b);
  w.u32(kMetaMagic);
  w.u8(flags);
  w.u8(0);
  w.u16(0);
  memcpy(b + 8, tag, 16);
  const std::uint32_t crc = crc32(b, 24);
  for (int i = 0; i < 4; ++i) b[24 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  return flash.erase_page(scratch) && flash.write(scratch, b, sizeof b);
}

bool read_staging_meta(Flash& flash, std::uint32_t scratch, std::uint8_t* flags, std::uint8_t tag[16]) {
  std::uint8_t b[kMetaSize];
  if (!flash.read(scratch, b, sizeof b)) return false;
  if (le32(b) != kMetaMagic || crc32(b, 24) != le32(b + 24)) return false;
  *flags = b[4];
  memcpy(tag, b + 8, 16);
  return true;
}

DfuError read_slot_header(Flash& flash, std::uint32_t slot, ImageHeader* out) {
  std::uint8_t h[kImageHeaderSize];
  if (!flash.read(slot, h, sizeof h)) return DfuError::kFlashError;
  return parse_image_header(h, out);
}

// --- bootloader -------------------------------------------------------------------

Bootloader::Bootloader(Flash& flash, const FlashLayout& layout, BlockCipher& aes, const std::uint8_t key[16],
                       std::uint32_t board_id, std::uint8_t max_test_boots)
    : flash_(flash),
      layout_(layout),
      aes_(aes),
      key_(key),
      board_(board_id),
      max_test_boots_(max_test_boots ? max_test_boots : 1),
      log_(flash, layout.state) {}

bool Bootloader::copy_page(std::uint32_t from, std::uint32_t to, std::uint8_t* buf) {
  if (!flash_.erase_page(to)) return false;
  for (std::uint32_t off = 0; off < kFlashPageSize; off += 256) {
    if (!flash_.read(from + off, buf, 256)) return false;
    if (all_ff(buf, 256)) continue;  // already erased: saves time and wear
    if (!flash_.write(to + off, buf, 256)) return false;
  }
  return true;
}

bool Bootloader::swap(BootRecord r) {
  std::uint8_t buf[256];
  for (std::uint32_t p = r.page; p < r.pages; ++p) {
    const std::uint32_t a = layout_.slot_a + p * kFlashPageSize, b = layout_.slot_b + p * kFlashPageSize;
    BootRecord next = r;
    next.page = static_cast<std::uint8_t>(p);
    if (r.step == 0) {
      if (!copy_page(a, layout_.scratch, buf)) return false;
      next.step = 1;
      if (!log_.append(next)) return false;
    }
    if (r.step <= 1) {
      if (!copy_page(b, a, buf)) return false;
      next.step = 2;
      if (!log_.append(next)) return false;
    }
    if (!copy_page(layout_.scratch, b, buf)) return false;
    next.page = static_cast<std::uint8_t>(p + 1);
    next.step = 0;
    if (!log_.append(next)) return false;
    r.step = 0;
  }
  return true;
}

BootReport Bootloader::finish(BootOutcome o, DfuError e) {
  BootReport rep;
  rep.outcome = o;
  rep.error = e;
  rep.attempts = log_.current().attempts;
  ImageHeader a;
  if (read_slot_header(flash_, layout_.slot_a, &a) == DfuError::kNone) rep.version = a.version;
  else if (o != BootOutcome::kFlashError) rep.outcome = BootOutcome::kNoImage;
  return rep;
}

BootReport Bootloader::boot() {
  if (!log_.load()) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
  const std::uint32_t slot_pages = layout_.slot_size / kFlashPageSize;
  BootRecord r = log_.current();
  for (;;) {
    switch (r.phase) {
      case BootPhase::kConfirmed:
        return finish(BootOutcome::kConfirmed, DfuError::kNone);

      case BootPhase::kPending: {
        // Verify again here, not only at VERIFY: flash may have changed since,
        // and the bootloader must not trust the application that staged it.
        std::uint8_t flags = 0, tag[16];
        ImageHeader a, b;
        const bool have_a = read_slot_header(flash_, layout_.slot_a, &a) == DfuError::kNone;
        DfuError e = read_staging_meta(flash_, layout_.scratch, &flags, tag) ? DfuError::kNone : DfuError::kBadHeader;
        if (e == DfuError::kNone) e = read_slot_header(flash_, layout_.slot_b, &b);
        if (e == DfuError::kNone)
          e = check_image_header(b, board_, layout_.slot_size, have_a ? a.version : 0, (flags & kDfuFlagForce) != 0);
        if (e == DfuError::kNone) e = verify_stored_image(flash_, layout_.slot_b, aes_, key_, flags, tag);
        if (e == DfuError::kFlashError) return finish(BootOutcome::kFlashError, e);
        if (e != DfuError::kNone) {
          BootRecord c;
          c.last_error = e;
          if (!log_.append(c)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
          return finish(BootOutcome::kRejected, e);
        }
        std::uint32_t pages = image_pages(b);
        const std::uint32_t pa = have_a ? image_pages(a) : slot_pages;
        if (pa > pages) pages = pa;
        if (pages > slot_pages) pages = slot_pages;
        BootRecord s;
        s.phase = BootPhase::kSwapToTest;
        s.pages = static_cast<std::uint16_t>(pages);
        if (!log_.append(s)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
        r = s;
        break;
      }

      case BootPhase::kSwapToTest:
      case BootPhase::kSwapBack: {
        if (!swap(r)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
        BootRecord d;
        d.pages = r.pages;
        d.attempts = r.attempts;
        if (r.phase == BootPhase::kSwapBack) d.last_error = DfuError::kReverted;
        else d.phase = BootPhase::kTesting, d.attempts = 0;
        if (!log_.append(d)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
        if (r.phase == BootPhase::kSwapBack) return finish(BootOutcome::kReverted, DfuError::kReverted);
        r = d;
        break;
      }

      case BootPhase::kTesting: {
        BootRecord t = r;
        t.page = 0;
        t.step = 0;
        if (r.attempts >= max_test_boots_) {  // it had its chances and never confirmed
          t.phase = BootPhase::kSwapBack;
          if (!log_.append(t)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
          r = t;
          break;
        }
        t.attempts = static_cast<std::uint8_t>(r.attempts + 1);
        if (!log_.append(t)) return finish(BootOutcome::kFlashError, DfuError::kFlashError);
        return finish(BootOutcome::kTestBoot, DfuError::kNone);
      }

      default:
        return finish(BootOutcome::kFlashError, DfuError::kFlashError);
    }
  }
}

DfuError confirm_running_image(BootStateLog& log) {
  if (!log.load()) return DfuError::kFlashError;
  const BootRecord& r = log.current();
  if (r.phase == BootPhase::kConfirmed) return DfuError::kNone;  // idempotent
  if (r.phase != BootPhase::kTesting) return DfuError::kNotReady;
  BootRecord c;
  c.attempts = r.attempts;
  return log.append(c) ? DfuError::kNone : DfuError::kFlashError;
}

}  // namespace vigil_fw
