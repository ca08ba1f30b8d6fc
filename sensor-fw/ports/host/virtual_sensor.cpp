// SPDX-License-Identifier: Apache-2.0
#include "virtual_sensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "vigil_fw/boot.h"
#include "vigil_fw/config_service.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/dfu_service.h"
#include "vigil_fw/hal.h"
#include "vigil_fw/image.h"
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
  std::int8_t tx_power_dbm = 0;
  bool set_tx_power_dbm(std::int8_t dbm) override {
    tx_power_dbm = dbm;
    return true;
  }
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

// The host board's flash: slot A 0, slot B 96 KiB, scratch, boot state.
constexpr FlashLayout kHostLayout{0, 96u * 1024u, 96u * 1024u, 192u * 1024u, 196u * 1024u};
constexpr std::uint32_t kHostFlashSize = 200u * 1024u;
constexpr char kHostMagic[8] = {'V', 'G', 'H', 'O', 'S', 'T', 'F', 'W'};

// Flash in RAM, written through to a file when a path is set (so a new
// process on the same state dir sees the same slots).
class FileFlash final : public Flash {
 public:
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(kHostFlashSize, 0xFF);
  std::string path;
  bool load() {
    if (path.empty()) return true;
    std::ifstream in(path, std::ios::binary);
    if (in) {
      in.read(reinterpret_cast<char*>(mem.data()), static_cast<std::streamsize>(mem.size()));
      if (in.gcount() == static_cast<std::streamsize>(mem.size())) return true;
      std::fill(mem.begin(), mem.end(), 0xFF);  // wrong size: start blank
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(mem.data()), static_cast<std::streamsize>(mem.size()));
    return static_cast<bool>(out);
  }
  bool read(std::uint32_t addr, std::uint8_t* out, std::size_t len) override {
    if (addr + len > mem.size()) return false;
    std::memcpy(out, mem.data() + addr, len);
    return true;
  }
  bool erase_page(std::uint32_t addr) override {
    if (addr % kFlashPageSize || addr >= mem.size()) return false;
    std::fill_n(mem.begin() + addr, kFlashPageSize, 0xFF);
    return persist(addr, kFlashPageSize);
  }
  bool write(std::uint32_t addr, const std::uint8_t* data, std::size_t len) override {
    if (addr % 4 || len % 4 || addr + len > mem.size()) return false;
    for (std::size_t i = 0; i < len; ++i) mem[addr + i] &= data[i];
    return persist(addr, len);
  }

 private:
  bool persist(std::uint32_t addr, std::size_t len) {
    if (path.empty()) return true;
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    if (!f) return false;
    const bool ok = std::fseek(f, static_cast<long>(addr), SEEK_SET) == 0 &&
                    std::fwrite(mem.data() + addr, 1, len, f) == len;
    return std::fclose(f) == 0 && ok;
  }
};

std::uint32_t rd32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

std::vector<std::uint8_t> make_test_image(std::uint32_t version, std::size_t size, std::uint32_t board, bool bad) {
  std::vector<std::uint8_t> p(size < 20 ? 20 : size);
  std::memcpy(p.data(), kHostMagic, 8);
  for (int i = 0; i < 4; ++i) {
    p[8 + i] = static_cast<std::uint8_t>(version >> (8 * i));
    p[12 + i] = static_cast<std::uint8_t>(board >> (8 * i));
  }
  p[16] = bad ? 1 : 0;
  for (std::size_t i = 20; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 31u + 7u + (i >> 10));
  return p;
}

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
  FileFlash flash;
  std::array<std::uint8_t, 16> key{};  // all zero with plain frames (DFU tags then use it)
  bool self_confirm = true;
  std::optional<DfuService> dfu;
  std::optional<ConfigService> config;
  BootInfo last;

  void install_factory_image(std::uint32_t version);
  bool self_test(std::uint32_t version);
  BootInfo boot();
};

void VirtualSensor::Impl::install_factory_image(std::uint32_t version) {
  ImageHeader h;
  if (read_slot_header(flash, kHostLayout.slot_a, &h) == DfuError::kNone) return;
  const std::vector<std::uint8_t> p = make_test_image(version, 1024, kBoardHost, false);
  h = ImageHeader{};
  h.board_id = kBoardHost;
  h.version = version;
  h.payload_size = static_cast<std::uint32_t>(p.size());
  h.payload_crc32 = crc32(p.data(), p.size());
  std::vector<std::uint8_t> img(kImageHeaderSize + p.size() + 3, 0xFF);
  encode_image_header(h, img.data());
  std::memcpy(img.data() + kImageHeaderSize, p.data(), p.size());
  img.resize((kImageHeaderSize + p.size() + 3) & ~std::size_t{3});
  for (std::uint32_t off = 0; off < img.size(); off += kFlashPageSize) flash.erase_page(kHostLayout.slot_a + off);
  flash.write(kHostLayout.slot_a, img.data(), img.size());
}

