// SPDX-License-Identifier: Apache-2.0
//
// The measurement cycle: wake → capture a burst → features → temperature and
// battery → advertise one BTHome frame and four vigil frames (total, x, y, z),
// one after another, each with the next counter → publish the waveform to
// the GATT service → sleep. Ports call init() once, then run_cycle() and
// sleep_until_next() forever (or run_forever()).
//
// Memory: the caller owns the burst buffer (static in the port), sized
// VIGIL_FW_AXES × burst samples; nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/config.h"
#include "vigil_fw/counter.h"
#include "vigil_fw/features.h"
#include "vigil_fw/frames.h"
#include "vigil_fw/hal.h"
#include "vigil_fw/waveform_service.h"

namespace vigil_fw {

enum class Error : std::uint8_t {
  kNone = 0,
  kNoKey,            // encryption on, no key provisioned
  kStorage,          // persistent storage failed
  kCounterExhausted, // 2^32 frames under this key: provision a new key
  kAccelerometer,
  kFrame,            // a frame did not fit (a bug)
  kRadio,
  kCipher,
};
const char* to_string(Error e);

// Observes frames as they are advertised (host port, tests). Optional.
class FrameSink {
 public:
  virtual void on_frame(const Advertisement& adv) = 0;
};

class Sensor {
 public:
  Sensor(const Hal& hal, std::int16_t* burst, std::size_t samples_per_axis);
  // Loads the key and counter. With VIGIL_FW_ENCRYPT and no key: kNoKey.
  Error init();
  // Stores a new key (commissioning); counters restart under it.
  Error provision_key(const std::uint8_t key[16]);
  // Measurement interval, clamped to 10 s .. 24 h (VIGIL_FW_INTERVAL_*);
  // takes effect at the next sleep_until_next().
  void set_interval_s(std::uint32_t s);
  std::uint32_t interval_s() const { return interval_s_; }
  // Waveform pull interval the gateway was told (configuration service).
  void set_waveform_interval_min(std::uint16_t m) { waveform_interval_min_ = m; }
  std::uint16_t waveform_interval_min() const { return waveform_interval_min_; }
  void set_sink(FrameSink* sink) { sink_ = sink; }
  // Allow plain frames when no key is provisioned (bench/debug only; the
  // default is !VIGIL_FW_ENCRYPT). Call before init().
  void set_allow_plain(bool allow) { allow_plain_ = allow; }

  Error run_cycle();
  void sleep_until_next(std::uint32_t cycle_started_ms);
  [[noreturn]] void run_forever();

  const BurstFeatures& last_features() const { return features_; }
  std::uint16_t seq() const { return seq_; }
  WaveformService& waveform() { return waveform_; }
  FrameCounter& counter() { return counter_; }

 private:
  Error send(Advertisement& adv);
  Error seal(Sealing& s);
  const Hal& hal_;
  std::int16_t* burst_;
  std::size_t n_;
  FrameCounter counter_;
  WaveformService waveform_;
  BurstFeatures features_{};
  FrameSink* sink_ = nullptr;
  std::uint8_t key_[16] = {0};
  std::uint8_t mac_[6] = {0};
  bool have_key_ = false;
  bool allow_plain_ = !VIGIL_FW_ENCRYPT;
  std::uint32_t interval_s_ = VIGIL_FW_MEASUREMENT_INTERVAL_S;
  std::uint16_t waveform_interval_min_ = VIGIL_FW_WAVEFORM_INTERVAL_MIN;
  std::uint16_t seq_ = 0;
  std::uint8_t packet_id_ = 0;
};

// Battery percent from cell voltage (linear between the config's limits).
std::uint8_t battery_percent(std::uint16_t mv);

}  // namespace vigil_fw
