// SPDX-License-Identifier: Apache-2.0
// The BLE scanner, the coordinator, against a fake BlueZ and a real store:
// its parts working together (routing, discovery, bluetoothd restarts, stale
// cleanup, health, sensor alerts through the sink, the GATT waveform pull),
// and its lock discipline (ingest and the alert sink are called outside the
// scanner's lock). Each part has its own tests beside this file.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <chrono>
#include <filesystem>
#include <future>

#include "ble/scanner.h"
#include "vigil_test/fake_bus.h"
#include "protocol/decoder.h"
#include "protocol/waveform.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::ble;
using vigil::ble::test::FakeBus;

namespace {

constexpr const char* kAdapter = "/org/bluez/hci0";
constexpr const char* kSensorMac = "C0:FF:EE:00:00:01";
constexpr const char* kSensorPath = "/org/bluez/hci0/dev_C0_FF_EE_00_00_01";
constexpr const char* kStrangerMac = "AA:BB:CC:DD:EE:02";
constexpr const char* kStrangerPath = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02";
constexpr const char* kBthome = "0000fcd2-0000-1000-8000-00805f9b34fb";
const protocol::Key kKey = *protocol::parse_key("00112233445566778899aabbccddeeff");

struct Rig {
  TempDir db;
  ManualClock clock{1767225600000};
  std::unique_ptr<Store> store;
  std::unique_ptr<Ingest> ingest;
  MetricsRegistry metrics;
  FakeBus bus;
  std::unique_ptr<Scanner> scanner;
  Id position = 0;
  Id asset = 0;
  std::vector<SensorAlert> raised;  // what the alert sink received

  explicit Rig(ScannerOptions o = {}) {
    bus.objects.adapters[kAdapter] = AdapterProps{std::string("00:01:02:03:04:05"), true, false};
    open(o);
  }
  void open(ScannerOptions o = {}) {
    StoreOptions so;
    so.path = db.file("vigil.db");
    so.clock = &clock;
    auto s = Store::open(so);
    REQUIRE(s.ok());
    store = std::move(*s);
    ingest = std::make_unique<Ingest>(*store, clock, metrics);
    scanner = std::make_unique<Scanner>(&bus, *ingest, *store, clock, o, metrics);
    scanner->set_alert_sink([this](const SensorAlert& a) {
      raised.push_back(a);
      return Status::Ok();
    });
    REQUIRE(scanner->init().ok());
  }
  void close() {
    scanner.reset();
    ingest.reset();
    store.reset();
  }
  Id commission(const std::string& mac, bool with_key, const std::string& format = "bthome") {
    if (!position) {
      auto site = store->upsert_site({0, "plant", "UTC"});
      REQUIRE(site.ok());
      Asset a;
      a.site_id = *site;
      a.name = "pump 1";
      auto asset_id = store->upsert_asset(a);
      REQUIRE(asset_id.ok());
      asset = *asset_id;
      auto pos = store->upsert_position({0, asset, "motor DE", PositionType::kMotor});
      REQUIRE(pos.ok());
      position = *pos;
    }
    Sensor s;
    s.address = mac;
    s.format = format;
    s.position_id = position;
    s.commissioned_at = clock.now_ms();
    auto id = store->upsert_sensor(s);
    REQUIRE(id.ok());
    if (with_key) {
      REQUIRE(store
                  ->write_txn([&](sql::Db& d) -> Status {
                    auto q = d.prepare("UPDATE sensors SET key = ? WHERE id = ?");
                    if (!q) return q.status();
                    (*q)->bind_blob(1, kKey.data(), kKey.size()).bind(2, *id);
                    return (*q)->run();
                  })
                  .ok());
    }
    scanner->reload_sensors_soon();
    return *id;
  }
  void advert(const std::string& path, const std::string& mac, DeviceProps p, int16_t rssi = -60) {
    p.address = mac;
    p.rssi = rssi;
    BusEvent e;
    e.kind = BusEvent::Kind::kDeviceChanged;
    e.path = path;
    e.device = std::move(p);
    scanner->handle(e);
  }
  std::optional<double> latest(const std::string& metric) {
    REQUIRE(store->flush().ok());
    auto series = store->series();
    REQUIRE(series.ok());
    for (auto& s : *series)
      if (s.metric == metric)
        if (auto p = store->latest(s.id)) return p->value;
    return std::nullopt;
  }
};

// BlueZ's ServiceData value for an encrypted BTHome frame (no UUID).
ByteVec bthome_frame(std::uint32_t counter, std::uint8_t battery = 95, double temp_c = 25.0) {
  auto t = static_cast<std::int16_t>(temp_c * 100);
  std::vector<std::uint8_t> objects = {0x01, battery, 0x02, static_cast<std::uint8_t>(t & 0xff),
                                       static_cast<std::uint8_t>((t >> 8) & 0xff)};
  auto mac = *protocol::Mac::parse(kSensorMac);
  auto f = protocol::encrypt_bthome(kKey, mac, counter, objects);
  return ByteVec(f.begin() + 2, f.end());
}

DeviceProps service_data(ByteVec b) {
  DeviceProps p;
  p.service_data = std::map<std::string, ByteVec>{{kBthome, std::move(b)}};
  return p;
}

DeviceProps vigil_frame(std::uint32_t counter, double velocity) {
  protocol::vigil_frame::Features f;
  f.seq = static_cast<std::uint16_t>(counter);
  f.velocity_rms_mm_s = velocity;
  f.accel_rms_g = 0.2;
  f.accel_peak_g = 0.6;
  f.crest_factor = 3;
  f.kurtosis = 3;
  auto payload = protocol::vigil_frame::encode_payload(f);
  auto frame = protocol::encrypt_vigil(kKey, *protocol::Mac::parse(kSensorMac), counter, payload);
  DeviceProps p;
  p.manufacturer_data = std::map<std::uint16_t, ByteVec>{{0xFFFF, ByteVec(frame.begin() + 2, frame.end())}};
  return p;
}

}  // namespace

