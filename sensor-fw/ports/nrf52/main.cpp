// SPDX-License-Identifier: Apache-2.0
// nRF52840 firmware entry: wires the HAL to the core, hands the DFU and
// configuration services to the stack's GATT server, and runs the cycle.
// After the first good measurement cycle (the self-test) the image confirms
// itself, so a test boot that gets that far is kept (boot.h).
#include "board.h"
#include "hal_nrf52.h"
#include "vigil_fw/boot.h"
#include "vigil_fw/config.h"
#include "vigil_fw/config_service.h"
#include "vigil_fw/dfu_service.h"
#include "vigil_fw/image.h"
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
vigil_fw::nrf52::NvmcFlash g_flash;
std::uint8_t g_key[16];
vigil_fw::Sensor* g_sensor = nullptr;
vigil_fw::DfuService* g_dfu = nullptr;
vigil_fw::ConfigService* g_config = nullptr;

// GATT dispatch (board.h): the same characteristics as the host port's.
std::uint8_t gatt_write(std::uint16_t uuid16, const std::uint8_t* v, std::size_t len) {
  switch (uuid16) {
    case 0x0003: return g_sensor->waveform().write_request(v, len) ? 0 : vigil_fw::kAttValueNotAllowed;
    case 0x0011: return g_dfu->write_control(v, len);
    case 0x0012: return g_dfu->write_data(v, len);
    case 0x0021: return g_config->write_desired(v, len);
    default: return 0x03;  // write not permitted
  }
}
std::size_t gatt_read(std::uint16_t uuid16, std::uint8_t* out, std::size_t cap, std::uint8_t* att) {
  *att = 0;
  switch (uuid16) {
    case 0x0002: return g_sensor->waveform().read_info(out, cap);
    case 0x0004: return g_sensor->waveform().read_chunk(out, cap);
    case 0x0013: return g_dfu->read_status(out, cap);
    case 0x0022: return g_config->read_reported(out, cap);
    default: *att = 0x02; return 0;  // read not permitted
  }
}
void gatt_after_response() {
  if (!g_dfu->reboot_requested()) return;
  __asm volatile("dsb");
  *reinterpret_cast<volatile std::uint32_t*>(0xE000ED0C) = 0x05FA0004;  // SCB AIRCR: SYSRESETREQ
  for (;;) {
  }
}
const vigil_gatt_handlers g_handlers{gatt_write, gatt_read, gatt_after_response};
}  // namespace

extern "C" int vigil_main() {
  g_clock.start();
  static const vigil_fw::Hal hal{g_accel, g_temp, g_battery, g_radio, g_aes, g_clock, g_storage};
  static vigil_fw::Sensor sensor(hal, g_burst, VIGIL_FW_BURST_SAMPLES);
  // Without a key the sensor waits for commissioning (the GATT glue calls
  // provision_key); it never advertises plain frames.
  while (sensor.init() != vigil_fw::Error::kNone) g_clock.sleep_ms(60000);
  g_storage.read(vigil_fw::Record::kKey, g_key, sizeof g_key);
  static vigil_fw::DfuService dfu(g_flash, vigil_fw::kNrf52FlashLayout, g_aes, g_key, vigil_fw::kBoardNrf52840);
  dfu.init();
  static vigil_fw::ConfigService config(sensor, g_storage, g_radio, dfu.running_version());
  config.init();
  g_sensor = &sensor;
  g_dfu = &dfu;
  g_config = &config;
  vigil_board_gatt_register(&g_handlers);
  bool confirmed = false;
  for (;;) {
    const std::uint32_t t0 = g_clock.now_ms();
    const vigil_fw::Error e = sensor.run_cycle();
    if (!confirmed && e == vigil_fw::Error::kNone) {
      vigil_fw::BootStateLog log(g_flash, vigil_fw::kNrf52FlashLayout.state);
      confirmed = vigil_fw::confirm_running_image(log) != vigil_fw::DfuError::kFlashError;
    }
    sensor.sleep_until_next(t0);
  }
}
