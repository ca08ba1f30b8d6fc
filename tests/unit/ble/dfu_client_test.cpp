// SPDX-License-Identifier: Apache-2.0
// The firmware-update and configuration procedures (dfu_client.h) against a
// fake bus serving a sensor's DFU and configuration services the way the
// firmware does (docs/protocol.md): offsets checked, resume after a drop,
// refusals reported with the sensor's reason, the link always closed.
#include <catch2/catch.hpp>

#include <cstring>

#include "ble/dfu_client.h"
#include "protocol/bytes.h"
#include "vigil_test/fake_bus.h"

using namespace vigil;
using namespace vigil::ble;
using vigil::ble::test::FakeBus;
using protocol::DfuState;

namespace {

constexpr const char* kDevice = "/org/bluez/hci0/dev_C0_FF_EE_00_00_07";

void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

// What the sensor's DFU service does with each write, in a few lines: the
// real one is sensor-fw/core/dfu_service.cpp.
struct DfuSensor {
  std::vector<std::uint8_t> start;  // the START value being received
  std::vector<std::uint8_t> staged;
  std::uint32_t size = 0;
  DfuState state = DfuState::kIdle;
  std::uint8_t error = 0;
  std::uint32_t running = 0x010300, staged_version = 0;
  bool tag_valid = true;       // what VERIFY finds
  std::uint8_t refuse_start = 0;  // a START refusal (ATT 0x80 + this code)
  int drop_at_write = -1;      // the link drops on this Data write (once)
  int lose_write = -1;         // this Data write never arrives (write without response)
  int data_writes = 0;
  int starts = 0;

  void install(FakeBus& bus) {
    const std::string svc = std::string(kDevice) + "/service0030";
    bus.objects.characteristics[svc + "/char0031"] = {protocol::kDfuControlCharUuid, svc};
    bus.objects.characteristics[svc + "/char0033"] = {protocol::kDfuDataCharUuid, svc};
    bus.objects.characteristics[svc + "/char0035"] = {protocol::kDfuStatusCharUuid, svc};
    bus.writes[svc + "/char0031"] = [this](const ByteVec& v) { return control(v); };
    bus.writes[svc + "/char0033"] = [this](const ByteVec& v) { return data(v); };
    bus.reads[svc + "/char0035"] = [this]() -> Result<ByteVec> {
      ByteVec b{static_cast<std::uint8_t>(state), error};
      put32(b, static_cast<std::uint32_t>(staged.size()));
      put32(b, running);
      put32(b, staged_version);
      b.push_back(0);
      b.push_back(0);
      return b;
    };
  }
  Status control(const ByteVec& v) {
    if (v.empty()) return Status::InvalidArgument("empty");
    switch (v[0]) {
      case 1: {
        ++starts;
        if (v.size() != 82) return Status::InvalidArgument("START length");
        if (refuse_start) {
          state = DfuState::kError, error = refuse_start;
          return Status::Unavailable("org.bluez.Error.Failed: ATT error 0x8" + std::to_string(refuse_start));
        }
        if (v != start) {  // another image: start over
          start = v;
          staged.clear();
        }
        size = protocol::detail::le32(&v[2 + 16]);
        staged_version = protocol::detail::le32(&v[2 + 12]);
        state = DfuState::kReceiving;
        error = 0;
        return Status::Ok();
      }
      case 3:
        if (staged.size() != size) {
          state = DfuState::kError, error = 9;
        } else if (!tag_valid) {
          state = DfuState::kError, error = 7;
          return Status::Unavailable("org.bluez.Error.Failed: ATT error 0x87");
        } else {
          state = DfuState::kVerified;
        }
        return Status::Ok();
      case 4:
        return Status::Unavailable("org.bluez.Error.Failed: Not connected");  // it rebooted
      default:
        return Status::Ok();
    }
  }
  Status data(const ByteVec& v) {
    const int n = data_writes++;
    if (n == drop_at_write) {
      drop_at_write = -1;
      return Status::Unavailable("org.bluez.Error.Failed: Not connected");
    }
    if (n == lose_write) return Status::Ok();
    const std::uint32_t off = protocol::detail::le32(v.data());
    if (off != staged.size()) {
      error = 5;
      return Status::Ok();
    }
    error = 0;
    staged.insert(staged.end(), v.begin() + 4, v.end());
    return Status::Ok();
  }
};

struct Rig {
  FakeBus bus;
  DfuSensor sensor;
  std::vector<std::uint8_t> payload;
  DfuImageRef image;
  DfuClientOptions o;
  Rig() {
    sensor.install(bus);
    payload.resize(64 * 1024 + 17);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 31 + 7);
    image.header.assign(64, 0);
    std::memcpy(image.header.data(), "VGFW", 4);
    image.header[12] = 0x00, image.header[13] = 0x04, image.header[14] = 0x01;  // 1.4.0
    const auto n = static_cast<std::uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) image.header[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    image.payload = &payload;
    image.tag.assign(16, 0xA5);
    o.resolve_wait = std::chrono::milliseconds(10);
  }
};

}  // namespace

