// SPDX-License-Identifier: Apache-2.0
// Relayed adverts (ble/relay.h): the OpenMQTTGateway/Theengs JSON parser,
// and a relayed advert's road through the Scanner — the radio's road, so a
// frame heard by the radio and by a relay (or twice by relays) is stored once;
// frames lost are counted per road (radio, relay), duplicates and replays not.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <nlohmann/json.hpp>

#include "ble/relay.h"
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

std::string hex(const ByteVec& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

// Encrypted BTHome service data (no UUID), as BlueZ and relays carry it.
ByteVec bthome_frame(std::uint32_t counter, double temp_c = 25.0) {
  auto t = static_cast<std::int16_t>(temp_c * 100);
  std::vector<std::uint8_t> objects = {0x01, 95, 0x02, static_cast<std::uint8_t>(t & 0xff),
                                       static_cast<std::uint8_t>((t >> 8) & 0xff)};
  auto f = protocol::encrypt_bthome(kKey, *protocol::Mac::parse(kMac), counter, objects);
  return ByteVec(f.begin() + 2, f.end());
}

std::string theengs(const ByteVec& sd, int rssi = -77, json extra = json::object()) {
  json j = {{"id", kMac}, {"mac_type", 0}, {"name", "vigil"}, {"rssi", rssi},
            {"servicedata", hex(sd)}, {"servicedatauuid", "0xfcd2"}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j.dump();
}

std::string reason(const std::string& payload) {
  auto r = parse_relay_json(payload, "home/esp32/BTtoMQTT/C0FFEE000001");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  return relay_reject_reason(r.status());
}

}  // namespace

TEST_CASE("relay JSON in the Theengs/OpenMQTTGateway shape becomes Device1-like properties", "[relay]") {
  auto r = parse_relay_json(theengs(bthome_frame(1), -77, {{"brand", "x"}, {"tempc", 25.0}}), "home/gw/BTtoMQTT/x");
  REQUIRE(r.ok());
  CHECK(r->address == kMac);
  CHECK(r->via == "relay:home/gw/BTtoMQTT/x");
  REQUIRE(r->props.rssi);
  CHECK(*r->props.rssi == -77);
  REQUIRE(r->props.service_data);
  REQUIRE(r->props.service_data->count(kBthome) == 1);
  CHECK(r->props.service_data->at(kBthome) == bthome_frame(1));
  CHECK_FALSE(r->props.manufacturer_data);

  // Lower-case address, 128-bit UUID, no rssi.
  auto r2 = parse_relay_json(json({{"id", "c0:ff:ee:00:00:01"}, {"servicedata", "40026608"},
                                   {"servicedatauuid", "0000FCD2-0000-1000-8000-00805F9B34FB"}})
                                 .dump(),
                             "t");
  REQUIRE(r2.ok());
  CHECK(r2->address == kMac);
  CHECK_FALSE(r2->props.rssi);
  CHECK(r2->props.service_data->count(kBthome) == 1);

  // Manufacturer data: the company id first, little endian.
  auto r3 = parse_relay_json(json({{"id", kMac}, {"manufacturerdata", "ffff5611aabb"}, {"rssi", -50}}).dump(), "t");
  REQUIRE(r3.ok());
  REQUIRE(r3->props.manufacturer_data);
  REQUIRE(r3->props.manufacturer_data->count(0xFFFF) == 1);
  CHECK(r3->props.manufacturer_data->at(0xFFFF) == ByteVec{0x56, 0x11, 0xaa, 0xbb});
}

TEST_CASE("malformed, oversized and incomplete relay JSON is rejected with a reason", "[relay]") {
  CHECK(reason("{\"id\": ") == "malformed_json");
  CHECK(reason("[1,2,3]") == "malformed_json");
  CHECK(reason("") == "malformed_json");
  CHECK(reason(std::string(kMaxRelayJsonBytes + 1, ' ')) == "oversized");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"name", std::string(kMaxRelayJsonBytes, 'n')}})) == "oversized");
  CHECK(reason(json({{"servicedata", "40"}, {"servicedatauuid", "0xfcd2"}}).dump()) == "bad_address");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"id", "C0:FF:EE:00:00"}})) == "bad_address");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"id", 42}})) == "bad_address");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"servicedata", "4002660"}})) == "bad_hex");   // odd length
  CHECK(reason(theengs(bthome_frame(1), -77, {{"servicedata", "40zz6608"}})) == "bad_hex");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"servicedata", std::string(2 * 256, 'a')}})) == "bad_hex");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"servicedata", 1234}})) == "bad_hex");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"servicedatauuid", "0xfcd"}})) == "bad_uuid");
  CHECK(reason(json({{"id", kMac}, {"servicedata", "40"}}).dump()) == "bad_uuid");
  CHECK(reason(theengs(bthome_frame(1), 500)) == "bad_rssi");
  CHECK(reason(theengs(bthome_frame(1), -77, {{"rssi", "-77"}})) == "bad_rssi");
  CHECK(reason(json({{"id", kMac}, {"rssi", -60}, {"name", "no payload"}}).dump()) == "no_payload");
  CHECK(reason(json({{"id", kMac}, {"manufacturerdata", "ff"}}).dump()) == "bad_hex");
}

