// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "store/chunk_codec.h"

using namespace vigil;
using store_detail::decode_chunk;
using store_detail::decode_rollup_day;
using store_detail::encode_chunk;
using store_detail::encode_rollup_day;
using store_detail::HourAggregate;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000LL;

bool bit_equal(double a, double b) { return std::memcmp(&a, &b, 8) == 0; }

void require_round_trip(const std::vector<Point>& pts) {
  auto blob = encode_chunk(pts);
  std::vector<Point> back;
  REQUIRE(decode_chunk(blob, back).ok());
  REQUIRE(back.size() == pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    REQUIRE(back[i].ts == pts[i].ts);
    REQUIRE(bit_equal(back[i].value, pts[i].value));
  }
}

// A temperature sensor's 10-minute series at 0.01 °C resolution, with the
// reception jitter of BLE (a few hundred ms).
std::vector<Point> quantised_series(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> walk(0, 3);
  std::uniform_int_distribution<int> jitter(-300, 300);
  std::vector<Point> v;
  long k = 4210;
  for (int i = 0; i < n; ++i) {
    k += static_cast<long>(std::lround(walk(rng)));
    v.push_back({kT0 + i * 600'000LL + jitter(rng), static_cast<double>(k) * 0.01});
  }
  return v;
}
}  // namespace

TEST_CASE("a chunk of sensor-resolution values costs under two bytes a point and decodes bit for bit") {
  auto pts = quantised_series(256, 7);
  require_round_trip(pts);
  const double per_point = static_cast<double>(encode_chunk(pts).size()) / 256.0;
  INFO("bytes per point " << per_point);
  REQUIRE(per_point < 2.0);
}

TEST_CASE("values made by division (k / 100) are recognised as quantised too") {
  std::vector<Point> pts;
  for (int i = 0; i < 200; ++i) pts.push_back({kT0 + i * 1000LL, static_cast<double>(2000 + i % 7) / 100.0});
  require_round_trip(pts);
  REQUIRE(encode_chunk(pts).size() < 200 * 2);
}

TEST_CASE("arbitrary doubles, NaN, infinities and negative zero survive the XOR coding") {
  std::mt19937_64 rng(11);
  std::vector<Point> pts;
  for (int i = 0; i < 256; ++i) {
    double v;
    std::uint64_t bits = rng();
    std::memcpy(&v, &bits, 8);
    pts.push_back({kT0 + i, v});
  }
  pts[3].value = std::numeric_limits<double>::quiet_NaN();
  pts[4].value = std::numeric_limits<double>::infinity();
  pts[5].value = -std::numeric_limits<double>::infinity();
  pts[6].value = -0.0;
  pts[7].value = 0.0;
  pts[8].value = 0.0;
  require_round_trip(pts);
}

TEST_CASE("extreme and irregular timestamps round-trip (wrapping deltas)") {
  std::vector<Point> pts = {{std::numeric_limits<TimestampMs>::min(), 1},
                            {std::numeric_limits<TimestampMs>::max(), 2},
                            {0, 3},
                            {1, 4},
                            {1, 5},
                            {-5'000'000'000LL, 6},
                            {kT0, 7}};
  require_round_trip(pts);
  require_round_trip({});
  require_round_trip({{kT0, 42.5}});
}

TEST_CASE("chunks written by the previous format (v1) still decode") {
  // v1: version 1, count 2, zig-zag varint deltas, then little-endian doubles.
  std::vector<std::uint8_t> v1 = {1, 2, 4, 2};  // ts 2, then +1 → 3
  for (double d : {1.5, -2.25}) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int k = 0; k < 8; ++k) v1.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
  }
  std::vector<Point> out;
  REQUIRE(decode_chunk(v1, out).ok());
  REQUIRE(out.size() == 2);
  CHECK(out[0].ts == 2);
  CHECK(out[1].ts == 3);
  CHECK(out[0].value == 1.5);
  CHECK(out[1].value == -2.25);
}

