// SPDX-License-Identifier: Apache-2.0
#include "http/sensor_csv.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>

#include "protocol/types.h"

namespace vigil::http {
namespace {

std::string trim(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return std::string(s.substr(a, b - a));
}

// Splits one line into fields; nullopt when a quote is not closed.
std::optional<std::vector<std::string>> split(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += line[i++];
      }
      if (!closed) return std::nullopt;
      while (i < line.size() && line[i] != ',') ++i;  // spaces after the closing quote
    } else {
      const std::size_t end = std::min(line.find(',', i), line.size());
      field = trim(line.substr(i, end - i));
      i = end;
    }
    out.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      out.emplace_back();
      break;
    }
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

SensorCsv parse_sensor_csv(std::string_view text) {
  SensorCsv out;
  if (text.size() > kSensorCsvMaxBytes) {
    out.errors.push_back({0, "file", "the file is larger than " + std::to_string(kSensorCsvMaxBytes / 1024) +
                                         " KiB: split it"});
    return out;
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::map<std::string, std::size_t> col;  // column name → index
  bool have_header = false;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t nl = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string bare = trim(line);
    if (bare.empty() || bare[0] == '#') {
      if (nl == text.size()) break;
      continue;
    }
    auto fields = split(line);
    if (!fields) {
      out.errors.push_back({line_no, "line", "a quoted field is not closed"});
      if (!have_header) return out;
      continue;
    }
    if (!have_header) {
      have_header = true;
      for (std::size_t i = 0; i < fields->size(); ++i) {
        const std::string name = lower((*fields)[i]);
        if (name != "address" && name != "key" && name != "position" && name != "name" && name != "format") {
          out.errors.push_back({line_no, "header", "unknown column '" + (*fields)[i] +
                                                       "' (columns: address, key, position; optional name, format)"});
          continue;
        }
        if (!col.emplace(name, i).second)
          out.errors.push_back({line_no, "header", "column '" + name + "' appears twice"});
      }
      for (const char* need : {"address", "key", "position"})
        if (!col.count(need))
          out.errors.push_back({line_no, "header", std::string("the header must name the column '") + need +
                                                       "' (address,key,position)"});
      if (!out.errors.empty()) return out;
      continue;
    }
    if (out.rows.size() + out.errors.size() >= kSensorCsvMaxRows) {
      out.errors.push_back({line_no, "file", "more than " + std::to_string(kSensorCsvMaxRows) +
                                                 " sensors in one file: split it"});
      return out;
    }
    if (fields->size() > col.size()) {
      out.errors.push_back({line_no, "line", "has " + std::to_string(fields->size()) + " fields, the header " +
                                                 std::to_string(col.size())});
      continue;
    }
    auto field = [&](const char* name) -> std::string {
      auto it = col.find(name);
      if (it == col.end() || it->second >= fields->size()) return {};
      return (*fields)[it->second];
    };
    SensorImportRow r;
    r.line = line_no;
    const std::string address = field("address");
    auto mac = protocol::Mac::parse(address);
    if (!mac) {
      out.errors.push_back({line_no, "address",
                            address.empty() ? std::string("address is empty")
                                            : "'" + address + "' is not a MAC address (AA:BB:CC:DD:EE:FF)"});
      continue;
    }
    r.address = mac->to_string();
    const std::string key = field("key");
    if (!key.empty()) {
      auto k = protocol::parse_key(key);
      if (!k) {
        out.errors.push_back({line_no, "key", "key must be 32 hex digits (an AES-128 key) or empty"});
        continue;
      }
      r.key = std::vector<std::uint8_t>(k->begin(), k->end());
    }
    r.position = field("position");
    if (r.position.empty()) {
      out.errors.push_back({line_no, "position", "position is empty (a position id or Site/Asset/Position)"});
      continue;
    }
    r.name = field("name");
    r.format = lower(field("format"));
    bool bad_name = r.name.size() > 200;
    for (unsigned char c : r.name) bad_name = bad_name || c < 0x20 || c == 0x7f;
    if (bad_name) {
      out.errors.push_back({line_no, "name", "name must be at most 200 bytes without control characters"});
      continue;
    }
    if (!r.format.empty() && r.format != "bthome" && r.format != "vigil") {
      out.errors.push_back({line_no, "format", "format must be bthome or vigil (or empty)"});
      continue;
    }
    out.rows.push_back(std::move(r));
    if (nl == text.size()) break;
  }
  if (!have_header) out.errors.push_back({0, "header", "the file is empty: it needs a header line address,key,position"});
  return out;
}

}  // namespace vigil::http
