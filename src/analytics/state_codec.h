// SPDX-License-Identifier: Apache-2.0
//
// Building blocks of the learned-state documents (docs/analytics.md,
// "Learned state"): every stateful analytics class turns itself into a JSON
// value with to_state() and reads one back with from_state(). This header
// holds what they share:
//
//   - arrays of doubles (baseline samples, covariance, recent measurements)
//     are binary values, little-endian IEEE-754 float64 (int64 for times),
//     so they round-trip bit for bit and restore as a memcpy; the documents
//     are stored as CBOR (RFC 8949), where a binary value is a byte string;
//   - StateReader reads one object strictly: a missing field, a field of
//     the wrong type, a non-finite number or a field it does not know is
//     kInvalidArgument naming the field's path ("baseline.samples: …").
//
// Thread-safety: plain functions and a value type.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::analytics::state {

using json = nlohmann::json;

// float64 / int64 arrays as binary JSON values (little-endian).
json f64_bytes(std::span<const double> v);
json i64_bytes(std::span<const std::int64_t> v);

// Prefixes a from_state error with the field that holds the failing object:
// nest(InvalidArgument("samples: …"), "baseline") → "baseline.samples: …".
Status nest(const Status& s, const std::string& field);

// Reads the fields of one state object. Every getter records the first
// error and returns a default, so a from_state() reads all its fields and
// checks status() once; finish() also rejects fields nobody asked for.
class StateReader {
 public:
  explicit StateReader(const json& j);

  bool boolean(const char* key);
  std::int64_t integer(const char* key);
  double number(const char* key);  // finite
  std::optional<double> optional_number(const char* key);  // null → nullopt; else finite
  std::optional<std::int64_t> optional_integer(const char* key);
  std::string text(const char* key);
  HealthState health(const char* key);  // one of the lower-case state names
  // Any JSON value (an object another class reads, an array): the field
  // must be present; `type` checks it when given.
  const json& value(const char* key, std::optional<json::value_t> type = std::nullopt);
  // A binary float64 array; `count` (when given) is the exact length.
  // Every value must be finite.
  std::vector<double> f64(const char* key, std::optional<std::size_t> count = std::nullopt);
  // null → empty optional; else as f64().
  std::optional<std::vector<double>> optional_f64(const char* key, std::optional<std::size_t> count = std::nullopt);
  std::vector<std::int64_t> i64(const char* key);

  // Records an error about `key` (a check the caller made).
  void fail(const std::string& key, const std::string& why);
  // The first error, then any field that was not read.
  Status finish() const;
  bool ok() const { return error_.empty(); }

 private:
  const json* get(const char* key, json::value_t type, const char* type_name);
  const json& j_;
  std::set<std::string> read_;
  std::string error_;
};

}  // namespace vigil::analytics::state
