// SPDX-License-Identifier: Apache-2.0
//
// Lossless compression of raw int16 waveform snapshots (table `waveforms`,
// codec = 1), in the manner of FLAC's fixed predictors: each block of 512
// samples of one axis is predicted by the best of the polynomial predictors
// of order 0–3 and its residuals are Rice-coded with the block's best
// parameter. Vibration snapshots of IMS test 2 shrink to about 53 % of
// plain int16 (tests/bench/storage_bench).
//
// Format: u8 version=1, varint samples per axis, u8 axes, then one bit
// stream of blocks, axis by axis: 2 bits order, 5 bits Rice parameter,
// the residuals (zig-zag; a quotient of 32 or more escapes to 32 ones and
// the value in 32 bits). decode_waveform() treats the blob as untrusted: a
// count or layout the bytes cannot hold is kCorruption, never a large
// allocation.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vigil/status.h"

namespace vigil::store_detail {

// samples laid out [axes][n]; samples.size() must be a multiple of axes.
std::vector<std::uint8_t> encode_waveform(std::span<const std::int16_t> samples, int axes);
// expected_samples: the total the row says it holds (bounds the decode).
Status decode_waveform(std::span<const std::uint8_t> blob, std::size_t expected_samples,
                       std::vector<std::int16_t>& out);

}  // namespace vigil::store_detail
