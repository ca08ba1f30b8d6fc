// SPDX-License-Identifier: Apache-2.0
// Host runner for the core tests (the same tests run on the target).
#include <cstdio>

#include "../../tests/test.h"

void vtest::test_write(const char* s) { std::fputs(s, stdout); }

int main() { return vtest::run_all() == 0 ? 0 : 1; }