// The "firmware" in slot A passes its self-test if it is a good host test
// image of the version its header claims.
bool VirtualSensor::Impl::self_test(std::uint32_t version) {
  std::uint8_t p[20];
  if (!flash.read(kHostLayout.slot_a + kImageHeaderSize, p, sizeof p)) return false;
  return std::memcmp(p, kHostMagic, 8) == 0 && rd32(p + 8) == version && rd32(p + 12) == kBoardHost &&
         (p[16] & 1) == 0;
}

BootInfo VirtualSensor::Impl::boot() {
  BootInfo info;
  // A failing test image resets itself at once; each reset is another run
  // of the bootloader, which reverts after VIGIL_FW_DFU_TEST_BOOTS.
  for (int resets = 0; resets <= VIGIL_FW_DFU_TEST_BOOTS + 1; ++resets) {
    Bootloader bl(flash, kHostLayout, aes, key.data(), kBoardHost);
    const BootReport r = bl.boot();
    info.version = r.version;
    info.state = to_string(r.outcome);
    if (r.outcome == BootOutcome::kTestBoot) {
      if (!self_test(r.version)) continue;
      if (self_confirm) {
        BootStateLog log(flash, kHostLayout.state);
        if (confirm_running_image(log) == DfuError::kNone) info.state = "confirmed";
      }
    }
    break;
  }
  dfu.emplace(flash, kHostLayout, aes, key.data(), kBoardHost);
  dfu->init();
  const Error e = sensor.init();
  if (e != Error::kNone) error = to_string(e);
  config.emplace(sensor, storage, radio, info.version);
  config->init();
  last = info;
  return info;
}

VirtualSensor::VirtualSensor(VirtualSensorOptions o) : impl_(std::make_unique<Impl>()) {
  impl_->radio.mac = o.mac;
  impl_->temp.c = o.temperature_c;
  impl_->battery.mv = o.battery_mv;
  impl_->storage.path = o.state_file;
  if (!o.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.state_dir, ec);
    if (impl_->storage.path.empty()) impl_->storage.path = o.state_dir + "/state";
    impl_->flash.path = o.state_dir + "/flash.bin";
  }
  impl_->storage.load();
  if (!impl_->flash.load()) impl_->error = "cannot write " + impl_->flash.path;
  impl_->self_confirm = o.self_confirm;
  if (o.key) impl_->key = *o.key;
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
  if (e != Error::kNone) impl_->error = to_string(e);
  if (!impl_->error.empty()) return;
  impl_->install_factory_image(o.version);
  impl_->boot();  // power-on: bootloader, self-test, sensor.init(), services
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

std::uint8_t VirtualSensor::gatt_write(std::uint16_t uuid16, std::span<const std::uint8_t> v) {
  if (!impl_->dfu || !impl_->config) return 0x0E;  // did not start (see error())
  switch (uuid16) {
    case 0x0003: return impl_->sensor.waveform().write_request(v.data(), v.size()) ? 0 : kAttValueNotAllowed;
    case 0x0011: {
      const std::uint8_t att = impl_->dfu->write_control(v.data(), v.size());
      if (att == 0 && impl_->dfu->reboot_requested()) reboot();  // after the response, as on the device
      return att;
    }
    case 0x0012: return impl_->dfu->write_data(v.data(), v.size());
    case 0x0021: return impl_->config->write_desired(v.data(), v.size());
    case 0x0002: case 0x0004: case 0x0013: case 0x0022: return 0x03;  // write not permitted
    default: return 0x0A;  // attribute not found
  }
}

std::vector<std::uint8_t> VirtualSensor::gatt_read(std::uint16_t uuid16, std::uint8_t* att) {
  *att = 0;
  if (!impl_->dfu || !impl_->config) return *att = 0x0E, std::vector<std::uint8_t>{};
  std::vector<std::uint8_t> v(244);
  switch (uuid16) {
    case 0x0002: return read_waveform_info();
    case 0x0004: return read_chunk();
    case 0x0013: v.resize(impl_->dfu->read_status(v.data(), v.size())); return v;
    case 0x0022: v.resize(impl_->config->read_reported(v.data(), v.size())); return v;
    case 0x0003: case 0x0011: case 0x0012: case 0x0021: *att = 0x02; return {};  // read not permitted
    default: *att = 0x0A; return {};
  }
}

BootInfo VirtualSensor::reboot() { return impl_->boot(); }
const BootInfo& VirtualSensor::last_boot() const { return impl_->last; }
std::uint32_t VirtualSensor::interval_s() const { return impl_->sensor.interval_s(); }

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
