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

// Hourly aggregates of one series for one UTC day (table `rollup_daily`): one
// row per series and day instead of per hour keeps the checkpoint's roll-up
// writes 24× fewer. Format v1: u8 version=1, then for each hour present, in
// ascending order: u8 hour (0–23), varint count, f64 min, f64 max, f64 sum.
struct HourAggregate {
  int hour = 0;
  std::int64_t count = 0;
  double min = 0, max = 0, sum = 0;
};
std::vector<std::uint8_t> encode_rollup_day(std::span<const HourAggregate> hours);
Status decode_rollup_day(std::span<const std::uint8_t> blob, std::vector<HourAggregate>& out);
// Merges `add` into `into` (both ascending by hour, unique hours).
void merge_rollup_day(std::vector<HourAggregate>& into, std::span<const HourAggregate> add);
// Appends the decoded points to `out`.
Status decode_chunk(std::span<const std::uint8_t> blob, std::vector<Point>& out);

}  // namespace vigil::store_detail
