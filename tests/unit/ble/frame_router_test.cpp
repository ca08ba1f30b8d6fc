// SPDX-License-Identifier: Apache-2.0
// The frame router alone: what is decoded, with which key, and the replay
// counter across key changes and restarts.
#include <catch2/catch.hpp>

#include "ble/advert_format.h"
#include "ble/frame_router.h"

using namespace vigil;
using namespace vigil::ble;

namespace {

constexpr const char* kMac = "C0:FF:EE:00:00:01";
const protocol::Key kKey = *protocol::parse_key("00112233445566778899aabbccddeeff");
const protocol::Key kNewKey = *protocol::parse_key("ffeeddccbbaa99887766554433221100");
constexpr TimestampMs kT = 1767225600000;

CommissionedSensor sensor(std::optional<protocol::Key> key = kKey) {
  CommissionedSensor s;
  s.id = 7;
  s.address = kMac;
  s.format = "bthome";
  s.position_id = 3;
  s.key = key;
  return s;
}

std::map<std::string, CommissionedSensor> only(CommissionedSensor s) { return {{s.address, s}}; }

DeviceProps bthome(const protocol::Key& key, std::uint32_t counter) {
  const std::uint8_t objects[] = {0x01, 80, 0x02, 0xc4, 0x09};  // battery 80 %, 25.00 °C
  auto f = protocol::encrypt_bthome(key, *protocol::Mac::parse(kMac), counter, objects);
  DeviceProps p;
  p.service_data = std::map<std::string, ByteVec>{{kBthomeUuid128, ByteVec(f.begin() + 2, f.end())}};
  return p;
}

DeviceProps vigil_frame(std::uint32_t counter) {
  protocol::vigil_frame::Features f;
  f.seq = static_cast<std::uint16_t>(counter);
  f.velocity_rms_mm_s = 1.5;
  auto payload = protocol::vigil_frame::encode_payload(f);
  auto frame = protocol::encrypt_vigil(kKey, *protocol::Mac::parse(kMac), counter, payload);
  DeviceProps p;
  p.manufacturer_data = std::map<std::uint16_t, ByteVec>{{0xFFFF, ByteVec(frame.begin() + 2, frame.end())}};
  return p;
}

bool accepted(const std::vector<FrameOutcome>& out) { return out.size() == 1 && out[0].frame.ok(); }

}  // namespace

TEST_CASE("A commissioned sensor's BTHome and vigil payloads are decoded; other payloads are not") {
  MetricsRegistry m;
  FrameRouter r(m);
  r.set_sensors(only(sensor()));
  DeviceProps p = bthome(kKey, 1);
  p.service_data->emplace("0000feaa-0000-1000-8000-00805f9b34fb", ByteVec{0x10, 0x00});  // Eddystone
  p.manufacturer_data = vigil_frame(2).manufacturer_data;
  p.manufacturer_data->emplace(0x004C, ByteVec{0x02, 0x15});  // Apple
  auto out = r.route(kMac, p, kT);
  REQUIRE(out.size() == 2);
  REQUIRE(out[0].frame.ok());
  CHECK(out[0].frame->format == protocol::Format::kBthome);
  REQUIRE(out[1].frame.ok());
  CHECK(out[1].frame->format == protocol::Format::kVigil);
  CHECK(r.accepted() == 2);
  CHECK(m.counter_value("vigil_ble_frames_accepted_total") == 2);
}

TEST_CASE("Nothing from an address that is not commissioned is decoded") {
  FrameRouter r;
  r.set_sensors(only(sensor()));
  CHECK(r.route("AA:BB:CC:DD:EE:02", bthome(kKey, 1), kT).empty());
  r.set_sensors({});
  CHECK(r.route(kMac, bthome(kKey, 1), kT).empty());
  CHECK(r.accepted() == 0);
}

