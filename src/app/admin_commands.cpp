// SPDX-License-Identifier: Apache-2.0
#include "app/admin_commands.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "app/store_options.h"
#include "vigil/store.h"
#include "protocol/types.h"

namespace vigil::app {
namespace {

Result<std::unique_ptr<Store>> open_store(const Config& c, const char* command) {
  StoreOptions so = store_options(c.storage);
  so.reader_connections = 1;
  so.owner = command;
  return Store::open(so);
}

// Address and key text use the protocol module's parsers, the same ones
// the decoder uses for `vigil decode --address/--key`.
bool normalize_mac(std::string& mac) {
  auto m = protocol::Mac::parse(mac);
  if (!m) return false;
  mac = m->to_string();
  return true;
}

std::optional<std::vector<std::uint8_t>> parse_key(const std::string& hex) {
  auto k = protocol::parse_key(hex);
  if (!k) return std::nullopt;
  return std::vector<std::uint8_t>(k->begin(), k->end());
}

}  // namespace

std::optional<int> refuse_while_served(const std::string& command, const std::string& db_path,
                                       const std::string& hint, std::ostream& err) {
  auto holder = Store::owner(db_path);
  if (!holder || !holder->server) return std::nullopt;
  err << "vigil " << command << ": " << (holder->label.empty() ? std::string("vigil serve") : holder->label)
      << " (pid " << holder->pid << ") is running on " << db_path << "; " << hint << ", or stop the service first\n";
  return kExitServed;
}

int sensor_add(const Config& config, const SensorAddOptions& o, std::ostream& out, std::ostream& err) {
  std::string mac = o.address;
  if (!normalize_mac(mac)) {
    err << "vigil sensor add: '" << o.address << "' is not a MAC address (AA:BB:CC:DD:EE:FF)\n";
    return 2;
  }
  std::optional<std::vector<std::uint8_t>> key;
  if (!o.key_hex.empty()) {
    key = parse_key(o.key_hex);
    if (!key) {
      err << "vigil sensor add: --key must be 32 hex digits (an AES-128 key)\n";
      return 2;
    }
  }
  if (auto rc = refuse_while_served("sensor add", config.storage.path,
                                    "commission sensors in the dashboard (Sensors) or with POST /api/v1/sensors", err))
    return *rc;
  auto store = open_store(config, "vigil sensor add");
  if (!store) {
    err << "vigil sensor add: " << store.status().message() << "\n";
    return 1;
  }
  auto& s = **store;
  if (o.position_id) {
    auto ps = s.positions();
    if (!ps) {
      err << "vigil sensor add: " << ps.status().message() << "\n";
      return 1;
    }
    bool found = std::any_of(ps->begin(), ps->end(), [&](const Position& p) { return p.id == *o.position_id; });
    if (!found) {
      err << "vigil sensor add: position " << *o.position_id << " does not exist\n";
      return 1;
    }
  }
  Sensor sensor;
  sensor.address = mac;
  sensor.name = o.name;
  sensor.format = o.format;
  if (o.position_id) sensor.position_id = *o.position_id;
  sensor.commissioned_at = SystemClock::instance().now_ms();
  // The row and its key in one transaction (the store owns the table).
  auto id = s.commission_sensor(sensor, key);
  if (!id) {
    err << "vigil sensor add: " << id.status().message() << "\n";
    return 1;
  }
  if (Status st = s.audit("cli", "sensor.commission", mac, key ? "with key" : "without key"); !st.ok()) {
    err << "vigil sensor add: " << st.message() << "\n";
    return 1;
  }
  out << "sensor " << mac << " commissioned (id " << *id << ")\n";
  return 0;
}

int sensor_list(const Config& config, std::ostream& out, std::ostream& err) {
  if (auto rc = refuse_while_served("sensor list", config.storage.path,
                                    "list sensors in the dashboard (Sensors) or with GET /api/v1/sensors", err))
    return *rc;
  auto store = open_store(config, "vigil sensor list");
  if (!store) {
    err << "vigil sensor list: " << store.status().message() << "\n";
    return 1;
  }
  auto sensors = (*store)->sensors();
  if (!sensors) {
    err << "vigil sensor list: " << sensors.status().message() << "\n";
    return 1;
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : *sensors) {
    arr.push_back({{"id", s.id}, {"address", s.address}, {"name", s.name}, {"format", s.format},
                   {"position_id", s.position_id ? nlohmann::json(*s.position_id) : nlohmann::json(nullptr)}});
  }
  out << arr.dump(2) << "\n";
  return 0;
}

}  // namespace vigil::app
