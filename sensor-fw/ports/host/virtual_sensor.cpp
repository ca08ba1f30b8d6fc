// SPDX-License-Identifier: Apache-2.0
#include "virtual_sensor.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "vigil_fw/crypto.h"
#include "vigil_fw/hal.h"
#include "vigil_fw/sensor.h"

namespace vigil_fw::host {
namespace {

constexpr float kScale = 16.0f / 32768.0f;  // ±16 g, 16 bit

class HostAccel final : public Accelerometer {
 public:
  AccelSource source = synthetic_motor;
  std::int64_t t_ms = 0;
  std::vector<float> scratch;
  bool capture(std::uint32_t rate_hz, std::size_t n, std::int16_t* out) override {
    scratch.resize(n);
    for (int a = 0; a < 3; ++a) {
      std::fill(scratch.begin(), scratch.end(), 0.0f);
      source(t_ms, rate_hz, a, scratch);
      for (std::size_t i = 0; i < n; ++i) {
        float c = std::round(scratch[i] / kScale);
        out[a * n + i] = static_cast<std::int16_t>(std::clamp(c, -32768.0f, 32767.0f));
      }
    }
    return true;
  }
  float scale_g_per_count() const override { return kScale; }
};

struct HostTemp final : TemperatureSensor {
  float c = 24;
  bool read_c(float* out) override { *out = c; return true; }
};
struct HostBattery final : Battery {
  std::uint16_t mv = 3600;
  bool read_mv(std::uint16_t* out) override { *out = mv; return true; }
};
struct HostRadio final : Radio {
  std::array<std::uint8_t, 6> mac{};
  std::vector<std::vector<std::uint8_t>> sent;
  bool advertise(const std::uint8_t* ad, std::size_t len, std::uint32_t, std::uint32_t) override {
    sent.emplace_back(ad, ad + len);
    return true;
  }
  void address(std::uint8_t out[6]) const override { std::memcpy(out, mac.data(), 6); }
};
struct HostClock final : Clock {
  std::uint32_t t = 0;
  std::uint32_t now_ms() override { return t; }
  void sleep_ms(std::uint32_t ms) override { t += ms; }
};

// Records in memory, mirrored to a small text file ("<id> <hex>\n").
class FileStorage final : public Storage {
 public:
  std::string path;
  std::map<int, std::vector<std::uint8_t>> recs;
  bool load() {
    if (path.empty()) return true;
    std::ifstream in(path);
    if (!in) return true;  // first run
    int id;
    std::string hex;
    while (in >> id >> hex) {
      std::vector<std::uint8_t> b;
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
      recs[id] = b;
    }
    return true;
  }
  bool read(Record r, std::uint8_t* buf, std::size_t len) override {
    auto it = recs.find(static_cast<int>(r));
    if (it == recs.end() || it->second.size() != len) return false;
    std::memcpy(buf, it->second.data(), len);
    return true;
  }
  bool write(Record r, const std::uint8_t* buf, std::size_t len) override {
    recs[static_cast<int>(r)].assign(buf, buf + len);
    if (path.empty()) return true;
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      static const char* d = "0123456789abcdef";
      for (auto& [id, b] : recs) {
        out << id << ' ';
        for (auto x : b) out << d[x >> 4] << d[x & 15];
        out << '\n';
      }
      if (!out) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;  // atomic replace
  }
};

}  // namespace

struct VirtualSensor::Impl {
  HostAccel accel;
  HostTemp temp;
  HostBattery battery;
  HostRadio radio;
  SoftAes aes;
  HostClock clock;
  FileStorage storage;
  Hal hal{accel, temp, battery, radio, aes, clock, storage};
  std::vector<std::int16_t> burst = std::vector<std::int16_t>(VIGIL_FW_AXES * VIGIL_FW_BURST_SAMPLES);
  Sensor sensor{hal, burst.data(), VIGIL_FW_BURST_SAMPLES};
  std::string error;
};

VirtualSensor::VirtualSensor(VirtualSensorOptions o) : impl_(std::make_unique<Impl>()) {
  impl_->radio.mac = o.mac;
  impl_->temp.c = o.temperature_c;
  impl_->battery.mv = o.battery_mv;
  impl_->storage.path = o.state_file;
  impl_->storage.load();
  impl_->sensor.set_interval_s(o.interval_s);
  Error e = Error::kNone;
  if (o.key) {
    std::array<std::uint8_t, 16> stored{};
    // A new key (or none stored) resets counters; the same key keeps them.
    if (!impl_->storage.read(Record::kKey, stored.data(), 16) || stored != *o.key)
      e = impl_->sensor.provision_key(o.key->data());
  } else {
    impl_->sensor.set_allow_plain(true);
  }
  if (e == Error::kNone) e = impl_->sensor.init();
  if (e != Error::kNone) impl_->error = to_string(e);
}

VirtualSensor::~VirtualSensor() = default;
const std::string& VirtualSensor::error() const { return impl_->error; }
void VirtualSensor::set_accel_source(AccelSource s) { impl_->accel.source = std::move(s); }
void VirtualSensor::set_temperature(float c) { impl_->temp.c = c; }
void VirtualSensor::set_battery_mv(std::uint16_t mv) { impl_->battery.mv = mv; }
const BurstFeatures& VirtualSensor::last_features() const { return impl_->sensor.last_features(); }

std::vector<std::vector<std::uint8_t>> VirtualSensor::measure(std::int64_t t_ms) {
  if (!impl_->error.empty()) return {};
  impl_->accel.t_ms = t_ms;
  impl_->clock.t = static_cast<std::uint32_t>(t_ms);
  impl_->radio.sent.clear();
  Error e = impl_->sensor.run_cycle();
  if (e != Error::kNone) {
    impl_->error = to_string(e);
    return {};
  }
  return impl_->radio.sent;
}

std::vector<std::uint8_t> VirtualSensor::read_waveform_info() {
  std::vector<std::uint8_t> v(kWaveformInfoSize);
  v.resize(impl_->sensor.waveform().read_info(v.data(), v.size()));
  return v;
}

bool VirtualSensor::write_chunk_request(std::span<const std::uint8_t> value) {
  return impl_->sensor.waveform().write_request(value.data(), value.size());
}

std::vector<std::uint8_t> VirtualSensor::read_chunk(std::size_t att_payload) {
  std::vector<std::uint8_t> v(att_payload);
  v.resize(impl_->sensor.waveform().read_chunk(v.data(), v.size()));
  return v;
}

void synthetic_motor(std::int64_t t_ms, double fs, int axis, std::span<float> out_g) {
  static constexpr double kPi = 3.14159265358979;
  const double f1 = 1485.0 / 60.0;
  const double amp1[3] = {0.20, 0.15, 0.05}, amp2[3] = {0.05, 0.04, 0.02};
  std::uint32_t lcg = static_cast<std::uint32_t>(t_ms) * 2654435761u + static_cast<std::uint32_t>(axis) * 40503u + 1u;
  for (std::size_t i = 0; i < out_g.size(); ++i) {
    const double t = static_cast<double>(t_ms) / 1000.0 + static_cast<double>(i) / fs;
    lcg = lcg * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(lcg >> 8) / 16777216.0 - 0.5) * 0.02;
    out_g[i] = static_cast<float>(amp1[axis] * std::sin(2 * kPi * f1 * t) + amp2[axis] * std::sin(4 * kPi * f1 * t + 0.3) +
                                  noise + (axis == 2 ? 1.0 : 0.0));
  }
}

}  // namespace vigil_fw::host
