// SPDX-License-Identifier: Apache-2.0
#include "store/chunk_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace vigil::store_detail {
namespace {
constexpr std::uint8_t kVersion = 1;
constexpr std::uint64_t kMaxPoints = 1 << 20;

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
}  // namespace

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

// ---- format v2: delta-of-delta timestamps, per-chunk value coding ----
namespace {

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& b) : b_(b) {}
  void put(std::uint64_t v, int bits) {  // the low `bits` of v, most significant first
    for (int i = bits - 1; i >= 0; --i) {
      acc_ = static_cast<std::uint8_t>((acc_ << 1) | ((v >> i) & 1));
      if (++n_ == 8) {
        b_.push_back(acc_);
        acc_ = 0;
        n_ = 0;
      }
    }
  }
  void flush() {
    if (n_ > 0) b_.push_back(static_cast<std::uint8_t>(acc_ << (8 - n_)));
    acc_ = 0;
    n_ = 0;
  }

 private:
  std::vector<std::uint8_t>& b_;
  std::uint8_t acc_ = 0;
  int n_ = 0;
};

class BitReader {
 public:
  BitReader(std::span<const std::uint8_t> b, std::size_t byte) : b_(b), pos_(byte * 8) {}
  bool get(int bits, std::uint64_t& v) {
    if (bits < 0 || bits > 64 || pos_ + static_cast<std::size_t>(bits) > b_.size() * 8) return false;
    v = 0;
    for (int i = 0; i < bits; ++i, ++pos_) v = (v << 1) | ((b_[pos_ / 8] >> (7 - pos_ % 8)) & 1);
    return true;
  }
  std::size_t byte_end() const { return (pos_ + 7) / 8; }
  std::size_t bit_pos() const { return pos_; }

 private:
  std::span<const std::uint8_t> b_;
  std::size_t pos_;
};

// Signed integers as zig-zag Rice codes with a parameter k chosen per
// stream: unary(z >> k) then the low k bits. A quotient of 32 or more is an
// escape: 32 ones, then z in 64 bits (an outlier costs 12 bytes, never a
// run of thousands of ones). Reception jitter of a few hundred ms costs
// about 11 bits a timestamp; a regular series 1 bit.
constexpr std::uint64_t kRiceEscape = 32;