namespace {
struct Rig : test_rig::ScannerRig {
  void commission() { ScannerRig::commission(); }
  bool relay(const std::string& payload, const std::string& topic = "home/esp32/BTtoMQTT/C0FFEE000001") {
    auto a = parse_relay_json(payload, topic);
    REQUIRE(a.ok());
    return scanner->handle_relayed(a->address, a->props, a->via);
  }
};
}  // namespace

TEST_CASE("a relayed advert takes the radio's road: decoded, stored once, heard via the relay", "[relay]") {
  Rig r;
  r.commission();
  CHECK(r.relay(theengs(bthome_frame(1, 21.5), -81)));
  CHECK(r.points("temperature_c") == 1);
  auto h = r.scanner->health_all();
  REQUIRE(h.size() == 1);
  CHECK(h[0].heard_via == "relay:home/esp32/BTtoMQTT/C0FFEE000001");
  CHECK(h[0].rssi_dbm == -81);
  CHECK(to_json(h[0])["heard_via"] == "relay:home/esp32/BTtoMQTT/C0FFEE000001");

  // The same frame again through another relay and through the radio: duplicates, not stored.
  r.clock.advance(200);
  CHECK(r.relay(theengs(bthome_frame(1, 21.5), -90), "other/relay"));
  r.radio(bthome_frame(1, 21.5));
  CHECK(r.points("temperature_c") == 1);
  CHECK(r.scanner->frames_accepted() == 1);
  CHECK(r.scanner->health_all()[0].heard_via == "radio");

  // The next frame, heard by the radio first and then relayed: once.
  r.clock.advance(1000);
  r.radio(bthome_frame(2, 22.0));
  CHECK(r.relay(theengs(bthome_frame(2, 22.0))));
  CHECK(r.points("temperature_c") == 2);
  // A replayed older frame via a relay is refused.
  r.clock.advance(1000);
  CHECK(r.relay(theengs(bthome_frame(1, 21.5))));
  CHECK(r.points("temperature_c") == 2);
  CHECK(r.scanner->health_all()[0].rejected.count("replay") == 1);
}

TEST_CASE("a relayed advert of a sensor nobody commissioned is neither decoded nor stored", "[relay]") {
  Rig r;
  r.scanner->tick();
  CHECK_FALSE(r.relay(theengs(bthome_frame(1))));
  auto series = r.store->series();
  REQUIRE(series.ok());
  CHECK(series->empty());
  CHECK(r.scanner->frames_accepted() == 0);
}

