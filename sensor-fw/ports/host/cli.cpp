// SPDX-License-Identifier: Apache-2.0
//
// vigil-virtual-sensor: the host port's command line. Three modes.
//
// 1. Adverts (default):
//   vigil-virtual-sensor --address MAC [--key HEX | --plain] [--count N]
//     [--interval S] [--start-ms T] [--state FILE] [--state-dir DIR]
//     [--temperature C] [--battery-mv MV] [--waveform]
//   Prints each advertisement (AD structures) as one hex line, 5 per cycle
//   (BTHome, then vigil frames total/x/y/z). --waveform then prints the GATT
//   Waveform Info value and every chunk as "info HEX" / "chunk HEX" lines.
//
// 2. GATT server on stdin/stdout (firmware update and configuration tests):
//   vigil-virtual-sensor --gatt-serve --address MAC --key HEX [--state-dir DIR]
//     [--version X.Y.Z] [--no-self-confirm] [--interval S] [--start-ms T]
//   Reads one command per line and answers exactly one line (flushed), except
//   "adverts", which answers one line per advertisement of one cycle (5):
//     write <uuid16> <hex>  → "ok" | "err <att-code, 2 hex digits>"
//                             uuid16 is the 4-hex-digit short form of
//                             9e7aXXXX-5c2b-4d0e-9b5f-766967696c00: 0003
//                             chunk request, 0011 DFU control point, 0012 DFU
//                             data, 0021 desired configuration. 0012 is
//                             write-without-response on air, so it always
//                             answers "ok"; read 0013 to see a dropped write.
//                             A successful ACTIVATE (0011 04) reboots right
//                             after answering, like the device.
//     read <uuid16>         → "<hex value>" | "err <att-code>": 0002 waveform
//                             info, 0004 chunk data, 0013 DFU status, 0022
//                             reported configuration.
//     reboot                → "booted <X.Y.Z> <state>": reset, bootloader,
//                             the image's self-test. state: confirmed,
//                             test_boot, reverted, rejected, no_image,
//                             flash_error.
//     booted                → the same line for the last boot, no reset.
//     adverts               → one measurement cycle: one hex line per
//                             advertisement; virtual time advances by the
//                             current (configured) measurement interval.
//     quit / end of input   → exit 0. Anything else → "err 06".
//   --state-dir keeps slots (flash.bin), key, counters and configuration, so
//   a new process is the same sensor after a power cycle. --version is the
//   factory image written into an empty slot A (default 1.0.0). A good test
//   image confirms itself after its self-test unless --no-self-confirm (then
//   CONFIRM over 0011, or a reboot reverts it).
//
// 3. Test firmware payload for the host board (sign it with `vigil firmware sign`):
//   vigil-virtual-sensor --make-test-image --version X.Y.Z --size N
//     [--board HEX] [--bad] [--out FILE]
//   Writes N raw payload bytes (to FILE, else stdout). --bad makes the
//   virtual sensor's self-test fail on it (so it never confirms: revert);
//   --board other than 484f5354 makes the self-test fail as well.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "virtual_sensor.h"
#include "vigil_fw/image.h"

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
bool parse_hex_vec(const std::string& s, std::vector<std::uint8_t>* out) {
  if (s.size() % 2) return false;
  out->resize(s.size() / 2);
  return out->empty() || parse_hex(s.c_str(), out->data(), out->size());
}
bool parse_version(const char* s, std::uint32_t* out) {
  unsigned a = 0, b = 0, c = 0;
  char tail = 0;
  if (std::sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 255 || b > 255 || c > 255) return false;
  *out = vigil_fw::version_of(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(c));
  return true;
}
std::string version_str(std::uint32_t v) {
  return std::to_string(v >> 16 & 0xFF) + "." + std::to_string(v >> 8 & 0xFF) + "." + std::to_string(v & 0xFF);
}
std::string hex(const std::vector<std::uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) s += d[x >> 4], s += d[x & 15];
  return s;
}
int usage() {
  std::fprintf(stderr,
               "usage: vigil-virtual-sensor --address MAC (--key HEX | --plain) [--count N] [--interval S]\n"
               "       [--start-ms T] [--state FILE] [--state-dir DIR] [--temperature C] [--battery-mv MV]\n"
               "       [--waveform]\n"
               "       vigil-virtual-sensor --gatt-serve --address MAC --key HEX [--state-dir DIR]\n"
               "       [--version X.Y.Z] [--no-self-confirm]   (line protocol: see cli.cpp / README)\n"
               "       vigil-virtual-sensor --make-test-image --version X.Y.Z --size N [--board HEX] [--bad]\n"
               "       [--out FILE]\n");
  return 2;
}

