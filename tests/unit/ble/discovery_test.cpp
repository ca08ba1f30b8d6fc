// SPDX-License-Identifier: Apache-2.0
// Discovery alone, against the fake bus: starting discovery, the states that
// are not errors, the silence watchdog, Discovering=false and bluetoothd
// restarts.
#include <catch2/catch.hpp>

#include "ble/discovery.h"
#include "vigil_test/fake_bus.h"

using namespace vigil;
using namespace vigil::ble;
using vigil::ble::test::FakeBus;

namespace {

constexpr const char* kAdapter = "/org/bluez/hci0";

struct Rig {
  FakeBus bus;
  MetricsRegistry metrics;
  ScannerOptions o;
  std::unique_ptr<Discovery> d;
  TimestampMs t = 1767225600000;

  explicit Rig(ScannerOptions opts = {}) : o(opts) {
    bus.objects.adapters[kAdapter] = AdapterProps{std::string("00:01:02:03:04:05"), true, false};
    d = std::make_unique<Discovery>(o, metrics);
    d->set_bus(&bus);
  }
  auto tick(TimestampMs last_advert = 0) { return d->tick(t, last_advert); }
  void adapter(std::optional<bool> powered, std::optional<bool> discovering) {
    BusEvent e;
    e.kind = BusEvent::Kind::kAdapterChanged;
    e.path = kAdapter;
    e.adapter.powered = powered;
    e.adapter.discovering = discovering;
    d->on_event(e);
  }
};

}  // namespace

TEST_CASE("Discovery reads BlueZ's objects, sets the LE filter and starts discovering") {
  Rig r;
  r.bus.objects.devices["/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"] = DeviceProps{std::string("AA:BB:CC:DD:EE:01")};
  auto devices = r.tick();
  REQUIRE(devices);
  CHECK(devices->size() == 1);
  CHECK(r.bus.count("GetManagedObjects") == 1);
  CHECK(r.bus.count("SetDiscoveryFilter /org/bluez/hci0") == 1);
  CHECK(r.bus.count("StartDiscovery /org/bluez/hci0") == 1);
  CHECK(r.d->state() == BleState::kScanning);
  CHECK(r.d->status().discovering);
  r.bus.clear();
  CHECK_FALSE(r.tick(r.t));  // nothing to do: no second read
  CHECK(r.bus.calls.empty());
}

TEST_CASE("No bus, no bluetoothd, no adapter and a powered-off adapter are states") {
  SECTION("no bus") {
    Rig r;
    r.d->set_bus(nullptr);
    r.tick();
    CHECK(r.d->state() == BleState::kNoBus);
  }
  SECTION("bluetoothd absent, retried after bluez_retry_s") {
    Rig r;
    r.bus.present = false;
    r.tick();
    CHECK(r.d->state() == BleState::kBluezUnavailable);
    r.bus.present = true;
    r.t += 4000;
    r.tick();
    CHECK(r.d->state() == BleState::kBluezUnavailable);
    r.t += 2000;
    r.tick();
    CHECK(r.d->state() == BleState::kScanning);
  }
  SECTION("no adapter: the message names the adapters there are") {
    Rig r;
    r.bus.objects.adapters.clear();
    r.bus.objects.adapters["/org/bluez/hci1"] = AdapterProps{};
    r.tick();
    CHECK(r.d->state() == BleState::kNoAdapter);
    CHECK(r.d->status().message.find("/org/bluez/hci1") != std::string::npos);
    CHECK(r.bus.count("StartDiscovery") == 0);
    BusEvent e;
    e.kind = BusEvent::Kind::kAdapterAdded;
    e.path = kAdapter;
    e.adapter.powered = true;
    r.d->on_event(e);
    r.tick();
    CHECK(r.d->state() == BleState::kScanning);
  }
  SECTION("powered off, then on") {
    Rig r;
    r.bus.objects.adapters[kAdapter].powered = false;
    r.tick();
    CHECK(r.d->state() == BleState::kAdapterOff);
    r.adapter(true, std::nullopt);
    r.tick();
    CHECK(r.d->state() == BleState::kScanning);
    r.adapter(false, std::nullopt);
    CHECK(r.d->state() == BleState::kAdapterOff);
    CHECK_FALSE(r.d->status().discovering);
  }
}

TEST_CASE("A failing StartDiscovery is a state, retried after bluez_retry_s") {
  Rig r;
  r.bus.discovery_status = Status::Unavailable("org.bluez.Error.NotReady");
  r.tick();
  CHECK(r.d->state() == BleState::kDiscoveryFailed);
  CHECK(r.d->status().message.find("NotReady") != std::string::npos);
  r.bus.discovery_status = Status::Ok();
  r.bus.clear();
  r.t += 1000;
  r.tick();
  CHECK(r.bus.count("StartDiscovery") == 0);
  r.t += 5000;
  r.tick();
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.d->state() == BleState::kScanning);
}

TEST_CASE("InProgress from StartDiscovery counts as discovering") {
  Rig r;
  r.bus.discovery_status = Status::AlreadyExists("org.bluez.Error.InProgress");
  r.tick();
  CHECK(r.d->state() == BleState::kScanning);
}

TEST_CASE("The silence watchdog restarts discovery when no advert came for the configured time") {
  ScannerOptions o;
  o.discovery_silence_restart_s = 30;
  Rig r(o);
  r.tick();
  const TimestampMs started = r.t;
  r.bus.clear();
  r.t += 20000;
  r.tick(started + 15000);  // an advert 5 s ago
  r.t += 40000;
  r.tick(started + 15000);  // 45 s of silence
  CHECK(r.bus.count("StopDiscovery") == 1);
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.d->status().discovery_restarts == 1);
  CHECK(r.metrics.counter_value("vigil_ble_discovery_restarts_total") == 1);
  r.bus.clear();
  r.t += 20000;
  r.tick(started + 15000);  // the clock restarted with discovery: not yet again
  CHECK(r.bus.count("StartDiscovery") == 0);
}

TEST_CASE("Discovery that the adapter stops is started again at once") {
  Rig r;
  r.tick();
  r.bus.clear();
  r.adapter(std::nullopt, false);
  r.tick();
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.d->status().discovery_restarts == 1);
}

TEST_CASE("When bluetoothd comes back, its objects are read again and the restart is counted") {
  Rig r;
  r.tick();
  r.d->on_event(BusEvent{BusEvent::Kind::kBluezDown, "", {}, {}});
  CHECK(r.d->state() == BleState::kBluezUnavailable);
  r.bus.clear();
  r.d->on_event(BusEvent{BusEvent::Kind::kBluezUp, "", {}, {}});
  CHECK(r.tick());
  CHECK(r.bus.count("GetManagedObjects") == 1);
  CHECK(r.bus.count("StartDiscovery") == 1);
  CHECK(r.d->state() == BleState::kScanning);
  CHECK(r.d->status().bluez_restarts == 1);
  CHECK(r.metrics.counter_value("vigil_ble_bluez_restarts_total") == 1);
}

TEST_CASE("Events of another adapter are ignored") {
  Rig r;
  r.tick();
  BusEvent e;
  e.kind = BusEvent::Kind::kAdapterRemoved;
  e.path = "/org/bluez/hci1";
  r.d->on_event(e);
  CHECK(r.d->state() == BleState::kScanning);
  e.path = kAdapter;
  r.d->on_event(e);
  CHECK(r.d->state() == BleState::kNoAdapter);
}
