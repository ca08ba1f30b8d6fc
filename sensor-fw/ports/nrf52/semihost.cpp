// SPDX-License-Identifier: Apache-2.0
#include "semihost.h"

#include <stdint.h>

namespace semihost {
namespace {
int call(int op, const void* arg) {
  register int r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
}  // namespace

void write0(const char* s) { call(0x04, s); }  // SYS_WRITE0

void exit(int code) {
  // SYS_EXIT_EXTENDED: ADP_Stopped_ApplicationExit with the exit code.
  const uint32_t block[2] = {0x20026, static_cast<uint32_t>(code)};
  call(0x20, block);
  call(0x18, reinterpret_cast<const void*>(code == 0 ? 0x20026 : 0x20023));  // SYS_EXIT fallback
  for (;;) {
  }
}
}  // namespace semihost

// A hard fault during tests ends the run with a failure.
extern "C" void HardFault_Handler() {
  semihost::write0("HardFault\n");
  semihost::exit(3);
}
