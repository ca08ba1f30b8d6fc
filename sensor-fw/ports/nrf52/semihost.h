// SPDX-License-Identifier: Apache-2.0
// ARM semihosting (qemu -semihosting): console output and exit code.
#pragma once

namespace semihost {
void write0(const char* s);
[[noreturn]] void exit(int code);
}  // namespace semihost