std::uint64_t zz(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzz(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }

std::uint64_t rice_bits(std::uint64_t z, int k) {
  const std::uint64_t q = z >> k;
  return q >= kRiceEscape ? kRiceEscape + 64 : q + 1 + static_cast<std::uint64_t>(k);
}
// The k that codes these values in the fewest bits. The optimum sits next
// to log2 of the mean (a geometric-like spread), so only the neighbours of
// that estimate are costed: three passes instead of 63 at every checkpoint.
int best_rice_k(std::span<const std::uint64_t> z) {
  if (z.empty()) return 0;
  long double sum = 0;
  for (auto v : z) sum += static_cast<long double>(v);
  const long double mean = sum / static_cast<long double>(z.size());
  int est = 0;
  while (est < 62 && static_cast<long double>(std::uint64_t{1} << (est + 1)) <= mean + 1) ++est;
  int best = 0;
  std::uint64_t best_bits = ~std::uint64_t{0};
  for (int k = std::max(0, est - 2); k <= std::min(62, est + 1); ++k) {
    std::uint64_t bits = 0;
    for (auto v : z) bits += rice_bits(v, k);
    if (bits < best_bits) best_bits = bits, best = k;
  }
  return best;
}
void put_rice(BitWriter& w, std::uint64_t z, int k) {
  const std::uint64_t q = z >> k;
  if (q >= kRiceEscape) {
    w.put(~std::uint64_t{0}, static_cast<int>(kRiceEscape));
    w.put(z, 64);
    return;
  }
  w.put(~std::uint64_t{0}, static_cast<int>(q));  // q ones (q < 32)
  w.put(0, 1);
  if (k > 0) w.put(z, k);
}
bool get_rice(BitReader& r, int k, std::uint64_t& z) {
  std::uint64_t q = 0, bit = 0;
  while (q < kRiceEscape) {
    if (!r.get(1, bit)) return false;
    if (bit == 0) break;
    ++q;
  }
  if (q == kRiceEscape) return r.get(64, z);
  std::uint64_t low = 0;
  if (k > 0 && !r.get(k, low)) return false;
  z = (q << k) | low;
  return true;
}
// A stream of signed integers: 6 bits of k; the first value as 7 bits of
// length and that many bits (it is a level, not a step, so it rarely suits
// k); the rest as Rice codes.
void put_int_stream(BitWriter& w, std::span<const std::int64_t> v) {
  std::vector<std::uint64_t> z;
  z.reserve(v.size());
  for (auto x : v) z.push_back(zz(x));
  const int k = z.size() > 1 ? best_rice_k(std::span<const std::uint64_t>(z).subspan(1)) : 0;
  w.put(static_cast<std::uint64_t>(k), 6);
  if (z.empty()) return;
  const int len = z[0] == 0 ? 0 : 64 - __builtin_clzll(z[0]);
  w.put(static_cast<std::uint64_t>(len), 7);
  w.put(z[0], len);
  for (std::size_t i = 1; i < z.size(); ++i) put_rice(w, z[i], k);
}
bool get_int_stream(BitReader& r, std::size_t n, std::vector<std::int64_t>& out) {
  std::uint64_t k;
  if (!r.get(6, k) || k > 62) return false;
  if (n == 0) return true;
  std::uint64_t len, first = 0;
  if (!r.get(7, len) || len > 64 || !r.get(static_cast<int>(len), first)) return false;
  out.push_back(unzz(first));
  for (std::size_t i = 1; i < n; ++i) {
    std::uint64_t z;
    if (!get_rice(r, static_cast<int>(k), z)) return false;
    out.push_back(unzz(z));
  }
  return true;
}

// Values in [0, r] (r < 2^kMaxFrameBits) in truncated binary: with m = r + 1
// symbols and b = floor(log2 m), the first 2^(b+1) - m values take b bits,
// the rest b + 1 — log2(m) bits on average, the least a uniform spread
// (reception jitter) can cost.
constexpr int kMaxFrameBits = 48;
int floor_log2(std::uint64_t m) { return 63 - __builtin_clzll(m); }
std::uint64_t truncated_bits(std::uint64_t x, std::uint64_t r) {
  const std::uint64_t m = r + 1;
  const int b = floor_log2(m);
  const std::uint64_t u = (std::uint64_t{2} << b) - m;
  return static_cast<std::uint64_t>(x < u ? b : b + 1);
}
void put_truncated(BitWriter& w, std::uint64_t x, std::uint64_t r) {
  const std::uint64_t m = r + 1;
  const int b = floor_log2(m);
  const std::uint64_t u = (std::uint64_t{2} << b) - m;
  if (x < u) {
    w.put(x, b);
  } else {
    w.put(x + u, b + 1);
  }
}
bool get_truncated(BitReader& r, std::uint64_t range, std::uint64_t& x) {
  const std::uint64_t m = range + 1;
  const int b = floor_log2(m);
  const std::uint64_t u = (std::uint64_t{2} << b) - m;
  std::uint64_t v = 0, bit = 0;
  if (!r.get(b, v)) return false;
  if (v >= u) {
    if (!r.get(1, bit)) return false;
    v = (v << 1 | bit) - u;
    if (v > range) return false;
  }
  x = v;
  return true;
}

std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr double kNegPow10[] = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};
// kScaledUlp: k / 10^e is within a few ulps of each value but not exact
// (values made by arithmetic such as 1.0 + 3 * 0.01): the difference in
// ulps is kept per value, so the coding stays lossless.
enum ValueMode : std::uint8_t { kXor = 0, kScaledMul = 1, kScaledDiv = 2, kScaledUlp = 3 };
constexpr std::int64_t kMaxUlps = 1 << 16;

