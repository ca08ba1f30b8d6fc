// SPDX-License-Identifier: Apache-2.0
// nRF52840 firmware entry: wires the HAL to the core and runs the cycle.
#include "hal_nrf52.h"
#include "vigil_fw/config.h"
#include "vigil_fw/sensor.h"

namespace {
std::int16_t g_burst[VIGIL_FW_AXES * VIGIL_FW_BURST_SAMPLES];
vigil_fw::nrf52::BoardAccel g_accel;
vigil_fw::nrf52::DieTemperature g_temp;
vigil_fw::nrf52::VddBattery g_battery;
vigil_fw::nrf52::BoardRadio g_radio;
vigil_fw::nrf52::EcbAes g_aes;
vigil_fw::nrf52::RtcClock g_clock;
vigil_fw::nrf52::FlashStorage g_storage;
}  // namespace

extern "C" int vigil_main() {
  g_clock.start();
  static const vigil_fw::Hal hal{g_accel, g_temp, g_battery, g_radio, g_aes, g_clock, g_storage};
  static vigil_fw::Sensor sensor(hal, g_burst, VIGIL_FW_BURST_SAMPLES);
  // Without a key the sensor waits for commissioning (the GATT glue calls
  // provision_key); it never advertises plain frames.
  while (sensor.init() != vigil_fw::Error::kNone) g_clock.sleep_ms(60000);
  sensor.run_forever();
}