TEST_CASE("a relay is its topic without the trailing device address", "[relay]") {
  CHECK(relay_source("home/OMG_1/BTtoMQTT/A4C138001901") == "home/OMG_1/BTtoMQTT");
  CHECK(relay_source("home/OMG_1/BTtoMQTT/a4:c1:38:00:19:01") == "home/OMG_1/BTtoMQTT");
  CHECK(relay_source("home/TheengsGateway/BTtoMQTT") == "home/TheengsGateway/BTtoMQTT");
  CHECK(relay_source("theengs/ble/A4C13800190") == "theengs/ble/A4C13800190");  // 11 digits: not an address
  CHECK(relay_source("A4C138001901") == "A4C138001901");
}

TEST_CASE("relay rate: a token bucket per relay, one second's burst, refilled over time", "[relay]") {
  RelayRateLimiter lim(10);
  const std::int64_t t0 = 1'000'000;
  int passed = 0;
  for (int i = 0; i < 25; ++i) passed += lim.allow("home/a/BTtoMQTT/A4C138001901", t0) ? 1 : 0;
  CHECK(passed == 10);  // the burst, then nothing
  // Another sensor through the same relay shares its bucket…
  CHECK_FALSE(lim.allow("home/a/BTtoMQTT/A4C138001902", t0));
  // …another relay has its own.
  CHECK(lim.allow("home/b/BTtoMQTT/A4C138001901", t0));
  // 10/s: after 300 ms three more pass, the fourth does not.
  passed = 0;
  for (int i = 0; i < 4; ++i) passed += lim.allow("home/a/BTtoMQTT/A4C138001901", t0 + 300) ? 1 : 0;
  CHECK(passed == 3);
  // A long pause refills only up to the burst.
  passed = 0;
  for (int i = 0; i < 30; ++i) passed += lim.allow("home/a/BTtoMQTT/A4C138001901", t0 + 3'600'000) ? 1 : 0;
  CHECK(passed == 10);
  // Time going backwards neither refills nor breaks the bucket.
  CHECK_FALSE(lim.allow("home/a/BTtoMQTT/A4C138001901", t0));
}