TEST_CASE("a truncated or damaged chunk is rejected, never read past its end") {
  auto blob = encode_chunk(quantised_series(100, 3));
  std::vector<Point> out;
  for (std::size_t cut = 0; cut < blob.size(); ++cut) {
    std::vector<std::uint8_t> part(blob.begin(), blob.begin() + static_cast<long>(cut));
    out.clear();
    REQUIRE_FALSE(decode_chunk(part, out).ok());
    REQUIRE(out.empty());
  }
  // A count far beyond what the bytes can hold is refused before allocating.
  std::vector<std::uint8_t> huge = {2, 0xff, 0xff, 0x3f, 0x00, 0x00};
  REQUIRE(decode_chunk(huge, out).code() == Status::Code::kCorruption);
  std::vector<std::uint8_t> bad_mode = {2, 1, 0x0f, 0};
  REQUIRE(decode_chunk(bad_mode, out).code() == Status::Code::kCorruption);
}

TEST_CASE("jittered timestamps cost about log2 of the jitter's spread, not a Rice code's extra bit") {
  // ±400 ms of uniform reception jitter: log2(801) = 9.65 bits of
  // information a point; the grid-offset Rice code took ~10.4.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> jitter(-400, 400);
  std::vector<Point> pts;
  for (int i = 0; i < 200; ++i) pts.push_back({kT0 + i * 600'000LL + jitter(rng), 1.0});
  require_round_trip(pts);
  store_detail::ChunkComposition c;
  REQUIRE(store_detail::describe_chunk(encode_chunk(pts), c).ok());
  CHECK(c.ts_mode == 2);
  CHECK(c.points == 200);
  const double ts_bits = static_cast<double>(c.timestamp_bits) / 200.0;
  INFO("timestamp bits a point " << ts_bits);
  CHECK(ts_bits < 10.0);
}

TEST_CASE("a perfectly regular chunk spends no bits on its timestamps and a long one still decodes") {
  // 1,000 points of one value: the frame's spread is 0, each point costs
  // its value's single bit, under the old "two bits a point" count bound.
  std::vector<Point> pts;
  for (int i = 0; i < 1000; ++i) pts.push_back({kT0 + i * 1000LL, 21.5});
  require_round_trip(pts);
  store_detail::ChunkComposition c;
  REQUIRE(store_detail::describe_chunk(encode_chunk(pts), c).ok());
  CHECK(c.ts_mode == 2);
  CHECK(c.timestamp_bits == 0);
}

TEST_CASE("timestamps the frame cannot take (unsorted, huge steps) fall back to the other codings") {
  std::vector<Point> pts = {{kT0, 1}, {kT0 - 5, 2}, {kT0 + 7, 3}, {kT0 + 2, 4}};
  require_round_trip(pts);
  pts = {{0, 1}, {std::int64_t{1} << 50, 2}, {(std::int64_t{1} << 50) + 1, 3}};
  require_round_trip(pts);
  pts = {{std::numeric_limits<std::int64_t>::min(), 1}, {0, 2}, {std::numeric_limits<std::int64_t>::max(), 3}};
  require_round_trip(pts);
}

TEST_CASE("chunks and roll-ups written before the timestamp frame still decode") {
  // Encoded by the previous encoder: 8 jittered 10-minute points (grid
  // timestamps, mode 1) of 20 + 0.25 i.
  const std::vector<std::uint8_t> grid = {0x02, 0x08, 0x21, 0xf0, 0xa1, 0xab, 0xfe, 0xf9, 0x62, 0x01, 0xa4,
                                          0x9f, 0x49, 0x20, 0x57, 0x77, 0x0c, 0xd8, 0x5e, 0x9f, 0x82, 0x6d,
                                          0xf0, 0x40, 0xa3, 0x3e, 0x82, 0x95, 0x2a, 0x54, 0xa9, 0x52, 0xa4};
  const int jit[] = {120, -340, 15, 399, -400, 77, -12, 250};
  std::vector<Point> out;
  REQUIRE(decode_chunk(grid, out).ok());
  REQUIRE(out.size() == 8);
  for (int i = 0; i < 8; ++i) {
    CHECK(out[i].ts == kT0 + i * 600'000LL + jit[i]);
    CHECK(bit_equal(out[i].value, 20.0 + i * 0.25));
  }
  // A roll-up with its counts as they are (6, 6, 4), not as steps.
  const std::vector<std::uint8_t> rollup = {0x02, 0x23, 0x00, 0x00, 0x0c, 0x26, 0x52, 0x00, 0x11, 0x08,
                                            0x4e, 0x1b, 0x39, 0x21, 0x1c, 0x6c, 0x26, 0xaf, 0x2c, 0x60,
                                            0x23, 0x2c, 0x7e, 0x07, 0xc4, 0x4b, 0xf0, 0xcf, 0x00, 0x00};
  std::vector<HourAggregate> hours;
  REQUIRE(decode_rollup_day(rollup, hours).ok());
  REQUIRE(hours.size() == 3);
  CHECK(hours[0].count == 6);
  CHECK(hours[1].count == 6);
  CHECK(hours[2].count == 4);
  CHECK(hours[2].hour == 5);
  CHECK(hours[0].max == 21.25);
  CHECK(hours[2].sum == 76.0);
}

TEST_CASE("a damaged timestamp frame is rejected") {
  std::vector<Point> pts;
  for (int i = 0; i < 50; ++i) pts.push_back({kT0 + i * 600'000LL + (i * 37) % 500, 1.0 + i});
  auto blob = encode_chunk(pts);
  store_detail::ChunkComposition c;
  REQUIRE(store_detail::describe_chunk(blob, c).ok());
  REQUIRE(c.ts_mode == 2);
  std::vector<Point> out;
  // Header: version, count (1 byte), value mode, first timestamp (varint), timestamp mode.
  std::size_t at = 3;
  while (blob[at] & 0x80) ++at;
  ++at;
  REQUIRE(blob[at] == 2);
  auto bad = blob;
  bad[at] = 3;  // an unknown timestamp mode
  CHECK(decode_chunk(bad, out).code() == Status::Code::kCorruption);
  CHECK(out.empty());
  // A frame spread of 2^48 or more (varint range 0xff.. 0x7f) is refused.
  bad = blob;
  std::size_t r = at + 1;
  while (bad[r] & 0x80) ++r;  // past the interval
  bad.erase(bad.begin() + static_cast<long>(r) + 1, bad.begin() + static_cast<long>(r) + 1 + [&] {
    std::size_t k = r + 1;
    while (bad[k] & 0x80) ++k;
    return static_cast<long>(k - r);
  }());
  const std::vector<std::uint8_t> big = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  bad.insert(bad.begin() + static_cast<long>(r) + 1, big.begin(), big.end());
  CHECK(decode_chunk(bad, out).code() == Status::Code::kCorruption);
  CHECK(out.empty());
}

TEST_CASE("roll-up counts are stored as steps and come back as they were") {
  std::vector<HourAggregate> hours = {{0, 6, 1, 2, 9}, {1, 6, 1, 2, 9}, {2, 5, 1, 2, 8}, {7, 600, 1, 2, 900}, {8, 1, 1, 1, 1}};
  std::vector<HourAggregate> back;
  REQUIRE(decode_rollup_day(encode_rollup_day(hours), back).ok());
  REQUIRE(back.size() == hours.size());
  for (std::size_t i = 0; i < hours.size(); ++i) {
    CHECK(back[i].hour == hours[i].hour);
    CHECK(back[i].count == hours[i].count);
  }
}

TEST_CASE("a day of hourly roll-ups of quantised values is compact and exact") {
  std::vector<HourAggregate> hours;
  for (int h = 0; h < 24; ++h) {
    const double lo = (2100 + h * 3) * 0.01, hi = (2150 + h * 2) * 0.01;
    double sum = 0;
    for (int k = 0; k < 6; ++k) sum += (2100 + h * 3 + k * 8) * 0.01;
    hours.push_back({h, 6, lo, hi, sum});
  }
  auto blob = encode_rollup_day(hours);
  INFO("roll-up bytes " << blob.size());
  REQUIRE(blob.size() < 24 * 8);
  std::vector<HourAggregate> back;
  REQUIRE(decode_rollup_day(blob, back).ok());
  REQUIRE(back.size() == 24);
  for (int h = 0; h < 24; ++h) {
    CHECK(back[h].hour == h);
    CHECK(back[h].count == 6);
    CHECK(bit_equal(back[h].min, hours[h].min));
    CHECK(bit_equal(back[h].max, hours[h].max));
    CHECK(back[h].sum == Approx(hours[h].sum).epsilon(1e-14));
  }
}

TEST_CASE("roll-ups with gaps and unquantised values keep every hour and value") {
  std::vector<HourAggregate> hours = {{0, 1, 0.1 + 0.2, 0.1 + 0.2, 0.1 + 0.2},
                                      {5, 3, -1e300, 1e300, std::nan("")},
                                      {23, 2, 1.0 / 3.0, 2.0 / 3.0, 1.0}};
  std::vector<HourAggregate> back;
  REQUIRE(decode_rollup_day(encode_rollup_day(hours), back).ok());
  REQUIRE(back.size() == 3);
  CHECK(back[1].hour == 5);
  CHECK(back[2].hour == 23);
  CHECK(bit_equal(back[0].sum, hours[0].sum));
  CHECK(bit_equal(back[1].min, -1e300));
  CHECK(std::isnan(back[1].sum));
  CHECK(bit_equal(back[2].min, 1.0 / 3.0));
  std::vector<std::uint8_t> truncated = encode_rollup_day(hours);
  truncated.pop_back();
  REQUIRE_FALSE(decode_rollup_day(truncated, back).ok());
}

// ---- waveforms (store/waveform_codec.h) ----
#include "store/waveform_codec.h"

TEST_CASE("a vibration snapshot compresses losslessly to well under plain int16") {
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 40);
  std::vector<std::int16_t> x;
  for (int i = 0; i < 8192; ++i)
    x.push_back(static_cast<std::int16_t>(std::lround(300 * std::sin(i * 0.077) + noise(rng))));
  auto blob = store_detail::encode_waveform(x, 1);
  INFO("bytes " << blob.size() << " of " << x.size() * 2);
  REQUIRE(blob.size() < x.size() * 2 * 6 / 10);
  std::vector<std::int16_t> back;
  REQUIRE(store_detail::decode_waveform(blob, x.size(), back).ok());
  REQUIRE(back == x);
}

TEST_CASE("full-scale, three-axis and odd-length waveforms round-trip; damage is rejected") {
  std::vector<std::int16_t> x;
  for (int i = 0; i < 3 * 1001; ++i) x.push_back(static_cast<std::int16_t>(i % 2 ? 32767 : -32768));
  auto blob = store_detail::encode_waveform(x, 3);
  std::vector<std::int16_t> back;
  REQUIRE(store_detail::decode_waveform(blob, x.size(), back).ok());
  REQUIRE(back == x);
  REQUIRE_FALSE(store_detail::decode_waveform(blob, x.size() + 3, back).ok());  // the row says otherwise
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, blob.size() / 2, blob.size() - 1}) {
    std::vector<std::uint8_t> part(blob.begin(), blob.begin() + static_cast<long>(cut));
    REQUIRE_FALSE(store_detail::decode_waveform(part, x.size(), back).ok());
    REQUIRE(back.empty());
  }
  std::vector<std::int16_t> empty;
  REQUIRE(store_detail::decode_waveform(store_detail::encode_waveform(empty, 1), 0, back).ok());
}