TEST_CASE("Discovery starts with the LE filter when the adapter is present and powered") {
  Rig r;
  r.scanner->tick();
  CHECK(r.bus.count("SetDiscoveryFilter /org/bluez/hci0") == 1);
  CHECK(r.bus.count("StartDiscovery /org/bluez/hci0") == 1);
  CHECK(r.scanner->state() == BleState::kScanning);
  CHECK(r.scanner->status_json()["status"] == "scanning");
}

TEST_CASE("A missing adapter, a powered-off adapter and an absent bluetoothd are statuses, not errors") {
  SECTION("no adapter") {
    Rig r;
    r.bus.objects.adapters.clear();
    r.scanner->tick();
    CHECK(r.scanner->state() == BleState::kNoAdapter);
    CHECK(r.bus.count("StartDiscovery") == 0);
  }
  SECTION("powered off, then on") {
    Rig r;
    r.bus.objects.adapters[kAdapter].powered = false;
    r.scanner->tick();
    CHECK(r.scanner->state() == BleState::kAdapterOff);
    BusEvent e;
    e.kind = BusEvent::Kind::kAdapterChanged;
    e.path = kAdapter;
    e.adapter.powered = true;
    r.scanner->handle(e);
    r.scanner->tick();
    CHECK(r.scanner->state() == BleState::kScanning);
  }
  SECTION("bluetoothd absent, retried later") {
    Rig r;
    r.bus.present = false;
    r.scanner->tick();
    CHECK(r.scanner->state() == BleState::kBluezUnavailable);
    r.bus.present = true;
    r.clock.advance(6000);
    r.scanner->tick();
    CHECK(r.scanner->state() == BleState::kScanning);
  }
}

TEST_CASE("A commissioned sensor's encrypted BTHome adverts become readings in the store") {
  Rig r;
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 95, 25.0)));
  CHECK(r.latest("temperature_c") == Approx(25.0));
  CHECK(r.latest("battery_pct") == Approx(95));
  CHECK(r.latest("rssi_dbm") == Approx(-60));
  CHECK(r.scanner->frames_accepted() == 1);
  CHECK(r.scanner->discovered().empty());
  auto h = r.scanner->health_all();
  REQUIRE(h.size() == 1);
  CHECK(h[0].last_seen == r.clock.now_ms());
  CHECK(h[0].battery_pct == Approx(95));
  CHECK(h[0].rssi_dbm == -60);
}

