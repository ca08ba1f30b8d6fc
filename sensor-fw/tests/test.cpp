// SPDX-License-Identifier: Apache-2.0
#include "test.h"

#include <math.h>

namespace vtest {
namespace {
Case* g_head = nullptr;
Case* g_tail = nullptr;
int nib(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

int g_failures_in_case = 0;

Case::Case(const char* n, void (*f)()) : name(n), fn(f), next(nullptr) {
  if (g_tail) g_tail->next = this; else g_head = this;
  g_tail = this;
}

void write_uint(std::uint64_t v) {
  char buf[24];
  int i = 23;
  buf[i] = 0;
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  test_write(&buf[i]);
}

void fail(const char* file, int line, const char* expr) {
  ++g_failures_in_case;
  test_write("  FAILED ");
  test_write(file);
  test_write(":");
  write_uint(static_cast<std::uint64_t>(line));
  test_write(": ");
  test_write(expr);
  test_write("\n");
}

int run_all() {
  int failed = 0, total = 0;
  for (Case* c = g_head; c; c = c->next) {
    g_failures_in_case = 0;
    c->fn();
    ++total;
    test_write(g_failures_in_case ? "FAIL " : "ok   ");
    test_write(c->name);
    test_write("\n");
    if (g_failures_in_case) ++failed;
  }
  write_uint(static_cast<std::uint64_t>(total - failed));
  test_write(" passed, ");
  write_uint(static_cast<std::uint64_t>(failed));
  test_write(" failed\n");
  return failed;
}

int hex_to_bytes(const char* hex, std::uint8_t* out, std::size_t cap) {
  std::size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    int hi = nib(hex[0]), lo = nib(hex[1]);
    if (hi < 0 || lo < 0 || n >= cap) return -1;
    out[n++] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return hex[0] ? -1 : static_cast<int>(n);
}

bool bytes_equal_hex(const std::uint8_t* b, std::size_t n, const char* hex) {
  std::uint8_t want[256];
  int m = hex_to_bytes(hex, want, sizeof want);
  if (m < 0 || static_cast<std::size_t>(m) != n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != want[i]) return false;
  return true;
}

bool near(float a, float b, float rel) { return fabsf(a - b) <= rel * fabsf(b) + 1e-6f; }

}  // namespace vtest
