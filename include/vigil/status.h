// SPDX-License-Identifier: Apache-2.0
//
// Status and Result<T>: the one error type every vigil layer returns.
//
// A Status is either ok() or carries a Code and a human-readable message that
// keeps the original cause ("store: open /var/lib/vigil/vigil.db: disk I/O
// error"). Functions that produce a value return Result<T>, which holds either
// the value or a non-ok Status. Neither throws; callers check and propagate:
//
//   auto r = store.range(id, from, to);
//   if (!r) return r.status();
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace vigil {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // caller passed bad input (config, JSON, frame bytes)
    kNotFound,         // a named thing does not exist
    kAlreadyExists,
    kPermissionDenied,  // authentication/authorisation or file permissions
    kIoError,           // file system, socket, database I/O
    kCorruption,        // stored data fails an integrity check
    kUnavailable,       // a peer (broker, bluetoothd) is not reachable now
    kResourceExhausted,  // a queue, disk or limit is full
    kFailedPrecondition,  // refused in the current state (e.g. a class still in use)
    kInternal,
  };

  Status() = default;
  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message"; "ok" when ok.
  std::string ToString() const;
  static const char* CodeName(Code c);

  // Returns a copy whose message is prefixed with context ("open config: ...").
  Status Annotate(const std::string& context) const {
    if (ok()) return *this;
    return {code_, context + ": " + message_};
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vigil

#define VIGIL_RETURN_IF_ERROR(expr)          \
  do {                                       \
    ::vigil::Status _st = (expr);            \
    if (!_st.ok()) return _st;               \
  } while (0)