double unscale(std::int64_t k, int e, ValueMode m) {
  return m == kScaledMul ? static_cast<double>(k) * kNegPow10[e] : static_cast<double>(k) / kPow10[e];
}
std::int64_t bits_of(double d) {
  std::int64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
double from_bits(std::int64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

// k and ulp corrections of every value at exponent e in mode m; false when
// a value is not within kMaxUlps of k / 10^e (or not exact, for the exact
// modes).
bool scale_at(std::span<const double> v, int e, ValueMode m, std::vector<std::int64_t>& k,
              std::vector<std::int64_t>& ulps) {
  k.clear();
  ulps.clear();
  for (double x : v) {
    const double s = x * kPow10[e];
    if (!(std::fabs(s) < 9.0e15)) return false;  // also false for NaN and inf
    const auto kv = static_cast<std::int64_t>(std::llround(s));
    const double r = unscale(kv, e, m);
    if (std::signbit(r) != std::signbit(x)) return false;
    const std::int64_t d = bits_of(x) - bits_of(r);  // same sign: the distance in ulps
    if (m != kScaledUlp ? d != 0 : (d > kMaxUlps || d < -kMaxUlps)) return false;
    k.push_back(kv);
    if (m == kScaledUlp) ulps.push_back(d);
  }
  return true;
}

// Values quantised at a sensor's resolution (0.01 °C) are integers times a
// power of ten, exactly (k*0.01 or k/100: they differ in the last bit) or
// within a few ulps. Finds the smallest exponent that describes them all.
bool find_scale(std::span<const double> v, int& e_out, ValueMode& m_out, std::vector<std::int64_t>& k_out,
                std::vector<std::int64_t>& ulps_out) {
  for (int e = 0; e <= 9; ++e) {
    for (ValueMode m : {kScaledMul, kScaledDiv, kScaledUlp}) {
      if (scale_at(v, e, m, k_out, ulps_out)) {
        e_out = e;
        m_out = m;
        return true;
      }
    }
  }
  return false;
}

void put_xor_values(BitWriter& w, std::span<const double> v) {
  std::uint64_t prev = 0;
  int lead = -1, trail = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, &v[i], 8);
    if (i == 0) {
      w.put(bits, 64);
      prev = bits;
      continue;
    }
    const std::uint64_t x = bits ^ prev;
    prev = bits;
    if (x == 0) {
      w.put(0, 1);
      continue;
    }
    const int l = std::min(__builtin_clzll(x), 31);
    const int t = __builtin_ctzll(x);
    if (lead >= 0 && l >= lead && t >= trail) {
      w.put(0b10, 2);
      w.put(x >> trail, 64 - lead - trail);
    } else {
      lead = l;
      trail = t;
      const int len = 64 - l - t;  // 1..64
      w.put(0b11, 2);
      w.put(static_cast<std::uint64_t>(l), 5);
      w.put(static_cast<std::uint64_t>(len - 1), 6);
      w.put(x >> t, len);
    }
  }
}
bool get_xor_values(BitReader& r, std::size_t n, std::vector<double>& out) {
  std::uint64_t prev = 0, b = 0;
  int lead = -1, trail = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == 0) {
      if (!r.get(64, prev)) return false;
    } else {
      if (!r.get(1, b)) return false;
      if (b == 1) {
        if (!r.get(1, b)) return false;
        if (b == 1) {
          std::uint64_t l, len1;
          if (!r.get(5, l) || !r.get(6, len1)) return false;
          const int len = static_cast<int>(len1) + 1;
          if (static_cast<int>(l) + len > 64) return false;
          lead = static_cast<int>(l);
          trail = 64 - lead - len;
        } else if (lead < 0) {
          return false;  // "same window" before any window
        }
        std::uint64_t m;
        if (!r.get(64 - lead - trail, m)) return false;
        prev ^= trail >= 64 ? 0 : (m << trail);
      }
    }
    double d;
    std::memcpy(&d, &prev, 8);
    out.push_back(d);
  }
  return true;
}

