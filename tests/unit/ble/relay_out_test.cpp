// SPDX-License-Identifier: Apache-2.0
// Relaying inside a plant (ble/relay_out.h): the topic tree, the message a
// gateway publishes for an advert it cannot decode, the outbound rate limit,
// and the road between two gateways' scanners — the one that hears a sensor
// it does not know hands the advert on unchanged, the one that owns the
// sensor decodes it once, whichever way (radio or peer) the frame came first.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <nlohmann/json.hpp>

#include "ble/relay.h"
#include "ble/relay_out.h"
#include "ble/scanner.h"
#include "protocol/decoder.h"
#include "vigil/ingest.h"
#include "vigil/store.h"
#include "vigil_test/fake_bus.h"

#include "scanner_rig.h"

using namespace vigil;
using namespace vigil::ble;
using nlohmann::json;

namespace {

constexpr const char* kMac = "C0:FF:EE:00:00:01";

constexpr const char* kBthome = "0000fcd2-0000-1000-8000-00805f9b34fb";
const protocol::Key kKey = *protocol::parse_key("00112233445566778899aabbccddeeff");

// Encrypted BTHome service data (no UUID), as BlueZ carries it.
ByteVec bthome_frame(std::uint32_t counter, double temp_c = 25.0) {
  auto t = static_cast<std::int16_t>(temp_c * 100);
  std::vector<std::uint8_t> objects = {0x02, static_cast<std::uint8_t>(t & 0xff),
                                       static_cast<std::uint8_t>((t >> 8) & 0xff)};
  auto f = protocol::encrypt_bthome(kKey, *protocol::Mac::parse(kMac), counter, objects);
  return ByteVec(f.begin() + 2, f.end());
}

DeviceProps bthome_props(const ByteVec& sd) {
  DeviceProps p;
  p.service_data = std::map<std::string, ByteVec>{{kBthome, sd}};
  return p;
}

struct Sent {
  std::string topic, payload;
};

// A publisher that keeps what it is given, answering `answer`.
struct FakeLink {
  std::vector<Sent> sent;
  Status answer = Status::Ok();
  bool delivered = true;
  RelayOut::Publish publish() {
    return [this](const std::string& t, const std::string& p, std::function<void(bool)> done) {
      if (!answer.ok()) return answer;
      sent.push_back({t, p});
      done(delivered);
      return Status::Ok();
    };
  }
};

// One gateway's scanner over a fake bus and its own database.
struct Gateway : test_rig::ScannerRig {
  // What BleService::relay_message does with a peer's message.
  bool from_peer(const Sent& m, const std::string& via) {
    auto a = parse_relay_json(m.payload, m.topic);
    REQUIRE(a.ok());
    return scanner->handle_relayed(a->address, a->props, via);
  }
};

}  // namespace

TEST_CASE("the plant's relay topics name the plant, the relaying gateway and the address", "[relay_out]") {
  CHECK(plant_relay_topic("hall", "gw-b", "A4:C1:38:00:19:01") == "vigil/plant/hall/relay/gw-b/A4C138001901");
  CHECK(plant_relay_topic("hall", "gw-b", "a4:c1:38:00:19:0f") == "vigil/plant/hall/relay/gw-b/A4C13800190F");
  CHECK(plant_relay_filter("hall") == "vigil/plant/hall/relay/+/+");
  // The receiver's per-relay rate limit sees one relay per gateway.
  CHECK(relay_source(plant_relay_topic("hall", "gw-b", kMac)) == "vigil/plant/hall/relay/gw-b");
}

TEST_CASE("the relaying gateway is read back from the topic, and only from a relay topic of this plant",
          "[relay_out]") {
  CHECK(plant_relay_sender("hall", "vigil/plant/hall/relay/gw-b/A4C138001901") == "gw-b");
  CHECK(plant_relay_sender("hall", plant_relay_topic("hall", "gw.7_x", kMac)) == "gw.7_x");
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/other/relay/gw-b/A4C138001901"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/relay/gw-b"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/relay/gw-b/"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/relay//A4C138001901"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/relay/gw-b/A4C138001901/x"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/gateways/gw-b/state"));
  CHECK_FALSE(plant_relay_sender("hall", "vigil/plant/hall/relay/"));
}

