// SPDX-License-Identifier: Apache-2.0
#include "ble/relay.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "ble/advert_format.h"
#include "protocol/types.h"

namespace vigil::ble {
using nlohmann::json;

namespace {

Status reject(const char* reason, const std::string& detail) {
  return Status::InvalidArgument(std::string(reason) + ": " + detail);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<ByteVec> parse_hex(const std::string& s) {
  if (s.size() % 2 != 0 || s.size() > 2 * kMaxRelayPayloadBytes) return std::nullopt;
  ByteVec out;
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

// "0xfcd2", "fcd2", "0000fcd2-0000-1000-8000-00805f9b34fb" → the 128-bit
// form BlueZ uses (lower case).
std::optional<std::string> parse_uuid(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.size() == 36) return uuid16(s) ? std::optional<std::string>(s) : std::nullopt;
  if (s.rfind("0x", 0) == 0) s = s.substr(2);
  if (s.size() != 4) return std::nullopt;
  for (char c : s)
    if (hex_digit(c) < 0) return std::nullopt;
  return "0000" + s + "-0000-1000-8000-00805f9b34fb";
}

// The relay's "time": epoch seconds (< 1e11) or milliseconds, or ISO 8601
// UTC with optional fraction. Anything else → nullopt.
std::optional<std::int64_t> parse_time(const json& t) {
  if (t.is_number()) {
    const double v = t.get<double>();
    if (!std::isfinite(v) || v <= 0 || v > 1e14) return std::nullopt;
    return static_cast<std::int64_t>(v < 1e11 ? v * 1000.0 : v);
  }
  if (!t.is_string()) return std::nullopt;
  const std::string& s = t.get_ref<const std::string&>();
  if (s.size() < 20 || s.size() > 40 || s.back() != 'Z') return std::nullopt;
  std::tm tm{};
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
    return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60 || tm.tm_year < 1970)
    return std::nullopt;
  std::int64_t ms = 0;
  std::size_t i = 19;
  if (s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits)
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (i != s.size() - 1) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

bool is_address_level(const std::string& l) {
  std::size_t hex = 0;
  for (char c : l) {
    if (hex_digit(c) >= 0)
      ++hex;
    else if (c != ':' && c != '-')
      return false;
  }
  return hex == 12 && (l.size() == 12 || l.size() == 17);
}

}  // namespace

std::string relay_source(const std::string& topic) {
  const auto slash = topic.rfind('/');
  if (slash == std::string::npos || !is_address_level(topic.substr(slash + 1))) return topic;
  return topic.substr(0, slash);
}

RelayRateLimiter::RelayRateLimiter(double rate_per_s, std::size_t max_sources)
    : rate_(std::max(rate_per_s, 0.001)),
      burst_(std::max(rate_per_s, 1.0)),
      max_sources_(std::max<std::size_t>(max_sources, 1)),
      overflow_{burst_, 0} {}

bool RelayRateLimiter::take(Bucket& b, std::int64_t now_ms) {
  if (now_ms > b.last_ms) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.last_ms) * rate_ / 1000.0);
    b.last_ms = now_ms;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

bool RelayRateLimiter::allow(const std::string& topic, std::int64_t now_ms) {
  const std::string src = relay_source(topic);
  std::lock_guard lk(mu_);
  auto it = buckets_.find(src);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_) {
      // Drop the buckets that have refilled: a fresh bucket is the same.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        const double refilled = b->second.tokens + static_cast<double>(now_ms - b->second.last_ms) * rate_ / 1000.0;
        b = refilled >= burst_ ? buckets_.erase(b) : std::next(b);
      }
    }
    if (buckets_.size() >= max_sources_) return take(overflow_, now_ms);
    it = buckets_.emplace(src, Bucket{burst_, now_ms}).first;
  }
  return take(it->second, now_ms);
}

std::size_t RelayRateLimiter::sources() const {
  std::lock_guard lk(mu_);
  return buckets_.size();
}

void RelayLatency::record(const RelayedAdvert& a, std::int64_t ingested_ms) {
  record_ms(ingested_ms - a.published_ms.value_or(a.received_ms));
}

