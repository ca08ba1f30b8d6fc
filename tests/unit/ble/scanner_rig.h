// SPDX-License-Identifier: Apache-2.0
//
// One gateway's BLE scanner over a fake bus and its own database, with one
// BTHome sensor (address kRigMac, key kRigKey) to commission, radio frames
// to hear and stored points to count: the rig the relay tests share.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>

#include "ble/scanner.h"
#include "protocol/decoder.h"
#include "vigil/ingest.h"
#include "vigil/store.h"
#include "vigil_test/fake_bus.h"
#include "vigil_test/temp_dir.h"

namespace vigil::ble::test_rig {

inline constexpr const char* kRigMac = "C0:FF:EE:00:00:01";
inline constexpr const char* kRigPath = "/org/bluez/hci0/dev_C0_FF_EE_00_00_01";
inline constexpr const char* kRigBthome = "0000fcd2-0000-1000-8000-00805f9b34fb";
inline const protocol::Key kRigKey = *protocol::parse_key("00112233445566778899aabbccddeeff");

struct ScannerRig {
  TempDir db;
  ManualClock clock{1767225600000};
  MetricsRegistry metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Ingest> ingest;
  test::FakeBus bus;
  std::unique_ptr<Scanner> scanner;

  ScannerRig() {
    bus.objects.adapters["/org/bluez/hci0"] = AdapterProps{std::string("00:01:02:03:04:05"), true, false};
    StoreOptions so;
    so.path = db.file("vigil.db");
    so.clock = &clock;
    auto s = Store::open(so);
    REQUIRE(s.ok());
    store = std::move(*s);
    ingest = std::make_unique<Ingest>(*store, clock, metrics);
    scanner = std::make_unique<Scanner>(&bus, *ingest, *store, clock, ScannerOptions{}, metrics);
    scanner->set_alert_sink([](const SensorAlert&) { return Status::Ok(); });
    REQUIRE(scanner->init().ok());
  }

  // Commissions kRigMac with kRigKey on a new position; the scanner knows it
  // at once.
  Id commission() {
    auto site = store->upsert_site({0, "plant", "UTC"});
    REQUIRE(site.ok());
    Asset a;
    a.site_id = *site;
    a.name = "pump 1";
    auto asset = store->upsert_asset(a);
    REQUIRE(asset.ok());
    auto pos = store->upsert_position({0, *asset, "motor DE", PositionType::kMotor});
    REQUIRE(pos.ok());
    Sensor s;
    s.address = kRigMac;
    s.format = "bthome";
    s.position_id = *pos;
    s.commissioned_at = clock.now_ms();
    auto id = store->commission_sensor(s, std::vector<std::uint8_t>(kRigKey.begin(), kRigKey.end()));
    REQUIRE(id.ok());
    scanner->reload_sensors_soon();
    scanner->tick();
    return *id;
  }

  // The radio hears BTHome service data `sd` from kRigMac.
  void radio(const ByteVec& sd, std::int16_t rssi = -60) {
    BusEvent e;
    e.kind = BusEvent::Kind::kDeviceChanged;
    e.path = kRigPath;
    e.device.address = kRigMac;
    e.device.rssi = rssi;
    e.device.service_data = std::map<std::string, ByteVec>{{kRigBthome, sd}};
    scanner->handle(e);
  }

  // Points stored for `metric` (any series).
  std::size_t points(const std::string& metric) {
    REQUIRE(store->flush().ok());
    auto series = store->series();
    REQUIRE(series.ok());
    for (auto& s : *series)
      if (s.metric == metric) {
        auto pts = store->range(s.id, 0, clock.now_ms() + 1);
        REQUIRE(pts.ok());
        return pts->size();
      }
    return 0;
  }
};

}  // namespace vigil::ble::test_rig
