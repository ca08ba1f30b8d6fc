// SPDX-License-Identifier: Apache-2.0
#include "ble/sdbus_bus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <sdbus-c++/sdbus-c++.h>

namespace vigil::ble {
namespace {

constexpr const char* kBluez = "org.bluez";
constexpr const char* kObjectManager = "org.freedesktop.DBus.ObjectManager";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";

using VariantMap = std::map<std::string, sdbus::Variant>;
using InterfaceMap = std::map<std::string, VariantMap>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

template <typename T>
std::optional<T> get_if(const VariantMap& m, const char* key, const char* sig) {
  auto it = m.find(key);
  if (it == m.end() || it->second.peekValueType() != sig) return std::nullopt;
  try {
    return it->second.get<T>();
  } catch (const sdbus::Error&) {
    return std::nullopt;
  }
}

DeviceProps device_props(const VariantMap& m) {
  DeviceProps d;
  d.address = get_if<std::string>(m, "Address", "s");
  if (auto a = get_if<sdbus::ObjectPath>(m, "Adapter", "o")) d.adapter = std::string(*a);
  d.name = get_if<std::string>(m, "Alias", "s");
  if (!d.name) d.name = get_if<std::string>(m, "Name", "s");
  d.rssi = get_if<std::int16_t>(m, "RSSI", "n");
  d.connected = get_if<bool>(m, "Connected", "b");
  d.services_resolved = get_if<bool>(m, "ServicesResolved", "b");
  // A new python-dbusmock device carries ServiceData as `aa{sv}`: only the
  // BlueZ types are read, anything else is treated as absent.
  if (auto sd = get_if<VariantMap>(m, "ServiceData", "a{sv}")) {
    std::map<std::string, ByteVec> out;
    for (auto& [uuid, v] : *sd) {
      if (v.peekValueType() != "ay") continue;
      out[lower(uuid)] = v.get<ByteVec>();
    }
    d.service_data = std::move(out);
  }
  if (auto md = get_if<std::map<std::uint16_t, sdbus::Variant>>(m, "ManufacturerData", "a{qv}")) {
    std::map<std::uint16_t, ByteVec> out;
    for (auto& [company, v] : *md) {
      if (v.peekValueType() != "ay") continue;
      out[company] = v.get<ByteVec>();
    }
    d.manufacturer_data = std::move(out);
  }
  return d;
}

AdapterProps adapter_props(const VariantMap& m) {
  AdapterProps a;
  a.address = get_if<std::string>(m, "Address", "s");
  a.powered = get_if<bool>(m, "Powered", "b");
  a.discovering = get_if<bool>(m, "Discovering", "b");
  return a;
}

Status from_error(const sdbus::Error& e, const std::string& what) {
  const std::string msg = what + ": " + e.getName() + ": " + e.getMessage();
  const std::string& n = e.getName();
  if (n == "org.bluez.Error.AlreadyConnected" || n == "org.bluez.Error.AlreadyExists" ||
      n == "org.bluez.Error.InProgress")
    return Status::AlreadyExists(msg);
  if (n == "org.bluez.Error.NotConnected" || n == "org.bluez.Error.DoesNotExist" ||
      n == "org.freedesktop.DBus.Error.UnknownObject" || n == "org.freedesktop.DBus.Error.UnknownMethod")
    return Status::NotFound(msg);
  if (n == "org.bluez.Error.NotAuthorized" || n == "org.bluez.Error.NotPermitted")
    return Status::PermissionDenied(msg);
  return Status::Unavailable(msg);
}

class SdbusBus final : public BluezBus {
 public:
  explicit SdbusBus(std::unique_ptr<sdbus::IConnection> conn) : conn_(std::move(conn)) {}
  ~SdbusBus() override { stop(); }

  void set_event_handler(EventHandler h) override { handler_ = std::move(h); }

  Status start() override {
    try {
      const std::string sender = std::string("sender='") + kBluez + "',";
      slots_.push_back(conn_->addMatch(
          "type='signal'," + sender + "interface='" + kObjectManager + "',member='InterfacesAdded'",
          [this](sdbus::Message& m) { on_interfaces_added(m); }));
      slots_.push_back(conn_->addMatch(
          "type='signal'," + sender + "interface='" + kObjectManager + "',member='InterfacesRemoved'",
          [this](sdbus::Message& m) { on_interfaces_removed(m); }));
      slots_.push_back(conn_->addMatch(
          "type='signal'," + sender + "interface='" + kProperties + "',member='PropertiesChanged'",
          [this](sdbus::Message& m) { on_properties_changed(m); }));
      slots_.push_back(conn_->addMatch(
          "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
          "member='NameOwnerChanged',arg0='org.bluez'",
          [this](sdbus::Message& m) { on_name_owner_changed(m); }));
      conn_->enterEventLoopAsync();
      running_ = true;
    } catch (const sdbus::Error& e) {
      return from_error(e, "ble: subscribe to BlueZ signals");
    }
    return Status::Ok();
  }

