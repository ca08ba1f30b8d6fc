// SPDX-License-Identifier: Apache-2.0
// The waveform puller alone: its schedule (first pull, interval, velocity
// trigger, bounded retries) and the GATT download against the fake bus.
#include <catch2/catch.hpp>

#include "ble/waveform_pull.h"
#include "protocol/waveform.h"
#include "vigil_test/fake_bus.h"

using namespace vigil;
using namespace vigil::ble;
using vigil::ble::test::FakeBus;

namespace {

constexpr const char* kMac = "C0:FF:EE:00:00:01";
constexpr const char* kPath = "/org/bluez/hci0/dev_C0_FF_EE_00_00_01";
constexpr TimestampMs kT = 1767225600000;

protocol::DecodedFrame vigil_velocity(double v) {
  protocol::DecodedFrame f;
  f.format = protocol::Format::kVigil;
  f.values.push_back({"velocity_rms_mm_s", v});
  return f;
}

// A sensor serving one burst over the fake bus's GATT characteristics.
struct GattSensor {
  protocol::WaveformInfo info;
  std::vector<std::uint8_t> data;
  std::uint32_t offset = 0;
  int replace_after_reads = -1;  // >= 0: a new burst (seq + 1) replaces this one after n chunk reads
  int reads = 0;
  std::string svc = std::string(kPath) + "/service0010";

  explicit GattSensor(FakeBus& bus) {
    info.axes = 1;
    info.seq = 7;
    info.sample_rate_hz = 3200;
    info.scale_g_per_count = 0.001f;
    info.samples_per_axis = 600;
    info.total_bytes = 600 * 2;
    data.resize(info.total_bytes);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13);
    info.crc32 = protocol::crc32(data);
    bus.objects.characteristics[svc + "/char0011"] = {protocol::kWaveformInfoCharUuid, svc};
    bus.objects.characteristics[svc + "/char0013"] = {protocol::kChunkRequestCharUuid, svc};
    bus.objects.characteristics[svc + "/char0015"] = {protocol::kChunkDataCharUuid, svc};
    bus.reads[svc + "/char0011"] = [this]() -> Result<ByteVec> {
      auto b = protocol::encode_waveform_info(info);
      return ByteVec(b.begin(), b.end());
    };
    bus.writes[svc + "/char0013"] = [this](const ByteVec& v) {
      offset = static_cast<std::uint32_t>(v[0] | v[1] << 8 | v[2] << 16 | v[3] << 24);
      return Status::Ok();
    };
    bus.reads[svc + "/char0015"] = [this]() -> Result<ByteVec> {
      if (replace_after_reads >= 0 && reads++ == replace_after_reads) {
        info.seq = static_cast<std::uint16_t>(info.seq + 1);
        replace_after_reads = -1;
      }
      ByteVec c = {static_cast<std::uint8_t>(info.seq), static_cast<std::uint8_t>(info.seq >> 8),
                   static_cast<std::uint8_t>(offset), static_cast<std::uint8_t>(offset >> 8),
                   static_cast<std::uint8_t>(offset >> 16), static_cast<std::uint8_t>(offset >> 24)};
      const std::uint32_t n = std::min<std::uint32_t>(238, info.total_bytes - offset);
      c.insert(c.end(), data.begin() + offset, data.begin() + offset + n);
      offset += n;
      return c;
    };
  }
};

}  // namespace

TEST_CASE("A waveform is downloaded over GATT, checked and the link closed") {
  FakeBus bus;
  GattSensor sensor(bus);
  WaveformPuller p({});
  auto w = p.pull(bus, kPath, kT);
  REQUIRE(w.ok());
  CHECK(w->samples.size() == 600);
  CHECK(w->sample_rate_hz == Approx(3200));
  CHECK(w->ts == kT);
  CHECK(bus.count(std::string("Connect ") + kPath) == 1);
  CHECK(bus.count(std::string("Disconnect ") + kPath) == 1);
}

TEST_CASE("A burst replaced during the download is downloaded again from the start") {
  FakeBus bus;
  GattSensor sensor(bus);
  sensor.replace_after_reads = 2;
  WaveformPuller p({});
  auto w = p.pull(bus, kPath, kT);
  REQUIRE(w.ok());
  CHECK(w->samples.size() == 600);
  CHECK(bus.count("WriteValue") == 2);  // two chunk requests from offset 0
}

TEST_CASE("A sensor without the waveform service, or without a waveform yet, fails the pull and is disconnected") {
  FakeBus bus;
  ScannerOptions o;
  o.services_resolve_wait = std::chrono::milliseconds(0);  // one look, no waiting
  SECTION("no characteristics") {
    WaveformPuller p(o);
    auto w = p.pull(bus, kPath, kT);
    CHECK(w.status().code() == Status::Code::kNotFound);
    CHECK(bus.count("GetManagedObjects") == 1);
  }
  SECTION("no waveform yet") {
    GattSensor sensor(bus);
    sensor.info.samples_per_axis = 0;
    sensor.info.total_bytes = 0;
    WaveformPuller p(o);
    auto w = p.pull(bus, kPath, kT);
    CHECK(w.status().code() == Status::Code::kNotFound);
    CHECK(w.status().message().find("no waveform yet") != std::string::npos);
  }
  CHECK(bus.count("Disconnect") == 1);
}

