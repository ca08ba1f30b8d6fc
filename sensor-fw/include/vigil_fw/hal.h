// SPDX-License-Identifier: Apache-2.0
//
// The HAL seam: everything a platform supplies to the portable core. Ports:
// ports/host (Linux virtual sensor), ports/nrf52 (nRF52840), and the fakes
// in tests/. The core never touches registers or the OS.
//
// All calls are made from the core's one thread of control; none may
// allocate. Byte order of multi-byte values is stated where it matters.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil_fw {

// 3-axis MEMS accelerometer.
class Accelerometer {
 public:
  // Captures a burst of n samples per axis at rate_hz into out, axis-major
  // ([x0..xn-1][y0..][z0..]). Powers the sensor up and down. False on error.
  virtual bool capture(std::uint32_t rate_hz, std::size_t n, std::int16_t* out) = 0;
  // Physical units of one count, g (e.g. ±16 g on 16 bits: 16/32768).
  virtual float scale_g_per_count() const = 0;
};

class TemperatureSensor {
 public:
  virtual bool read_c(float* out) = 0;
};

class Battery {
 public:
  // Cell voltage under a light load, millivolts.
  virtual bool read_mv(std::uint16_t* out) = 0;
};

// Legacy (31-byte) non-connectable or connectable undirected advertising.
class Radio {
 public:
  // Advertises `ad` (AD structures, ≤ 31 bytes) every interval_ms for
  // duration_ms, then stops. Blocks (sleeping) until done. The port keeps
  // the GATT server connectable meanwhile if it can.
  virtual bool advertise(const std::uint8_t* ad, std::size_t len, std::uint32_t interval_ms,
                         std::uint32_t duration_ms) = 0;
  // The device address in printed order (AA:BB:... → {0xAA, 0xBB, ...}).
  virtual void address(std::uint8_t out[6]) const = 0;
  // TX power for advertising and connections, dBm (-20..4 in steps of 4).
  virtual bool set_tx_power_dbm(std::int8_t dbm) = 0;
};

// AES-128 block encryption (nRF52: the ECB peripheral; host: software).
class BlockCipher {
 public:
  virtual bool encrypt_block(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]) = 0;
};

class Clock {
 public:
  virtual std::uint32_t now_ms() = 0;  // monotonic, wraps after 49 days
  // Lowest-power sleep until now_ms() + ms (RTC wake-up).
  virtual void sleep_ms(std::uint32_t ms) = 0;
};

// Persistent records (nRF52: flash pages; host: a file or memory). Writes are
// atomic per record: after a power cut a record holds the old or new bytes.
enum class Record : std::uint8_t { kKey = 1, kCounterReserved = 2, kConfig = 3 };
class Storage {
 public:
  virtual bool read(Record r, std::uint8_t* buf, std::size_t len) = 0;  // false if absent
  virtual bool write(Record r, const std::uint8_t* buf, std::size_t len) = 0;
};

// Raw flash for firmware update (slots, scratch, boot state): flash.h.

// Everything the core needs, by reference. The GATT server is the other way
// round: the port calls WaveformService (waveform_service.h) on reads/writes.
struct Hal {
  Accelerometer& accel;
  TemperatureSensor& temperature;
  Battery& battery;
  Radio& radio;
  BlockCipher& aes;
  Clock& clock;
  Storage& storage;
};

}  // namespace vigil_fw