TEST_CASE("A device that is not commissioned is listed as discovered and nothing it sends is stored") {
  Rig r;
  r.scanner->tick();
  r.advert(kStrangerPath, kStrangerMac, service_data(bthome_frame(1)), -71);
  auto d = r.scanner->discovered();
  REQUIRE(d.size() == 1);
  CHECK(d[0].address == kStrangerMac);
  CHECK(d[0].format == "bthome");
  CHECK(d[0].rssi_dbm == -71);
  CHECK(r.scanner->frames_accepted() == 0);
  auto series = r.store->series();
  REQUIRE(series.ok());
  CHECK(series->empty());
}

TEST_CASE("A sensor commissioned while running is picked up at the next poll") {
  Rig r;
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1)));
  CHECK(r.scanner->discovered().size() == 1);
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(2, 90, 26.5)));
  CHECK(r.latest("temperature_c") == Approx(26.5));
  CHECK(r.scanner->discovered().empty());
}

TEST_CASE("A replayed frame and a tampered frame are rejected and each raises one spoofing alarm to the sink") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(5)));
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(6)));
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(5)));  // replay
  auto tampered = bthome_frame(7);
  tampered[3] ^= 0x01;
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(tampered));
  r.advert(kSensorPath, kSensorMac, service_data(tampered));  // again within the hour: not raised again
  r.scanner->tick();
  auto h = r.scanner->health_all();
  REQUIRE(h.size() == 1);
  CHECK(h[0].frames_accepted == 2);
  CHECK(h[0].rejected["replay"] == 1);
  CHECK(h[0].rejected["bad_mic"] == 2);
  REQUIRE(r.raised.size() == 2);
  CHECK(r.raised[0].title.find("replayed") != std::string::npos);
  CHECK(r.raised[1].title.find("authentication") != std::string::npos);
  for (auto& a : r.raised) {
    CHECK(a.kind == "spoofing");
    CHECK(a.severity == "alarm");
    CHECK(a.address == kSensorMac);
    CHECK(a.sensor_id == id);
    CHECK(a.position_id == r.position);
    CHECK(a.asset_id == r.asset);
  }
  CHECK(r.metrics.counter_value("vigil_ble_alerts_total") == 2);
  // The scanner records nothing itself: the sink (the alerts module) does.
  auto audit = r.store->audit_log(10);
  REQUIRE(audit.ok());
  CHECK(std::none_of(audit->begin(), audit->end(), [](auto& a) { return a.action == "alert.open"; }));
}

TEST_CASE("A spoofing attempt that goes on is raised again once an hour has passed") {
  Rig r;
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(9)));
  auto tampered = bthome_frame(10);
  tampered[3] ^= 0x01;
  r.advert(kSensorPath, kSensorMac, service_data(tampered));
  r.clock.advance(59 * 60 * 1000);
  r.advert(kSensorPath, kSensorMac, service_data(tampered));
  CHECK(r.raised.size() == 1);
  r.clock.advance(60 * 1000);
  r.advert(kSensorPath, kSensorMac, service_data(tampered));
  REQUIRE(r.raised.size() == 2);
  CHECK(r.raised[1].title == r.raised[0].title);
}

TEST_CASE("Without an alert sink a sensor alert is logged and counted, and scanning goes on") {
  Rig r;
  r.scanner->set_alert_sink(nullptr);
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 9)));  // battery 9 %
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(2, 9, 26.0)));
  CHECK(r.raised.empty());
  CHECK(r.metrics.counter_value("vigil_ble_alerts_total") == 1);
  CHECK(r.latest("temperature_c") == Approx(26.0));
}

TEST_CASE("A failing alert sink does not stop the readings") {
  Rig r;
  int calls = 0;
  r.scanner->set_alert_sink([&](const SensorAlert&) {
    ++calls;
    return Status::Unavailable("alerts table busy");
  });
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 9, 24.0)));
  CHECK(calls == 1);
  CHECK(r.latest("temperature_c") == Approx(24.0));
}

