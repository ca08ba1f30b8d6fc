// SPDX-License-Identifier: Apache-2.0
//
// Which advertisement payloads vigil understands, as BlueZ presents them in
// Device1 properties: BTHome v2 service data (UUID 0000fcd2-…) and vigil
// manufacturer data (company 0xFFFF, first byte the magic 'V'). Pure
// functions, shared by the device table (format of a discovered device) and
// the frame router (what to decode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ble/bluez_bus.h"
#include "protocol/types.h"

namespace vigil::ble {

// The BTHome 16-bit UUID as BlueZ prints it.
inline constexpr const char* kBthomeUuid128 = "0000fcd2-0000-1000-8000-00805f9b34fb";

// The 16-bit UUID inside a Bluetooth base UUID ("0000xxxx-0000-1000-8000-00805f9b34fb", lower case).
inline std::optional<std::uint16_t> uuid16(const std::string& uuid) {
  if (uuid.size() != 36 || uuid.compare(8, 28, "-0000-1000-8000-00805f9b34fb") != 0 || uuid.compare(0, 4, "0000") != 0)
    return std::nullopt;
  unsigned v = 0;
  for (std::size_t i = 4; i < 8; ++i) {
    const char c = uuid[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
    else return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

inline bool is_vigil_manufacturer_data(std::uint16_t company, const ByteVec& b) {
  return company == protocol::kVigilCompanyId && !b.empty() && b[0] == protocol::kVigilMagic;
}

// "vigil", "bthome", or `previous` when the message carries neither (a
// device once seen sending vigil frames stays "vigil").
inline std::string detect_format(const DeviceProps& p, const std::string& previous) {
  if (p.manufacturer_data)
    for (auto& [company, bytes] : *p.manufacturer_data)
      if (is_vigil_manufacturer_data(company, bytes)) return "vigil";
  if (p.service_data && p.service_data->count(kBthomeUuid128)) return previous == "vigil" ? previous : "bthome";
  return previous;
}

}  // namespace vigil::ble