void put_values(BitWriter& w, std::span<const double> v, ValueMode mode, std::span<const std::int64_t> k,
                std::span<const std::int64_t> ulps) {
  if (v.empty()) return;
  if (mode == kXor) {
    put_xor_values(w, v);
    return;
  }
  // The first value, then the steps between values (small for a slowly
  // changing quantity), in one Rice stream; the first value is usually an
  // escape. kScaledUlp adds the corrections as a second stream.
  std::vector<std::int64_t> d(k.size());
  d[0] = k[0];
  for (std::size_t i = 1; i < k.size(); ++i) d[i] = wrap_sub(k[i], k[i - 1]);
  put_int_stream(w, d);
  if (mode == kScaledUlp) put_int_stream(w, ulps);
}
bool get_values(BitReader& r, std::size_t n, ValueMode mode, int e, std::vector<double>& out) {
  if (n == 0) return true;
  if (mode == kXor) return get_xor_values(r, n, out);
  std::vector<std::int64_t> d, ulps;
  d.reserve(n);
  if (!get_int_stream(r, n, d)) return false;
  if (mode == kScaledUlp) {
    ulps.reserve(n);
    if (!get_int_stream(r, n, ulps)) return false;
  }
  std::int64_t kv = 0;
  for (std::size_t i = 0; i < n; ++i) {
    kv = i == 0 ? d[0] : wrap_add(kv, d[i]);
    double x = unscale(kv, e, mode);
    if (mode == kScaledUlp) x = from_bits(static_cast<std::int64_t>(static_cast<std::uint64_t>(bits_of(x)) +
                                                                   static_cast<std::uint64_t>(ulps[i])));
    out.push_back(x);
  }
  return true;
}
// Roll-ups only: set in the min stream's mode byte when the counts are
// stored as steps between hours.
constexpr std::uint8_t kCountSteps = 0x08;
std::uint8_t mode_byte(ValueMode m, int e) { return static_cast<std::uint8_t>(m | (e << 4)); }
bool parse_mode(std::uint8_t b, ValueMode& m, int& e) {
  m = static_cast<ValueMode>(b & 0x0f);
  e = b >> 4;
  return m <= kScaledUlp && e <= 9;
}

