// SPDX-License-Identifier: Apache-2.0
//
// Notifier: alerts that reach people (docs/notifications.md, "Channels,
// routes, deliveries" and "Acknowledge links"). The notify module owns the
// tables notify_channels, notify_routes, notify_deliveries, notify_escalations,
// notify_kv (cursor, ack-link secret) and notify_ack_used (its migrations:
// Notifier::migrate).
//
// Exactly once, nothing lost. The notifier reads alert events after its
// cursor (EventSource; the gateway reads the alert service's alert_events
// table) and, in ONE store transaction, turns them into notify_deliveries
// rows (UNIQUE(event_id, channel_id, kind)) and advances the cursor. Sending
// then works off that durable queue: a restart resumes pending and retrying
// deliveries and never fans an event out twice. (A process killed between a
// successful send and the commit of "sent" sends that one message again when
// it restarts: at least once on the wire, exactly once in the queue.)
//
// Which events notify. A route matches an event when the alert's severity is
// in `severities`, its site in `site_ids` and its asset in `asset_ids` (empty
// lists match all) and the event is in `events` (default "opened",
// "escalated"). Each matching route's enabled channels get one "notification"
// delivery. With no routes at all, the config's email_to (an implicit email
// channel, id 0 in deliveries; routes may name channel 0 too) gets every
// opened/escalated warning and alarm.
//
// Quiet hours (a route's "HH:MM"–"HH:MM" in an IANA time zone; wraps past
// midnight): a delivery created inside them gets next_attempt_at = their end.
// Alarms bypass them unless alarms_too.
//
// Escalation is tracked from the events alone (no alert lookups): an
// "opened" (or "escalated") event that matches a route with
// escalate_after_min > 0 arms an escalation due at opened_at +
// escalate_after_min; an "acknowledged", "muted" or "closed" event of that
// alert disarms it; a due, still armed escalation becomes one "escalation"
// delivery per escalate_to channel, once per (alert, route): unmuting does
// not re-arm it.
//
// Sending. Per channel, deliveries leave in order of creation: a delivery
// that failed (status "retrying") blocks the later ones of its channel (only
// of its channel) until it is sent or failed; one held by quiet hours does
// not. Retries back off 10 s, doubling, to at most 15 min; 24 h after it was
// first due a delivery is "failed" (last_error kept). Each channel has a
// token bucket of rate_per_minute (0 = unlimited; default 60). Deliveries of
// a channel that is disabled or removed meanwhile fail ("channel disabled").
//
// Ack links: <public_url>/ack/<token>; the token is base64url of (alert id,
// expiry, 16-byte nonce, recipient) + HMAC-SHA256 under a 32-byte secret made
// once (RAND_bytes) and kept in notify_kv. consume_ack() records the nonce,
// so a token acknowledges at most once. The recipient of an email delivery is
// its "to" list joined by ", "; of a webhook, "webhook:<channel name>".
//
// Bounds: final deliveries older than 30 days go, and the oldest final ones
// beyond 100,000 rows; explanations and titles in a delivery are capped
// (4 KiB / 512 B), a rendered webhook body at 64 KiB; used ack nonces go once
// their token has expired.
//
// Threading: start() runs one worker thread (pull events, fan out, arm and
// fire escalations, send due deliveries, prune hourly). Every other method
// may be called from any thread; wake() only signals the worker (safe from
// the alert service's observer, which runs under its lock). run_once() does
// one pass on the caller's thread (tests; do not call it while the worker
// runs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alerts.h"
#include "notify/sender.h"
#include "vigil/clock.h"
#include "vigil/store.h"