TEST_CASE("A sensor that misses N intervals raises a silent warning, once while it stays silent") {
  ScannerOptions o;
  o.missed_intervals_alert = 3;
  Rig r(o);
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  for (std::uint32_t c = 1; c <= 4; ++c) {
    r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(c)));
    r.clock.advance(10000);
  }
  r.scanner->tick();
  CHECK(r.raised.empty());
  r.clock.advance(25000);  // 35 s since last heard > 3 x 10 s
  r.scanner->tick();
  r.scanner->tick();
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].kind == "silent");
  CHECK(r.raised[0].severity == "warning");
  CHECK(r.raised[0].sensor_id == id);
  CHECK(r.raised[0].title.find("not heard for 3 intervals") != std::string::npos);
}

TEST_CASE("A low battery raises a battery_low warning") {
  Rig r;
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 9)));
  r.scanner->tick();
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].kind == "battery_low");
  CHECK(r.raised[0].severity == "warning");
  CHECK(r.raised[0].title.find("battery low") != std::string::npos);
}

TEST_CASE("Readings reach ingest after the scanner's lock is released: an ingest observer may query the scanner") {
  Rig r;
  r.commission(kSensorMac, true);
  r.scanner->tick();
  // The observer runs inside Ingest::submit. It asks the scanner from another
  // thread and waits: if submit were called under the scanner's lock, that
  // thread could not get it and the wait would run out (the future is kept
  // so the test ends cleanly either way).
  std::vector<std::future<std::size_t>> stuck;
  int observed = 0, answered = 0;
  r.ingest->on_readings([&](std::span<const AcceptedReading>) {
    ++observed;
    auto f = std::async(std::launch::async, [&] { return r.scanner->health_all().size() + r.scanner->discovered().size(); });
    if (f.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
      if (f.get() == 1) ++answered;
    } else {
      stuck.push_back(std::move(f));
    }
  });
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 95, 25.0)));
  CHECK(observed == 1);
  CHECK(answered == 1);
  REQUIRE(stuck.empty());
  // And on the same thread: the observer calls straight back in.
  std::uint64_t seen = 0;
  r.ingest->on_readings([&](std::span<const AcceptedReading>) { seen = r.scanner->frames_accepted(); });
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(2, 95, 25.5)));
  CHECK(seen == 2);
}

TEST_CASE("The alert sink is called outside the scanner's lock: it may query the scanner") {
  Rig r;
  std::vector<std::future<std::size_t>> stuck;
  int answered = 0;
  r.scanner->set_alert_sink([&](const SensorAlert&) {
    auto f = std::async(std::launch::async, [&] { return r.scanner->health_all().size(); });
    if (f.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
      if (f.get() == 1) ++answered;
    } else {
      stuck.push_back(std::move(f));
    }
    (void)r.scanner->status_json();  // same thread
    return Status::Ok();
  });
  r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 9)));  // battery low
  CHECK(answered == 1);
  REQUIRE(stuck.empty());
}

TEST_CASE("When bluetoothd restarts the scanner re-reads its objects and starts discovery again") {
  Rig r;
  r.commission(kSensorMac, true);
  r.scanner->tick();
  REQUIRE(r.scanner->state() == BleState::kScanning);
  r.scanner->handle(BusEvent{BusEvent::Kind::kBluezDown, "", {}, {}});
  CHECK(r.scanner->state() == BleState::kBluezUnavailable);
  r.bus.clear();
  r.scanner->handle(BusEvent{BusEvent::Kind::kBluezUp, "", {}, {}});
  r.scanner->tick();
  CHECK(r.bus.count("GetManagedObjects") == 1);
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.scanner->state() == BleState::kScanning);
  CHECK(r.scanner->status_json()["bluez_restarts"] == 1);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1)));
  CHECK(r.scanner->frames_accepted() == 1);
}