// Timestamp mode 2 (sorted chunks spanning under 2^48 ms): the interval
// I minimising the spread of o_i - i*I, o_i = t_i - t_0, found by ternary
// search (the spread is convex in I and least between the smallest and
// largest step); the offsets are stored less their minimum, which is
// folded into the first point's grid position.
struct FrameGrid {
  std::int64_t interval = 0;
  std::uint64_t range = 0, bits = 0;
  std::vector<std::uint64_t> offsets;  // of points 1..n-1, in [0, range]
};
std::size_t varint_size(std::uint64_t v) {
  std::size_t k = 1;
  while (v >= 0x80) v >>= 7, ++k;
  return k;
}
bool frame_grid(std::span<const Point> p, FrameGrid& f) {
  const std::size_t n = p.size();
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = 0;
  for (std::size_t i = 1; i < n; ++i) {
    const std::int64_t d = wrap_sub(p[i].ts, p[i - 1].ts);
    if (d < 0 || d >= (std::int64_t{1} << kMaxFrameBits)) return false;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // i * I below stays within 2^62.
  if (hi > (std::int64_t{1} << 62) / static_cast<std::int64_t>(n)) return false;
  if (wrap_sub(p[n - 1].ts, p[0].ts) < 0 || wrap_sub(p[n - 1].ts, p[0].ts) >= (std::int64_t{1} << kMaxFrameBits))
    return false;
  // Spread of o_i - i*I over i = 0..n-1 (o_0 = 0); no overflow: |i*I| < 2^20 * 2^48.
  auto spread = [&](std::int64_t iv, std::int64_t* min_out) {
    std::int64_t mn = 0, mx = 0;
    for (std::size_t i = 1; i < n; ++i) {
      const std::int64_t o = (p[i].ts - p[0].ts) - static_cast<std::int64_t>(i) * iv;
      mn = std::min(mn, o);
      mx = std::max(mx, o);
    }
    if (min_out) *min_out = mn;
    return mx - mn;
  };
  while (hi - lo > 2) {
    const std::int64_t m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
    if (spread(m1, nullptr) <= spread(m2, nullptr)) {
      hi = m2;
    } else {
      lo = m1;
    }
  }
  std::int64_t best = lo, best_spread = spread(lo, nullptr);
  for (std::int64_t iv = lo + 1; iv <= hi; ++iv)
    if (const std::int64_t sp = spread(iv, nullptr); sp < best_spread) best = iv, best_spread = sp;
  std::int64_t mn = 0;
  spread(best, &mn);
  if (best_spread >= (std::int64_t{1} << kMaxFrameBits)) return false;
  f.interval = best;
  f.range = static_cast<std::uint64_t>(best_spread);
  // Point 0 sits at -mn above the grid's origin t_0 + mn: offsets o_i - i*I - mn.
  f.offsets.clear();
  f.bits = 0;
  const std::uint64_t first = static_cast<std::uint64_t>(-mn);
  f.offsets.push_back(first);  // the first point's own offset, stored too
  f.bits += truncated_bits(first, f.range);
  for (std::size_t i = 1; i < n; ++i) {
    const auto o = static_cast<std::uint64_t>((p[i].ts - p[0].ts) - static_cast<std::int64_t>(i) * best - mn);
    f.offsets.push_back(o);
    f.bits += truncated_bits(o, f.range);
  }
  return true;
}

// How a chunk's timestamps are coded: decided once per chunk (encode_chunk
// tries two value codings over the same timestamps).
struct TsPlan {
  std::uint8_t mode = 0;  // 0 delta-of-delta, 1 Rice grid, 2 frame
  std::int64_t interval = 0;
  std::vector<std::int64_t> ints;  // modes 0 and 1: the Rice stream
  FrameGrid frame;                 // mode 2
};
TsPlan plan_timestamps(std::span<const Point> points) {
  TsPlan t;
  const std::size_t n = points.size();
  if (n < 2) return t;
  // Timestamps after the first: delta-of-delta (irregular series), the
  // offset from a regular grid of the chunk's mean interval (readings on a
  // sensor's own clock, received with jitter) Rice-coded, or (mode 2) the
  // offsets from the grid that makes their spread smallest, in truncated
  // binary within that spread — whichever is smallest.
  // The mean interval is only a predictor: a wrapped span of extreme
  // timestamps still decodes exactly (the offsets wrap the same way).
  const std::int64_t interval = wrap_sub(points[n - 1].ts, points[0].ts) / static_cast<std::int64_t>(n - 1);
  std::vector<std::int64_t> dod, grid;
  dod.reserve(n - 1);
  grid.reserve(n - 1);
  std::int64_t prev_delta = 0;
  for (std::size_t i = 1; i < n; ++i) {
    const std::int64_t d = wrap_sub(points[i].ts, points[i - 1].ts);
    dod.push_back(wrap_sub(d, prev_delta));
    prev_delta = d;
    grid.push_back(wrap_sub(wrap_sub(points[i].ts, points[0].ts),
                            static_cast<std::int64_t>(static_cast<std::uint64_t>(interval) * i)));
  }
  auto cost = [](std::span<const std::int64_t> v) {
    std::vector<std::uint64_t> z;
    z.reserve(v.size());
    for (auto x : v) z.push_back(zz(x));
    const int k = best_rice_k(z);
    std::uint64_t bits = 0;
    for (auto x : z) bits += rice_bits(x, k);
    return bits;
  };
  const std::uint64_t cost_dod = cost(dod), cost_grid = cost(grid);
  const bool use_grid = cost_grid < cost_dod;
  const std::uint64_t rice_total =
      std::min(cost_dod, cost_grid) + 6 + (use_grid ? 8 * varint_size(zigzag(interval)) : 0);
  if (n > 2 && frame_grid(points, t.frame) &&
      t.frame.bits + 8 * (varint_size(zigzag(t.frame.interval)) + varint_size(t.frame.range)) < rice_total) {
    t.mode = 2;
    t.interval = t.frame.interval;
    return t;
  }
  t.frame = FrameGrid{};
  t.mode = use_grid ? 1 : 0;
  t.interval = interval;
  t.ints = use_grid ? std::move(grid) : std::move(dod);
  return t;
}

std::vector<std::uint8_t> encode_v2(std::span<const Point> points, const TsPlan& ts, bool allow_scaled,
                                    ValueMode& mode) {
  std::vector<std::uint8_t> b;
  b.reserve(16 + points.size() * 3);
  b.push_back(2);
  put_varint(b, points.size());
  std::vector<double> values;
  values.reserve(points.size());
  for (const auto& p : points) values.push_back(p.value);
  int e = 0;
  mode = kXor;
  std::vector<std::int64_t> k, ulps;
  if (!allow_scaled || !find_scale(values, e, mode, k, ulps)) mode = kXor, e = 0;
  b.push_back(mode_byte(mode, e));
  if (points.empty()) return b;
  put_varint(b, zigzag(points[0].ts));
  b.push_back(ts.mode);
  if (ts.mode >= 1) put_varint(b, zigzag(ts.interval));
  if (ts.mode == 2) put_varint(b, ts.frame.range);
  BitWriter w(b);
  if (ts.mode == 2) {
    for (std::uint64_t o : ts.frame.offsets) put_truncated(w, o, ts.frame.range);
  } else if (points.size() > 1) {
    put_int_stream(w, ts.ints);
  }
  put_values(w, values, mode, k, ulps);
  w.flush();
  return b;
}

Status decode_v2(std::span<const std::uint8_t> b, std::vector<Point>& out, ChunkComposition* comp = nullptr) {
  std::size_t i = 1;
  std::uint64_t n;
  if (!get_varint(b, i, n) || n > kMaxPoints) return Status::Corruption("chunk: bad count");
  if (i >= b.size()) return Status::Corruption("chunk: truncated header");
  ValueMode mode;
  int e;
  if (!parse_mode(b[i++], mode, e)) return Status::Corruption("chunk: unknown value coding");
  if (n == 0) return i == b.size() ? Status::Ok() : Status::Corruption("chunk: length mismatch");
  // Every point after the first costs at least one bit (its value; a
  // mode-2 timestamp can cost none): a count the blob cannot hold is
  // rejected before anything is allocated for it.
  if (n > (b.size() - i) * 8 + 1) return Status::Corruption("chunk: count exceeds the data");
  std::uint64_t z;
  if (!get_varint(b, i, z)) return Status::Corruption("chunk: truncated timestamps");
  const std::size_t base = out.size();
  out.resize(base + n);
  auto fail = [&](const char* what) {
    out.resize(base);
    return Status::Corruption(what);
  };
  if (i >= b.size()) return fail("chunk: truncated timestamps");
  const std::uint8_t ts_mode = b[i++];
  if (ts_mode > 2) return fail("chunk: unknown timestamp coding");
  std::int64_t interval = 0;
  std::uint64_t range = 0;
  if (ts_mode >= 1) {
    std::uint64_t zi;
    if (!get_varint(b, i, zi)) return fail("chunk: truncated timestamps");
    interval = unzigzag(zi);
  }
  if (ts_mode == 2 && (!get_varint(b, i, range) || range >= (std::uint64_t{1} << kMaxFrameBits)))
    return fail("chunk: bad timestamp frame");
  BitReader r(b, i);
  if (comp) {
    comp->header_bytes = i;
    comp->ts_mode = ts_mode;
    comp->value_mode = mode;
    comp->value_exponent = e;
  }
  const std::int64_t first = unzigzag(z);
  out[base].ts = first;
  if (ts_mode == 2) {
    // t_k = origin + k * interval + offset_k, origin = t_0 - offset_0.
    std::uint64_t o0 = 0;
    if (!get_truncated(r, range, o0)) return fail("chunk: truncated timestamps");
    const std::int64_t origin = wrap_sub(first, static_cast<std::int64_t>(o0));
    for (std::uint64_t k = 1; k < n; ++k) {
      std::uint64_t o = 0;
      if (!get_truncated(r, range, o)) return fail("chunk: truncated timestamps");
      out[base + k].ts = wrap_add(wrap_add(origin, static_cast<std::int64_t>(static_cast<std::uint64_t>(interval) * k)),
                                  static_cast<std::int64_t>(o));
    }
  } else if (n > 1) {
    std::vector<std::int64_t> t;
    t.reserve(n - 1);
    if (!get_int_stream(r, n - 1, t)) return fail("chunk: truncated timestamps");
    std::int64_t ts = first, delta = 0;
    for (std::uint64_t k = 1; k < n; ++k) {
      if (ts_mode == 1) {
        ts = wrap_add(wrap_add(first, static_cast<std::int64_t>(static_cast<std::uint64_t>(interval) * k)), t[k - 1]);
      } else {
        delta = wrap_add(delta, t[k - 1]);
        ts = wrap_add(ts, delta);
      }
      out[base + k].ts = ts;
    }
  }
  std::vector<double> v;
  v.reserve(n);
  const std::size_t values_from = r.bit_pos();
  if (!get_values(r, n, mode, e, v)) return fail("chunk: truncated values");
  if (comp) {
    comp->timestamp_bits = values_from - i * 8;
    comp->value_bits = r.bit_pos() - values_from;
    comp->padding_bits = r.byte_end() * 8 - r.bit_pos();
  }
  for (std::uint64_t k = 0; k < n; ++k) out[base + k].value = v[k];
  if (r.byte_end() != b.size()) return fail("chunk: length mismatch");
  return Status::Ok();
}

}  // namespace

