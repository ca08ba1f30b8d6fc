// SPDX-License-Identifier: Apache-2.0
//
// The notify module's pure helpers (private header: the module and its tests).
// No I/O, no state; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text_escape.h"
#include "notify/notifier.h"

namespace vigil::notify::detail {

// The placeholders a body template may use (docs/notifications.md).
const std::vector<std::string>& template_placeholders();
// Replaces every {{name}} with values[name] JSON-escaped (as the inside of a
// JSON string, no quotes added). Values are inserted once: a value holding
// "{{...}}" is not expanded again. Unknown names stay unknown: callers
// validate templates first (check_template).
std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& values);
// kInvalidArgument "unknown placeholder {{x}}" / "not JSON ..." (the template
// rendered with "0" for every placeholder must parse as JSON).
Status check_template(const std::string& tmpl);
// The JSON-string escape of s (no surrounding quotes; invalid UTF-8 replaced).
std::string json_escape(std::string_view s);
using vigil::html_escape;  // core/text_escape.h

std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const std::vector<std::uint8_t>& b);
std::string base64url(const std::vector<std::uint8_t>& b);  // no padding
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view s);

// "HH:MM" → minutes since midnight.
std::optional<int> parse_hhmm(std::string_view s);
// When `now` lies inside the quiet hours, their end (UTC ms); otherwise
// nullopt. kInvalidArgument for a bad time or an unknown zone.
Result<std::optional<TimestampMs>> quiet_hours_end(const QuietHours& q, TimestampMs now);

// http/https, a host, and not the gateway's own listener.
Status check_webhook_url(const std::string& url, const NotifierOptions& opts);

// Retry delay after `attempts` failed attempts (1 → 10 s, doubling, ≤ 15 min).
TimestampMs backoff_ms(int attempts);

// What a delivery says, rendered from its stored payload (the alert event's
// snapshot) and links.
struct MessageContext {
  nlohmann::json payload;  // {"alert": {...}, "event", "actor", "ts", "asset", "position", "site"}
  std::string kind;        // notification | escalation | test
  std::string link;        // <public_url>/#/asset/<id> (empty without an asset)
  std::string ack_link;    // empty for tests
  std::string gateway;
};
EmailMessage compose_email(const MessageContext& m, const std::vector<std::string>& to);
std::map<std::string, std::string> template_values(const MessageContext& m);

}  // namespace vigil::notify::detail
