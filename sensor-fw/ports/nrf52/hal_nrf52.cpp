// SPDX-License-Identifier: Apache-2.0
#include "hal_nrf52.h"

#include <string.h>

#include "board.h"

namespace vigil_fw::nrf52 {
namespace {
inline volatile std::uint32_t& reg(std::uint32_t addr) { return *reinterpret_cast<volatile std::uint32_t*>(addr); }

// Peripheral bases (nRF52840 Product Specification).
constexpr std::uint32_t kClock = 0x40000000, kSaadc = 0x40007000, kTemp = 0x4000C000, kEcb = 0x4000E000,
                        kRtc1 = 0x40011000, kNvmc = 0x4001E000, kFicr = 0x10000000;

void nvmc_wait() {
  while (!(reg(kNvmc + 0x400) & 1)) {
  }
}
void flash_word(std::uint32_t addr, std::uint32_t v) {
  reg(kNvmc + 0x504) = 1;  // write enable
  reg(addr) = v;
  nvmc_wait();
  reg(kNvmc + 0x504) = 0;
}
void flash_erase(std::uint32_t page) {
  reg(kNvmc + 0x504) = 2;  // erase enable
  reg(kNvmc + 0x508) = page;
  nvmc_wait();
  reg(kNvmc + 0x504) = 0;
}

// Log entry: header word 0xA5 | id << 8 | len << 16; data (padded to words);
// commit word 0x600DC0DE. Erased flash reads 0xFFFFFFFF.
constexpr std::uint32_t kCommit = 0x600DC0DE, kPageMagic = 0x5649474C;  // "VIGL"
constexpr std::uint32_t kHeaderTag = 0xA5;
std::uint32_t words_for(std::size_t len) { return static_cast<std::uint32_t>((len + 3) / 4); }
}  // namespace

bool EcbAes::encrypt_block(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]) {
  static std::uint8_t data[48];  // key | cleartext | ciphertext, in RAM for EasyDMA
  memcpy(data, key, 16);
  memcpy(data + 16, in, 16);
  reg(kEcb + 0x504) = reinterpret_cast<std::uint32_t>(data);
  reg(kEcb + 0x100) = 0;
  reg(kEcb + 0x104) = 0;
  reg(kEcb + 0x000) = 1;  // STARTECB
  while (!reg(kEcb + 0x100) && !reg(kEcb + 0x104)) {
  }
  const bool ok = reg(kEcb + 0x100) != 0;
  memcpy(out, data + 32, 16);
  memset(data, 0, 32);  // do not leave the key in RAM
  return ok;
}

bool DieTemperature::read_c(float* out) {
  reg(kTemp + 0x100) = 0;
  reg(kTemp + 0x000) = 1;
  while (!reg(kTemp + 0x100)) {
  }
  const std::int32_t t = static_cast<std::int32_t>(reg(kTemp + 0x508));
  reg(kTemp + 0x004) = 1;
  *out = static_cast<float>(t) * 0.25f;
  return true;
}

bool VddBattery::read_mv(std::uint16_t* out) {
  static volatile std::int16_t result;
  reg(kSaadc + 0x500) = 1;                          // ENABLE
  reg(kSaadc + 0x510) = 9;                          // CH[0].PSELP = VDD
  reg(kSaadc + 0x518) = (0u << 8) | (0u << 12) | (2u << 16);  // gain 1/6, internal ref, 10 µs
  reg(kSaadc + 0x5F0) = 2;                          // 12 bit
  reg(kSaadc + 0x62C) = reinterpret_cast<std::uint32_t>(&result);
  reg(kSaadc + 0x630) = 1;
  reg(kSaadc + 0x100) = 0;
  reg(kSaadc + 0x104) = 0;
  reg(kSaadc + 0x000) = 1;  // START
  while (!reg(kSaadc + 0x100)) {
  }
  reg(kSaadc + 0x004) = 1;  // SAMPLE
  while (!reg(kSaadc + 0x104)) {
  }
  reg(kSaadc + 0x500) = 0;
  const std::int32_t r = result < 0 ? 0 : result;
  *out = static_cast<std::uint16_t>(r * 3600 / 4096);  // 0.6 V × 6 full scale
  return true;
}

