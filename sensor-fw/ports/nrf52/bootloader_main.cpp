// SPDX-License-Identifier: Apache-2.0
// nRF52840 bootloader at 0x00000 (32 KiB, bootloader.ld): runs the portable
// boot logic (vigil_fw/boot.h: finish or revert a swap, verify and swap in a
// pending image, count test boots) and starts the image in slot A.
//
// Slot A holds header (64 bytes) | payload. The Cortex-M4 needs the vector
// table 256-byte aligned (VTOR), so an application for this bootloader is
// linked with its vector table at slot A + 0x100: its payload starts with
// 192 bytes of padding. The key comes from the record pages the application
// writes at commissioning (FlashStorage); without one, a pending image's tag
// cannot verify and it is refused.
#include "hal_nrf52.h"
#include "vigil_fw/boot.h"
#include "vigil_fw/image.h"

namespace {
vigil_fw::nrf52::NvmcFlash g_flash;
vigil_fw::nrf52::EcbAes g_aes;
vigil_fw::nrf52::FlashStorage g_storage;
constexpr std::uint32_t kAppVectors = vigil_fw::kNrf52FlashLayout.slot_a + 0x100;

[[noreturn]] void start_application() {
  const std::uint32_t* vt = reinterpret_cast<const std::uint32_t*>(kAppVectors);
  *reinterpret_cast<volatile std::uint32_t*>(0xE000ED08) = kAppVectors;  // SCB VTOR
  __asm volatile(
      "msr msp, %0\n"
      "dsb\n isb\n"
      "bx %1\n" ::"r"(vt[0]),
      "r"(vt[1]));
  for (;;) {
  }
}

[[noreturn]] void reset() {
  __asm volatile("dsb");
  *reinterpret_cast<volatile std::uint32_t*>(0xE000ED0C) = 0x05FA0004;  // SCB AIRCR: SYSRESETREQ
  for (;;) {
  }
}
}  // namespace

extern "C" int vigil_main() {
  std::uint8_t key[16] = {0};
  g_storage.read(vigil_fw::Record::kKey, key, sizeof key);
  vigil_fw::Bootloader boot(g_flash, vigil_fw::kNrf52FlashLayout, g_aes, key, vigil_fw::kBoardNrf52840);
  const vigil_fw::BootReport r = boot.boot();
  for (auto& b : key) b = 0;
  switch (r.outcome) {
    case vigil_fw::BootOutcome::kFlashError:
      reset();  // the boot-state log resumes where the flash failed
    case vigil_fw::BootOutcome::kNoImage:
      for (;;) __asm volatile("wfe");  // nothing to run: wait for a programmer
    default:
      start_application();
  }
}
