// SPDX-License-Identifier: Apache-2.0
//
// The DFU GATT service 9e7a0010-5c2b-4d0e-9b5f-766967696c00 (docs/protocol.md
// §8). The port's GATT server forwards writes/reads here; this class stages
// an image in slot B through the Flash seam and leaves it "pending" for the
// bootloader (boot.h). Characteristics:
//   0011 Control point (write): 01 START flags|header(64)|tag(16) · 02 ABORT ·
//        03 VERIFY · 04 ACTIVATE · 05 CONFIRM
//   0012 Data (write without response): offset u32 | 1..240 bytes
//   0013 Status (read, 16 bytes): state u8 | error u8 | received u32 |
//        running_version u32 | staged_version u32 | boot_count u8 | 0
// ATT results (write_control/write_data return them; 0 = success):
//   0x0D a value of the wrong length, 0x13 an unknown opcode (nothing changes);
//   0x80 + error code when the operation is refused (e.g. 0x82 wrong_board);
//   Status then shows the same error. Data writes are write-without-response
//   on air: a refused one is dropped and only Status.error tells (bad_offset,
//   not_ready, too_large), so a client resumes at Status.received.
// Flash: slot B pages are erased lazily as data reaches them (a 2 s erase of
// the whole slot inside one ATT write would stall the link); bytes are
// programmed in whole words, the last partial word waits in RAM until more
// data or VERIFY. Nothing here allocates; one transfer at a time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/boot.h"
#include "vigil_fw/flash.h"
#include "vigil_fw/hal.h"
#include "vigil_fw/image.h"

namespace vigil_fw {

constexpr std::size_t kDfuStatusSize = 16;
constexpr std::size_t kDfuStartSize = 1 + 1 + kImageHeaderSize + 16;
constexpr std::size_t kDfuDataMax = 240;
constexpr std::uint8_t kAttInvalidLength = 0x0D;
constexpr std::uint8_t kAttValueNotAllowed = 0x13;
constexpr std::uint8_t kAttAppError = 0x80;

enum class DfuOp : std::uint8_t { kStart = 1, kAbort = 2, kVerify = 3, kActivate = 4, kConfirm = 5 };
enum class DfuState : std::uint8_t { kIdle = 0, kReceiving = 1, kVerified = 2, kTestBoot = 3, kError = 4 };

class DfuService {
 public:
  // key: the sensor's AES-128 key (borrowed; tags are MACed under it).
  DfuService(Flash& flash, const FlashLayout& layout, BlockCipher& aes, const std::uint8_t key[16],
             std::uint32_t board_id);
  // After boot: reads slot A's version and the boot state (a pending image,
  // a test boot, or the bootloader's verdict such as "reverted").
  void init();
  std::uint8_t write_control(const std::uint8_t* value, std::size_t len);
  std::uint8_t write_data(const std::uint8_t* value, std::size_t len);
  std::size_t read_status(std::uint8_t* out, std::size_t cap) const;
  // Set by ACTIVATE: the port reboots into the bootloader once the ATT
  // response has gone out.
  bool reboot_requested() const { return reboot_requested_; }
  DfuState state() const;
  DfuError error() const { return error_; }
  std::uint32_t received() const { return received_; }
  std::uint32_t running_version() const { return running_version_; }

 private:
  std::uint8_t start(const std::uint8_t* v);
  std::uint8_t verify();
  std::uint8_t refuse(DfuError e, bool fatal);
  bool ensure_erased(std::uint32_t end_offset);  // payload bytes [0, end) writable
  bool flush_tail();
  bool clear_pending();
  Flash& flash_;
  FlashLayout layout_;
  BlockCipher& aes_;
  const std::uint8_t* key_;
  std::uint32_t board_;
  BootStateLog log_;
  DfuState state_ = DfuState::kIdle;  // RAM state; kTestBoot is read from the log
  DfuError error_ = DfuError::kNone;
  std::uint8_t header_[kImageHeaderSize] = {0};
  std::uint8_t tag_[16] = {0};
  std::uint8_t flags_ = 0;
  ImageHeader staged_{};
  std::uint32_t received_ = 0;
  std::uint32_t erased_pages_ = 0;
  std::uint8_t tail_[4] = {0};
  std::uint32_t running_version_ = 0;
  bool reboot_requested_ = false;
};

}  // namespace vigil_fw
