// SPDX-License-Identifier: Apache-2.0
//
// DeviceTable: vigil's mirror of BlueZ's Device1 objects on one adapter.
//
// Fed from GetManagedObjects (merge) and from InterfacesAdded /
// PropertiesChanged / InterfacesRemoved (on_properties, remove). A message
// that carries advertising data or an RSSI counts as an advert: the device is
// "heard", its last_seen, advert count and format (bthome/vigil/unknown)
// move. Addresses are normalised to upper-case "AA:BB:…"; the table knows
// which addresses are commissioned (set_commissioned) only to flag them and
// to keep them: they are never evicted first and never stale.
//
// Bounded: at max_devices the least recently active uncommissioned device is
// dropped. Stale cleanup: stale() names uncommissioned devices with no
// activity (an advert, or being first learnt of) for longer than the limit;
// the caller asks BlueZ to RemoveDevice them and reports back with
// removed_from_bluez() or removal_failed() (which restarts the device's
// stale clock, so a failing removal is retried later, not every tick).
//
// Threading: none of its own. The Scanner keeps it under its mutex. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "ble/scanner_types.h"
#include "vigil/metrics_registry.h"

namespace vigil::ble {

class DeviceTable {
 public:
  struct Device {
    std::string path;
    DiscoveredDevice info;
    TimestampMs activity = 0;  // last advert, or when first learnt of (stale clock)
    bool heard = false;        // advertised since we started
  };
  struct Counts {
    std::size_t known = 0;           // every device in the table
    std::size_t heard = 0;           // advertised since start
    std::size_t uncommissioned = 0;  // of those heard
  };

  explicit DeviceTable(std::size_t max_devices, MetricsRegistry& metrics = MetricsRegistry::global());

  // A Device1 message at `path`. Returns the device when the message was an
  // advert (data or RSSI), else nullptr (the properties are merged either way).
  const Device* on_properties(const std::string& path, const DeviceProps& p, TimestampMs t);
  // BlueZ's device objects (GetManagedObjects). Devices first learnt of now
  // start their stale clock now; nothing counts as an advert.
  void merge(const std::map<std::string, DeviceProps>& devices, TimestampMs t);
  // InterfacesRemoved: forgets the device.
  void remove(const std::string& path);

  // The commissioned addresses (normalised); flags every device.
  void set_commissioned(std::set<std::string> addresses);

  std::optional<std::string> path_of(const std::string& address) const;
  // Up to `max` uncommissioned devices inactive for more than stale_after_ms.
  std::vector<std::string> stale(TimestampMs t, TimestampMs stale_after_ms, std::size_t max) const;
  // RemoveDevice succeeded (or the device is gone): forgets it and counts it.
  void removed_from_bluez(const std::string& path);
  // RemoveDevice failed: keep the device and try again after another stale period.
  void removal_failed(const std::string& path, TimestampMs t);

  // Heard devices with an address, newest first.
  std::vector<DiscoveredDevice> heard() const;
  Counts counts() const;
  std::uint64_t adverts() const { return adverts_; }
  TimestampMs last_advert() const { return last_advert_; }  // 0: none yet
  std::uint64_t removed() const { return removed_; }

 private:
  Device& device(const std::string& path, TimestampMs t);
  void evict_one();
  void erase(std::map<std::string, Device>::iterator it);
  void apply(Device& d, const DeviceProps& p);

  std::size_t max_devices_;
  std::map<std::string, Device> devices_;     // path → device
  std::map<std::string, std::string> path_of_;  // address → path
  std::set<std::string> commissioned_;
  std::uint64_t adverts_ = 0, removed_ = 0;
  TimestampMs last_advert_ = 0;
  Counter* c_adverts_;
  Counter* c_removed_;
};

}  // namespace vigil::ble