  void stop() override {
    if (!running_) return;
    running_ = false;
    try {
      conn_->leaveEventLoop();
    } catch (const sdbus::Error& e) {
      spdlog::warn("ble: leave D-Bus event loop: {}", e.getMessage());
    }
    slots_.clear();
  }

  Result<bool> bluez_present(Duration timeout) override {
    try {
      bool has = false;
      auto p = proxy("org.freedesktop.DBus", "/org/freedesktop/DBus");
      p->callMethod("NameHasOwner")
          .onInterface("org.freedesktop.DBus")
          .withTimeout(timeout)
          .withArguments(std::string(kBluez))
          .storeResultsTo(has);
      return has;
    } catch (const sdbus::Error& e) {
      return from_error(e, "NameHasOwner");
    }
  }

  Result<ManagedObjects> get_managed_objects(Duration timeout) override {
    std::map<sdbus::ObjectPath, InterfaceMap> objs;
    try {
      auto p = proxy(kBluez, "/");
      p->callMethod("GetManagedObjects").onInterface(kObjectManager).withTimeout(timeout).storeResultsTo(objs);
    } catch (const sdbus::Error& e) {
      return from_error(e, "GetManagedObjects");
    }
    ManagedObjects out;
    for (auto& [path, ifaces] : objs) {
      if (auto it = ifaces.find(kAdapterIface); it != ifaces.end()) out.adapters[path] = adapter_props(it->second);
      if (auto it = ifaces.find(kDeviceIface); it != ifaces.end()) out.devices[path] = device_props(it->second);
      if (auto it = ifaces.find(kGattCharIface); it != ifaces.end()) {
        GattCharProps c;
        if (auto u = get_if<std::string>(it->second, "UUID", "s")) c.uuid = lower(*u);
        if (auto s = get_if<sdbus::ObjectPath>(it->second, "Service", "o")) c.service = *s;
        out.characteristics[path] = c;
      }
    }
    return out;
  }

  Status set_discovery_filter(const std::string& adapter, Duration timeout) override {
    VariantMap filter;
    filter["Transport"] = sdbus::Variant(std::string("le"));
    filter["DuplicateData"] = sdbus::Variant(true);
    return call(adapter, kAdapterIface, "SetDiscoveryFilter", timeout, filter);
  }
  Status start_discovery(const std::string& adapter, Duration timeout) override {
    return call(adapter, kAdapterIface, "StartDiscovery", timeout);
  }
  Status stop_discovery(const std::string& adapter, Duration timeout) override {
    return call(adapter, kAdapterIface, "StopDiscovery", timeout);
  }
  Status remove_device(const std::string& adapter, const std::string& device, Duration timeout) override {
    return call(adapter, kAdapterIface, "RemoveDevice", timeout, sdbus::ObjectPath(device));
  }
  Status connect(const std::string& device, Duration timeout) override {
    return call(device, kDeviceIface, "Connect", timeout);
  }
  Status disconnect(const std::string& device, Duration timeout) override {
    return call(device, kDeviceIface, "Disconnect", timeout);
  }
  Result<ByteVec> read_value(const std::string& characteristic, Duration timeout) override {
    ByteVec v;
    try {
      auto p = proxy(kBluez, characteristic);
      p->callMethod("ReadValue")
          .onInterface(kGattCharIface)
          .withTimeout(timeout)
          .withArguments(VariantMap{})
          .storeResultsTo(v);
    } catch (const sdbus::Error& e) {
      return from_error(e, "ReadValue " + characteristic);
    }
    return v;
  }
  Status write_value(const std::string& characteristic, const ByteVec& value, Duration timeout) override {
    VariantMap opts;
    opts["type"] = sdbus::Variant(std::string("request"));
    return call(characteristic, kGattCharIface, "WriteValue", timeout, value, opts);
  }