TEST_CASE("a relayed advert is the Theengs shape with the bytes unchanged, and reads back as the same advert",
          "[relay_out]") {
  const ByteVec sd = bthome_frame(7);
  const auto payload = plant_relay_payload("gw-b", kMac, sd, -71);
  const auto j = json::parse(payload);
  CHECK(j["id"] == kMac);
  CHECK(j["servicedatauuid"] == "0xfcd2");
  CHECK(j["rssi"] == -71);
  CHECK(j["gw"] == "gw-b");
  CHECK(j["servicedata"].get<std::string>().size() == 2 * sd.size());
  auto a = parse_relay_json(payload, plant_relay_topic("hall", "gw-b", kMac));
  REQUIRE(a.ok());
  CHECK(a->address == kMac);
  CHECK(a->props.rssi == -71);
  REQUIRE(a->props.service_data);
  CHECK(a->props.service_data->at(kBthome) == sd);  // still encrypted: only the owner can read it
  // Without a known RSSI the field is left out, not invented.
  CHECK_FALSE(json::parse(plant_relay_payload("gw-b", kMac, sd, std::nullopt)).contains("rssi"));
}

TEST_CASE("only BTHome service data is relayed", "[relay_out]") {
  CHECK(bthome_service_data(bthome_props({0x40, 0x02})) != nullptr);
  CHECK(bthome_service_data(bthome_props({})) == nullptr);
  DeviceProps rssi_only;
  rssi_only.rssi = -50;
  CHECK(bthome_service_data(rssi_only) == nullptr);
  DeviceProps other;
  other.service_data = std::map<std::string, ByteVec>{{"0000feaa-0000-1000-8000-00805f9b34fb", {1, 2}}};
  CHECK(bthome_service_data(other) == nullptr);
}