TEST_CASE("relay rate: the number of buckets is bounded; busy sources beyond it share one", "[relay]") {
  RelayRateLimiter lim(2, 4);
  const std::int64_t t0 = 5'000;
  for (int i = 0; i < 4; ++i) {
    CHECK(lim.allow("r" + std::to_string(i), t0));  // each bucket now busy (1 of 2 tokens left)
  }
  CHECK(lim.sources() == 4);
  // Four busy buckets: new relays share the overflow bucket (2 tokens).
  CHECK(lim.allow("x1", t0));
  CHECK(lim.allow("x2", t0));
  CHECK_FALSE(lim.allow("x3", t0));
  CHECK(lim.sources() == 4);
  // Once the buckets have refilled they are dropped to make room.
  CHECK(lim.allow("y", t0 + 10'000));
  CHECK(lim.sources() == 1);
}

TEST_CASE("relay JSON's time, in seconds, milliseconds or ISO 8601, is when the relay heard it", "[relay]") {
  auto t = [](json v) {
    auto r = parse_relay_json(theengs(bthome_frame(1), -70, {{"time", v}}), "t");
    REQUIRE(r.ok());
    return r->published_ms;
  };
  CHECK(t(1796205600) == std::optional<std::int64_t>(1796205600000));
  CHECK(t(1796205600.25) == std::optional<std::int64_t>(1796205600250));
  CHECK(t(1796205600123LL) == std::optional<std::int64_t>(1796205600123));
  CHECK(t("2026-12-02T10:00:00Z") == std::optional<std::int64_t>(1796205600000));
  CHECK(t("2026-12-02T10:00:00.5Z") == std::optional<std::int64_t>(1796205600500));
  CHECK(t("2026-12-02T10:00:00.123456Z") == std::optional<std::int64_t>(1796205600123));
  // Unreadable: not a reason to drop the advert; latency then starts at receipt.
  CHECK_FALSE(t("yesterday"));
  CHECK_FALSE(t("2026-12-02 10:00:00"));
  CHECK_FALSE(t("2026-13-02T10:00:00Z"));
  CHECK_FALSE(t(-5));
  CHECK_FALSE(t(json::array()));
  auto none = parse_relay_json(theengs(bthome_frame(1)), "t");
  REQUIRE(none.ok());
  CHECK_FALSE(none->published_ms);
}

TEST_CASE("relay latency: from the relay's time when given, else from receipt; buckets and quantiles", "[relay]") {
  RelayLatency l;
  CHECK(l.count() == 0);
  CHECK(l.quantile_s(0.99) == 0.0);
  RelayedAdvert a;
  a.received_ms = 10'000;
  l.record(a, 10'004);  // 4 ms after receipt
  a.published_ms = 9'000;
  l.record(a, 10'004);  // 1.004 s after the relay heard it
  a.published_ms = 20'000;
  l.record(a, 10'004);  // relay clock ahead: 0, not negative
  CHECK(l.count() == 3);
  CHECK(l.sum_ms() == 4 + 1004);
  CHECK(l.bucket(0) == 2);  // <= 5 ms: 4 ms and 0
  CHECK(l.bucket(7) == 2);  // <= 1 s
  CHECK(l.bucket(8) == 3);  // <= 2.5 s
  CHECK(l.bucket(RelayLatency::kBucketsS.size()) == 3);
  CHECK(l.quantile_s(0.5) == Approx(0.004));
  CHECK(l.quantile_s(1.0) == Approx(1.004));
  // The quantile window is bounded: old samples fall out.
  for (std::size_t i = 0; i < RelayLatency::kWindow; ++i) l.record_ms(20);
  CHECK(l.quantile_s(1.0) == Approx(0.020));
  CHECK(l.count() == 3 + RelayLatency::kWindow);
}

TEST_CASE("frame loss is counted per road: gaps in the counter, not duplicates or replays", "[relay]") {
  Rig r;
  r.commission();
  auto lost = [&](const char* via) { return r.metrics.counter_value("vigil_ble_frames_lost_total", via); };
  const std::string radio = "via=\"radio\"", relay = "via=\"relay\"";
  CHECK(r.relay(theengs(bthome_frame(1))));
  r.clock.advance(1000);
  CHECK(r.relay(theengs(bthome_frame(2))));
  r.clock.advance(100);
  r.radio(bthome_frame(2));                                // duplicate: not loss
  CHECK(r.relay(theengs(bthome_frame(2)), "other/relay"));  // duplicate again
  r.clock.advance(3000);
  CHECK(r.relay(theengs(bthome_frame(5))));  // 3 and 4 never arrived
  CHECK(lost(relay.c_str()) == 2);
  CHECK(lost(radio.c_str()) == 0);
  r.clock.advance(100);
  CHECK(r.relay(theengs(bthome_frame(1))));  // replay: refused before loss accounting
  r.clock.advance(1000);
  r.radio(bthome_frame(7));  // 6 lost, the gap closed by the radio
  CHECK(lost(radio.c_str()) == 1);
  CHECK(lost(relay.c_str()) == 2);
  r.clock.advance(10000);
  r.radio(bthome_frame(7 + 1024));  // a reboot's counter block skip
  CHECK(lost(radio.c_str()) == 1);
  CHECK(r.metrics.counter_value("vigil_ble_frame_counter_jumps_total", radio) == 1);
  auto h = r.scanner->health_all();
  REQUIRE(h.size() == 1);
  CHECK(h[0].frames_lost == 3);
  CHECK(h[0].rejected.at("duplicate") == 2);
  CHECK(h[0].rejected.at("replay") == 1);
  CHECK(r.points("temperature_c") == 5);
}