void RelayLatency::record_ms(std::int64_t latency_ms) {
  latency_ms = std::max<std::int64_t>(latency_ms, 0);
  const double s = static_cast<double>(latency_ms) / 1000.0;
  for (std::size_t i = 0; i < kBucketsS.size(); ++i)
    if (s <= kBucketsS[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  buckets_[kBucketsS.size()].fetch_add(1, std::memory_order_relaxed);
  sum_ms_.fetch_add(static_cast<std::uint64_t>(latency_ms), std::memory_order_relaxed);
  std::lock_guard lk(mu_);
  if (window_.size() < kWindow) {
    window_.push_back(latency_ms);
  } else {
    window_[next_] = latency_ms;
  }
  next_ = (next_ + 1) % kWindow;
}

std::uint64_t RelayLatency::bucket(std::size_t i) const {
  return i < buckets_.size() ? buckets_[i].load(std::memory_order_relaxed) : 0;
}
std::uint64_t RelayLatency::count() const { return bucket(kBucketsS.size()); }
std::uint64_t RelayLatency::sum_ms() const { return sum_ms_.load(std::memory_order_relaxed); }

double RelayLatency::quantile_s(double q) const {
  std::vector<std::int64_t> v;
  {
    std::lock_guard lk(mu_);
    v = window_;
  }
  if (v.empty()) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) ;
  const std::size_t idx = k == 0 ? 0 : k - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return static_cast<double>(v[idx]) / 1000.0;
}

std::string relay_reject_reason(const Status& s) {
  const std::string& m = s.message();
  auto colon = m.find(':');
  return colon == std::string::npos ? std::string("malformed_json") : m.substr(0, colon);
}

Result<RelayedAdvert> parse_relay_json(const std::string& payload, const std::string& topic) {
  if (payload.size() > kMaxRelayJsonBytes)
    return reject("oversized", std::to_string(payload.size()) + " bytes (at most " +
                                   std::to_string(kMaxRelayJsonBytes) + ")");
  json j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return reject("malformed_json", "not a JSON object");
  RelayedAdvert a;
  a.via = "relay:" + topic.substr(0, 200);

  auto id = j.find("id");
  if (id == j.end() || !id->is_string()) return reject("bad_address", "\"id\" (the device address) is missing");
  const std::string& ids = id->get_ref<const std::string&>();
  auto mac = ids.size() == 17 ? protocol::Mac::parse(ids) : std::nullopt;
  if (!mac) return reject("bad_address", "\"id\" is not a device address AA:BB:CC:DD:EE:FF");
  a.address = mac->to_string();
  a.props.address = a.address;

  if (auto r = j.find("rssi"); r != j.end() && !r->is_null()) {
    if (!r->is_number_integer()) return reject("bad_rssi", "\"rssi\" must be an integer");
    const auto v = r->get<long long>();
    if (v < -127 || v > 20) return reject("bad_rssi", "\"rssi\" must be -127..20 dBm");
    a.props.rssi = static_cast<std::int16_t>(v);
  }

  bool any = false;
  if (auto sd = j.find("servicedata"); sd != j.end() && !sd->is_null()) {
    if (!sd->is_string()) return reject("bad_hex", "\"servicedata\" must be a hex string");
    auto bytes = parse_hex(sd->get_ref<const std::string&>());
    if (!bytes) return reject("bad_hex", "\"servicedata\" is not hex of at most 255 bytes");
    auto u = j.find("servicedatauuid");
    if (u == j.end() || !u->is_string()) return reject("bad_uuid", "\"servicedata\" needs \"servicedatauuid\"");
    auto uuid = parse_uuid(u->get<std::string>());
    if (!uuid) return reject("bad_uuid", "\"servicedatauuid\" is not a 16-bit (0xfcd2) or Bluetooth base UUID");
    a.props.service_data = std::map<std::string, ByteVec>{{*uuid, std::move(*bytes)}};
    any = true;
  }
  if (auto md = j.find("manufacturerdata"); md != j.end() && !md->is_null()) {
    if (!md->is_string()) return reject("bad_hex", "\"manufacturerdata\" must be a hex string");
    auto bytes = parse_hex(md->get_ref<const std::string&>());
    if (!bytes || bytes->size() < 2)
      return reject("bad_hex", "\"manufacturerdata\" is not hex of 2..255 bytes (company id first)");
    const std::uint16_t company = static_cast<std::uint16_t>((*bytes)[0] | (*bytes)[1] << 8);
    a.props.manufacturer_data = std::map<std::uint16_t, ByteVec>{{company, ByteVec(bytes->begin() + 2, bytes->end())}};
    any = true;
  }
  if (!any) return reject("no_payload", "neither \"servicedata\" nor \"manufacturerdata\"");
  if (auto t = j.find("time"); t != j.end()) a.published_ms = parse_time(*t);
  return a;
}

}  // namespace vigil::ble
