// SPDX-License-Identifier: Apache-2.0
// nRF52840 implementations of the HAL (register level; no vendor SDK).
#pragma once

#include "vigil_fw/flash.h"
#include "vigil_fw/hal.h"

namespace vigil_fw::nrf52 {

class EcbAes final : public BlockCipher {  // the ECB peripheral
 public:
  bool encrypt_block(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]) override;
};
class DieTemperature final : public TemperatureSensor {  // TEMP (±5 °C, 0.25 °C steps)
 public:
  bool read_c(float* out) override;
};
class VddBattery final : public Battery {  // SAADC on VDD, gain 1/6, 0.6 V ref
 public:
  bool read_mv(std::uint16_t* out) override;
};
class RtcClock final : public Clock {  // RTC1 on the 32.768 kHz LFCLK; WFE sleep
 public:
  void start();
  std::uint32_t now_ms() override;
  void sleep_ms(std::uint32_t ms) override;

 private:
  std::uint32_t last_ = 0, high_ = 0;  // extends the 24-bit counter
};
class BoardAccel final : public Accelerometer {
 public:
  bool capture(std::uint32_t rate_hz, std::size_t n, std::int16_t* out) override;
  float scale_g_per_count() const override;
};
class BoardRadio final : public Radio {
 public:
  bool advertise(const std::uint8_t* ad, std::size_t len, std::uint32_t interval_ms,
                 std::uint32_t duration_ms) override;
  void address(std::uint8_t out[6]) const override;  // FICR random static address
  bool set_tx_power_dbm(std::int8_t dbm) override;
};
// The Flash seam on the NVMC (memory-mapped reads, word writes, 4 KB pages;
// blocks the CPU ~85 ms per erase). Only the update areas are writable.
class NvmcFlash final : public Flash {
 public:
  bool read(std::uint32_t addr, std::uint8_t* out, std::size_t len) override;
  bool erase_page(std::uint32_t addr) override;
  bool write(std::uint32_t addr, const std::uint8_t* data, std::size_t len) override;
};
// Records in a log over two 4 KB flash pages (NVMC). An entry is valid once
// its trailing commit word is written, so a power cut leaves the old value.
class FlashStorage final : public Storage {
 public:
  static constexpr std::uint32_t kPageA = 0x000F6000, kPageB = 0x000F7000, kPageSize = 4096;
  bool read(Record r, std::uint8_t* buf, std::size_t len) override;
  bool write(Record r, const std::uint8_t* buf, std::size_t len) override;

 private:
  std::uint32_t active_page() const;
  std::uint32_t end_of_log(std::uint32_t page) const;
  bool append(std::uint32_t page, std::uint32_t at, Record r, const std::uint8_t* buf, std::size_t len);
  bool compact(Record r, const std::uint8_t* buf, std::size_t len);
};

}  // namespace vigil_fw::nrf52
