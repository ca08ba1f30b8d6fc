// SPDX-License-Identifier: Apache-2.0
// Polls f() every 5 ms until it is true or `ms` have passed; returns its
// last value. For tests that wait on another thread (the uplink's worker).
#pragma once

#include <chrono>
#include <thread>

template <typename F>
bool eventually(F f, int ms = 5000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}