void RtcClock::start() {
  reg(kClock + 0x518) = 1;  // LFCLKSRC = XTAL
  reg(kClock + 0x104) = 0;
  reg(kClock + 0x008) = 1;  // LFCLKSTART
  while (!reg(kClock + 0x104)) {
  }
  reg(kRtc1 + 0x508) = 0;  // 32768 Hz
  reg(kRtc1 + 0x344) = 1u << 16;  // EVTEN COMPARE0 (wakes WFE)
  reg(kRtc1 + 0x000) = 1;
}

std::uint32_t RtcClock::now_ms() {
  const std::uint32_t c = reg(kRtc1 + 0x504) & 0xFFFFFF;
  if (c < last_) high_ += 1u << 24;
  last_ = c;
  const std::uint64_t ticks = (static_cast<std::uint64_t>(high_) | c);
  return static_cast<std::uint32_t>(ticks * 1000 / 32768);
}

void RtcClock::sleep_ms(std::uint32_t ms) {
  // Sleep in slices below the 24-bit counter's half range (~256 s).
  while (ms) {
    const std::uint32_t slice = ms > 200000 ? 200000 : ms;
    const std::uint32_t ticks = static_cast<std::uint32_t>(static_cast<std::uint64_t>(slice) * 32768 / 1000);
    reg(kRtc1 + 0x140) = 0;
    reg(kRtc1 + 0x540) = (reg(kRtc1 + 0x504) + ticks) & 0xFFFFFF;
    while (!reg(kRtc1 + 0x140)) __asm volatile("wfe");
    now_ms();  // keep the wrap tracking current
    ms -= slice;
  }
}

bool BoardAccel::capture(std::uint32_t rate_hz, std::size_t n, std::int16_t* out) {
  return vigil_board_accel_capture(rate_hz, n, out);
}
float BoardAccel::scale_g_per_count() const { return vigil_board_accel_scale_g(); }

bool BoardRadio::advertise(const std::uint8_t* ad, std::size_t len, std::uint32_t interval_ms,
                           std::uint32_t duration_ms) {
  return vigil_board_advertise(ad, len, interval_ms, duration_ms);
}

void BoardRadio::address(std::uint8_t out[6]) const {
  const std::uint32_t lo = reg(kFicr + 0x0A4), hi = reg(kFicr + 0x0A8) | 0xC000;  // random static
  out[0] = static_cast<std::uint8_t>(hi >> 8);
  out[1] = static_cast<std::uint8_t>(hi);
  for (int i = 0; i < 4; ++i) out[2 + i] = static_cast<std::uint8_t>(lo >> (24 - 8 * i));
}

bool BoardRadio::set_tx_power_dbm(std::int8_t dbm) { return vigil_board_set_tx_power(dbm); }

namespace {
// The bootloader and the record pages are never touched through this seam.
bool in_update_area(std::uint32_t addr, std::size_t len) {
  const FlashLayout& l = kNrf52FlashLayout;
  return addr >= l.slot_a && addr + len <= l.state + kFlashPageSize;
}
}  // namespace

bool NvmcFlash::read(std::uint32_t addr, std::uint8_t* out, std::size_t len) {
  memcpy(out, reinterpret_cast<const void*>(addr), len);
  return true;
}

bool NvmcFlash::erase_page(std::uint32_t addr) {
  if (addr % kFlashPageSize || !in_update_area(addr, kFlashPageSize)) return false;
  flash_erase(addr);
  return true;
}