TEST_CASE("Discovery is restarted after the configured silence and when the adapter stops discovering") {
  ScannerOptions o;
  o.discovery_silence_restart_s = 30;
  Rig r(o);
  r.scanner->tick();
  r.bus.clear();
  r.clock.advance(20000);
  r.scanner->tick();
  CHECK(r.bus.count("StartDiscovery") == 0);
  r.clock.advance(15000);
  r.scanner->tick();
  CHECK(r.bus.count("StopDiscovery") == 1);
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.scanner->status_json()["discovery_restarts"] == 1);

  r.bus.clear();
  BusEvent e;
  e.kind = BusEvent::Kind::kAdapterChanged;
  e.path = kAdapter;
  e.adapter.discovering = false;
  r.scanner->handle(e);
  r.scanner->tick();
  CHECK(r.bus.count("StartDiscovery") == 1);
}

TEST_CASE("Stale uncommissioned devices are removed from BlueZ; commissioned ones are kept") {
  ScannerOptions o;
  o.stale_device_s = 60;
  Rig r(o);
  r.commission(kSensorMac, true);
  r.bus.objects.devices[kStrangerPath] = DeviceProps{std::string(kStrangerMac)};
  r.bus.objects.devices[kSensorPath] = DeviceProps{std::string(kSensorMac)};
  r.scanner->tick();
  r.clock.advance(61000);
  r.scanner->tick();
  CHECK(r.bus.count(std::string("RemoveDevice /org/bluez/hci0 ") + kStrangerPath) == 1);
  CHECK(r.bus.count(std::string("RemoveDevice /org/bluez/hci0 ") + kSensorPath) == 0);
  CHECK(r.scanner->status_json()["devices_removed"] == 1);
}

TEST_CASE("Health counters are persisted and survive a restart") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1)));
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1)));  // duplicate
  r.close();
  r.open();
  auto h = r.scanner->health(id);
  REQUIRE(h);
  CHECK(h->frames_accepted == 1);
  CHECK(h->adverts == 2);
  CHECK(h->rejected["duplicate"] == 1);
  CHECK(h->battery_pct == Approx(95));
}

TEST_CASE("A vigil sensor's waveform is pulled over GATT, reassembled and stored") {
  ScannerOptions o;
  o.waveform_first_delay_s = 0;
  Rig r(o);
  r.commission(kSensorMac, true, "vigil");
  // The sensor's burst: 3 axes x 500 samples.
  protocol::WaveformInfo info;
  info.axes = 3;
  info.seq = 7;
  info.sample_rate_hz = 3200;
  info.scale_g_per_count = 0.001f;
  info.samples_per_axis = 500;
  info.total_bytes = 3 * 500 * 2;
  std::vector<std::uint8_t> data(info.total_bytes);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  info.crc32 = protocol::crc32(data);
  const std::string svc = std::string(kSensorPath) + "/service0010";
  r.bus.objects.characteristics[svc + "/char0011"] = {protocol::kWaveformInfoCharUuid, svc};
  r.bus.objects.characteristics[svc + "/char0013"] = {protocol::kChunkRequestCharUuid, svc};
  r.bus.objects.characteristics[svc + "/char0015"] = {protocol::kChunkDataCharUuid, svc};
  std::uint32_t offset = 0;
  r.bus.reads[svc + "/char0011"] = [&]() -> Result<ByteVec> {
    auto b = protocol::encode_waveform_info(info);
    return ByteVec(b.begin(), b.end());
  };
  r.bus.writes[svc + "/char0013"] = [&](const ByteVec& v) {
    offset = static_cast<std::uint32_t>(v[0] | v[1] << 8 | v[2] << 16 | v[3] << 24);
    return Status::Ok();
  };
  r.bus.reads[svc + "/char0015"] = [&]() -> Result<ByteVec> {
    ByteVec c = {7, 0, static_cast<std::uint8_t>(offset), static_cast<std::uint8_t>(offset >> 8),
                 static_cast<std::uint8_t>(offset >> 16), static_cast<std::uint8_t>(offset >> 24)};
    const std::uint32_t n = std::min<std::uint32_t>(238, info.total_bytes - offset);
    c.insert(c.end(), data.begin() + offset, data.begin() + offset + n);
    offset += n;
    return c;
  };
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, vigil_frame(1, 1.2));
  r.scanner->tick();
  CHECK(r.bus.count(std::string("Connect ") + kSensorPath) == 1);
  CHECK(r.bus.count(std::string("Disconnect ") + kSensorPath) == 1);
  auto w = r.store->latest_waveform(r.position);
  REQUIRE(w.ok());
  REQUIRE(w->has_value());
  CHECK((*w)->samples.size() == 1500);
  CHECK((*w)->sample_rate_hz == Approx(3200));
  auto h = r.scanner->health_all();
  REQUIRE(h.size() == 1);
  CHECK(h[0].waveforms == 1);

  SECTION("and again at once when the advertised velocity crosses warning") {
    r.bus.clear();
    r.clock.advance(2000);
    r.advert(kSensorPath, kSensorMac, vigil_frame(2, 7.5));
    r.scanner->tick();
    CHECK(r.bus.count("Connect") == 1);
  }
  SECTION("a failing sensor is retried a bounded number of times") {
    r.bus.reads.erase(svc + "/char0015");
    r.clock.advance(3600 * 1000 + 1);
    r.scanner->tick();
    r.clock.advance(61000);
    r.scanner->tick();
    r.clock.advance(61000);
    r.scanner->tick();
    r.clock.advance(61000);
    r.scanner->tick();  // attempts exhausted: next try in an hour
    CHECK(r.bus.count("Connect") == 4);
    CHECK(r.scanner->health_all()[0].waveform_failures == 3);
  }
}

