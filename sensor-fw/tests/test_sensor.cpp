// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "fakes.h"
#include "test.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/sensor.h"

using namespace vigil_fw;

namespace {
constexpr std::size_t kN = 1024;
std::int16_t g_burst[3 * kN];
const std::uint8_t kKey[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

std::uint32_t counter_of(const Advertisement& a) {
  const std::uint8_t* p = &a.bytes[a.len - 8];
  return static_cast<std::uint32_t>(p[0] | p[1] << 8 | p[2] << 16 | p[3] << 24);
}

// Decrypts an advertisement built by the core (BTHome or vigil) in place.
bool open_frame(const Advertisement& a, const std::uint8_t mac[6], std::uint8_t* pt, std::size_t* len) {
  const bool bthome = a.bytes[4] == 0x16;
  const std::size_t hdr = bthome ? 3 + 2 + 2 + 1 : 3 + 2 + 2 + 2;  // flags, len+type, id16, info/magic+ctrl
  std::uint8_t nonce[13];
  memcpy(nonce, mac, 6);
  nonce[6] = a.bytes[5];
  nonce[7] = a.bytes[6];
  nonce[8] = a.bytes[hdr - 1];
  memcpy(&nonce[9], &a.bytes[a.len - 8], 4);
  *len = a.len - hdr - 8;
  SoftAes aes;
  return ccm_decrypt(aes, kKey, nonce, &a.bytes[hdr], *len, &a.bytes[a.len - 4], pt);
}
}  // namespace

TEST("without a key an encrypting sensor refuses to start") {
  vtest::FakeHal f;
  Hal hal = f.hal();
  Sensor s(hal, g_burst, kN);
  CHECK(s.init() == Error::kNoKey);
}

TEST("a cycle advertises one BTHome and four vigil frames with rising counters") {
  vtest::FakeHal f;
  Hal hal = f.hal();
  Sensor s(hal, g_burst, kN);
  REQUIRE(s.provision_key(kKey) == Error::kNone);
  REQUIRE(s.init() == Error::kNone);
  REQUIRE(s.run_cycle() == Error::kNone);
  REQUIRE(f.radio.count == 5);
  CHECK(f.radio.ads[0].bytes[4] == 0x16);
  for (int i = 1; i < 5; ++i) CHECK(f.radio.ads[i].bytes[4] == 0xFF);
  for (int i = 0; i < 5; ++i) {
    CHECK(f.radio.ads[i].len <= kMaxAdvLen);
    CHECK(counter_of(f.radio.ads[i]) == counter_of(f.radio.ads[0]) + static_cast<std::uint32_t>(i));
    std::uint8_t pt[31];
    std::size_t n = 0;
    CHECK(open_frame(f.radio.ads[i], f.radio.mac, pt, &n));
    if (i == 0) {
      CHECK(pt[0] == 0x00 && pt[2] == 0x01 && pt[4] == 0x02);  // packet id, battery, temperature
      CHECK((pt[5] | pt[6] << 8) == 2345);
    } else {
      CHECK(n == kVigilPayloadSize);
      CHECK(pt[2] == i - 1);  // axis: total, x, y, z
      CHECK((pt[0] | pt[1] << 8) == s.seq());
    }
  }
  // x axis: 0.5 g sine → 354 mg RMS in the vigil frame.
  std::uint8_t pt[31];
  std::size_t n = 0;
  REQUIRE(open_frame(f.radio.ads[2], f.radio.mac, pt, &n));
  const int rms_mg = pt[3] | pt[4] << 8;
  CHECK(rms_mg >= 350 && rms_mg <= 358);
}

TEST("counters keep rising across a reboot") {
  vtest::FakeHal f;
  Hal hal = f.hal();
  {
    Sensor s(hal, g_burst, kN);
    REQUIRE(s.provision_key(kKey) == Error::kNone);
    REQUIRE(s.run_cycle() == Error::kNone);
  }
  const std::uint32_t before = counter_of(f.radio.ads[4]);
  Sensor again(hal, g_burst, kN);
  REQUIRE(again.init() == Error::kNone);
  REQUIRE(again.run_cycle() == Error::kNone);
  CHECK(counter_of(f.radio.ads[5]) > before);
}

TEST("the interval is clamped to 10 s .. 24 h and the cycle sleeps the rest") {
  vtest::FakeHal f;
  Hal hal = f.hal();
  Sensor s(hal, g_burst, kN);
  CHECK(s.interval_s() == VIGIL_FW_MEASUREMENT_INTERVAL_S);
  s.set_interval_s(5);
  CHECK(s.interval_s() == 10);
  s.set_interval_s(100000);
  CHECK(s.interval_s() == 86400);
  s.set_interval_s(600);
  f.clock.t = 1000;
  s.sleep_until_next(400);
  CHECK(f.clock.t == 400 + 600000);
}

TEST("a failed capture is reported and nothing is advertised") {
  vtest::FakeHal f;
  Hal hal = f.hal();
  Sensor s(hal, g_burst, kN);
  REQUIRE(s.provision_key(kKey) == Error::kNone);
  f.accel.fail = true;
  CHECK(s.run_cycle() == Error::kAccelerometer);
  CHECK(f.radio.count == 0);
}

TEST("battery percent maps the Li-SOCl2 range") {
  CHECK(battery_percent(3700) == 100);
  CHECK(battery_percent(3000) == 0);
  CHECK(battery_percent(3300) == 50);
}
