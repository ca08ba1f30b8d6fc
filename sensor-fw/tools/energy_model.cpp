// SPDX-License-Identifier: Apache-2.0
//
// Battery-life estimate for the default build (docs/energy-model.md).
// Duty cycle comes from vigil_fw/config.h (what the firmware does); currents
// are typical datasheet figures at 3 V with the DC/DC converter on (nRF52840
// Product Specification v1.7 §5.2 "Current consumption"; Kionix KX134-1211
// accelerometer datasheet). Change a number here and in the doc together.
//
//   energy_model [--interval S] [--pulls-per-day N] [--require-years Y]
//                [--ota-kb KB] [--conn-interval-ms MS] [--att-payload B]
//
// Also prints the cost of one firmware update over GATT (default 64 KB at a
// 15 ms connection interval, 244-byte Data writes = 240 image bytes each):
// transfer time, radio time on air, charge in mAh and the battery life it
// costs in days at the normal duty cycle. The sensor is the receiver: the
// gateway's writes are RX, its link-layer acks TX.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vigil_fw/config.h"

namespace {
// --- currents (mA) and times (ms) ---------------------------------------------
constexpr double kSleepUa = 3.16;          // nRF52840 System ON, full RAM retention, RTC wake (I_ON_RAMON_RTC)
constexpr double kAccelStandbyUa = 0.9;    // accelerometer standby
constexpr double kCellLeakUa = 0.5;        // board leakage (divider off, regulator quiescent)
constexpr double kAccelActiveMa = 0.165;   // accelerometer high-performance mode, ODR ≤ 25.6 kHz
constexpr double kAccelStartupMs = 50;     // turn-on + settling before the burst
constexpr double kMcuIdleHfxoMa = 0.45;    // CPU sleeping, HFXO + SPIM EasyDMA running during the burst
constexpr double kCpuActiveMa = 3.3;       // CPU @64 MHz from flash, DC/DC (≈ 52 µA/MHz)
constexpr double kCyclesPerSample = 160;   // features + CRC per sample per axis (measured order on M4F)
constexpr double kTxMa = 4.8;              // radio TX 0 dBm, DC/DC
constexpr double kAdvPduUs = 376;          // 47 bytes on air at 1 Mbit/s (31-byte AdvData)
constexpr double kAdvChannelOverheadUs = 150;  // ramp-up + channel switch per channel
constexpr double kAdvOverheadUc = 0.5;     // HFXO start + CPU per advertising event
constexpr double kMeasureMiscUc = 10;      // TEMP + SAADC battery reading + CCM on the ECB
constexpr double kWaveformPullMc = 12;     // one GATT download of the 24 KB burst (2M PHY, ~1.5 s connected)
constexpr double kCellMah = 2600;          // Li-SOCl2 AA (e.g. ER14505)
constexpr double kUsableFraction = 0.80;   // derating: temperature, passivation, end voltage
constexpr double kSelfDischargePerYear = 0.01;  // of nominal capacity
// --- firmware update over GATT ------------------------------------------------
constexpr double kRxMa = 4.6;              // radio RX 1 Mbit/s, DC/DC
constexpr double kPhyUsPerByte = 8;        // 1M PHY
constexpr double kLlOverheadBytes = 14;    // preamble 1 + access address 4 + header 2 + MIC 4 + CRC 3
constexpr double kEmptyPduUs = 80;         // the ack: 10 bytes
constexpr double kIfsUs = 150;             // T_IFS
constexpr double kMaxPacketsPerEvent = 6;  // what BlueZ/controllers typically sustain per event
constexpr double kConnEventOverheadUc = 0.4;  // HFXO ramp + CPU wake per connection event
constexpr double kFlashMa = 7.0;           // NVMC write/erase current (PS order, conservative)
constexpr double kFlashWordUs = 41;        // t_WRITE per 32-bit word
constexpr double kFlashEraseMs = 85;       // t_ERASEPAGE
constexpr double kCpuPerWriteUs = 60;      // ATT handling per Data write
constexpr double kVerifyCyclesPerByte = 60;  // CRC-32 (bitwise) + AES-CMAC on the ECB, per image byte

struct OtaCost {
  double writes, packets_per_event, events, transfer_s, air_ms, radio_uc, flash_uc, cpu_uc, swap_uc, total_uc;
};

// One update of `bytes` image bytes (+64 header) into slot B, VERIFY, then the
// bootloader's swap (3 erases + 3 page programs per page) at the next boot.
OtaCost ota_cost(double bytes, double conn_interval_ms, double att_payload) {
  OtaCost c{};
  const double data_per_write = att_payload - 4;  // Data = offset u32 | bytes
  c.writes = std::ceil(bytes / data_per_write);
  const double pdu_us = (att_payload + 3 + 4 + kLlOverheadBytes) * kPhyUsPerByte;  // ATT + L2CAP headers
  const double slot_us = pdu_us + kIfsUs + kEmptyPduUs + kIfsUs;
  c.packets_per_event = std::floor((conn_interval_ms * 1000 - kIfsUs) / slot_us);
  if (c.packets_per_event > kMaxPacketsPerEvent) c.packets_per_event = kMaxPacketsPerEvent;
  if (c.packets_per_event < 1) c.packets_per_event = 1;
  c.events = std::ceil(c.writes / c.packets_per_event);
  const double pages = std::ceil((bytes + 64) / 4096);
  // The CPU stalls while the NVMC programs or erases, and the stack only
  // schedules flash work between radio events: count the two one after the other.
  const double flash_busy_ms = bytes / 4 * kFlashWordUs / 1000 + pages * kFlashEraseMs;
  c.transfer_s = (c.events * conn_interval_ms + flash_busy_ms) / 1000;
  c.air_ms = c.writes * (pdu_us + kEmptyPduUs) / 1000;
  c.radio_uc = c.writes * ((pdu_us + 2 * kIfsUs) * kRxMa + kEmptyPduUs * kTxMa) / 1000 + c.events * kConnEventOverheadUc;
  c.flash_uc = flash_busy_ms * kFlashMa;
  c.cpu_uc = (c.writes * kCpuPerWriteUs / 1000 + bytes * kVerifyCyclesPerByte / 64e6 * 1000) * kCpuActiveMa;
  c.swap_uc = pages * 3 * (kFlashEraseMs + 1024 * kFlashWordUs / 1000) * kFlashMa;
  c.total_uc = c.radio_uc + c.flash_uc + c.cpu_uc + c.swap_uc;
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  double interval_s = VIGIL_FW_MEASUREMENT_INTERVAL_S;
  double pulls_per_day = 4;
  double require_years = 0;
  double ota_kb = 64, conn_interval_ms = 15, att_payload = 244;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--interval")) interval_s = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--pulls-per-day")) pulls_per_day = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--require-years")) require_years = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ota-kb")) ota_kb = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--conn-interval-ms")) conn_interval_ms = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--att-payload")) att_payload = std::atof(argv[i + 1]);
  }
  const double burst_ms = 1000.0 * VIGIL_FW_BURST_SAMPLES / VIGIL_FW_SAMPLE_RATE_HZ;
  const double capture_uc = (burst_ms + kAccelStartupMs) * (kAccelActiveMa + kMcuIdleHfxoMa);
  const double compute_ms = kCyclesPerSample * VIGIL_FW_BURST_SAMPLES * VIGIL_FW_AXES / 64e6 * 1000.0;
  const double compute_uc = compute_ms * kCpuActiveMa;
  const double frames = 5;  // BTHome + vigil total/x/y/z
  const double events = frames * (VIGIL_FW_FRAME_ADV_MS / VIGIL_FW_ADV_INTERVAL_MS);
  const double event_uc = 3 * (kAdvPduUs + kAdvChannelOverheadUs) / 1000.0 * kTxMa + kAdvOverheadUc;
  const double radio_uc = events * event_uc;
  const double cycle_uc = capture_uc + compute_uc + radio_uc + kMeasureMiscUc;
  const double sleep_ua = kSleepUa + kAccelStandbyUa + kCellLeakUa;
  const double pulls_ua = pulls_per_day * kWaveformPullMc * 1000.0 / 86400.0;
  const double avg_ua = sleep_ua + cycle_uc / interval_s + pulls_ua;
  const double usable_mah = kCellMah * kUsableFraction;
  // Self-discharge as an equivalent constant drain.
  const double self_ua = kCellMah * kSelfDischargePerYear * 1000.0 / 8760.0;
  const double years = usable_mah * 1000.0 / (avg_ua + self_ua) / 8760.0;

  std::printf("vigil sensor energy model (docs/energy-model.md)\n");
  std::printf("  interval                 %8.0f s\n", interval_s);
  std::printf("  burst                    %8.1f ms (%d samples/axis at %d Hz)\n", burst_ms, VIGIL_FW_BURST_SAMPLES,
              VIGIL_FW_SAMPLE_RATE_HZ);
  std::printf("  capture charge           %8.1f uC\n", capture_uc);
  std::printf("  compute                  %8.1f ms, %6.1f uC\n", compute_ms, compute_uc);
  std::printf("  advertising              %8.0f events x %.2f uC = %.1f uC\n", events, event_uc, radio_uc);
  std::printf("  per cycle                %8.1f uC -> %.3f uA average\n", cycle_uc, cycle_uc / interval_s);
  std::printf("  sleep floor              %8.2f uA\n", sleep_ua);
  std::printf("  waveform pulls           %8.1f /day -> %.3f uA\n", pulls_per_day, pulls_ua);
  std::printf("  average                  %8.2f uA (+ %.2f uA cell self-discharge)\n", avg_ua, self_ua);
  std::printf("  battery                  %8.0f mAh x %.0f%% usable\n", kCellMah, kUsableFraction * 100);
  std::printf("  estimated life           %8.1f years\n", years);
  if (att_payload < 5 || att_payload > 244 || conn_interval_ms < 7.5 || ota_kb <= 0) {
    std::printf("bad OTA parameters: --att-payload 5..244, --conn-interval-ms >= 7.5, --ota-kb > 0\n");
    return 2;
  }
  const OtaCost ota = ota_cost(ota_kb * 1024, conn_interval_ms, att_payload);
  const double ota_mah = ota.total_uc / 3.6e6;
  const double days_lost = ota.total_uc / ((avg_ua + self_ua) * 86400.0);
  std::printf("firmware update over GATT (docs/protocol.md section 8)\n");
  std::printf("  image                    %8.0f KB, %.0f-byte Data writes, %.1f ms connection interval\n", ota_kb,
              att_payload, conn_interval_ms);
  std::printf("  writes                   %8.0f (%.0f per connection event, %.0f events)\n", ota.writes,
              ota.packets_per_event, ota.events);
  std::printf("  transfer time            %8.1f s (radio on air %.0f ms)\n", ota.transfer_s, ota.air_ms);
  std::printf("  radio                    %8.1f mC\n", ota.radio_uc / 1000);
  std::printf("  flash program + erase    %8.1f mC, verify/CPU %.1f mC\n", ota.flash_uc / 1000, ota.cpu_uc / 1000);
  std::printf("  swap at boot             %8.1f mC (a revert costs the same again)\n", ota.swap_uc / 1000);
  std::printf("  total                    %8.4f mAh = %.2f days of battery life\n", ota_mah, days_lost);
  if (require_years > 0 && years < require_years) {
    std::printf("FAIL: below the %.1f-year goal\n", require_years);
    return 1;
  }
  return 0;
}
