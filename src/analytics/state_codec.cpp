// SPDX-License-Identifier: Apache-2.0
#include "analytics/state_codec.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace vigil::analytics::state {
namespace {

static_assert(std::numeric_limits<double>::is_iec559, "learned state stores IEEE-754 float64");

template <typename T>
json to_bytes(std::span<const T> v) {
  static_assert(sizeof(T) == 8);
  json::binary_t::container_type bytes(v.size() * 8);
  if constexpr (std::endian::native == std::endian::little) {
    if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  } else {
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::uint64_t u;
      std::memcpy(&u, &v[i], 8);
      for (int k = 0; k < 8; ++k) bytes[i * 8 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u >> (8 * k));
    }
  }
  return json::binary(std::move(bytes));
}

template <typename T>
std::vector<T> from_bytes(const std::vector<std::uint8_t>& b) {
  std::vector<T> out(b.size() / 8);
  if constexpr (std::endian::native == std::endian::little) {
    if (!out.empty()) std::memcpy(out.data(), b.data(), out.size() * 8);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::uint64_t u = 0;
      for (int k = 0; k < 8; ++k) u |= static_cast<std::uint64_t>(b[i * 8 + static_cast<std::size_t>(k)]) << (8 * k);
      std::memcpy(&out[i], &u, 8);
    }
  }
  return out;
}

}  // namespace

json f64_bytes(std::span<const double> v) { return to_bytes(v); }
json i64_bytes(std::span<const std::int64_t> v) { return to_bytes(v); }

Status nest(const Status& s, const std::string& field) {
  if (s.ok()) return s;
  const std::string& m = s.message();
  // The child's message starts with its own field path ("samples: …" or
  // "samples.x: …"), or is a plain reason.
  const auto colon = m.find(": ");
  const bool has_path = colon != std::string::npos && m.find(' ') == colon + 1;
  std::string msg = field + (has_path ? "." : ": ") + m;
  if (s.code() == Status::Code::kFailedPrecondition) return Status::FailedPrecondition(std::move(msg));
  return Status::InvalidArgument(std::move(msg));
}

StateReader::StateReader(const json& j) : j_(j) {
  if (!j_.is_object()) error_ = "expected an object, found " + std::string(j_.type_name());
}

void StateReader::fail(const std::string& key, const std::string& why) {
  if (error_.empty()) error_ = key + ": " + why;
}

const json* StateReader::get(const char* key, json::value_t type, const char* type_name) {
  if (!j_.is_object()) return nullptr;
  read_.insert(key);
  auto it = j_.find(key);
  if (it == j_.end()) {
    fail(key, "missing");
    return nullptr;
  }
  const bool number = type == json::value_t::number_float;
  const bool integer = type == json::value_t::number_integer;
  const bool matches = number    ? it->is_number()
                       : integer ? it->is_number_integer()
                                 : it->type() == type;
  if (!matches) {
    fail(key, std::string("expected ") + type_name + ", found " + it->type_name());
    return nullptr;
  }
  return &*it;
}

bool StateReader::boolean(const char* key) {
  auto* v = get(key, json::value_t::boolean, "a boolean");
  return v ? v->get<bool>() : false;
}

std::int64_t StateReader::integer(const char* key) {
  auto* v = get(key, json::value_t::number_integer, "an integer");
  if (!v) return 0;
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    fail(key, "out of range");
    return 0;
  }
  return v->get<std::int64_t>();
}

double StateReader::number(const char* key) {
  auto* v = get(key, json::value_t::number_float, "a number");
  if (!v) return 0;
  const double d = v->get<double>();
  if (!std::isfinite(d)) {
    fail(key, "not a finite number");
    return 0;
  }
  return d;
}

std::optional<double> StateReader::optional_number(const char* key) {
  if (j_.is_object()) {
    auto it = j_.find(key);
    if (it != j_.end() && it->is_null()) {
      read_.insert(key);
      return std::nullopt;
    }
  }
  return number(key);
}

std::optional<std::int64_t> StateReader::optional_integer(const char* key) {
  if (j_.is_object()) {
    auto it = j_.find(key);
    if (it != j_.end() && it->is_null()) {
      read_.insert(key);
      return std::nullopt;
    }
  }
  return integer(key);
}

std::string StateReader::text(const char* key) {
  auto* v = get(key, json::value_t::string, "a string");
  return v ? v->get<std::string>() : std::string();
}

HealthState StateReader::health(const char* key) {
  auto s = text(key);
  if (!ok()) return HealthState::kUnknown;
  auto h = health_state_from_string(s);
  if (!h) {
    fail(key, "unknown health state '" + s + "'");
    return HealthState::kUnknown;
  }
  return *h;
}

const json& StateReader::value(const char* key, std::optional<json::value_t> type) {
  static const json kNull;
  if (!j_.is_object()) return kNull;
  read_.insert(key);
  auto it = j_.find(key);
  if (it == j_.end()) {
    fail(key, "missing");
    return kNull;
  }
  if (type && it->type() != *type) {
    fail(key, std::string("expected ") + json(*type).type_name() + ", found " + it->type_name());
    return kNull;
  }
  return *it;
}

std::vector<double> StateReader::f64(const char* key, std::optional<std::size_t> count) {
  auto* v = get(key, json::value_t::binary, "float64 bytes");
  if (!v) return {};
  const auto& b = v->get_binary();
  if (b.size() % 8 != 0) {
    fail(key, "length " + std::to_string(b.size()) + " is not a multiple of 8");
    return {};
  }
  auto out = from_bytes<double>(b);
  if (count && out.size() != *count) {
    fail(key, "expected " + std::to_string(*count) + " values, found " + std::to_string(out.size()));
    return {};
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!std::isfinite(out[i])) {
      fail(key, "value " + std::to_string(i) + " is not finite");
      return {};
    }
  return out;
}

std::optional<std::vector<double>> StateReader::optional_f64(const char* key, std::optional<std::size_t> count) {
  if (j_.is_object()) {
    auto it = j_.find(key);
    if (it != j_.end() && it->is_null()) {
      read_.insert(key);
      return std::nullopt;
    }
  }
  return f64(key, count);
}

std::vector<std::int64_t> StateReader::i64(const char* key) {
  auto* v = get(key, json::value_t::binary, "int64 bytes");
  if (!v) return {};
  const auto& b = v->get_binary();
  if (b.size() % 8 != 0) {
    fail(key, "length " + std::to_string(b.size()) + " is not a multiple of 8");
    return {};
  }
  return from_bytes<std::int64_t>(b);
}

Status StateReader::finish() const {
  if (!error_.empty()) return Status::InvalidArgument(error_);
  for (auto it = j_.begin(); it != j_.end(); ++it)
    if (!read_.count(it.key())) return Status::InvalidArgument(it.key() + ": unknown field");
  return Status::Ok();
}

}  // namespace vigil::analytics::state
