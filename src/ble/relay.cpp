// SPDX-License-Identifier: Apache-2.0
#include "ble/relay.h"

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "ble/advert_format.h"
#include "protocol/types.h"

namespace vigil::ble {
using nlohmann::json;

namespace {

Status reject(const char* reason, const std::string& detail) {
  return Status::InvalidArgument(std::string(reason) + ": " + detail);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<ByteVec> parse_hex(const std::string& s) {
  if (s.size() % 2 != 0 || s.size() > 2 * kMaxRelayPayloadBytes) return std::nullopt;
  ByteVec out;
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

// "0xfcd2", "fcd2", "0000fcd2-0000-1000-8000-00805f9b34fb" → the 128-bit
// form BlueZ uses (lower case).
std::optional<std::string> parse_uuid(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.size() == 36) return uuid16(s) ? std::optional<std::string>(s) : std::nullopt;
  if (s.rfind("0x", 0) == 0) s = s.substr(2);
  if (s.size() != 4) return std::nullopt;
  for (char c : s)
    if (hex_digit(c) < 0) return std::nullopt;
  return "0000" + s + "-0000-1000-8000-00805f9b34fb";
}

}  // namespace

std::string relay_reject_reason(const Status& s) {
  const std::string& m = s.message();
  auto colon = m.find(':');
  return colon == std::string::npos ? std::string("malformed_json") : m.substr(0, colon);
}

Result<RelayedAdvert> parse_relay_json(const std::string& payload, const std::string& topic) {
  if (payload.size() > kMaxRelayJsonBytes)
    return reject("oversized", std::to_string(payload.size()) + " bytes (at most " +
                                   std::to_string(kMaxRelayJsonBytes) + ")");
  json j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return reject("malformed_json", "not a JSON object");
  RelayedAdvert a;
  a.via = "relay:" + topic.substr(0, 200);

  auto id = j.find("id");
  if (id == j.end() || !id->is_string()) return reject("bad_address", "\"id\" (the device address) is missing");
  const std::string& ids = id->get_ref<const std::string&>();
  auto mac = ids.size() == 17 ? protocol::Mac::parse(ids) : std::nullopt;
  if (!mac) return reject("bad_address", "\"id\" is not a device address AA:BB:CC:DD:EE:FF");
  a.address = mac->to_string();
  a.props.address = a.address;

  if (auto r = j.find("rssi"); r != j.end() && !r->is_null()) {
    if (!r->is_number_integer()) return reject("bad_rssi", "\"rssi\" must be an integer");
    const auto v = r->get<long long>();
    if (v < -127 || v > 20) return reject("bad_rssi", "\"rssi\" must be -127..20 dBm");
    a.props.rssi = static_cast<std::int16_t>(v);
  }

  bool any = false;
  if (auto sd = j.find("servicedata"); sd != j.end() && !sd->is_null()) {
    if (!sd->is_string()) return reject("bad_hex", "\"servicedata\" must be a hex string");
    auto bytes = parse_hex(sd->get_ref<const std::string&>());
    if (!bytes) return reject("bad_hex", "\"servicedata\" is not hex of at most 255 bytes");
    auto u = j.find("servicedatauuid");
    if (u == j.end() || !u->is_string()) return reject("bad_uuid", "\"servicedata\" needs \"servicedatauuid\"");
    auto uuid = parse_uuid(u->get<std::string>());
    if (!uuid) return reject("bad_uuid", "\"servicedatauuid\" is not a 16-bit (0xfcd2) or Bluetooth base UUID");
    a.props.service_data = std::map<std::string, ByteVec>{{*uuid, std::move(*bytes)}};
    any = true;
  }
  if (auto md = j.find("manufacturerdata"); md != j.end() && !md->is_null()) {
    if (!md->is_string()) return reject("bad_hex", "\"manufacturerdata\" must be a hex string");
    auto bytes = parse_hex(md->get_ref<const std::string&>());
    if (!bytes || bytes->size() < 2)
      return reject("bad_hex", "\"manufacturerdata\" is not hex of 2..255 bytes (company id first)");
    const std::uint16_t company = static_cast<std::uint16_t>((*bytes)[0] | (*bytes)[1] << 8);
    a.props.manufacturer_data = std::map<std::uint16_t, ByteVec>{{company, ByteVec(bytes->begin() + 2, bytes->end())}};
    any = true;
  }
  if (!any) return reject("no_payload", "neither \"servicedata\" nor \"manufacturerdata\"");
  return a;
}

}  // namespace vigil::ble
