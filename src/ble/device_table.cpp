// SPDX-License-Identifier: Apache-2.0
#include "ble/device_table.h"

#include <algorithm>

#include "ble/advert_format.h"

namespace vigil::ble {

DeviceTable::DeviceTable(std::size_t max_devices, MetricsRegistry& m)
    : max_devices_(std::max<std::size_t>(max_devices, 1)),
      c_adverts_(m.counter("vigil_ble_adverts_total", "BLE advertisements received from BlueZ")),
      c_removed_(m.counter("vigil_ble_devices_removed_total", "Stale uncommissioned devices removed from BlueZ")) {}

DeviceTable::Device& DeviceTable::device(const std::string& path, TimestampMs t) {
  auto it = devices_.find(path);
  if (it != devices_.end()) return it->second;
  if (devices_.size() >= max_devices_) evict_one();
  Device d;
  d.path = path;
  d.activity = t;
  return devices_.emplace(path, std::move(d)).first->second;
}

void DeviceTable::evict_one() {
  auto victim = devices_.end();
  for (auto it = devices_.begin(); it != devices_.end(); ++it) {
    if (it->second.info.commissioned) continue;
    if (victim == devices_.end() || it->second.activity < victim->second.activity) victim = it;
  }
  if (victim == devices_.end()) victim = devices_.begin();  // all commissioned: the table bound wins
  erase(victim);
}

void DeviceTable::erase(std::map<std::string, Device>::iterator it) {
  auto p = path_of_.find(it->second.info.address);
  if (p != path_of_.end() && p->second == it->first) path_of_.erase(p);
  devices_.erase(it);
}

void DeviceTable::apply(Device& d, const DeviceProps& p) {
  if (p.address) {
    d.info.address = *p.address;
    if (auto m = protocol::Mac::parse(*p.address)) d.info.address = m->to_string();
    path_of_[d.info.address] = d.path;
    d.info.commissioned = commissioned_.count(d.info.address) > 0;
  }
  if (p.name) d.info.name = *p.name;
  if (p.rssi) d.info.rssi_dbm = *p.rssi;
}

const DeviceTable::Device* DeviceTable::on_properties(const std::string& path, const DeviceProps& p, TimestampMs t) {
  Device& d = device(path, t);
  apply(d, p);
  const bool has_data = (p.service_data && !p.service_data->empty()) ||
                        (p.manufacturer_data && !p.manufacturer_data->empty());
  if (!has_data && !p.rssi) return nullptr;
  d.heard = true;
  d.activity = t;
  if (!d.info.first_seen) d.info.first_seen = t;
  d.info.last_seen = t;
  ++d.info.adverts;
  d.info.format = detect_format(p, d.info.format);
  ++adverts_;
  c_adverts_->inc();
  last_advert_ = t;
  return &d;
}

void DeviceTable::merge(const std::map<std::string, DeviceProps>& devices, TimestampMs t) {
  for (auto& [path, p] : devices) {
    const bool existed = devices_.count(path) > 0;
    Device& d = device(path, t);
    apply(d, p);
    if (!existed) d.activity = t;  // cached by BlueZ; its stale clock starts now
  }
}

void DeviceTable::remove(const std::string& path) {
  if (auto it = devices_.find(path); it != devices_.end()) erase(it);
}

void DeviceTable::set_commissioned(std::set<std::string> addresses) {
  commissioned_ = std::move(addresses);
  for (auto& [path, d] : devices_) d.info.commissioned = commissioned_.count(d.info.address) > 0;
}

std::optional<std::string> DeviceTable::path_of(const std::string& address) const {
  auto it = path_of_.find(address);
  if (it == path_of_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> DeviceTable::stale(TimestampMs t, TimestampMs stale_after_ms, std::size_t max) const {
  std::vector<std::string> out;
  for (auto& [path, d] : devices_) {
    if (out.size() >= max) break;
    if (d.info.commissioned || t - d.activity <= stale_after_ms) continue;
    out.push_back(path);
  }
  return out;
}

void DeviceTable::removed_from_bluez(const std::string& path) {
  ++removed_;
  c_removed_->inc();
  remove(path);
}

void DeviceTable::removal_failed(const std::string& path, TimestampMs t) {
  if (auto it = devices_.find(path); it != devices_.end()) it->second.activity = t;
}

std::vector<DiscoveredDevice> DeviceTable::heard() const {
  std::vector<DiscoveredDevice> out;
  for (auto& [p, d] : devices_)
    if (d.heard && !d.info.address.empty()) out.push_back(d.info);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.last_seen > b.last_seen; });
  return out;
}

DeviceTable::Counts DeviceTable::counts() const {
  Counts c;
  c.known = devices_.size();
  for (auto& [p, d] : devices_) {
    if (!d.heard) continue;
    ++c.heard;
    if (!d.info.commissioned) ++c.uncommissioned;
  }
  return c;
}

}  // namespace vigil::ble