TEST_CASE("A 64 KB image is sent in 240-byte writes, verified, activated and the link closed") {
  Rig r;
  std::size_t last_progress = 0;
  auto st = dfu_send(r.bus, kDevice, r.image, r.o, [&](std::size_t sent, std::size_t total) {
    CHECK(total == r.payload.size());
    CHECK(sent >= last_progress);
    last_progress = sent;
  });
  REQUIRE(st.ok());
  CHECK(st->state == DfuState::kVerified);
  CHECK(st->staged_version == 0x010400);
  CHECK(r.sensor.staged == r.payload);
  CHECK(r.sensor.data_writes == static_cast<int>((r.payload.size() + 239) / 240));
  CHECK(last_progress == r.payload.size());
  CHECK(r.bus.count("Disconnect") == 1);
}

TEST_CASE("A transfer cut by a dropped link resumes where the sensor stopped, not from the start") {
  Rig r;
  r.sensor.drop_at_write = 100;
  auto first = dfu_send(r.bus, kDevice, r.image, r.o);
  REQUIRE_FALSE(first.ok());
  CHECK(first.status().code() == Status::Code::kUnavailable);
  CHECK(r.bus.count("Disconnect") == 1);
  const std::size_t had = r.sensor.staged.size();
  CHECK(had == 100 * 240);
  const int writes_before = r.sensor.data_writes;
  auto second = dfu_send(r.bus, kDevice, r.image, r.o);
  REQUIRE(second.ok());
  CHECK(r.sensor.staged == r.payload);
  // Only the rest was sent again.
  CHECK(r.sensor.data_writes - writes_before == static_cast<int>((r.payload.size() - had + 239) / 240));
}

TEST_CASE("A lost write without response is noticed at the next status read and resent") {
  Rig r;
  r.sensor.lose_write = 5;
  auto st = dfu_send(r.bus, kDevice, r.image, r.o);
  REQUIRE(st.ok());
  CHECK(r.sensor.staged == r.payload);
}

TEST_CASE("An image the sensor refuses at VERIFY is reported with the sensor's reason") {
  Rig r;
  r.sensor.tag_valid = false;
  auto st = dfu_send(r.bus, kDevice, r.image, r.o);
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().code() == Status::Code::kFailedPrecondition);
  CHECK(st.status().message().rfind("bad_tag", 0) == 0);
  CHECK(r.bus.count("Disconnect") == 1);
}

TEST_CASE("A START the sensor refuses (a downgrade) is reported with its reason and nothing is sent") {
  Rig r;
  r.sensor.refuse_start = 3;
  auto st = dfu_send(r.bus, kDevice, r.image, r.o);
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().code() == Status::Code::kFailedPrecondition);
  CHECK(st.status().message().rfind("downgrade", 0) == 0);
  CHECK(r.sensor.data_writes == 0);
  CHECK(r.bus.count("Disconnect") == 1);
}

TEST_CASE("A sensor without the DFU service is an error naming it, and the link is closed") {
  FakeBus bus;
  std::vector<std::uint8_t> payload(10);
  DfuImageRef img{std::vector<std::uint8_t>(64), &payload, std::vector<std::uint8_t>(16), false};
  DfuClientOptions o;
  o.resolve_wait = std::chrono::milliseconds(10);
  auto st = dfu_send(bus, kDevice, img, o);
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().code() == Status::Code::kNotFound);
  CHECK(bus.count("Disconnect") == 1);
}

TEST_CASE("A malformed image reference is refused before anything is sent") {
  FakeBus bus;
  std::vector<std::uint8_t> payload(10);
  DfuImageRef img{std::vector<std::uint8_t>(63), &payload, std::vector<std::uint8_t>(16), false};
  auto st = dfu_send(bus, kDevice, img, DfuClientOptions{});
  CHECK(st.status().code() == Status::Code::kInvalidArgument);
  CHECK(bus.calls.empty());
}

TEST_CASE("A desired configuration is written and the reported one read back; an out-of-range one is never sent") {
  FakeBus bus;
  const std::string svc = std::string(kDevice) + "/service0040";
  bus.objects.characteristics[svc + "/char0041"] = {protocol::kConfigDesiredCharUuid, svc};
  bus.objects.characteristics[svc + "/char0043"] = {protocol::kConfigReportedCharUuid, svc};
  ByteVec written;
  bus.writes[svc + "/char0041"] = [&](const ByteVec& v) {
    written = v;
    return Status::Ok();
  };
  bus.reads[svc + "/char0043"] = [&]() -> Result<ByteVec> {
    ByteVec b(written.begin(), written.begin() + 12);
    put32(b, 0x010400);
    return b;
  };
  DfuClientOptions o;
  o.resolve_wait = std::chrono::milliseconds(10);
  protocol::SensorConfig c;
  c.seq = 7;
  c.measurement_interval_s = 300;
  c.waveform_interval_min = 30;
  c.tx_power_dbm = -8;
  auto rep = config_apply(bus, kDevice, c, o);
  REQUIRE(rep.ok());
  CHECK(rep->config.seq == 7);
  CHECK(rep->config.measurement_interval_s == 300);
  CHECK(rep->config.waveform_interval_min == 30);
  CHECK(rep->config.tx_power_dbm == -8);
  CHECK(rep->firmware_version == 0x010400);

  bus.clear();
  c.measurement_interval_s = 5;
  auto bad = config_apply(bus, kDevice, c, o);
  CHECK(bad.status().code() == Status::Code::kInvalidArgument);
  CHECK(bad.status().message().find("measurement_interval_s") != std::string::npos);
  CHECK(bus.count("WriteValue") == 0);
}