bool NvmcFlash::write(std::uint32_t addr, const std::uint8_t* data, std::size_t len) {
  if (addr % 4 || len % 4 || !in_update_area(addr, len)) return false;
  for (std::size_t i = 0; i < len; i += 4) {
    std::uint32_t w;
    memcpy(&w, data + i, 4);
    flash_word(addr + static_cast<std::uint32_t>(i), w);
  }
  return true;
}

std::uint32_t FlashStorage::active_page() const {
  return reg(kPageB) == kPageMagic && reg(kPageA) != kPageMagic ? kPageB : kPageA;
}

std::uint32_t FlashStorage::end_of_log(std::uint32_t page) const {
  std::uint32_t at = page + 4;
  while (at < page + kPageSize) {
    const std::uint32_t h = reg(at);
    if (h == 0xFFFFFFFF || (h & 0xFF) != kHeaderTag) break;
    at += 4 * (2 + words_for((h >> 16) & 0xFF));
  }
  return at;
}

bool FlashStorage::read(Record r, std::uint8_t* buf, std::size_t len) {
  const std::uint32_t page = active_page();
  if (reg(page) != kPageMagic) return false;
  bool found = false;
  for (std::uint32_t at = page + 4; at < page + kPageSize;) {
    const std::uint32_t h = reg(at);
    if (h == 0xFFFFFFFF || (h & 0xFF) != kHeaderTag) break;
    const std::uint32_t n = (h >> 16) & 0xFF, w = words_for(n);
    if (at + 4 * (2 + w) > page + kPageSize) break;
    if (((h >> 8) & 0xFF) == static_cast<std::uint32_t>(r) && n == len && reg(at + 4 + 4 * w) == kCommit) {
      memcpy(buf, reinterpret_cast<const void*>(at + 4), len);
      found = true;  // keep scanning: the last committed entry wins
    }
    at += 4 * (2 + w);
  }
  return found;
}

bool FlashStorage::append(std::uint32_t page, std::uint32_t at, Record r, const std::uint8_t* buf, std::size_t len) {
  const std::uint32_t w = words_for(len);
  if (at + 4 * (2 + w) > page + kPageSize) return false;
  flash_word(at, kHeaderTag | static_cast<std::uint32_t>(r) << 8 | static_cast<std::uint32_t>(len) << 16);
  for (std::uint32_t i = 0; i < w; ++i) {
    std::uint32_t v = 0xFFFFFFFF;
    memcpy(&v, buf + 4 * i, len - 4 * i < 4 ? len - 4 * i : 4);
    flash_word(at + 4 + 4 * i, v);
  }
  flash_word(at + 4 + 4 * w, kCommit);
  return true;
}

bool FlashStorage::compact(Record r, const std::uint8_t* buf, std::size_t len) {
  const std::uint32_t from = active_page(), to = from == kPageA ? kPageB : kPageA;
  flash_erase(to);
  std::uint32_t at = to + 4;
  static const Record kRecords[] = {Record::kKey, Record::kCounterReserved, Record::kConfig};
  static const std::size_t kSizes[] = {16, 4, 32};  // record sizes in use
  for (Record other : kRecords) {
    if (other == r) continue;
    std::uint8_t tmp[64];
    for (std::size_t n : kSizes) {
      if (read(other, tmp, n)) {
        if (!append(to, at, other, tmp, n)) return false;
        at = end_of_log(to);
        break;
      }
    }
  }
  if (!append(to, at, r, buf, len)) return false;
  flash_word(to, kPageMagic);  // the new page becomes valid only now
  flash_erase(from);
  return true;
}

bool FlashStorage::write(Record r, const std::uint8_t* buf, std::size_t len) {
  if (len > 64) return false;
  std::uint32_t page = active_page();
  if (reg(page) != kPageMagic) {  // first use
    flash_erase(page);
    flash_word(page, kPageMagic);
  }
  if (append(page, end_of_log(page), r, buf, len)) return true;
  return compact(r, buf, len);
}

}  // namespace vigil_fw::nrf52
