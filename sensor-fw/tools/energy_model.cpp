// SPDX-License-Identifier: Apache-2.0
//
// Battery-life estimate for the default build (docs/energy-model.md).
// Duty cycle comes from vigil_fw/config.h (what the firmware does); currents
// are typical datasheet figures at 3 V with the DC/DC converter on (nRF52840
// Product Specification v1.7 §5.2 "Current consumption"; Kionix KX134-1211
// accelerometer datasheet). Change a number here and in the doc together.
//
//   energy_model [--interval S] [--pulls-per-day N] [--require-years Y]
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
}  // namespace

int main(int argc, char** argv) {
  double interval_s = VIGIL_FW_MEASUREMENT_INTERVAL_S;
  double pulls_per_day = 4;
  double require_years = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--interval")) interval_s = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--pulls-per-day")) pulls_per_day = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--require-years")) require_years = std::atof(argv[i + 1]);
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
  if (require_years > 0 && years < require_years) {
    std::printf("FAIL: below the %.1f-year goal\n", require_years);
    return 1;
  }
  return 0;
}
