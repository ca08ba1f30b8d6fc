// SPDX-License-Identifier: Apache-2.0
//
// Spectrum bins as stored in SQLite blobs (spectra, baseline_spectra):
// IEEE-754 float32, little-endian, 4 bytes per bin, whatever the host's byte
// order. One codec for the pipeline that writes display spectra and the
// spectra module that reads them and writes baselines. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vigil::analytics::detail {

inline std::vector<std::uint8_t> to_blob(std::span<const float> bins) {
  std::vector<std::uint8_t> b(bins.size() * 4);
  for (std::size_t i = 0; i < bins.size(); ++i) {
    std::uint32_t u;
    std::memcpy(&u, &bins[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u >> (8 * k));
  }
  return b;
}

// A trailing partial bin (a blob whose size is not a multiple of 4) is ignored.
inline std::vector<float> from_blob(std::span<const std::uint8_t> b) {
  std::vector<float> out(b.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u = 0;
    for (int k = 0; k < 4; ++k) u |= static_cast<std::uint32_t>(b[i * 4 + static_cast<std::size_t>(k)]) << (8 * k);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

}  // namespace vigil::analytics::detail
