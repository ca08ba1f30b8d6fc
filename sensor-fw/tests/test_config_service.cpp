// SPDX-License-Identifier: Apache-2.0
// The configuration GATT service: validation, persistence, and the sensor's
// measurement interval actually changing.
#include "fakes.h"
#include "test.h"
#include "vigil_fw/config_service.h"
#include "vigil_fw/dfu_service.h"

using namespace vigil_fw;

namespace {
std::int16_t g_cfg_burst[3 * 256];
std::uint8_t desired(std::uint32_t seq, std::uint32_t interval, std::uint16_t wave_min, std::int8_t tx,
                     std::uint8_t out[12]) {
  SensorConfig c;
  c.seq = seq;
  c.measurement_interval_s = interval;
  c.waveform_interval_min = wave_min;
  c.tx_power_dbm = tx;
  encode_desired_config(c, out);
  return 12;
}
}  // namespace

TEST("a desired configuration changes the measurement interval the sensor sleeps") {
  vtest::FakeHal f;
  const Hal hal = f.hal();
  Sensor s(hal, g_cfg_burst, 256);
  ConfigService cfg(s, f.storage, f.radio, version_of(1, 2, 3));
  cfg.init();
  std::uint8_t v[12];
  desired(7, 30, 60, -8, v);
  CHECK(cfg.write_desired(v, 12) == 0);
  CHECK(s.interval_s() == 30 && s.waveform_interval_min() == 60 && f.radio.tx_power_dbm == -8);
  f.clock.t = 1000;
  s.sleep_until_next(1000);
  CHECK(f.clock.t == 31000);  // the next cycle starts 30 s later
  std::uint8_t r[16];
  REQUIRE(cfg.read_reported(r, sizeof r) == 16);
  CHECK(vtest::bytes_equal_hex(r, 16, "070000001e0000003c00f80003020100"));
}

TEST("a configuration with any value out of range is refused and nothing is applied") {
  vtest::FakeHal f;
  const Hal hal = f.hal();
  Sensor s(hal, g_cfg_burst, 256);
  ConfigService cfg(s, f.storage, f.radio, 1);
  cfg.init();
  std::uint8_t v[12];
  desired(1, 9, 60, 0, v);
  CHECK(cfg.write_desired(v, 12) == kAttValueNotAllowed);  // interval below 10 s
  desired(1, 86401, 10080, 0, v);
  CHECK(cfg.write_desired(v, 12) == kAttValueNotAllowed);  // above 24 h
  desired(1, 600, 5, 0, v);
  CHECK(cfg.write_desired(v, 12) == kAttValueNotAllowed);  // waveform more often than measurements
  desired(1, 600, 10081, 0, v);
  CHECK(cfg.write_desired(v, 12) == kAttValueNotAllowed);
  desired(1, 600, 60, 3, v);
  CHECK(cfg.write_desired(v, 12) == kAttValueNotAllowed);  // not a supported TX power
  CHECK(cfg.write_desired(v, 11) == kAttInvalidLength);
  CHECK(s.interval_s() == VIGIL_FW_MEASUREMENT_INTERVAL_S && f.radio.tx_power_dbm == 0);
  CHECK(cfg.current().seq == 0 && f.storage.writes == 0);
}

TEST("an applied configuration survives a reset, a failed store applies nothing") {
  vtest::FakeHal f;
  const Hal hal = f.hal();
  {
    Sensor s(hal, g_cfg_burst, 256);
    ConfigService cfg(s, f.storage, f.radio, 1);
    cfg.init();
    std::uint8_t v[12];
    desired(3, 10, 1, 4, v);
    REQUIRE(cfg.write_desired(v, 12) == 0);
  }
  Sensor again(hal, g_cfg_burst, 256);
  ConfigService cfg2(again, f.storage, f.radio, 1);
  cfg2.init();
  CHECK(again.interval_s() == 10 && cfg2.current().seq == 3 && cfg2.current().tx_power_dbm == 4);
  f.storage.fail_writes = true;
  std::uint8_t v[12];
  desired(4, 3600, 120, 0, v);
  CHECK(cfg2.write_desired(v, 12) == kAttAppError);
  CHECK(again.interval_s() == 10 && cfg2.current().seq == 3);
}
