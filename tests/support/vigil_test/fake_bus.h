// SPDX-License-Identifier: Apache-2.0
// A scriptable BluezBus for unit tests: an object table, call log, failures,
// and GATT characteristics served by functions.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"

namespace vigil::ble::test {

class FakeBus : public BluezBus {
 public:
  ManagedObjects objects;
  bool present = true;           // bluetoothd on the bus
  Status discovery_status;       // what StartDiscovery returns
  std::vector<std::string> calls;  // "StartDiscovery /org/bluez/hci0", ...
  std::map<std::string, std::function<Result<ByteVec>()>> reads;          // char path → ReadValue
  std::map<std::string, std::function<Status(const ByteVec&)>> writes;    // char path → WriteValue
  EventHandler handler;

  void set_event_handler(EventHandler h) override { handler = std::move(h); }
  Status start() override { return Status::Ok(); }
  void stop() override {}

  Result<bool> bluez_present(Duration) override { return present; }
  Result<ManagedObjects> get_managed_objects(Duration) override {
    log("GetManagedObjects");
    if (!present) return Status::Unavailable("org.freedesktop.DBus.Error.ServiceUnknown");
    return objects;
  }
  Status set_discovery_filter(const std::string& a, Duration) override {
    log("SetDiscoveryFilter " + a);
    return present ? Status::Ok() : Status::Unavailable("gone");
  }
  Status start_discovery(const std::string& a, Duration) override {
    log("StartDiscovery " + a);
    if (!present) return Status::Unavailable("gone");
    return discovery_status;
  }
  Status stop_discovery(const std::string& a, Duration) override {
    log("StopDiscovery " + a);
    return Status::Ok();
  }
  Status remove_device(const std::string& a, const std::string& d, Duration) override {
    log("RemoveDevice " + a + " " + d);
    objects.devices.erase(d);
    return Status::Ok();
  }
  Status connect(const std::string& d, Duration) override {
    log("Connect " + d);
    return Status::Ok();
  }
  Status disconnect(const std::string& d, Duration) override {
    log("Disconnect " + d);
    return Status::Ok();
  }
  Result<ByteVec> read_value(const std::string& c, Duration) override {
    log("ReadValue " + c);
    auto it = reads.find(c);
    if (it == reads.end()) return Status::NotFound("no characteristic " + c);
    return it->second();
  }
  Status write_value(const std::string& c, const ByteVec& v, Duration) override {
    log("WriteValue " + c);
    auto it = writes.find(c);
    if (it == writes.end()) return Status::NotFound("no characteristic " + c);
    return it->second(v);
  }

  std::size_t count(const std::string& prefix) const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (auto& c : calls)
      if (c.rfind(prefix, 0) == 0) ++n;
    return n;
  }
  void clear() {
    std::lock_guard lk(mu_);
    calls.clear();
  }

 private:
  void log(std::string s) {
    std::lock_guard lk(mu_);
    calls.push_back(std::move(s));
  }
  mutable std::mutex mu_;
};

}  // namespace vigil::ble::test