TEST_CASE("A frame recorded before a gateway restart is still a replay after it") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(5)));
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(6)));
  r.close();
  r.open();
  r.scanner->tick();
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(5)));
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(7, 95, 27.0)));
  auto h = r.scanner->health(id);
  REQUIRE(h);
  CHECK(h->rejected["replay"] == 1);
  CHECK(h->frames_accepted == 3);
  CHECK(h->last_counter == 7u);
  CHECK(r.latest("temperature_c") == Approx(27.0));
}

TEST_CASE("An off-the-shelf BTHome thermometer commissioned without a key becomes a time series") {
  Rig r;
  r.commission(kStrangerMac, false);
  r.scanner->tick();
  // Plain BTHome v2: device info 0x40, temperature 21.50 °C, humidity 45.00 %.
  r.advert(kStrangerPath, kStrangerMac, service_data({0x40, 0x02, 0x66, 0x08, 0x03, 0x94, 0x11}));
  CHECK(r.latest("temperature_c") == Approx(21.5));
  CHECK(r.latest("humidity_pct") == Approx(45.0));
  CHECK(r.scanner->discovered().empty());
}

TEST_CASE("A decommissioned sensor is no longer ingested and its history is kept") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 95, 25.0)));
  CHECK(r.latest("temperature_c") == Approx(25.0));
  REQUIRE(r.store
              ->write_txn([&](sql::Db& d) -> Status {
                auto q = d.prepare("UPDATE sensors SET decommissioned_at = ? WHERE id = ?");
                if (!q) return q.status();
                (*q)->bind(1, r.clock.now_ms()).bind(2, id);
                return (*q)->run();
              })
              .ok());
  r.scanner->reload_sensors_soon();
  r.scanner->tick();
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(2, 95, 30.0)));
  CHECK(r.latest("temperature_c") == Approx(25.0));
  CHECK(r.scanner->frames_accepted() == 1);
  // Known but ignored: not discovered, counted as decommissioned.
  CHECK(r.scanner->discovered().empty());
  CHECK(r.scanner->is_decommissioned(kSensorMac));
  CHECK(r.metrics.counter_value("vigil_ble_adverts_ignored_total", "reason=\"decommissioned\"") == 1);
  auto all = r.scanner->devices();
  REQUIRE(all.size() == 1);
  CHECK(all[0].decommissioned);
  CHECK_FALSE(all[0].commissioned);
  auto st = r.scanner->status_json();
  CHECK(st["discovered"] == 0);
  CHECK(st["decommissioned_known"] == 1);
  // A relayed advert of it is ignored and counted the same way.
  r.clock.advance(2000);
  CHECK_FALSE(r.scanner->handle_relayed(kSensorMac, service_data(bthome_frame(3, 95, 31.0)), "relay:test"));
  CHECK(r.metrics.counter_value("vigil_ble_adverts_ignored_total", "reason=\"decommissioned\"") == 2);
  CHECK(r.latest("temperature_c") == Approx(25.0));
  // A stranger is still discovered and not counted as decommissioned.
  r.advert(kStrangerPath, kStrangerMac, service_data(bthome_frame(1)), -71);
  auto d = r.scanner->discovered();
  REQUIRE(d.size() == 1);
  CHECK(d[0].address == kStrangerMac);
  CHECK(r.metrics.counter_value("vigil_ble_adverts_ignored_total", "reason=\"decommissioned\"") == 2);
}

