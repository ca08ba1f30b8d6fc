// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the protocol unit tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace vigil::protocol::test {

inline std::vector<std::uint8_t> hex(const std::string& s) { return parse_hex(s).value(); }

inline nlohmann::json load_vectors(const std::string& file) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/tests/vectors/" + file);
  return nlohmann::json::parse(in);
}

inline const Value* find_value(const DecodedFrame& f, const std::string& metric) {
  for (const auto& v : f.values)
    if (v.metric == metric) return &v;
  return nullptr;
}

inline const Mac kMac = *Mac::parse("C0:FF:EE:00:00:01");
inline const Key kKey = *parse_key("000102030405060708090a0b0c0d0e0f");

}  // namespace vigil::protocol::test