TEST_CASE("The first pull waits after the sensor is heard; then every interval") {
  ScannerOptions o;
  o.waveform_first_delay_s = 5;
  o.waveform_pull_interval_s = 3600;
  MetricsRegistry m;
  WaveformPuller p(o, m);
  std::vector<WaveformPuller::Candidate> c = {{kMac, kT, true}};
  CHECK_FALSE(p.due({{kMac, 0, true}}, kT));        // never heard
  CHECK_FALSE(p.due({{kMac, kT, false}}, kT + 10000));  // not a vigil sensor (yet)
  CHECK_FALSE(p.due(c, kT + 4999));
  REQUIRE(p.due(c, kT + 5000));
  p.done(kMac, Status::Ok(), kT + 5000);
  CHECK(m.counter_value("vigil_ble_waveforms_total") == 1);
  CHECK_FALSE(p.due(c, kT + 5000 + 3599 * 1000));
  CHECK(p.due(c, kT + 5000 + 3600 * 1000));
}

TEST_CASE("A sensor's own waveform interval replaces the gateway's, from its last pull on") {
  ScannerOptions o;
  o.waveform_first_delay_s = 5;
  o.waveform_pull_interval_s = 3600;
  WaveformPuller p(o);
  std::vector<WaveformPuller::Candidate> c = {{kMac, kT, true}};
  REQUIRE(p.due(c, kT + 5000));
  p.done(kMac, Status::Ok(), kT + 5000);
  // The sensor now reports 10 minutes: the next pull is 10 min after the last.
  std::vector<WaveformPuller::Candidate> ten = {{kMac, kT, true, 600}};
  CHECK_FALSE(p.due(ten, kT + 5000 + 599 * 1000));
  REQUIRE(p.due(ten, kT + 5000 + 600 * 1000));
  p.done(kMac, Status::Ok(), kT + 5000 + 600 * 1000);
  CHECK_FALSE(p.due(ten, kT + 5000 + 1199 * 1000));
  CHECK(p.due(ten, kT + 5000 + 1200 * 1000));
  p.done(kMac, Status::Ok(), kT + 5000 + 1200 * 1000);
  // Back to no interval of its own: the gateway's hour again.
  CHECK_FALSE(p.due(c, kT + 5000 + 1200 * 1000 + 3599 * 1000));
  CHECK(p.due(c, kT + 5000 + 1200 * 1000 + 3600 * 1000));
}

TEST_CASE("A vigil frame makes a sensor commissioned otherwise eligible") {
  WaveformPuller p({});
  std::vector<WaveformPuller::Candidate> c = {{kMac, kT, false}};
  CHECK_FALSE(p.due(c, kT + 60000));
  p.on_frame(kMac, vigil_velocity(1.0), kT + 60000);
  CHECK(p.due(c, kT + 60000));
}

TEST_CASE("A velocity crossing the trigger schedules a pull at once, at most every trigger gap") {
  ScannerOptions o;
  o.waveform_trigger_min_gap_s = 300;
  WaveformPuller p(o);
  std::vector<WaveformPuller::Candidate> c = {{kMac, kT, true}};
  REQUIRE(p.due(c, kT + 5000));
  p.done(kMac, Status::Ok(), kT + 5000);
  p.on_frame(kMac, vigil_velocity(2.0), kT + 10000);  // below
  CHECK_FALSE(p.due(c, kT + 10000));
  p.on_frame(kMac, vigil_velocity(7.5), kT + 20000);
  REQUIRE(p.due(c, kT + 20000));
  p.done(kMac, Status::Ok(), kT + 20000);
  p.on_frame(kMac, vigil_velocity(8.0), kT + 60000);  // inside the gap
  CHECK_FALSE(p.due(c, kT + 60000));
  p.on_frame(kMac, vigil_velocity(8.0), kT + 20000 + 300000);
  CHECK(p.due(c, kT + 20000 + 300000));
}

TEST_CASE("A failing pull is retried a bounded number of times, then waits an interval") {
  ScannerOptions o;
  o.waveform_retry_s = 60;
  o.waveform_max_attempts = 3;
  MetricsRegistry m;
  WaveformPuller p(o, m);
  std::vector<WaveformPuller::Candidate> c = {{kMac, kT, true}};
  TimestampMs t = kT + 5000;
  REQUIRE(p.due(c, t));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    p.done(kMac, Status::Unavailable("le-connection-abort-by-local"), t);
    t += 60000;
    if (attempt < 3) REQUIRE(p.due(c, t));
  }
  CHECK_FALSE(p.due(c, t));
  CHECK(p.due(c, kT + 5000 + 2 * 60000 + 3600 * 1000));
  CHECK(m.counter_value("vigil_ble_waveform_failures_total") == 3);
}
