// SPDX-License-Identifier: Apache-2.0
//
// Little-endian integers in frame bytes (BLE adverts, waveform transfers).
// REQUIRES: p points at 2 (le16) or 4 (le32) readable bytes. Pure.
#pragma once

#include <cstdint>

namespace vigil::protocol::detail {

inline std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
inline std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

}  // namespace vigil::protocol::detail