TEST_CASE("the outbound limiter passes one second's burst, then the rate, and never more than the burst",
          "[relay_out]") {
  RelayOutLimiter lim(10);
  const std::int64_t t0 = 5'000'000;
  int passed = 0;
  for (int i = 0; i < 25; ++i) passed += lim.allow(t0) ? 1 : 0;
  CHECK(passed == 10);
  passed = 0;
  for (int i = 0; i < 5; ++i) passed += lim.allow(t0 + 300) ? 1 : 0;
  CHECK(passed == 3);
  passed = 0;
  for (int i = 0; i < 50; ++i) passed += lim.allow(t0 + 60'000) ? 1 : 0;
  CHECK(passed == 10);
  // A clock step backwards refills nothing.
  CHECK_FALSE(lim.allow(t0));
  // Below one a second, still one to start with.
  RelayOutLimiter slow(0.5);
  CHECK(slow.allow(t0));
  CHECK_FALSE(slow.allow(t0 + 1000));
  CHECK(slow.allow(t0 + 2000));
}

TEST_CASE("RelayOut publishes within its rate and counts what it drops, by reason", "[relay_out]") {
  MetricsRegistry m;
  FakeLink link;
  RelayOut out({"hall", "gw-b", 3}, link.publish(), m);
  const std::int64_t t0 = 1'000'000;
  for (std::uint32_t i = 1; i <= 5; ++i) out.offer(kMac, bthome_props(bthome_frame(i)), -70, t0);
  REQUIRE(link.sent.size() == 3);
  CHECK(link.sent[0].topic == "vigil/plant/hall/relay/gw-b/C0FFEE000001");
  CHECK(m.counter_value("vigil_plant_relay_out_total") == 3);
  CHECK(m.counter_value("vigil_plant_relay_out_dropped_total", "reason=\"rate\"") == 2);

  // Nothing to relay: not counted at all.
  DeviceProps rssi_only;
  rssi_only.rssi = -40;
  CHECK_FALSE(out.offer(kMac, rssi_only, -40, t0 + 10'000));

  link.answer = Status::ResourceExhausted("full");
  CHECK_FALSE(out.offer(kMac, bthome_props(bthome_frame(9)), -70, t0 + 20'000));
  CHECK(m.counter_value("vigil_plant_relay_out_dropped_total", "reason=\"queue_full\"") == 1);
  link.answer = Status::Unavailable("down");
  CHECK_FALSE(out.offer(kMac, bthome_props(bthome_frame(10)), -70, t0 + 30'000));
  link.answer = Status::Ok();
  link.delivered = false;  // queued, but the link was down when its turn came
  CHECK(out.offer(kMac, bthome_props(bthome_frame(11)), -70, t0 + 40'000));
  CHECK(m.counter_value("vigil_plant_relay_out_dropped_total", "reason=\"offline\"") == 2);
  CHECK(m.counter_value("vigil_plant_relay_out_total") == 3);
}

TEST_CASE("a scanner hands on the radio's adverts of unknown addresses only", "[relay_out]") {
  Gateway g;
  std::vector<std::string> foreign;
  g.scanner->set_foreign_advert_sink([&](const std::string& a, const DeviceProps& p, std::optional<int> rssi) {
    foreign.push_back(a);
    CHECK(rssi == -60);
    CHECK(bthome_service_data(p) != nullptr);
  });
  g.scanner->tick();
  g.radio(bthome_frame(1));
  CHECK(foreign == std::vector<std::string>{kMac});
  // Commissioned here: decoded here, not handed on.
  g.commission();
  g.clock.advance(1000);
  g.radio(bthome_frame(2));
  CHECK(foreign.size() == 1);
  CHECK(g.points("temperature_c") == 1);
  // Decommissioned here: known, ignored, not handed on either.
  REQUIRE(g.store
              ->write_txn([&](sql::Db& d) -> Status {
                auto q = d.prepare("UPDATE sensors SET decommissioned_at = ? WHERE address = ?");
                if (!q) return q.status();
                (*q)->bind(1, g.clock.now_ms()).bind(2, std::string(kMac));
                return (*q)->run();
              })
              .ok());
  g.scanner->reload_sensors_soon();
  g.scanner->tick();
  g.clock.advance(1000);
  g.radio(bthome_frame(3));
  CHECK(foreign.size() == 1);
  CHECK(g.points("temperature_c") == 1);
}

TEST_CASE("a sensor heard only by a peer is stored once by its owner; one heard by both is stored once too",
          "[relay_out]") {
  Gateway owner, peer;  // the sensor is commissioned on `owner` only; `peer` hears it
  const Id sid = owner.commission();
  peer.scanner->tick();
  FakeLink link;
  MetricsRegistry m;
  RelayOut out({"hall", "gw-b", 200}, link.publish(), m);
  peer.scanner->set_foreign_advert_sink([&](const std::string& a, const DeviceProps& p, std::optional<int> rssi) {
    out.offer(a, p, rssi, peer.clock.now_ms());
  });

  // Frame 1: only the peer's radio hears it. The owner stores it once; the
  // peer stores nothing (and cannot: it has no key).
  peer.radio(bthome_frame(1, 21.5), -77);
  REQUIRE(link.sent.size() == 1);
  CHECK(owner.from_peer(link.sent[0], "gateway:gw-b"));
  CHECK(owner.points("temperature_c") == 1);
  CHECK(peer.points("temperature_c") == 0);
  auto h = owner.scanner->health(sid);
  REQUIRE(h);
  CHECK(h->heard_via == "gateway:gw-b");
  CHECK(h->rssi_dbm == -77);

  // The broker hands the same message to the owner twice: still once.
  owner.clock.advance(100);
  CHECK(owner.from_peer(link.sent[0], "gateway:gw-b"));
  CHECK(owner.points("temperature_c") == 1);

  // Frame 2: heard by both. The owner's radio first, then the peer's relay…
  owner.clock.advance(1000);
  peer.clock.advance(1000);
  owner.radio(bthome_frame(2, 22.0));
  peer.radio(bthome_frame(2, 22.0));
  REQUIRE(link.sent.size() == 2);
  CHECK(owner.from_peer(link.sent[1], "gateway:gw-b"));
  CHECK(owner.points("temperature_c") == 2);
  // …and frame 3 the other way round: the relay first, then the radio.
  owner.clock.advance(1000);
  peer.clock.advance(1000);
  peer.radio(bthome_frame(3, 22.5));
  REQUIRE(link.sent.size() == 3);
  CHECK(owner.from_peer(link.sent[2], "gateway:gw-b"));
  owner.radio(bthome_frame(3, 22.5));
  CHECK(owner.points("temperature_c") == 3);
  CHECK(owner.scanner->frames_accepted() == 3);
  CHECK(owner.scanner->health(sid)->heard_via == "radio");
  CHECK(m.counter_value("vigil_plant_relay_out_total") == 3);
}