std::vector<std::uint8_t> encode_chunk(std::span<const Point> points) {
  // Whichever of the two value codings is smaller for this chunk.
  ValueMode mode;
  const TsPlan ts = plan_timestamps(points);
  auto scaled = encode_v2(points, ts, true, mode);
  if (mode != kXor) {
    auto plain = encode_v2(points, ts, false, mode);
    if (plain.size() < scaled.size()) return plain;
  }
  return scaled;
}

Status describe_chunk(std::span<const std::uint8_t> b, ChunkComposition& comp) {
  comp = ChunkComposition{};
  if (b.empty() || b[0] != 2) return Status::InvalidArgument("chunk: not format v2");
  std::vector<Point> pts;
  Status s = decode_v2(b, pts, &comp);
  comp.points = pts.size();
  return s;
}

Status decode_chunk(std::span<const std::uint8_t> b, std::vector<Point>& out) {
  if (b.empty()) return Status::Corruption("chunk: empty");
  if (b[0] == 2) return decode_v2(b, out);
  if (b[0] != kVersion) return Status::Corruption("chunk: unknown version");
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
double get_f64(std::span<const std::uint8_t> b, std::size_t i) {
  std::uint64_t bits = 0;
  for (int j = 0; j < 8; ++j) bits |= static_cast<std::uint64_t>(b[i + static_cast<std::size_t>(j)]) << (8 * j);
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}
}  // namespace

