// SPDX-License-Identifier: Apache-2.0
//
// A minimal test framework for host and target: no heap, no exceptions.
// TEST(name) registers a function in a static list; CHECK records a failure
// with file:line and continues; REQUIRE returns from the test. The platform
// supplies test_write(const char*) (stdout on the host, semihosting on the
// target) and calls test_run_all(), which returns the number of failed tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vtest {

void test_write(const char* s);  // supplied by the runner's platform

struct Case {
  const char* name;
  void (*fn)();
  Case* next;
  Case(const char* n, void (*f)());
};

extern int g_failures_in_case;
void fail(const char* file, int line, const char* expr);
void write_uint(std::uint64_t v);
int run_all();

// Hex string → bytes (no separators); returns the length, or -1.
int hex_to_bytes(const char* hex, std::uint8_t* out, std::size_t cap);
bool bytes_equal_hex(const std::uint8_t* b, std::size_t n, const char* hex);
bool near(float a, float b, float rel);

}  // namespace vtest

#define VT_CAT2(a, b) a##b
#define VT_CAT(a, b) VT_CAT2(a, b)
#define TEST(name)                                                              \
  static void VT_CAT(vt_fn_, __LINE__)();                                       \
  static ::vtest::Case VT_CAT(vt_case_, __LINE__)(name, &VT_CAT(vt_fn_, __LINE__)); \
  static void VT_CAT(vt_fn_, __LINE__)()
#define CHECK(expr) \
  do {              \
    if (!(expr)) ::vtest::fail(__FILE__, __LINE__, #expr); \
  } while (0)
#define REQUIRE(expr)                                      \
  do {                                                     \
    if (!(expr)) {                                         \
      ::vtest::fail(__FILE__, __LINE__, #expr);            \
      return;                                              \
    }                                                      \
  } while (0)