TEST_CASE("Rejections carry the decoder's reason and are counted by reason") {
  FrameRouter r;
  r.set_sensors(only(sensor()));
  REQUIRE(accepted(r.route(kMac, bthome(kKey, 5), kT)));
  auto replay = r.route(kMac, bthome(kKey, 4), kT + 1000);
  REQUIRE(replay.size() == 1);
  CHECK_FALSE(replay[0].frame.ok());
  CHECK(replay[0].why == protocol::Reject::kReplay);
  auto wrong_key = r.route(kMac, bthome(kNewKey, 6), kT + 2000);
  REQUIRE(wrong_key.size() == 1);
  CHECK(wrong_key[0].why == protocol::Reject::kBadMic);
  CHECK(r.rejected().at("replay") == 1);
  CHECK(r.rejected().at("bad_mic") == 1);
}

TEST_CASE("Commissioning changes are reported: added, re-keyed, removed; the same set again is no change") {
  FrameRouter r;
  auto ch = r.set_sensors(only(sensor()));
  CHECK(ch.any);
  CHECK(ch.added == std::vector<std::string>{kMac});
  CHECK_FALSE(r.set_sensors(only(sensor())).any);
  auto moved = sensor();
  moved.position_id = 4;
  auto mv = r.set_sensors(only(moved));
  CHECK(mv.any);
  CHECK(mv.rekeyed.empty());
  ch = r.set_sensors(only(sensor(kNewKey)));
  CHECK(ch.rekeyed == std::vector<std::string>{kMac});
  CHECK(ch.added.empty());
  ch = r.set_sensors({});
  CHECK(ch.removed == std::vector<std::string>{kMac});
}

TEST_CASE("A sensor given a new key starts counting afresh under it") {
  FrameRouter r;
  r.set_sensors(only(sensor()));
  REQUIRE(accepted(r.route(kMac, bthome(kKey, 500), kT)));
  r.set_sensors(only(sensor(kNewKey)));
  CHECK(accepted(r.route(kMac, bthome(kNewKey, 1), kT + 1000)));
  CHECK(r.key_label(kMac) == key_fingerprint(kNewKey));
}

TEST_CASE("A persisted counter is restored only under the key it was accepted with") {
  SECTION("same key: an older frame is still a replay") {
    FrameRouter r;
    r.set_sensors(only(sensor()));
    CHECK(r.restore_counter(kMac, 500, key_fingerprint(kKey), kT));
    auto out = r.route(kMac, bthome(kKey, 499), kT + 1000);
    REQUIRE(out.size() == 1);
    CHECK(out[0].why == protocol::Reject::kReplay);
    CHECK(accepted(r.route(kMac, bthome(kKey, 501), kT + 2000)));
  }
  SECTION("another key: not restored, the new key's counter starts at 1") {
    FrameRouter r;
    r.set_sensors(only(sensor(kNewKey)));
    CHECK_FALSE(r.restore_counter(kMac, 500, key_fingerprint(kKey), kT));
    CHECK(accepted(r.route(kMac, bthome(kNewKey, 1), kT + 1000)));
  }
  SECTION("no recorded key, a plain sensor, an unknown sensor: not restored") {
    FrameRouter r;
    r.set_sensors(only(sensor()));
    CHECK_FALSE(r.restore_counter(kMac, 500, std::nullopt, kT));
    CHECK_FALSE(r.restore_counter("AA:BB:CC:DD:EE:02", 500, key_fingerprint(kKey), kT));
    r.set_sensors(only(sensor(std::nullopt)));
    CHECK_FALSE(r.restore_counter(kMac, 500, key_fingerprint(kKey), kT));
    CHECK_FALSE(r.key_label(kMac));
  }
}

TEST_CASE("A key's fingerprint names it without revealing it") {
  auto f = key_fingerprint(kKey);
  CHECK(f.size() == 16);
  CHECK(f != key_fingerprint(kNewKey));
  CHECK(f == key_fingerprint(kKey));  // stable: it is stored (counter_key)
}
