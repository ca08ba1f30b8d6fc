// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/dfu_service.h"

#include <string.h>

#include "vigil_fw/frames.h"

namespace vigil_fw {
namespace {
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
}  // namespace

DfuService::DfuService(Flash& flash, const FlashLayout& layout, BlockCipher& aes, const std::uint8_t key[16],
                       std::uint32_t board_id)
    : flash_(flash), layout_(layout), aes_(aes), key_(key), board_(board_id), log_(flash, layout.state) {}

void DfuService::init() {
  ImageHeader a;
  running_version_ = read_slot_header(flash_, layout_.slot_a, &a) == DfuError::kNone ? a.version : 0;
  state_ = DfuState::kIdle;
  error_ = DfuError::kNone;
  reboot_requested_ = false;
  if (!log_.load()) {
    state_ = DfuState::kError;
    error_ = DfuError::kFlashError;
    return;
  }
  const BootRecord& r = log_.current();
  if (r.phase == BootPhase::kPending && read_slot_header(flash_, layout_.slot_b, &staged_) == DfuError::kNone) {
    state_ = DfuState::kVerified;
    received_ = staged_.payload_size;
  } else if (r.phase == BootPhase::kConfirmed && r.last_error != DfuError::kNone) {
    state_ = DfuState::kError;  // the bootloader's verdict: reverted, bad_tag, ...
    error_ = r.last_error;
  }
}

DfuState DfuService::state() const {
  if (state_ != DfuState::kIdle) return state_;
  return log_.current().phase == BootPhase::kTesting ? DfuState::kTestBoot : DfuState::kIdle;
}

std::uint8_t DfuService::refuse(DfuError e, bool fatal) {
  error_ = e;
  if (fatal) state_ = DfuState::kError;
  return static_cast<std::uint8_t>(kAttAppError + static_cast<std::uint8_t>(e));
}

bool DfuService::clear_pending() {
  const BootRecord& r = log_.current();
  if (r.phase == BootPhase::kConfirmed && r.last_error == DfuError::kNone) return true;
  if (r.phase != BootPhase::kConfirmed && r.phase != BootPhase::kPending) return false;
  BootRecord c;
  c.attempts = r.attempts;
  return log_.append(c);
}

std::uint8_t DfuService::write_control(const std::uint8_t* v, std::size_t len) {
  if (len == 0) return kAttInvalidLength;
  const DfuOp op = static_cast<DfuOp>(v[0]);
  if (op == DfuOp::kStart) return len == kDfuStartSize ? start(v + 1) : kAttInvalidLength;
  if (op < DfuOp::kStart || op > DfuOp::kConfirm) return kAttValueNotAllowed;
  if (len != 1) return kAttInvalidLength;
  switch (op) {
    case DfuOp::kAbort:
      if (log_.current().phase == BootPhase::kTesting) return refuse(DfuError::kNotReady, false);
      if (!clear_pending()) return refuse(DfuError::kFlashError, true);
      state_ = DfuState::kIdle;
      error_ = DfuError::kNone;
      received_ = 0;
      return 0;
    case DfuOp::kVerify:
      return verify();
    case DfuOp::kActivate:
      if (log_.current().phase != BootPhase::kPending) return refuse(DfuError::kNotReady, false);
      reboot_requested_ = true;
      return 0;
    case DfuOp::kConfirm: {
      const DfuError e = confirm_running_image(log_);
      if (e != DfuError::kNone) return refuse(e, e == DfuError::kFlashError);
      if (state_ == DfuState::kError && error_ == DfuError::kReverted) state_ = DfuState::kIdle;
      return 0;
    }
    default:
      return kAttValueNotAllowed;
  }
}

std::uint8_t DfuService::start(const std::uint8_t* v) {
  const std::uint8_t flags = v[0];
  const std::uint8_t* hdr = v + 1;
  const std::uint8_t* tag = v + 1 + kImageHeaderSize;
  // While a test image runs, slot B holds the way back: it must not be touched.
  if (log_.current().phase == BootPhase::kTesting) return refuse(DfuError::kNotReady, false);
  ImageHeader h;
  DfuError e = parse_image_header(hdr, &h);
  if (e == DfuError::kNone)
    e = check_image_header(h, board_, layout_.slot_size, running_version_, (flags & kDfuFlagForce) != 0);
  if (e != DfuError::kNone) return refuse(e, true);
  if (state_ == DfuState::kReceiving && flags == flags_ && memcmp(hdr, header_, sizeof header_) == 0 &&
      memcmp(tag, tag_, sizeof tag_) == 0) {
    error_ = DfuError::kNone;  // resume: received stays where it was
    return 0;
  }
  // A new transfer: forget any pending image first, so a power cut during
  // staging can never leave the bootloader acting on a half-written slot.
  if (!clear_pending()) return refuse(DfuError::kFlashError, true);
  memcpy(header_, hdr, sizeof header_);
  memcpy(tag_, tag, sizeof tag_);
  flags_ = flags;
  staged_ = h;
  received_ = 0;
  erased_pages_ = 0;
  reboot_requested_ = false;
  if (!write_staging_meta(flash_, layout_.scratch, flags, tag) || !ensure_erased(0) ||
      !flash_.write(layout_.slot_b, header_, sizeof header_))
    return refuse(DfuError::kFlashError, true);
  state_ = DfuState::kReceiving;
  error_ = DfuError::kNone;
  return 0;
}

bool DfuService::ensure_erased(std::uint32_t end_offset) {
  const std::uint32_t end = kImageHeaderSize + end_offset;
  const std::uint32_t need = end / kFlashPageSize + 1;  // the page holding byte `end` too (word flush)
  while (erased_pages_ < need && erased_pages_ * kFlashPageSize < layout_.slot_size) {
    if (!flash_.erase_page(layout_.slot_b + erased_pages_ * kFlashPageSize)) return false;
    ++erased_pages_;
  }
  return true;
}

std::uint8_t DfuService::write_data(const std::uint8_t* v, std::size_t len) {
  if (len < 5 || len > 4 + kDfuDataMax) return kAttInvalidLength;
  if (state_ != DfuState::kReceiving) return refuse(DfuError::kNotReady, false);
  const std::uint32_t off = le32(v);
  const std::uint32_t n = static_cast<std::uint32_t>(len - 4);
  if (off != received_) return refuse(DfuError::kBadOffset, false);
  if (n > staged_.payload_size - received_) return refuse(DfuError::kTooLarge, false);
  const std::uint8_t* d = v + 4;
  if (!ensure_erased(received_ + n)) return refuse(DfuError::kFlashError, true);
  // Program whole words; the partial last word waits in tail_.
  std::uint32_t pos = received_;
  for (std::uint32_t i = 0; i < n; ++i, ++pos) {
    tail_[pos & 3] = d[i];
    if ((pos & 3) == 3 && !flash_.write(layout_.slot_b + kImageHeaderSize + (pos & ~3u), tail_, 4))
      return refuse(DfuError::kFlashError, true);
  }
  received_ = pos;
  error_ = DfuError::kNone;
  return 0;
}

bool DfuService::flush_tail() {
  const std::uint32_t k = received_ & 3;
  if (k == 0) return true;
  std::uint8_t w[4] = {0xFF, 0xFF, 0xFF, 0xFF};
  memcpy(w, tail_, k);
  return flash_.write(layout_.slot_b + kImageHeaderSize + (received_ & ~3u), w, 4);
}

std::uint8_t DfuService::verify() {
  if (state_ == DfuState::kVerified) return 0;  // idempotent
  if (state_ != DfuState::kReceiving || received_ != staged_.payload_size) return refuse(DfuError::kNotReady, false);
  if (!flush_tail()) return refuse(DfuError::kFlashError, true);
  const DfuError e = verify_stored_image(flash_, layout_.slot_b, aes_, key_, flags_, tag_);
  if (e != DfuError::kNone) return refuse(e, true);
  BootRecord p;
  p.phase = BootPhase::kPending;
  if (!log_.append_with_room(p, BootStateLog::kUpdateRecords)) return refuse(DfuError::kFlashError, true);
  state_ = DfuState::kVerified;
  error_ = DfuError::kNone;
  return 0;
}

std::size_t DfuService::read_status(std::uint8_t* out, std::size_t cap) const {
  const DfuState s = state();
  Writer w(out, cap);
  w.u8(static_cast<std::uint8_t>(s));
  w.u8(static_cast<std::uint8_t>(error_));
  w.u32(received_);
  w.u32(running_version_);
  w.u32(s == DfuState::kReceiving || s == DfuState::kVerified ? staged_.version : 0);
  w.u8(log_.current().attempts);
  w.u8(0);
  return w.ok() ? w.size() : 0;
}

}  // namespace vigil_fw
