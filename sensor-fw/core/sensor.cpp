// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/sensor.h"

#include <string.h>

namespace vigil_fw {

const char* to_string(Error e) {
  switch (e) {
    case Error::kNone: return "ok";
    case Error::kNoKey: return "no key provisioned";
    case Error::kStorage: return "persistent storage failed";
    case Error::kCounterExhausted: return "counter exhausted: provision a new key";
    case Error::kAccelerometer: return "accelerometer capture failed";
    case Error::kFrame: return "frame does not fit";
    case Error::kRadio: return "advertising failed";
    case Error::kCipher: return "AES failed";
  }
  return "?";
}

std::uint8_t battery_percent(std::uint16_t mv) {
  if (mv <= VIGIL_FW_BATTERY_EMPTY_MV) return 0;
  if (mv >= VIGIL_FW_BATTERY_FULL_MV) return 100;
  return static_cast<std::uint8_t>((mv - VIGIL_FW_BATTERY_EMPTY_MV) * 100u /
                                   (VIGIL_FW_BATTERY_FULL_MV - VIGIL_FW_BATTERY_EMPTY_MV));
}

Sensor::Sensor(const Hal& hal, std::int16_t* burst, std::size_t samples_per_axis)
    : hal_(hal), burst_(burst), n_(samples_per_axis), counter_(hal.storage, VIGIL_FW_COUNTER_BLOCK) {}

Error Sensor::init() {
  hal_.radio.address(mac_);
  have_key_ = hal_.storage.read(Record::kKey, key_, sizeof key_);
  if (!have_key_ && !allow_plain_) return Error::kNoKey;
  if (!counter_.init()) return Error::kStorage;
  return Error::kNone;
}

Error Sensor::provision_key(const std::uint8_t key[16]) {
  if (!hal_.storage.write(Record::kKey, key, 16)) return Error::kStorage;
  memcpy(key_, key, 16);
  have_key_ = true;
  return counter_.reset_for_new_key() ? Error::kNone : Error::kStorage;
}

void Sensor::set_interval_s(std::uint32_t s) {
  if (s < VIGIL_FW_INTERVAL_MIN_S) s = VIGIL_FW_INTERVAL_MIN_S;
  if (s > VIGIL_FW_INTERVAL_MAX_S) s = VIGIL_FW_INTERVAL_MAX_S;
  interval_s_ = s;
}

Error Sensor::seal(Sealing& s) {
  s.aes = &hal_.aes;
  s.mac = mac_;
  if (!have_key_) return allow_plain_ ? Error::kNone : Error::kNoKey;
  s.key = key_;
  std::uint32_t c = 0;
  if (!counter_.next(&c)) return counter_.peek() == 0xFFFFFFFFu ? Error::kCounterExhausted : Error::kStorage;
  s.counter = c;
  return Error::kNone;
}

Error Sensor::send(Advertisement& adv) {
  if (sink_) sink_->on_frame(adv);
  return hal_.radio.advertise(adv.bytes, adv.len, VIGIL_FW_ADV_INTERVAL_MS, VIGIL_FW_FRAME_ADV_MS) ? Error::kNone
                                                                                                  : Error::kRadio;
}

Error Sensor::run_cycle() {
  const std::uint32_t rate = VIGIL_FW_SAMPLE_RATE_HZ;
  if (!hal_.accel.capture(rate, n_, burst_)) return Error::kAccelerometer;
  const float scale = hal_.accel.scale_g_per_count();
  BandPass band{VIGIL_FW_VELOCITY_HP_HZ, VIGIL_FW_VELOCITY_LP_HZ, n_ / VIGIL_FW_VELOCITY_SETTLE_DIV};
  features_ = compute_features(burst_, n_, VIGIL_FW_AXES, scale, static_cast<float>(rate), band);
  ++seq_;
  waveform_.publish(burst_, n_, VIGIL_FW_AXES, rate, scale, seq_);

  BthomeReadings r;
  r.packet_id = packet_id_++;
  float t = 0;
  r.temperature_c = hal_.temperature.read_c(&t) ? t : -327.68f;  // sint16 min marks "no reading"
  std::uint16_t mv = 0;
  if (hal_.battery.read_mv(&mv)) {
    r.battery_mv = mv;
    r.battery_pct = battery_percent(mv);
  }
  r.accel_rms_m_s2 = features_.total.accel_rms_g * 9.80665f;

  Advertisement adv;
  std::uint8_t objects[kMaxAdvLen];
  const std::size_t len = bthome_objects(r, objects, sizeof objects);
  Sealing s;
  Error e = seal(s);
  if (e != Error::kNone) return e;
  if (len == 0 || !build_bthome_adv(objects, len, s, adv)) return Error::kFrame;
  if ((e = send(adv)) != Error::kNone) return e;

  for (std::uint8_t axis = 0; axis < 4; ++axis) {
    const AxisFeatures& f = axis == 0 ? features_.total : features_.axis[axis - 1];
    VigilFeatures vf{seq_, axis, f.accel_rms_g, f.velocity_rms_mm_s, f.accel_peak_g, f.crest_factor, f.kurtosis};
    std::uint8_t payload[kVigilPayloadSize];
    vigil_payload(vf, payload);
    Sealing sv;
    if ((e = seal(sv)) != Error::kNone) return e;
    if (!build_vigil_adv(payload, sv, adv)) return Error::kFrame;
    if ((e = send(adv)) != Error::kNone) return e;
  }
  return Error::kNone;
}

void Sensor::sleep_until_next(std::uint32_t started_ms) {
  const std::uint32_t elapsed = hal_.clock.now_ms() - started_ms;
  const std::uint32_t period = interval_s_ * 1000u;
  hal_.clock.sleep_ms(elapsed < period ? period - elapsed : 0);
}

void Sensor::run_forever() {
  for (;;) {
    const std::uint32_t t0 = hal_.clock.now_ms();
    run_cycle();  // errors: try again next cycle (a port may count/report them)
    sleep_until_next(t0);
  }
}

}  // namespace vigil_fw