namespace {

}  // namespace

std::vector<std::uint8_t> encode_rollup_day(std::span<const HourAggregate> hours) {
  // v2: u8 2, u24 hour mask (bit h = hour h present), a varint count per
  // hour present, then min, max and sum of those hours, each a mode byte
  // (chunk v2's value coding) and its bits, byte-aligned.
  // Written since the timestamp-frame chunks: the counts as the first and
  // then the steps between hours (a steady sensor's hours all hold the
  // same count: 1 bit each instead of ~5), flagged by bit 3 (kCountSteps)
  // of the min stream's mode byte, which the value modes (0..3) leave
  // free; without it (earlier v2 blobs) the counts are as they are.
  std::vector<std::uint8_t> b;
  b.reserve(8 + hours.size() * 8);
  b.push_back(2);
  std::uint32_t mask = 0;
  for (const auto& h : hours) mask |= 1u << h.hour;
  for (int k = 0; k < 3; ++k) b.push_back(static_cast<std::uint8_t>(mask >> (8 * k)));
  {
    std::vector<std::int64_t> counts;
    for (std::size_t k = 0; k < hours.size(); ++k)
      counts.push_back(k == 0 ? hours[k].count : wrap_sub(hours[k].count, hours[k - 1].count));
    BitWriter w(b);
    put_int_stream(w, counts);
    w.flush();
  }
  std::vector<double> mins, maxs, sums;
  for (const auto& h : hours) {
    mins.push_back(h.min);
    maxs.push_back(h.max);
    sums.push_back(h.sum);
  }
  // min and max quantised → the sums are kept at the finer of their scales
  // (with ulp corrections: a float sum is rarely the exact decimal).
  int e_min = 0, e_max = 0;
  ValueMode m_min = kXor, m_max = kXor;
  std::vector<std::int64_t> k_min, k_max, k_sum, u_min, u_max, u_sum;
  if (!find_scale(mins, e_min, m_min, k_min, u_min)) m_min = kXor, e_min = 0;
  if (!find_scale(maxs, e_max, m_max, k_max, u_max)) m_max = kXor, e_max = 0;
  ValueMode m_sum = kXor;
  int e_sum = 0;
  if (m_min != kXor && m_max != kXor && scale_at(sums, std::max(e_min, e_max), kScaledUlp, k_sum, u_sum)) {
    m_sum = kScaledUlp;
    e_sum = std::max(e_min, e_max);
  }
  auto stream = [&](std::span<const double> v, ValueMode m, int e, std::span<const std::int64_t> k,
                    std::span<const std::int64_t> u, std::uint8_t flags) {
    b.push_back(static_cast<std::uint8_t>(mode_byte(m, e) | flags));
    BitWriter w(b);
    put_values(w, v, m, k, u);
    w.flush();
  };
  stream(mins, m_min, e_min, k_min, u_min, kCountSteps);
  stream(maxs, m_max, e_max, k_max, u_max, 0);
  stream(sums, m_sum, e_sum, k_sum, u_sum, 0);
  return b;
}

