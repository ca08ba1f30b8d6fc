// SPDX-License-Identifier: Apache-2.0
#include "app/time_arg.h"

#include <cstring>
#include <ctime>
#include <string>

namespace vigil::app {

std::optional<TimestampMs> parse_time_arg(const std::string& s) {
  if (s.empty()) return std::nullopt;
  const std::size_t digits_from = s[0] == '-' ? 1 : 0;
  if (s.size() > digits_from && s.find_first_not_of("0123456789", digits_from) == std::string::npos) {
    if (s.size() - digits_from > 18) return std::nullopt;  // beyond int64 milliseconds
    return std::stoll(s);
  }
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (!rest) return std::nullopt;
  if (*rest == 'T' || *rest == ' ') {
    rest = strptime(rest + 1, "%H:%M:%S", &tm);
    if (!rest) return std::nullopt;
  }
  long offset_s = 0;
  if (*rest == 'Z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    // Exactly "+HH:MM" (anything shorter must not move past the end).
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (std::strlen(rest) != 6 || !digit(rest[1]) || !digit(rest[2]) || rest[3] != ':' || !digit(rest[4]) ||
        !digit(rest[5]))
      return std::nullopt;
    const int hh = (rest[1] - '0') * 10 + (rest[2] - '0'), mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    if (hh > 23 || mm > 59) return std::nullopt;
    offset_s = (*rest == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
    rest += 6;
  }
  if (*rest != '\0') return std::nullopt;
  return (static_cast<TimestampMs>(timegm(&tm)) - offset_s) * 1000;
}

}  // namespace vigil::app
