// SPDX-License-Identifier: Apache-2.0
#include "ble/commissioned_sensors.h"

#include <algorithm>

namespace vigil::ble {

Result<std::map<std::string, CommissionedSensor>> load_commissioned_sensors(Store& store) {
  std::map<Id, Id> asset_of;
  auto positions = store.positions();
  if (!positions) return positions.status();
  for (auto& p : *positions) asset_of[p.id] = p.asset_id;
  std::map<std::string, CommissionedSensor> out;
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, address, name, format, key, position_id FROM sensors WHERE decommissioned_at IS NULL");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      auto& s = **q;
      auto mac = protocol::Mac::parse(s.text(1));
      if (!mac) continue;  // simulator sources ("sim:...") are not BLE
      CommissionedSensor c;
      c.id = s.i64(0);
      c.address = mac->to_string();
      c.name = s.text(2);
      c.format = s.text(3);
      if (!s.is_null(5)) {
        c.position_id = s.i64(5);
        if (auto a = asset_of.find(*c.position_id); a != asset_of.end()) c.asset_id = a->second;
      }
      auto k = s.blob(4);
      if (k.size() == 16) {
        protocol::Key key{};
        std::copy(k.begin(), k.end(), key.begin());
        c.key = key;
      }
      out[c.address] = std::move(c);
    }
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace vigil::ble