namespace {
Status decode_rollup_v1(std::span<const std::uint8_t> b, std::vector<HourAggregate>& out) {
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
}  // namespace

Status decode_rollup_day(std::span<const std::uint8_t> b, std::vector<HourAggregate>& out) {
  out.clear();
  if (b.empty()) return Status::Corruption("roll-up: empty");
  if (b[0] == kVersion) return decode_rollup_v1(b, out);
  if (b[0] != 2 || b.size() < 4) return Status::Corruption("roll-up: unknown version");
  const std::uint32_t mask = b[1] | (static_cast<std::uint32_t>(b[2]) << 8) | (static_cast<std::uint32_t>(b[3]) << 16);
  std::size_t i = 4;
  std::vector<int> present;
  for (int h = 0; h < 24; ++h)
    if (mask >> h & 1) present.push_back(h);
  if (mask >> 24) return Status::Corruption("roll-up: bad hour mask");
  {
    std::vector<std::int64_t> counts;
    BitReader r(b, i);
    if (!get_int_stream(r, present.size(), counts)) return Status::Corruption("roll-up: truncated counts");
    i = r.byte_end();
    for (std::size_t k = 0; k < present.size(); ++k) out.push_back({present[k], counts[k], 0, 0, 0});
  }
  for (int field = 0; field < 3; ++field) {
    ValueMode m;
    int e;
    if (i < b.size() && field == 0 && (b[i] & kCountSteps)) {
      for (std::size_t k = 1; k < out.size(); ++k) out[k].count = wrap_add(out[k - 1].count, out[k].count);
    }
    if (i >= b.size() || !parse_mode(static_cast<std::uint8_t>(field == 0 ? b[i] & ~kCountSteps : b[i]), m, e)) {
      out.clear();
      return Status::Corruption("roll-up: bad value coding");
    }
    ++i;
    std::vector<double> v;
    BitReader r(b, i);
    if (!get_values(r, out.size(), m, e, v)) {
      out.clear();
      return Status::Corruption("roll-up: truncated values");
    }
    i = r.byte_end();
    for (std::size_t k = 0; k < out.size(); ++k) (field == 0 ? out[k].min : field == 1 ? out[k].max : out[k].sum) = v[k];
  }
  if (i != b.size()) {
    out.clear();
    return Status::Corruption("roll-up: length mismatch");
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
