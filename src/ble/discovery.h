// SPDX-License-Identifier: Apache-2.0
//
// Discovery: keeps BlueZ discovering on one adapter and says why not when it
// cannot.
//
//   - GetManagedObjects when the bus appears and whenever bluetoothd
//     (re)appears (NameOwnerChanged → kBluezUp); retried every bluez_retry_s
//     while bluetoothd is unreachable;
//   - SetDiscoveryFilter{Transport=le, DuplicateData=true} + StartDiscovery
//     once the adapter is present and powered; retried every bluez_retry_s
//     when it fails (InProgress counts as success);
//   - restarted (StopDiscovery + StartDiscovery) when the adapter reports
//     Discovering=false while we were scanning, and by the silence watchdog
//     when no advert arrived for discovery_silence_restart_s;
//   - no bus, no bluetoothd, no adapter, adapter off and a failing
//     StartDiscovery are states (BleState), never errors.
//
// tick() makes the blocking bus calls (each with call_timeout) and returns
// BlueZ's device objects whenever it re-read them, for the device table.
//
// Threading: none of its own; every method runs on the BLE worker thread
// (the Scanner publishes status() for other threads). Holds no lock, so its
// bus calls never block a snapshot reader.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "ble/bluez_bus.h"
#include "ble/scanner_types.h"
#include "vigil/metrics_registry.h"

namespace vigil::ble {

struct DiscoveryStatus {
  BleState state = BleState::kStarting;
  std::string message = "starting";
  bool adapter_present = false;
  bool discovering = false;
  std::uint64_t discovery_restarts = 0;  // silence watchdog + Discovering=false
  std::uint64_t bluez_restarts = 0;      // bluetoothd seen again after it was up
};

class Discovery {
 public:
  Discovery(const ScannerOptions& options, MetricsRegistry& metrics = MetricsRegistry::global());

  // The bus to use (null: none yet). A new bus re-reads BlueZ's objects.
  void set_bus(BluezBus* bus);
  // Adapter1 added/changed/removed on our adapter, org.bluez up/down; other
  // events are ignored.
  void on_event(const BusEvent& e);
  // Periodic work, about once a second. last_advert: the newest advert heard
  // on the adapter (0: none), for the silence watchdog. Returns the device
  // objects when GetManagedObjects ran and succeeded.
  std::optional<std::map<std::string, DeviceProps>> tick(TimestampMs t, TimestampMs last_advert);

  const DiscoveryStatus& status() const { return s_; }
  BleState state() const { return s_.state; }
  const std::string& adapter_path() const { return adapter_path_; }

 private:
  void set_state(BleState s, std::string message);
  void restarted(const std::string& why);
  std::optional<std::map<std::string, DeviceProps>> sync(TimestampMs t);
  void ensure_discovery(TimestampMs t);

  ScannerOptions o_;
  std::string adapter_path_;
  BluezBus* bus_ = nullptr;
  DiscoveryStatus s_;
  bool bluez_seen_ = false;   // GetManagedObjects succeeded once: a later kBluezUp is a restart
  bool need_sync_ = true;
  bool need_discovery_ = false;
  bool adapter_powered_ = false;
  TimestampMs next_retry_ = 0;
  TimestampMs discovery_started_ = 0;
  Counter* c_restarts_;
  Counter* c_bluez_restarts_;
};

}  // namespace vigil::ble
