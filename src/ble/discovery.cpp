// SPDX-License-Identifier: Apache-2.0
#include "ble/discovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::ble {

Discovery::Discovery(const ScannerOptions& options, MetricsRegistry& m)
    : o_(options),
      adapter_path_("/org/bluez/" + options.adapter),
      c_restarts_(m.counter("vigil_ble_discovery_restarts_total", "Discovery restarts (silence or stopped)")),
      c_bluez_restarts_(m.counter("vigil_ble_bluez_restarts_total", "bluetoothd restarts seen")) {}

void Discovery::set_state(BleState s, std::string message) {
  if (s != s_.state || message != s_.message) {
    if (s == BleState::kScanning) spdlog::info("ble: {}", message);
    else spdlog::warn("ble: {}: {}", to_string(s), message);
  }
  s_.state = s;
  s_.message = std::move(message);
}

void Discovery::restarted(const std::string& why) {
  spdlog::warn("ble: {}; restarting discovery on {}", why, o_.adapter);
  need_discovery_ = true;
  ++s_.discovery_restarts;
  c_restarts_->inc();
}

void Discovery::set_bus(BluezBus* bus) {
  bus_ = bus;
  need_sync_ = true;
  next_retry_ = 0;
}

void Discovery::on_event(const BusEvent& e) {
  using K = BusEvent::Kind;
  switch (e.kind) {
    case K::kAdapterAdded:
    case K::kAdapterChanged:
      if (e.path != adapter_path_) return;
      if (e.kind == K::kAdapterAdded) {
        s_.adapter_present = true;
        need_discovery_ = true;
      }
      if (e.adapter.powered) {
        adapter_powered_ = *e.adapter.powered;
        if (!adapter_powered_) {
          s_.discovering = false;
          set_state(BleState::kAdapterOff, "adapter " + o_.adapter + " is powered off");
        } else {
          need_discovery_ = true;
          next_retry_ = 0;
        }
      }
      if (e.adapter.discovering) {
        const bool was = s_.discovering;
        s_.discovering = *e.adapter.discovering;
        // Someone (or bluetoothd) stopped discovery: start it again.
        if (was && !s_.discovering && adapter_powered_ && s_.state == BleState::kScanning)
          restarted("discovery stopped");
      }
      return;
    case K::kAdapterRemoved:
      if (e.path != adapter_path_) return;
      s_.adapter_present = false;
      s_.discovering = false;
      set_state(BleState::kNoAdapter, "adapter " + o_.adapter + " removed");
      return;
    case K::kBluezDown:
      s_.adapter_present = false;
      s_.discovering = false;
      set_state(BleState::kBluezUnavailable, "bluetoothd stopped");
      return;
    case K::kBluezUp:
      if (bluez_seen_) {
        ++s_.bluez_restarts;
        c_bluez_restarts_->inc();
      }
      spdlog::info("ble: bluetoothd appeared on the bus; re-reading its objects");
      need_sync_ = true;
      next_retry_ = 0;
      return;
    default:
      return;  // device events are the device table's
  }
}

std::optional<std::map<std::string, DeviceProps>> Discovery::tick(TimestampMs t, TimestampMs last_advert) {
  if (!bus_) {
    set_state(BleState::kNoBus, "no D-Bus system bus connection");
    return std::nullopt;
  }
  // Silence watchdog: discovery that silently stopped delivering adverts.
  if (s_.state == BleState::kScanning && !need_discovery_) {
    const TimestampMs since = std::max(last_advert, discovery_started_);
    if (t - since > o_.discovery_silence_restart_s * 1000LL) {
      restarted("no advertisements for " + std::to_string((t - since) / 1000) + " s");
      next_retry_ = 0;
      discovery_started_ = t;
    }
  }
  std::optional<std::map<std::string, DeviceProps>> devices;
  if (need_sync_ && t >= next_retry_) devices = sync(t);
  if (need_discovery_ && s_.discovering && s_.state == BleState::kScanning) {
    // ensure_discovery() starts it again either way; a failed stop is worth
    // a line (it usually means bluetoothd is gone, which sync notices).
    if (auto st = bus_->stop_discovery(adapter_path_, o_.call_timeout); !st.ok())
      spdlog::info("ble: stopping discovery before a restart: {}", st.ToString());
  }
  ensure_discovery(t);
  return devices;
}

std::optional<std::map<std::string, DeviceProps>> Discovery::sync(TimestampMs t) {
  auto objs = bus_->get_managed_objects(o_.call_timeout);
  if (!objs) {
    next_retry_ = t + o_.bluez_retry_s * 1000LL;
    s_.adapter_present = false;
    s_.discovering = false;
    set_state(BleState::kBluezUnavailable, "bluetoothd not reachable: " + objs.status().message());
    return std::nullopt;
  }
  bluez_seen_ = true;
  need_sync_ = false;
  auto a = objs->adapters.find(adapter_path_);
  if (a == objs->adapters.end()) {
    s_.adapter_present = false;
    s_.discovering = false;
    std::string have;
    for (auto& [p, _] : objs->adapters) have += (have.empty() ? "" : ", ") + p;
    set_state(BleState::kNoAdapter, "no adapter " + adapter_path_ + (have.empty() ? "" : " (have: " + have + ")"));
  } else {
    s_.adapter_present = true;
    adapter_powered_ = a->second.powered.value_or(false);
    s_.discovering = a->second.discovering.value_or(false);
    if (!adapter_powered_) set_state(BleState::kAdapterOff, "adapter " + o_.adapter + " is powered off");
    else need_discovery_ = true;
  }
  return std::move(objs->devices);
}

void Discovery::ensure_discovery(TimestampMs t) {
  if (!need_discovery_ || !s_.adapter_present || !adapter_powered_ || t < next_retry_) return;
  auto st = bus_->set_discovery_filter(adapter_path_, o_.call_timeout);
  if (st.ok()) {
    st = bus_->start_discovery(adapter_path_, o_.call_timeout);
    if (st.code() == Status::Code::kAlreadyExists) st = Status::Ok();  // InProgress: already discovering
  }
  if (!st.ok()) {
    next_retry_ = t + o_.bluez_retry_s * 1000LL;
    set_state(BleState::kDiscoveryFailed, "StartDiscovery on " + o_.adapter + ": " + st.message());
    return;
  }
  need_discovery_ = false;
  s_.discovering = true;
  discovery_started_ = t;
  set_state(BleState::kScanning, "scanning on " + o_.adapter);
}

}  // namespace vigil::ble
