// SPDX-License-Identifier: Apache-2.0
// The device table alone: BlueZ's Device1 objects mirrored, adverts counted,
// the table bounded, stale devices named for removal.
#include <catch2/catch.hpp>

#include "ble/advert_format.h"
#include "ble/device_table.h"

using namespace vigil;
using namespace vigil::ble;

namespace {

constexpr const char* kPathA = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01";
constexpr const char* kPathB = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02";
constexpr const char* kPathC = "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_03";

DeviceProps named(const std::string& address) {
  DeviceProps p;
  p.address = address;
  return p;
}

DeviceProps advert(const std::string& address, std::int16_t rssi) {
  DeviceProps p = named(address);
  p.rssi = rssi;
  return p;
}

}  // namespace

TEST_CASE("A message with RSSI or advertising data is an advert; one with only a name is not") {
  MetricsRegistry m;
  DeviceTable t(16, m);
  DeviceProps p = named("aa:bb:cc:dd:ee:01");
  p.name = "thermo";
  CHECK(t.on_properties(kPathA, p, 1000) == nullptr);
  CHECK(t.heard().empty());
  CHECK(t.counts().known == 1);
  auto* d = t.on_properties(kPathA, advert("aa:bb:cc:dd:ee:01", -70), 2000);
  REQUIRE(d);
  CHECK(d->info.address == "AA:BB:CC:DD:EE:01");  // normalised
  CHECK(d->info.name == "thermo");
  CHECK(d->info.rssi_dbm == -70);
  CHECK(d->info.first_seen == 2000);
  CHECK(t.adverts() == 1);
  CHECK(t.last_advert() == 2000);
  CHECK(m.counter_value("vigil_ble_adverts_total") == 1);
  CHECK(t.path_of("AA:BB:CC:DD:EE:01") == std::string(kPathA));
}

TEST_CASE("A device's format follows what it sends, and a vigil sender stays vigil") {
  DeviceTable t(16);
  DeviceProps bthome = named("AA:BB:CC:DD:EE:01");
  bthome.service_data = std::map<std::string, ByteVec>{{kBthomeUuid128, {0x40}}};
  CHECK(t.on_properties(kPathA, bthome, 1)->info.format == "bthome");
  DeviceProps vigil = named("AA:BB:CC:DD:EE:01");
  vigil.manufacturer_data = std::map<std::uint16_t, ByteVec>{{0xFFFF, {0x56, 0x11}}};
  CHECK(t.on_properties(kPathA, vigil, 2)->info.format == "vigil");
  CHECK(t.on_properties(kPathA, bthome, 3)->info.format == "vigil");
  DeviceProps other = named("AA:BB:CC:DD:EE:02");
  other.manufacturer_data = std::map<std::uint16_t, ByteVec>{{0x004C, {0x02, 0x15}}};  // an iBeacon
  CHECK(t.on_properties(kPathB, other, 4)->info.format == "unknown");
}

TEST_CASE("Heard devices are listed newest first, commissioned ones flagged") {
  DeviceTable t(16);
  t.on_properties(kPathA, advert("AA:BB:CC:DD:EE:01", -60), 1000);
  t.on_properties(kPathB, advert("AA:BB:CC:DD:EE:02", -61), 3000);
  t.merge({{kPathC, named("AA:BB:CC:DD:EE:03")}}, 4000);  // cached by BlueZ, never heard
  t.set_commissioned({"AA:BB:CC:DD:EE:01"});
  auto heard = t.heard();
  REQUIRE(heard.size() == 2);
  CHECK(heard[0].address == "AA:BB:CC:DD:EE:02");
  CHECK_FALSE(heard[0].commissioned);
  CHECK(heard[1].commissioned);
  auto c = t.counts();
  CHECK(c.known == 3);
  CHECK(c.heard == 2);
  CHECK(c.uncommissioned == 1);
}

TEST_CASE("The table is bounded: the least recently active uncommissioned device goes first") {
  DeviceTable t(2);
  t.set_commissioned({"AA:BB:CC:DD:EE:01"});
  t.on_properties(kPathA, advert("AA:BB:CC:DD:EE:01", -60), 1000);  // commissioned, oldest
  t.on_properties(kPathB, advert("AA:BB:CC:DD:EE:02", -60), 2000);
  t.on_properties(kPathC, advert("AA:BB:CC:DD:EE:03", -60), 3000);
  CHECK(t.counts().known == 2);
  CHECK(t.path_of("AA:BB:CC:DD:EE:01"));
  CHECK_FALSE(t.path_of("AA:BB:CC:DD:EE:02"));
  CHECK(t.path_of("AA:BB:CC:DD:EE:03"));
}

TEST_CASE("Stale devices are uncommissioned ones inactive past the limit; a failed removal waits another period") {
  MetricsRegistry m;
  DeviceTable t(16, m);
  t.set_commissioned({"AA:BB:CC:DD:EE:01"});
  t.merge({{kPathA, named("AA:BB:CC:DD:EE:01")}, {kPathB, named("AA:BB:CC:DD:EE:02")}}, 0);
  t.on_properties(kPathC, advert("AA:BB:CC:DD:EE:03", -60), 50000);
  CHECK(t.stale(60000, 60000, 64).empty());
  auto stale = t.stale(60001, 60000, 64);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0] == kPathB);
  CHECK(t.stale(60001, 60000, 0).empty());  // at most `max`

  t.removal_failed(kPathB, 60001);
  CHECK(t.stale(100000, 60000, 64).empty());
  CHECK(t.stale(120002, 60000, 64).size() == 2);  // B again, and C by now

  t.removed_from_bluez(kPathB);
  CHECK(t.removed() == 1);
  CHECK(m.counter_value("vigil_ble_devices_removed_total") == 1);
  CHECK_FALSE(t.path_of("AA:BB:CC:DD:EE:02"));
}

TEST_CASE("InterfacesRemoved forgets a device without counting it as removed by vigil") {
  DeviceTable t(16);
  t.on_properties(kPathA, advert("AA:BB:CC:DD:EE:01", -60), 1000);
  t.remove(kPathA);
  CHECK(t.heard().empty());
  CHECK_FALSE(t.path_of("AA:BB:CC:DD:EE:01"));
  CHECK(t.removed() == 0);
}
