// SPDX-License-Identifier: Apache-2.0
//
// BluezBus: the narrow seam between vigil's BLE logic and BlueZ's D-Bus API
// (org.bluez). The real implementation (sdbus_bus.h) talks to bluetoothd over
// the system bus; unit tests use a fake. Everything above this seam (device
// table, frame routing, watchdogs, health, waveform pull) is plain C++.
//
// Values are plain: D-Bus variants are converted at the edge, so a property
// that arrives with an unexpected type (python-dbusmock's `aa{sv}` ServiceData)
// is simply absent here.
//
// Events: the bus calls the handler set with set_event_handler() on its own
// thread (the sdbus-c++ event loop thread); the handler must not block and
// must not call back into the bus. Commands are synchronous, each with a
// timeout, and may be called from any thread but the event thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vigil/status.h"

namespace vigil::ble {

using ByteVec = std::vector<std::uint8_t>;

inline constexpr const char* kAdapterIface = "org.bluez.Adapter1";
inline constexpr const char* kDeviceIface = "org.bluez.Device1";
inline constexpr const char* kGattServiceIface = "org.bluez.GattService1";
inline constexpr const char* kGattCharIface = "org.bluez.GattCharacteristic1";

// Device1 properties; each field is set only if present in the message.
struct DeviceProps {
  std::optional<std::string> address;
  std::optional<std::string> adapter;  // object path of the adapter
  std::optional<std::string> name;     // Alias, else Name
  std::optional<std::int16_t> rssi;
  std::optional<std::map<std::string, ByteVec>> service_data;            // UUID (lower case) → bytes
  std::optional<std::map<std::uint16_t, ByteVec>> manufacturer_data;     // company id → bytes
  std::optional<bool> connected;
  std::optional<bool> services_resolved;
};

struct AdapterProps {
  std::optional<std::string> address;
  std::optional<bool> powered;
  std::optional<bool> discovering;
};

struct GattCharProps {
  std::string uuid;     // lower case
  std::string service;  // object path of its GattService1
};

struct ManagedObjects {
  std::map<std::string, AdapterProps> adapters;  // path → props
  std::map<std::string, DeviceProps> devices;
  std::map<std::string, GattCharProps> characteristics;
};

struct BusEvent {
  enum class Kind {
    kDeviceAdded,     // InterfacesAdded with Device1
    kDeviceChanged,   // PropertiesChanged on Device1
    kDeviceRemoved,   // InterfacesRemoved with Device1
    kAdapterAdded,    // InterfacesAdded with Adapter1
    kAdapterChanged,  // PropertiesChanged on Adapter1
    kAdapterRemoved,  // InterfacesRemoved with Adapter1
    kBluezUp,         // org.bluez got an owner (bluetoothd (re)started)
    kBluezDown,       // org.bluez lost its owner (bluetoothd stopped/crashed)
  };
  Kind kind = Kind::kDeviceChanged;
  std::string path;
  DeviceProps device;
  AdapterProps adapter;
};

class BluezBus {
 public:
  using EventHandler = std::function<void(BusEvent)>;
  using Duration = std::chrono::milliseconds;
  virtual ~BluezBus() = default;

  // Set once, before start(). Called on the bus thread.
  virtual void set_event_handler(EventHandler h) = 0;
  // Subscribes to signals and starts delivering events. kUnavailable if the
  // bus itself cannot be reached (bluetoothd being absent is not an error).
  virtual Status start() = 0;
  virtual void stop() = 0;

  // org.freedesktop.DBus.NameHasOwner("org.bluez").
  virtual Result<bool> bluez_present(Duration timeout) = 0;
  virtual Result<ManagedObjects> get_managed_objects(Duration timeout) = 0;
  // SetDiscoveryFilter({Transport: "le", DuplicateData: true}).
  virtual Status set_discovery_filter(const std::string& adapter, Duration timeout) = 0;
  virtual Status start_discovery(const std::string& adapter, Duration timeout) = 0;
  virtual Status stop_discovery(const std::string& adapter, Duration timeout) = 0;
  virtual Status remove_device(const std::string& adapter, const std::string& device, Duration timeout) = 0;

  // Connections and GATT (waveform pull).
  virtual Status connect(const std::string& device, Duration timeout) = 0;
  virtual Status disconnect(const std::string& device, Duration timeout) = 0;
  virtual Result<ByteVec> read_value(const std::string& characteristic, Duration timeout) = 0;
  virtual Status write_value(const std::string& characteristic, const ByteVec& value, Duration timeout) = 0;
};

}  // namespace vigil::ble
