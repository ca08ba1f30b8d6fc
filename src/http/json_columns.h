// SPDX-License-Identifier: Apache-2.0
//
// Writes numeric columns straight into a JSON text. Series responses are a
// few arrays of hundreds of numbers each; building them as nlohmann::json
// values first (one heap node per number, then grisu) was most of the cost
// of a series request. Numbers use std::to_chars (shortest text that reads
// back to the same double); NaN and ±inf become null, as nlohmann writes
// them.
//
// Thread-safety: a JsonColumns is used by one thread.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil::http {

class JsonColumns {
 public:
  explicit JsonColumns(std::size_t reserve = 0) {
    out_.reserve(reserve);
    out_ += '{';
  }
  // REQUIRES: key needs no escaping (a literal field name).
  JsonColumns& field(std::string_view key, std::int64_t v) {
    key_(key);
    number(v);
    return *this;
  }
  template <typename T, typename Get>
  JsonColumns& column(std::string_view key, std::span<const T> rows, Get get) {
    key_(key);
    out_ += '[';
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (i) out_ += ',';
      number(get(rows[i]));
    }
    out_ += ']';
    return *this;
  }
  // The finished text; the writer is spent afterwards.
  std::string finish() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void key_(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }
  void number(std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void number(double v) {
    if (!std::isfinite(v)) {
      out_ += "null";
      return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  std::string out_;
};

}  // namespace vigil::http
