// SPDX-License-Identifier: Apache-2.0
//
// Maps each object key of a JSON-with-comments document to the line it is on
// ("storage.path" → 12), so config errors can say FILE:LINE. nlohmann::json
// does not keep positions; this scanner does only that one job and tolerates
// anything the real parser would reject (the real parser reports those).
#pragma once

#include <map>
#include <string>

namespace vigil::config_detail {

std::map<std::string, int> key_lines(const std::string& text);
// 1-based line of a byte offset.
int line_of_offset(const std::string& text, std::size_t offset);

}  // namespace vigil::config_detail
