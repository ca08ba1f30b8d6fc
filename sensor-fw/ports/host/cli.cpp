// SPDX-License-Identifier: Apache-2.0
//
// vigil-virtual-sensor --address MAC [--key HEX | --plain] [--count N]
//   [--interval S] [--start-ms T] [--state FILE] [--temperature C]
//   [--battery-mv MV] [--waveform]
// Prints each advertisement (AD structures) as one hex line, 5 per cycle
// (BTHome, then vigil frames total/x/y/z). --waveform then prints the GATT
// Waveform Info value and every chunk as "info HEX" / "chunk HEX" lines.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "virtual_sensor.h"

namespace {
bool parse_hex(const char* s, std::uint8_t* out, std::size_t n) {
  std::size_t k = 0;
  for (; *s; ++s) {
    if (*s == ':' || *s == '-' || *s == ' ') continue;
    if (!s[1] || k >= n) return false;
    char h[3] = {s[0], s[1], 0};
    char* end = nullptr;
    long v = std::strtol(h, &end, 16);
    if (*end) return false;
    out[k++] = static_cast<std::uint8_t>(v);
    ++s;
  }
  return k == n;
}
void print_hex(const std::vector<std::uint8_t>& b) {
  for (auto x : b) std::printf("%02x", x);
}
int usage() {
  std::fprintf(stderr,
               "usage: vigil-virtual-sensor --address MAC (--key HEX | --plain) [--count N] [--interval S]\n"
               "       [--start-ms T] [--state FILE] [--temperature C] [--battery-mv MV] [--waveform]\n");
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  vigil_fw::host::VirtualSensorOptions o;
  bool have_mac = false, plain = false, waveform = false;
  long count = 1;
  long long start_ms = 1767225600000LL;  // 2026-01-01T00:00:00Z
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--plain") { plain = true; continue; }
    if (a == "--waveform") { waveform = true; continue; }
    if (a == "-h" || a == "--help") return usage(), 0;
    if (!(v = val())) return usage();
    if (a == "--address") {
      if (!parse_hex(v, o.mac.data(), 6)) return std::fprintf(stderr, "bad --address\n"), 2;
      have_mac = true;
    } else if (a == "--key") {
      std::array<std::uint8_t, 16> k{};
      if (!parse_hex(v, k.data(), 16)) return std::fprintf(stderr, "bad --key: 32 hex digits\n"), 2;
      o.key = k;
    } else if (a == "--count") {
      count = std::strtol(v, nullptr, 10);
    } else if (a == "--interval") {
      o.interval_s = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--start-ms") {
      start_ms = std::strtoll(v, nullptr, 10);
    } else if (a == "--state") {
      o.state_file = v;
    } else if (a == "--temperature") {
      o.temperature_c = std::strtof(v, nullptr);
    } else if (a == "--battery-mv") {
      o.battery_mv = static_cast<std::uint16_t>(std::strtoul(v, nullptr, 10));
    } else {
      return usage();
    }
  }
  if (!have_mac || (!o.key && !plain) || count < 0) return usage();
  vigil_fw::host::VirtualSensor s(o);
  if (!s.error().empty()) return std::fprintf(stderr, "vigil-virtual-sensor: %s\n", s.error().c_str()), 1;
  const std::uint32_t interval = o.interval_s < 60 ? 60 : o.interval_s;
  for (long c = 0; c < count; ++c) {
    auto ads = s.measure(start_ms + static_cast<long long>(c) * interval * 1000LL);
    if (ads.empty()) return std::fprintf(stderr, "vigil-virtual-sensor: %s\n", s.error().c_str()), 1;
    for (auto& ad : ads) {
      print_hex(ad);
      std::printf("\n");
    }
  }
  if (waveform && count > 0) {
    std::printf("info ");
    print_hex(s.read_waveform_info());
    std::printf("\n");
    const std::uint8_t req[6] = {0, 0, 0, 0, 0, 0};
    s.write_chunk_request(req);
    for (;;) {
      auto c = s.read_chunk();
      if (c.size() <= 6) break;
      std::printf("chunk ");
      print_hex(c);
      std::printf("\n");
    }
  }
  return 0;
}
