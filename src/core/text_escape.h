// SPDX-License-Identifier: Apache-2.0
//
// Escaping text for the formats vigil writes by hand where building a json
// object or a template per item would cost too much (exports and fleet
// answers of 10,000s of rows) or where there is no library (e-mail HTML).
// Pure functions; reentrant.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// Appends `v` as a JSON string literal (quotes included). ASCII is escaped
// here; anything else goes through nlohmann::json, which replaces invalid
// UTF-8 with U+FFFD, so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view v);

// & < > " ' as entities: safe in HTML text and quoted attribute values.
std::string html_escape(std::string_view s);

}  // namespace vigil
