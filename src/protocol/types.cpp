// SPDX-License-Identifier: Apache-2.0
#include "protocol/types.h"

namespace vigil::protocol {
namespace {
int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  std::vector<std::uint8_t> out;
  out.reserve(s.size() / 2);
  int hi = -1;
  for (char c : s) {
    if (c == ' ' || c == ':' || c == '-' || c == '\t' || c == '\n' || c == '\r') {
      if (hi >= 0) return std::nullopt;  // separator inside a byte
      continue;
    }
    int n = nibble(c);
    if (n < 0) return std::nullopt;
    if (hi < 0) {
      hi = n;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | n));
      hi = -1;
    }
  }
  if (hi >= 0) return std::nullopt;  // odd number of digits
  return out;
}

std::string to_hex(Bytes b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

std::optional<Mac> Mac::parse(std::string_view s) {
  auto bytes = parse_hex(s);
  if (!bytes || bytes->size() != 6) return std::nullopt;
  Mac m;
  for (std::size_t i = 0; i < 6; ++i) m.b[i] = (*bytes)[i];
  return m;
}

std::string Mac::to_string() const {
  static const char* d = "0123456789ABCDEF";
  std::string s;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i) s.push_back(':');
    s.push_back(d[b[i] >> 4]);
    s.push_back(d[b[i] & 15]);
  }
  return s;
}

std::optional<Key> parse_key(std::string_view hex) {
  auto bytes = parse_hex(hex);
  if (!bytes || bytes->size() != 16) return std::nullopt;
  Key k;
  for (std::size_t i = 0; i < 16; ++i) k[i] = (*bytes)[i];
  return k;
}

const char* to_string(Reject r) {
  switch (r) {
    case Reject::kTruncated: return "truncated";
    case Reject::kBadHeader: return "bad_header";
    case Reject::kUnknownFormat: return "unknown_format";
    case Reject::kNoKey: return "no_key";
    case Reject::kBadMic: return "bad_mic";
    case Reject::kReplay: return "replay";
    case Reject::kDuplicate: return "duplicate";
    case Reject::kDowngrade: return "downgrade";
  }
  return "unknown";
}

const char* to_string(Format f) { return f == Format::kBthome ? "bthome" : "vigil"; }

std::vector<Reading> DecodedFrame::readings() const {
  std::vector<Reading> out;
  out.reserve(values.size());
  const std::string src = address.to_string();
  for (const auto& v : values) out.push_back({src, v.metric, received_at, v.value});
  return out;
}

}  // namespace vigil::protocol
