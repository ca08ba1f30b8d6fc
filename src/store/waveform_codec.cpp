// SPDX-License-Identifier: Apache-2.0
#include "store/waveform_codec.h"

#include "store/chunk_codec.h"

#include <array>
#include <limits>

namespace vigil::store_detail {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::uint32_t kEscape = 32;
constexpr std::size_t kMaxSamples = 1u << 24;  // 16 M samples (32 MB raw) per snapshot

class Bits {
 public:
  explicit Bits(std::vector<std::uint8_t>& b) : b_(b) {}
  void put(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      acc_ = static_cast<std::uint8_t>((acc_ << 1) | ((v >> i) & 1));
      if (++fill_ == 8) b_.push_back(acc_), acc_ = 0, fill_ = 0;
    }
  }
  void ones(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) put(1, 1);
  }
  void flush() {
    if (fill_) b_.push_back(static_cast<std::uint8_t>(acc_ << (8 - fill_)));
    acc_ = 0, fill_ = 0;
  }

 private:
  std::vector<std::uint8_t>& b_;
  std::uint8_t acc_ = 0;
  int fill_ = 0;
};

class BitsIn {
 public:
  BitsIn(std::span<const std::uint8_t> b, std::size_t byte) : b_(b), pos_(byte * 8) {}
  bool get(int n, std::uint64_t& v) {
    if (pos_ + static_cast<std::size_t>(n) > b_.size() * 8) return false;
    v = 0;
    for (int i = 0; i < n; ++i, ++pos_) v = (v << 1) | ((b_[pos_ / 8] >> (7 - pos_ % 8)) & 1);
    return true;
  }
  std::size_t byte_end() const { return (pos_ + 7) / 8; }

 private:
  std::span<const std::uint8_t> b_;
  std::size_t pos_;
};

std::int32_t predict(const std::int16_t* x, std::size_t i, int order) {
  // Near the block's start the history is shorter: fall back to lower orders.
  const int o = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(order), i));
  switch (o) {
    case 0: return 0;
    case 1: return x[i - 1];
    case 2: return 2 * x[i - 1] - x[i - 2];
    default: return 3 * x[i - 1] - 3 * x[i - 2] + x[i - 3];
  }
}
std::uint32_t zz(std::int32_t e) { return (static_cast<std::uint32_t>(e) << 1) ^ static_cast<std::uint32_t>(e >> 31); }
std::int32_t unzz(std::uint32_t z) { return static_cast<std::int32_t>(z >> 1) ^ -static_cast<std::int32_t>(z & 1); }
std::uint64_t cost(std::uint32_t z, int k) {
  const std::uint32_t q = z >> k;
  return q >= kEscape ? kEscape + 32 : q + 1 + static_cast<std::uint32_t>(k);
}


}  // namespace

std::vector<std::uint8_t> encode_waveform(std::span<const std::int16_t> samples, int axes) {
  std::vector<std::uint8_t> b;
  const std::size_t a = axes > 0 ? static_cast<std::size_t>(axes) : 1;
  const std::size_t n = samples.size() / a;
  b.reserve(samples.size() + 16);
  b.push_back(1);
  put_varint(b, n);
  b.push_back(static_cast<std::uint8_t>(a));
  Bits w(b);
  std::vector<std::uint32_t> z(kBlock);
  for (std::size_t ax = 0; ax < a; ++ax) {
    const std::int16_t* x = samples.data() + ax * n;
    for (std::size_t start = 0; start < n; start += kBlock) {
      const std::size_t len = std::min(kBlock, n - start);
      int best_order = 0, best_k = 0;
      std::uint64_t best = std::numeric_limits<std::uint64_t>::max();
      for (int order = 0; order < 4; ++order) {
        for (std::size_t i = 0; i < len; ++i) z[i] = zz(x[start + i] - predict(x + start, i, order));
        for (int k = 0; k < 32; ++k) {
          std::uint64_t c = 0;
          for (std::size_t i = 0; i < len; ++i) c += cost(z[i], k);
          if (c < best) best = c, best_order = order, best_k = k;
        }
      }
      w.put(static_cast<std::uint64_t>(best_order), 2);
      w.put(static_cast<std::uint64_t>(best_k), 5);
      for (std::size_t i = 0; i < len; ++i) {
        const std::uint32_t v = zz(x[start + i] - predict(x + start, i, best_order));
        const std::uint32_t q = v >> best_k;
        if (q >= kEscape) {
          w.ones(kEscape);
          w.put(v, 32);
        } else {
          w.ones(q);
          w.put(0, 1);
          if (best_k) w.put(v, best_k);
        }
      }
    }
  }
  w.flush();
  return b;
}

Status decode_waveform(std::span<const std::uint8_t> b, std::size_t expected, std::vector<std::int16_t>& out) {
  out.clear();
  std::size_t i = 1;
  std::uint64_t n;
  if (b.empty() || b[0] != 1) return Status::Corruption("waveform: unknown codec version");
  if (!get_varint(b, i, n) || i >= b.size()) return Status::Corruption("waveform: truncated header");
  const std::size_t a = b[i++];
  if (a == 0 || n > kMaxSamples || n * a != expected)
    return Status::Corruption("waveform: sample count does not match the row");
  // Every sample costs at least one bit.
  if (n * a > (b.size() - i) * 8) return Status::Corruption("waveform: truncated");
  out.resize(n * a);
  BitsIn r(b, i);
  for (std::size_t ax = 0; ax < a; ++ax) {
    std::int16_t* x = out.data() + ax * n;
    for (std::size_t start = 0; start < n; start += kBlock) {
      const std::size_t len = std::min<std::size_t>(kBlock, n - start);
      std::uint64_t order, k;
      if (!r.get(2, order) || !r.get(5, k)) return out.clear(), Status::Corruption("waveform: truncated");
      for (std::size_t s = 0; s < len; ++s) {
        std::uint32_t q = 0;
        std::uint64_t bit = 0;
        while (q < kEscape) {
          if (!r.get(1, bit)) return out.clear(), Status::Corruption("waveform: truncated");
          if (!bit) break;
          ++q;
        }
        std::uint64_t v;
        if (q == kEscape) {
          if (!r.get(32, v)) return out.clear(), Status::Corruption("waveform: truncated");
        } else {
          std::uint64_t low = 0;
          if (k && !r.get(static_cast<int>(k), low)) return out.clear(), Status::Corruption("waveform: truncated");
          v = (static_cast<std::uint64_t>(q) << k) | low;
          if (v > std::numeric_limits<std::uint32_t>::max()) return out.clear(), Status::Corruption("waveform: bad residual");
        }
        // In 64 bits: a damaged residual must not overflow on its way to the range check.
        const std::int64_t value = static_cast<std::int64_t>(predict(x + start, s, static_cast<int>(order))) +
                                   unzz(static_cast<std::uint32_t>(v));
        if (value < std::numeric_limits<std::int16_t>::min() || value > std::numeric_limits<std::int16_t>::max())
          return out.clear(), Status::Corruption("waveform: sample out of range");
        x[start + s] = static_cast<std::int16_t>(value);
      }
    }
  }
  if (r.byte_end() != b.size()) return out.clear(), Status::Corruption("waveform: length mismatch");
  return Status::Ok();
}

}  // namespace vigil::store_detail
