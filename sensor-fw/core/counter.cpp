// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/counter.h"

namespace vigil_fw {
namespace {
constexpr std::uint32_t kMax = 0xFFFFFFFFu;  // never used: marks exhaustion

void put32(std::uint8_t* b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get32(const std::uint8_t* b) {
  return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
         static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
}
}  // namespace

bool FrameCounter::reserve_from(std::uint32_t from) {
  const std::uint32_t upto = from > kMax - block_ ? kMax : from + block_;
  std::uint8_t b[4];
  put32(b, upto);
  if (!storage_.write(Record::kCounterReserved, b, sizeof b)) return false;
  reserved_ = upto;
  return true;
}

bool FrameCounter::init() {
  std::uint8_t b[4];
  const std::uint32_t start = storage_.read(Record::kCounterReserved, b, sizeof b) ? get32(b) : 0;
  next_ = start;
  ready_ = reserve_from(start);
  return ready_;
}

bool FrameCounter::next(std::uint32_t* out) {
  if (!ready_ || next_ == kMax) return false;
  if (next_ >= reserved_ && !reserve_from(next_)) return false;
  if (next_ >= reserved_) return false;  // exhausted (reserved_ stuck at kMax)
  *out = next_++;
  return true;
}

bool FrameCounter::reset_for_new_key() {
  next_ = 0;
  ready_ = reserve_from(0);
  return ready_;
}

}  // namespace vigil_fw
