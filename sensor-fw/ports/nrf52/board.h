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
// TX power for advertising and connections, dBm (-20..4).
bool vigil_board_set_tx_power(int8_t dbm);
// The vigil GATT characteristics (UUID base 9e7aXXXX-5c2b-4d0e-9b5f-
// 766967696c00, uuid16 = XXXX: waveform 0002-0004, DFU 0011-0013,
// configuration 0021-0022). The stack's GATT server calls write/read for
// them (write returns the ATT result, 0 = success; read sets *att on error)
// and after_response() once a write's response has gone out (ACTIVATE
// reboots there). Registered once at start-up.
struct vigil_gatt_handlers {
  uint8_t (*write)(uint16_t uuid16, const uint8_t* value, size_t len);
  size_t (*read)(uint16_t uuid16, uint8_t* out, size_t cap, uint8_t* att);
  void (*after_response)(void);
};
void vigil_board_gatt_register(const struct vigil_gatt_handlers* handlers);
}