int gatt_serve(vigil_fw::host::VirtualSensor& s, long long start_ms) {
  long long t = start_ms;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto sp = line.find(' ');
    const std::string cmd = line.substr(0, sp);
    std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    while (!rest.empty() && rest.back() == ' ') rest.pop_back();
    std::string out;
    if (cmd == "quit") break;
    if (cmd == "write" || cmd == "read") {
      const auto sp2 = rest.find(' ');
      const std::string u = rest.substr(0, sp2);
      std::uint8_t ub[2];
      std::vector<std::uint8_t> value;
      const bool ok_uuid = u.size() == 4 && parse_hex(u.c_str(), ub, 2);
      const auto uuid = static_cast<std::uint16_t>(ub[0] << 8 | ub[1]);
      if (!ok_uuid) {
        out = "err 06";
      } else if (cmd == "write") {
        if (sp2 == std::string::npos || !parse_hex_vec(rest.substr(sp2 + 1), &value)) {
          out = "err 06";
        } else {
          const std::uint8_t att = s.gatt_write(uuid, value);
          char b[8];
          std::snprintf(b, sizeof b, "err %02x", att);
          out = att == 0 || uuid == 0x0012 ? "ok" : b;  // 0012: write without response
        }
      } else {
        std::uint8_t att = 0;
        value = s.gatt_read(uuid, &att);
        char b[8];
        std::snprintf(b, sizeof b, "err %02x", att);
        out = att ? b : hex(value);
      }
    } else if (cmd == "reboot" || cmd == "booted") {
      const auto info = cmd == "reboot" ? s.reboot() : s.last_boot();
      out = "booted " + version_str(info.version) + " " + info.state;
    } else if (cmd == "adverts") {
      auto ads = s.measure(t);
      t += static_cast<long long>(s.interval_s()) * 1000LL;
      if (ads.empty()) out = "err 0e";
      for (std::size_t i = 0; i < ads.size(); ++i) out += (i ? "\n" : "") + hex(ads[i]);
    } else {
      out = "err 06";
    }
    std::printf("%s\n", out.c_str());
    std::fflush(stdout);
  }
  return 0;
}

int make_image(std::uint32_t version, long size, std::uint32_t board, bool bad, const char* out_path) {
  if (size < 20 || size > 96 * 1024 - 64) return std::fprintf(stderr, "--size must be 20..98240\n"), 2;
  const auto p = vigil_fw::host::make_test_image(version, static_cast<std::size_t>(size), board, bad);
  std::FILE* f = out_path ? std::fopen(out_path, "wb") : stdout;
  if (!f) return std::fprintf(stderr, "cannot write %s\n", out_path), 1;
  const bool ok = std::fwrite(p.data(), 1, p.size(), f) == p.size();
  if (out_path) std::fclose(f);
  return ok ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  vigil_fw::host::VirtualSensorOptions o;
  bool have_mac = false, plain = false, waveform = false, serve = false, make = false, bad = false;
  bool have_version = false;
  long count = 1, size = 0;
  std::uint32_t board = vigil_fw::kBoardHost;
  const char* out_path = nullptr;
  long long start_ms = 1767225600000LL;  // 2026-01-01T00:00:00Z
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--plain") { plain = true; continue; }
    if (a == "--waveform") { waveform = true; continue; }
    if (a == "--gatt-serve") { serve = true; continue; }
    if (a == "--make-test-image") { make = true; continue; }
    if (a == "--bad") { bad = true; continue; }
    if (a == "--no-self-confirm") { o.self_confirm = false; continue; }
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
    } else if (a == "--state-dir") {
      o.state_dir = v;
    } else if (a == "--version") {
      if (!parse_version(v, &o.version)) return std::fprintf(stderr, "bad --version: X.Y.Z\n"), 2;
      have_version = true;
    } else if (a == "--size") {
      size = std::strtol(v, nullptr, 10);
    } else if (a == "--board") {
      board = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 16));
    } else if (a == "--out") {
      out_path = v;
    } else if (a == "--temperature") {
      o.temperature_c = std::strtof(v, nullptr);
    } else if (a == "--battery-mv") {
      o.battery_mv = static_cast<std::uint16_t>(std::strtoul(v, nullptr, 10));
    } else {
      return usage();
    }
  }
  if (make) return have_version ? make_image(o.version, size, board, bad, out_path) : usage();
  if (!have_mac || (!o.key && !plain) || count < 0) return usage();
  vigil_fw::host::VirtualSensor s(o);
  if (!s.error().empty()) return std::fprintf(stderr, "vigil-virtual-sensor: %s\n", s.error().c_str()), 1;
  if (serve) return gatt_serve(s, start_ms);
  const std::uint32_t interval = s.interval_s();
  for (long c = 0; c < count; ++c) {
    auto ads = s.measure(start_ms + static_cast<long long>(c) * interval * 1000LL);
    if (ads.empty()) return std::fprintf(stderr, "vigil-virtual-sensor: %s\n", s.error().c_str()), 1;
    for (auto& ad : ads) std::printf("%s\n", hex(ad).c_str());
  }
  if (waveform && count > 0) {
    std::printf("info %s\n", hex(s.read_waveform_info()).c_str());
    const std::uint8_t req[6] = {0, 0, 0, 0, 0, 0};
    s.write_chunk_request(req);
    for (;;) {
      auto c = s.read_chunk();
      if (c.size() <= 6) break;
      std::printf("chunk %s\n", hex(c).c_str());
    }
  }
  return 0;
}
