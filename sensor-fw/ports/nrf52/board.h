// SPDX-License-Identifier: Apache-2.0
//
// Board and vendor-stack glue the nRF52 port calls for what is not plain
// registers: the accelerometer's SPI transfer sequence (board wiring) and
// advertising/GATT (SoftDevice S140 or Zephyr's controller — "the vendor
// radio stack", outside the flash/RAM budget). board_stub.cpp has failing
// defaults so the image links and its size can be checked.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {
// Burst capture into axis-major int16 (see vigil_fw::Accelerometer).
bool vigil_board_accel_capture(uint32_t rate_hz, size_t n, int16_t* out);
float vigil_board_accel_scale_g(void);
// Legacy advertising of `ad` for duration_ms; returns when done.
bool vigil_board_advertise(const uint8_t* ad, size_t len, uint32_t interval_ms, uint32_t duration_ms);
}
