// SPDX-License-Identifier: Apache-2.0
//
// On-disk encoding of a chunk of time-series points (table `chunks`).
//
// Format v2 (written; in the class of Gorilla, lossless): u8 version=2,
// varint count, u8 value mode (low nibble: 0 = XOR, 1 = k*10^-e, 2 = k/10^e, 3 = k/10^e + ulps;
// high nibble e), zig-zag varint first timestamp, u8 timestamp mode (0 =
// delta-of-delta, 1 = offsets from a regular grid, then its zig-zag varint
// interval; 2 = timestamp frame, then the zig-zag varint interval and the
// varint spread r < 2^48), then one bit stream: the timestamps — modes 0
// and 1: those after the first as a zig-zag Rice stream (6-bit parameter,
// escapes for outliers); mode 2: every point's offset o_k in [0, r] in
// truncated binary, t_k = t_0 - o_0 + k * interval + o_k — then the
// values — XOR against the previous value with leading/trailing-zero
// windows, or, for values quantised at a sensor's resolution (every value
// is k * 10^-e or k / 10^e exactly, or within 2^16 ulps of k / 10^e with
// the ulps kept as a second stream: mode 3), k's first value and steps as
// a Rice stream (the first value in 7 bits of length and its bits). The encoder picks the smaller codings per chunk.
// Format v1 (still read): u8 version=1, varint count, zig-zag varint
// timestamp deltas, then little-endian doubles (~11 bytes a point).
// decode_chunk() treats the blob as untrusted (a damaged file) and rejects
// anything malformed with kCorruption; it never allocates more points than
// the blob's bits can hold (every point after the first costs at least a
// bit: its value).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::store_detail {

// LEB128 varints, shared by the chunk and waveform codecs. get_varint
// advances i; false when the bytes end first or the value exceeds 64 bits.
void put_varint(std::vector<std::uint8_t>& b, std::uint64_t v);
bool get_varint(std::span<const std::uint8_t> b, std::size_t& i, std::uint64_t& v);

std::vector<std::uint8_t> encode_chunk(std::span<const Point> points);

// Hourly aggregates of one series for one UTC day (table `rollup_daily`): one
// row per series and day instead of per hour keeps the checkpoint's roll-up
// writes 24× fewer. Format v2 (written): u8 2, u24 mask of the hours present,
// the counts as a Rice stream, then min, max and sum as three value streams
// of chunk v2's coding (each byte-aligned, lossless; sums at the finer scale
// of min and max with ulp corrections). Bit 3 (0x08) of the min stream's
// mode byte set (written now): the counts after the first are the steps
// between hours. Format v1 (read): u8 1, then per hour
// u8 hour, varint count, f64 min, f64 max, f64 sum.
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

// Where a v2 chunk's bytes go (for the storage benchmark's breakdown):
// header bytes (version, count, modes, first timestamp, interval), the
// bits of the timestamp and value streams, and the padding to a byte.
// InvalidArgument for a v1 chunk; kCorruption as decode_chunk.
struct ChunkComposition {
  std::size_t points = 0, header_bytes = 0, timestamp_bits = 0, value_bits = 0, padding_bits = 0;
  int ts_mode = 0, value_mode = 0, value_exponent = 0;
};
Status describe_chunk(std::span<const std::uint8_t> blob, ChunkComposition& out);

}  // namespace vigil::store_detail
