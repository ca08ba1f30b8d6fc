// SPDX-License-Identifier: Apache-2.0
//
// On-disk encoding of a chunk of time-series points (table `chunks`).
//
// Format v1: u8 version=1, varint count, then count zig-zag varint timestamp
// deltas (the first against 0), then count little-endian IEEE-754 doubles.
// 10-minute data costs ~11 bytes a point. decode_chunk() treats the blob as
// untrusted (a damaged file) and rejects anything malformed with kCorruption.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::store_detail {

std::vector<std::uint8_t> encode_chunk(std::span<const Point> points);
// Appends the decoded points to `out`.
Status decode_chunk(std::span<const std::uint8_t> blob, std::vector<Point>& out);

}  // namespace vigil::store_detail