TEST_CASE("The firmware version a sensor advertises is stored when it changes") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  auto frame = [](std::uint32_t counter, std::uint8_t minor) {
    // battery 90 %, firmware 0xF2 (3 bytes, little-endian: 1.<minor>.0)
    std::vector<std::uint8_t> objects = {0x01, 90, 0xF2, 0x00, minor, 0x01};
    auto f = protocol::encrypt_bthome(kKey, *protocol::Mac::parse(kSensorMac), counter, objects);
    return service_data(ByteVec(f.begin() + 2, f.end()));
  };
  r.advert(kSensorPath, kSensorMac, frame(1, 2));
  CHECK(r.store->sensor_firmware().value() == std::map<Id, std::string>{{id, "1.2.0"}});
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, frame(2, 3));
  CHECK(r.store->sensor_firmware().value() == std::map<Id, std::string>{{id, "1.3.0"}});
}

TEST_CASE("A sensor decommissioned through the store's lifecycle and commissioned again is decoded again") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(1, 95, 25.0)));
  REQUIRE(r.store->decommission_sensor(id, "test").ok());
  r.scanner->reload_sensors_soon();
  r.scanner->tick();
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(2, 95, 30.0)));
  CHECK(r.scanner->discovered().empty());
  CHECK(r.metrics.counter_value("vigil_ble_adverts_ignored_total", "reason=\"decommissioned\"") == 1);
  // Commissioned again (same address): decoded, no longer ignored.
  auto s = r.store->sensor(id);
  REQUIRE(s.ok());
  REQUIRE(r.store->commission_sensor(*s, std::vector<std::uint8_t>(kKey.begin(), kKey.end())).ok());
  r.scanner->reload_sensors_soon();
  r.scanner->tick();
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(3, 95, 31.0)));
  CHECK_FALSE(r.scanner->is_decommissioned(kSensorMac));
  CHECK(r.latest("temperature_c") == Approx(31.0));
  CHECK(r.metrics.counter_value("vigil_ble_adverts_ignored_total", "reason=\"decommissioned\"") == 1);
}

TEST_CASE("A sensor re-keyed while the gateway was stopped is not taken for a replay after the restart") {
  Rig r;
  Id id = r.commission(kSensorMac, true);
  r.scanner->tick();
  r.advert(kSensorPath, kSensorMac, service_data(bthome_frame(500)));
  r.clock.advance(2000);
  r.close();  // persists last_counter 500 under the old key
  // While stopped, the operator gives the sensor a new key; its counter restarts at 1.
  const protocol::Key new_key = *protocol::parse_key("ffeeddccbbaa99887766554433221100");
  {
    StoreOptions so;
    so.path = r.db.file("vigil.db");
    auto s = Store::open(so);
    REQUIRE(s.ok());
    REQUIRE((*s)->write_txn([&](sql::Db& d) -> Status {
                  auto q = d.prepare("UPDATE sensors SET key = ? WHERE id = ?");
                  if (!q) return q.status();
                  return (*q)->bind_blob(1, new_key.data(), new_key.size()).bind(2, id).run();
                })
                .ok());
  }
  r.open();
  r.scanner->tick();
  std::vector<std::uint8_t> objects = {0x01, 90, 0x02, 0xc4, 0x09};  // battery 90 %, 25.00 °C
  auto mac = *protocol::Mac::parse(kSensorMac);
  auto f = protocol::encrypt_bthome(new_key, mac, 1, objects);
  r.clock.advance(2000);
  r.advert(kSensorPath, kSensorMac, service_data(ByteVec(f.begin() + 2, f.end())));
  auto h = r.scanner->health(id);
  REQUIRE(h);
  CHECK(h->rejected["replay"] == 0);
  CHECK(h->last_counter == 1u);
}