namespace vigil::notify {

struct NotifierOptions {
  SmtpSettings smtp;
  std::vector<std::string> email_to;  // the implicit email channel (id 0)
  std::string public_url;             // e.g. https://gw:8080 (links in messages)
  int ack_link_ttl_h = 72;
  std::string gateway_name;  // {{gateway}}, and in email text
  // Webhooks to the gateway's own HTTP listener are refused: host
  // own_http_host, localhost, 127.0.0.0/8, ::1, 0.0.0.0, ::, this machine's
  // hostname or an address of one of its interfaces, with this port (names
  // are not resolved: a DNS alias of this machine is not caught).
  std::string own_http_host;
  int own_http_port = 0;
};

// One alert lifecycle change (a row of the alert service's alert_events,
// with the alert as it was then and the names of where it is).
struct AlertEvent {
  Id event_id = 0;
  alerts::Alert alert;
  std::string event;  // opened | escalated | updated | acknowledged | muted | unmuted | closed
  std::string actor;
  TimestampMs ts = 0;
  std::string asset_name, position_name, site_name;
  std::optional<Id> site_id;
};

// Events with event_id > after, oldest first, at most limit.
using EventSource = std::function<Result<std::vector<AlertEvent>>(Id after, int limit)>;

struct EmailChannel {
  std::vector<std::string> to;
};
struct WebhookChannel {
  std::string url;
  std::map<std::string, std::string> headers;  // values write-only
  std::string secret;                          // write-only HMAC key
  std::string body_template;                   // empty = default_body_template()
  std::string ca_file;
  bool verify_tls = true;
};
struct Channel {
  Id id = 0;
  std::string name;
  std::string type;  // "email" | "webhook"
  bool enabled = true;
  int rate_per_minute = 60;  // 0 = unlimited
  EmailChannel email;        // type email
  WebhookChannel webhook;    // type webhook
  TimestampMs created_at = 0, updated_at = 0;
};

struct QuietHours {
  std::string from, to;  // "HH:MM" local time
  std::string timezone = "UTC";
  bool alarms_too = false;
};
struct Route {
  Id id = 0;
  std::string name;
  std::vector<std::string> severities;  // warning | alarm; empty = all
  std::vector<Id> site_ids, asset_ids;  // empty = all
  std::vector<std::string> events{"opened", "escalated"};
  std::vector<Id> channels;
  std::optional<QuietHours> quiet_hours;
  int escalate_after_min = 0;  // 0 = no escalation
  std::vector<Id> escalate_to;
  TimestampMs created_at = 0;
};

struct Delivery {
  Id id = 0;
  Id channel_id = 0;  // 0 = the config's email_to
  std::optional<Id> alert_id;  // none for "test"
  std::optional<Id> event_id;
  std::string event;  // the alert event, or "test"
  std::string kind;   // notification | escalation | test
  std::string status; // pending | retrying | sent | failed
  int attempts = 0;
  TimestampMs created_at = 0, next_attempt_at = 0;
  std::optional<TimestampMs> sent_at;
  std::string last_error;
};

// JSON of the REST API. *_from_json: kInvalidArgument "field: why" (field as
// in the JSON: "webhook.url", "quiet_hours.timezone", "channels[1]").
// Read-only members (id, created_at, updated_at, secret_set) are ignored;
// header values "•••" (as to_json answers) and "" mean "keep the old value".
Result<Channel> channel_from_json(const nlohmann::json& j, const NotifierOptions& opts);
nlohmann::json to_json(const Channel& c);  // secret and header values redacted ("secret_set": true)
Result<Route> route_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Route& r);
nlohmann::json to_json(const Delivery& d);

// Checks a channel built in code the way channel_from_json does.
Status validate_channel(const Channel& c, const NotifierOptions& opts);
Status validate_route(const Route& r);

// The webhook body used when a channel's body_template is empty.
const std::string& default_body_template();

struct DeliveryFilter {
  std::optional<std::string> status;
  std::optional<Id> channel_id, alert_id;
  int limit = 100;  // 1..1000
};

struct AckGrant {
  Id alert_id = 0;
  std::string recipient;
  TimestampMs expires_at = 0;
};

class Notifier {
 public:
  // Applies the migrations, loads (or makes) the ack-link secret. Store,
  // clock and sender must outlive the notifier.
  static Result<std::unique_ptr<Notifier>> create(Store& store, const Clock& clock, NotifierOptions opts,
                                                  Sender& sender, EventSource source);
  static Status migrate(Store& store);
  ~Notifier();  // stop()s
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void start();
  void stop();  // waits for a send in progress (at most the sender's timeout)
  void wake();  // an alert event was committed: never blocks for long
  // One pass of the worker on the caller's thread (see the header comment).
  Status run_once();

  // ---- channels (errors: kInvalidArgument, kNotFound) ----
  Result<std::vector<Channel>> channels() const;
  Result<Channel> channel(Id id) const;
  Result<Id> add_channel(const Channel& c, const std::string& actor);
  // Keeps the old secret and header values when the update leaves them empty.
  Status update_channel(Id id, const Channel& c, const std::string& actor);
  // kFailedPrecondition while a route names it; its unsent deliveries fail.
  Status remove_channel(Id id, const std::string& actor);

  // ---- routes (kInvalidArgument also for a channel that does not exist) ----
  Result<std::vector<Route>> routes() const;
  Result<Id> add_route(const Route& r, const std::string& actor);
  Status update_route(Id id, const Route& r, const std::string& actor);
  Status remove_route(Id id, const std::string& actor);

  Result<Id> send_test(Id channel_id, const std::string& actor);  // queues a "test" delivery
  Result<std::vector<Delivery>> deliveries(const DeliveryFilter& f) const;

  // ---- acknowledge links ----
  std::string ack_link(Id alert_id, const std::string& recipient);  // public_url + "/ack/" + token
  std::string ack_token(Id alert_id, const std::string& recipient);
  // kPermissionDenied: malformed or tampered; kFailedPrecondition: expired or used.
  Result<AckGrant> check_ack(const std::string& token) const;
  // check_ack, then records the nonce (one transaction): a second use fails.
  Result<AckGrant> consume_ack(const std::string& token);

 private:
  Notifier(Store& store, const Clock& clock, NotifierOptions opts, Sender& sender, EventSource source);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::notify
