// SPDX-License-Identifier: Apache-2.0
// End to end on the host port: a VirtualSensor takes an image over its DFU
// GATT service, reboots into it and confirms it (or reverts a bad one), and
// keeps slots and configuration in its state dir across "power cycles".
// Exits non-zero on the first failed expectation.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "virtual_sensor.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/dfu_service.h"
#include "vigil_fw/image.h"

using namespace vigil_fw;
using host::VirtualSensor;

namespace {
int g_failed = 0;
void expect(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++g_failed;
}
const std::array<std::uint8_t, 16> kKey{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// What the gateway sends: START (flags | header | tag), data, VERIFY, ACTIVATE.
std::uint8_t upload(VirtualSensor& s, std::uint32_t version, bool bad, std::uint8_t flags = 0) {
  const auto payload = host::make_test_image(version, 7000, kBoardHost, bad);
  ImageHeader h;
  h.board_id = kBoardHost;
  h.version = version;
  h.payload_size = static_cast<std::uint32_t>(payload.size());
  h.payload_crc32 = crc32(payload.data(), payload.size());
  std::vector<std::uint8_t> start(kDfuStartSize);
  start[0] = 1;
  start[1] = flags;
  encode_image_header(h, &start[2]);
  SoftAes aes;
  image_tag(aes, kKey.data(), flags, &start[2], payload.data(), payload.size(), &start[2 + kImageHeaderSize]);
  if (std::uint8_t att = s.gatt_write(0x0011, start)) return att;
  for (std::size_t off = 0; off < payload.size(); off += 240) {
    const std::size_t n = std::min<std::size_t>(240, payload.size() - off);
    std::vector<std::uint8_t> d{static_cast<std::uint8_t>(off), static_cast<std::uint8_t>(off >> 8), 0, 0};
    d.insert(d.end(), payload.begin() + static_cast<std::ptrdiff_t>(off),
             payload.begin() + static_cast<std::ptrdiff_t>(off + n));
    s.gatt_write(0x0012, d);
  }
  const std::uint8_t verify[1] = {3}, activate[1] = {4};
  if (std::uint8_t att = s.gatt_write(0x0011, verify)) return att;
  return s.gatt_write(0x0011, activate);
}
}  // namespace

int main() {
  const std::string dir = (std::filesystem::temp_directory_path() / ("vigil-dfu-test-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  host::VirtualSensorOptions o;
  o.key = kKey;
  o.state_dir = dir;
  {
    VirtualSensor s(o);
    expect(s.error().empty() && s.last_boot().version == 0x010000 && s.last_boot().state == "confirmed",
           "a fresh state dir boots the factory image 1.0.0");
    expect(upload(s, 0x010100, false) == 0, "a good 1.1.0 image uploads, verifies and activates");
    expect(s.last_boot().version == 0x010100 && s.last_boot().state == "confirmed",
           "the sensor reboots into 1.1.0, which passes its self-test and confirms itself");
    expect(upload(s, 0x010200, true) == 0, "a 1.2.0 image whose self-test fails uploads");
    expect(s.last_boot().version == 0x010100 && s.last_boot().state == "reverted",
           "the failing 1.2.0 never confirms and 1.1.0 runs again");
    std::uint8_t att = 0;
    const auto st = s.gatt_read(0x0013, &att);
    expect(att == 0 && st.size() == 16 && st[0] == 4 && st[1] == 10, "DFU status reports error reverted");
    expect(upload(s, 0x010000, false) == 0x83, "a downgrade to 1.0.0 is refused (ATT 0x83)");
    const std::vector<std::uint8_t> cfg{9, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0xF8, 0};
    expect(s.gatt_write(0x0021, cfg) == 0 && s.interval_s() == 30, "a desired interval of 30 s applies");
  }
  {
    VirtualSensor again(o);  // power cycle: a new process on the same state dir
    expect(again.last_boot().version == 0x010100 && again.last_boot().state == "confirmed",
           "after a power cycle 1.1.0 still runs");
    std::uint8_t att = 0;
    const auto rep = again.gatt_read(0x0022, &att);
    expect(again.interval_s() == 30 && rep.size() == 16 && rep[0] == 9 && rep[12] == 0x00 && rep[13] == 0x01,
           "the configuration (seq 9, 30 s) and firmware version survive the power cycle");
  }
  o.self_confirm = false;
  {
    VirtualSensor s(o);
    expect(upload(s, 0x010300, false) == 0 && s.last_boot().state == "test_boot",
           "without self-confirm 1.3.0 stays in test boot");
    expect(s.reboot().state == "reverted" && s.last_boot().version == 0x010100,
           "a reset before CONFIRM reverts to 1.1.0");
    expect(upload(s, 0x010300, false) == 0 && s.last_boot().state == "test_boot", "1.3.0 again");
    const std::uint8_t confirm[1] = {5};
    expect(s.gatt_write(0x0011, confirm) == 0 && s.reboot().state == "confirmed" &&
               s.last_boot().version == 0x010300,
           "CONFIRM over GATT keeps 1.3.0 across a reset");
  }
  std::filesystem::remove_all(dir);
  std::printf("%s\n", g_failed ? "FAILED" : "all passed");
  return g_failed ? 1 : 0;
}
