// SPDX-License-Identifier: Apache-2.0
// Runs the core's tests on the Cortex-M4F (qemu mps2-an386, semihosting).
#include "../../tests/test.h"
#include "semihost.h"

void vtest::test_write(const char* s) { semihost::write0(s); }

extern "C" int vigil_main() {
  semihost::write0("vigil sensor-fw core tests on Cortex-M4F\n");
  semihost::exit(vtest::run_all() == 0 ? 0 : 1);
}
