// SPDX-License-Identifier: Apache-2.0
// Default board glue: fails cleanly (no accelerometer/radio wired). A board
// build replaces this file; see board.h.
#include "board.h"

extern "C" {
__attribute__((weak)) bool vigil_board_accel_capture(uint32_t, size_t, int16_t*) { return false; }
__attribute__((weak)) float vigil_board_accel_scale_g(void) { return 16.0f / 32768.0f; }
__attribute__((weak)) bool vigil_board_advertise(const uint8_t*, size_t, uint32_t, uint32_t) { return false; }
__attribute__((weak)) bool vigil_board_set_tx_power(int8_t) { return false; }
__attribute__((weak)) void vigil_board_gatt_register(const struct vigil_gatt_handlers*) {}
}