 private:
  // Proxies are cached per object (adapters, "/", the few devices and
  // characteristics a waveform pull touches); bounded by dropping the cache,
  // which is safe because callers hold shared references.
  std::shared_ptr<sdbus::IProxy> proxy(const std::string& dest, const std::string& path) {
    std::lock_guard lk(mu_);
    auto key = dest + "|" + path;
    auto it = proxies_.find(key);
    if (it == proxies_.end()) {
      if (proxies_.size() >= 1024) proxies_.clear();
      it = proxies_.emplace(key, std::shared_ptr<sdbus::IProxy>(sdbus::createProxy(*conn_, dest, path))).first;
    }
    return it->second;
  }

  template <typename... Args>
  Status call(const std::string& path, const char* iface, const char* method, Duration timeout, const Args&... args) {
    try {
      auto p = proxy(kBluez, path);
      // MethodInvoker keeps a reference to the name: it must outlive `m`.
      const std::string name(method);
      auto m = p->callMethod(name);
      m.onInterface(iface).withTimeout(timeout);
      if constexpr (sizeof...(Args) > 0) m.withArguments(args...);
      m.storeResultsTo();
    } catch (const sdbus::Error& e) {
      return from_error(e, std::string(method) + " " + path);
    }
    return Status::Ok();
  }

  void emit(BusEvent e) {
    if (handler_) handler_(std::move(e));
  }

  void on_interfaces_added(sdbus::Message& m) {
    try {
      sdbus::ObjectPath path;
      InterfaceMap ifaces;
      m >> path >> ifaces;
      if (auto it = ifaces.find(kDeviceIface); it != ifaces.end()) {
        BusEvent e{BusEvent::Kind::kDeviceAdded, path, device_props(it->second), {}};
        emit(std::move(e));
      }
      if (auto it = ifaces.find(kAdapterIface); it != ifaces.end()) {
        BusEvent e{BusEvent::Kind::kAdapterAdded, path, {}, adapter_props(it->second)};
        emit(std::move(e));
      }
    } catch (const sdbus::Error& e) {
      spdlog::debug("ble: malformed InterfacesAdded: {}", e.getMessage());
    }
  }

  void on_interfaces_removed(sdbus::Message& m) {
    try {
      sdbus::ObjectPath path;
      std::vector<std::string> ifaces;
      m >> path >> ifaces;
      for (auto& i : ifaces) {
        if (i == kDeviceIface) emit(BusEvent{BusEvent::Kind::kDeviceRemoved, path, {}, {}});
        if (i == kAdapterIface) emit(BusEvent{BusEvent::Kind::kAdapterRemoved, path, {}, {}});
      }
    } catch (const sdbus::Error& e) {
      spdlog::debug("ble: malformed InterfacesRemoved: {}", e.getMessage());
    }
  }

  void on_properties_changed(sdbus::Message& m) {
    try {
      std::string iface;
      VariantMap changed;
      std::vector<std::string> invalidated;
      m >> iface >> changed >> invalidated;
      if (iface == kDeviceIface) {
        emit(BusEvent{BusEvent::Kind::kDeviceChanged, m.getPath(), device_props(changed), {}});
      } else if (iface == kAdapterIface) {
        emit(BusEvent{BusEvent::Kind::kAdapterChanged, m.getPath(), {}, adapter_props(changed)});
      }
    } catch (const sdbus::Error& e) {
      spdlog::debug("ble: malformed PropertiesChanged: {}", e.getMessage());
    }
  }

  void on_name_owner_changed(sdbus::Message& m) {
    try {
      std::string name, old_owner, new_owner;
      m >> name >> old_owner >> new_owner;
      if (name != kBluez) return;
      if (!old_owner.empty()) emit(BusEvent{BusEvent::Kind::kBluezDown, "", {}, {}});
      if (!new_owner.empty()) emit(BusEvent{BusEvent::Kind::kBluezUp, "", {}, {}});
    } catch (const sdbus::Error& e) {
      spdlog::debug("ble: malformed NameOwnerChanged: {}", e.getMessage());
    }
  }

  std::unique_ptr<sdbus::IConnection> conn_;
  EventHandler handler_;
  std::vector<sdbus::Slot> slots_;
  bool running_ = false;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<sdbus::IProxy>> proxies_;
};

}  // namespace

Result<std::unique_ptr<BluezBus>> make_sdbus_bus() {
  try {
    auto conn = sdbus::createSystemBusConnection();
    return std::unique_ptr<BluezBus>(new SdbusBus(std::move(conn)));
  } catch (const sdbus::Error& e) {
    return Status::Unavailable("ble: connect to the system bus: " + e.getName() + ": " + e.getMessage());
  }
}

}  // namespace vigil::ble
