// SPDX-License-Identifier: Apache-2.0
#include "store/chunk_codec.h"

#include <algorithm>
#include <cstring>

namespace vigil::store_detail {
namespace {
constexpr std::uint8_t kVersion = 1;
constexpr std::uint64_t kMaxPoints = 1 << 20;

void put_varint(std::vector<std::uint8_t>& b, std::uint64_t v) {
  while (v >= 0x80) {
    b.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<std::uint8_t>(v));
}
bool get_varint(std::span<const std::uint8_t> b, std::size_t& i, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (i >= b.size()) return false;
    std::uint8_t c = b[i++];
    v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) return true;
  }
  return false;
}
std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
}  // namespace

std::vector<std::uint8_t> encode_chunk(std::span<const Point> points) {
  std::vector<std::uint8_t> b;
  b.reserve(4 + points.size() * 11);
  b.push_back(kVersion);
  put_varint(b, points.size());
  std::int64_t prev = 0;
  for (const auto& p : points) {
    // Wrapping subtraction: deltas of arbitrary int64 never overflow UB.
    auto d = static_cast<std::int64_t>(static_cast<std::uint64_t>(p.ts) - static_cast<std::uint64_t>(prev));
    put_varint(b, zigzag(d));
    prev = p.ts;
  }
  for (const auto& p : points) {
    std::uint64_t bits;
    std::memcpy(&bits, &p.value, 8);
    for (int k = 0; k < 8; ++k) b.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
  }
  return b;
}

Status decode_chunk(std::span<const std::uint8_t> b, std::vector<Point>& out) {
  if (b.empty() || b[0] != kVersion) return Status::Corruption("chunk: unknown version");
  std::size_t i = 1;
  std::uint64_t n;
  if (!get_varint(b, i, n) || n > kMaxPoints) return Status::Corruption("chunk: bad count");
  if (b.size() < i + n * 8) return Status::Corruption("chunk: truncated");
  std::size_t base = out.size();
  out.resize(base + n);
  std::int64_t prev = 0;
  for (std::uint64_t k = 0; k < n; ++k) {
    std::uint64_t z;
    if (!get_varint(b, i, z)) {
      out.resize(base);
      return Status::Corruption("chunk: truncated timestamps");
    }
    prev = static_cast<std::int64_t>(static_cast<std::uint64_t>(prev) +
                                     static_cast<std::uint64_t>(unzigzag(z)));
    out[base + k].ts = prev;
  }
  if (b.size() != i + n * 8) {
    out.resize(base);
    return Status::Corruption("chunk: length mismatch");
  }
  for (std::uint64_t k = 0; k < n; ++k) {
    std::uint64_t bits = 0;
    for (int j = 0; j < 8; ++j) bits |= static_cast<std::uint64_t>(b[i + k * 8 + j]) << (8 * j);
    std::memcpy(&out[base + k].value, &bits, 8);
  }
  return Status::Ok();
}

namespace {
void put_f64(std::vector<std::uint8_t>& b, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int k = 0; k < 8; ++k) b.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
}
double get_f64(std::span<const std::uint8_t> b, std::size_t i) {
  std::uint64_t bits = 0;
  for (int j = 0; j < 8; ++j) bits |= static_cast<std::uint64_t>(b[i + static_cast<std::size_t>(j)]) << (8 * j);
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}
}  // namespace

std::vector<std::uint8_t> encode_rollup_day(std::span<const HourAggregate> hours) {
  std::vector<std::uint8_t> b;
  b.reserve(1 + hours.size() * 28);
  b.push_back(kVersion);
  for (const auto& h : hours) {
    b.push_back(static_cast<std::uint8_t>(h.hour));
    put_varint(b, static_cast<std::uint64_t>(h.count));
    put_f64(b, h.min);
    put_f64(b, h.max);
    put_f64(b, h.sum);
  }
  return b;
}

Status decode_rollup_day(std::span<const std::uint8_t> b, std::vector<HourAggregate>& out) {
  out.clear();
  if (b.empty() || b[0] != kVersion) return Status::Corruption("roll-up: unknown version");
  std::size_t i = 1;
  int last = -1;
  while (i < b.size()) {
    HourAggregate h;
    h.hour = b[i++];
    std::uint64_t n;
    if (h.hour <= last || h.hour > 23 || !get_varint(b, i, n) || b.size() < i + 24) {
      out.clear();
      return Status::Corruption("roll-up: malformed hour entry");
    }
    h.count = static_cast<std::int64_t>(n);
    h.min = get_f64(b, i);
    h.max = get_f64(b, i + 8);
    h.sum = get_f64(b, i + 16);
    i += 24;
    last = h.hour;
    out.push_back(h);
  }
  return Status::Ok();
}

void merge_rollup_day(std::vector<HourAggregate>& into, std::span<const HourAggregate> add) {
  std::vector<HourAggregate> out;
  out.reserve(into.size() + add.size());
  std::size_t i = 0, j = 0;
  while (i < into.size() || j < add.size()) {
    if (j >= add.size() || (i < into.size() && into[i].hour < add[j].hour)) {
      out.push_back(into[i++]);
    } else if (i >= into.size() || add[j].hour < into[i].hour) {
      out.push_back(add[j++]);
    } else {
      HourAggregate m = into[i++];
      const auto& a = add[j++];
      m.count += a.count;
      m.min = std::min(m.min, a.min);
      m.max = std::max(m.max, a.max);
      m.sum += a.sum;
      out.push_back(m);
    }
  }
  into = std::move(out);
}

}  // namespace vigil::store_detail
