// SPDX-License-Identifier: Apache-2.0
#include "notify/notifier.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "notify/internal.h"

namespace vigil::notify {
namespace {

using json = nlohmann::json;

constexpr int kEventBatch = 200;
constexpr int kMaxBatchesPerPass = 20;
constexpr TimestampMs kFailAfterMs = 24LL * 3600 * 1000;
constexpr TimestampMs kKeepMs = 30LL * 24 * 3600 * 1000;
constexpr int kKeepRows = 100000;
constexpr TimestampMs kPruneEveryMs = 3600 * 1000;
constexpr TimestampMs kFirstRunHorizonMs = 3600 * 1000;
constexpr std::size_t kMaxExplanation = 4096, kMaxTitle = 512, kMaxName = 256;
constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxRecipient = 256;
constexpr std::size_t kNonceBytes = 16, kMacBytes = 32;
constexpr std::uint8_t kTokenVersion = 1;

std::string cap(std::string s, std::size_t n) {
  if (s.size() <= n) return s;
  s.resize(n);
  // do not cut a UTF-8 sequence in half
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
  return s + "…";
}

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

json payload_of(const AlertEvent& e) {
  const auto& a = e.alert;
  json alert = {{"id", a.id},
                {"title", cap(a.title, kMaxTitle)},
                {"severity", a.severity},
                {"status", a.status},
                {"model", a.model},
                {"opened_at", a.opened_at},
                {"explanation", cap(a.explanation, kMaxExplanation)},
                {"asset_id", a.asset_id ? json(*a.asset_id) : json(nullptr)},
                {"position_id", a.position_id ? json(*a.position_id) : json(nullptr)}};
  return {{"alert", alert},
          {"event", e.event},
          {"actor", cap(e.actor, kMaxName)},
          {"ts", e.ts},
          {"asset", cap(e.asset_name, kMaxName)},
          {"position", cap(e.position_name, kMaxName)},
          {"site", cap(e.site_name, kMaxName)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The stored form of a channel's type-specific settings (secrets included:
// this never leaves the module; to_json redacts).
std::string encode_config(const Channel& c) {
  if (c.type == "email") return dump(json{{"to", c.email.to}});
  return dump(json{{"url", c.webhook.url},
                   {"headers", c.webhook.headers},
                   {"secret", c.webhook.secret},
                   {"body_template", c.webhook.body_template},
                   {"ca_file", c.webhook.ca_file},
                   {"verify_tls", c.webhook.verify_tls}});
}

void decode_config(const std::string& s, Channel& c) {
  auto j = json::parse(s, nullptr, false);
  if (!j.is_object()) return;
  if (c.type == "email") {
    c.email.to = j.value("to", std::vector<std::string>{});
    return;
  }
  c.webhook.url = j.value("url", "");
  c.webhook.headers = j.value("headers", std::map<std::string, std::string>{});
  c.webhook.secret = j.value("secret", "");
  c.webhook.body_template = j.value("body_template", "");
  c.webhook.ca_file = j.value("ca_file", "");
  c.webhook.verify_tls = j.value("verify_tls", true);
}

std::string encode_route(const Route& r) {
  json j = to_json(r);
  j.erase("id");
  j.erase("created_at");
  j.erase("name");
  return dump(j);
}

Route decode_route(Id id, const std::string& name, TimestampMs created, const std::string& cfg) {
  Route r;
  auto j = json::parse(cfg, nullptr, false);
  if (j.is_object()) {
    j["name"] = name;
    auto parsed = route_from_json(j);
    if (parsed) r = *parsed;
  }
  r.id = id;
  r.name = name;
  r.created_at = created;
  return r;
}

Result<std::map<Id, Channel>> load_channels(sql::Db& db) {
  std::map<Id, Channel> out;
  auto q = db.prepare(
      "SELECT id, name, type, enabled, rate_per_minute, config, created_at, updated_at FROM notify_channels "
      "ORDER BY id");
  if (!q) return q.status();
  for (;;) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    Channel c;
    c.id = (*q)->i64(0);
    c.name = (*q)->text(1);
    c.type = (*q)->text(2);
    c.enabled = (*q)->i64(3) != 0;
    c.rate_per_minute = static_cast<int>((*q)->i64(4));
    decode_config((*q)->text(5), c);
    c.created_at = (*q)->i64(6);
    c.updated_at = (*q)->i64(7);
    out[c.id] = std::move(c);
  }
  (*q)->reset();
  return out;
}

Result<std::vector<Route>> load_routes(sql::Db& db) {
  std::vector<Route> out;
  auto q = db.prepare("SELECT id, name, created_at, config FROM notify_routes ORDER BY id");
  if (!q) return q.status();
  for (;;) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    out.push_back(decode_route((*q)->i64(0), (*q)->text(1), (*q)->i64(2), (*q)->text(3)));
  }
  (*q)->reset();
  return out;
}

Result<std::optional<std::string>> kv_get(sql::Db& db, const std::string& key) {
  auto q = db.prepare("SELECT value FROM notify_kv WHERE key = ?");
  if (!q) return q.status();
  (*q)->bind(1, key);
  auto row = (*q)->step();
  if (!row) return row.status();
  std::optional<std::string> v;
  if (*row) {
    auto b = (*q)->blob(0);
    v = std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  (*q)->reset();
  return v;
}

Status kv_put(sql::Db& db, const std::string& key, const std::string& value) {
  auto q = db.prepare("INSERT INTO notify_kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!q) return q.status();
  (*q)->bind(1, key).bind_blob(2, value.data(), value.size());
  return (*q)->run();
}

constexpr const char* kDeliveryCols =
    "id, channel_id, alert_id, event_id, event, kind, status, attempts, created_at, next_attempt_at, sent_at, "
    "last_error, due_at, payload";

struct Row {
  Delivery d;
  TimestampMs due_at = 0;
  std::string payload;
};

Row read_delivery(const sql::Stmt& q) {
  Row r;
  r.d.id = q.i64(0);
  r.d.channel_id = q.i64(1);
  r.d.alert_id = q.opt_i64(2);
  r.d.event_id = q.opt_i64(3);
  r.d.event = q.text(4);
  r.d.kind = q.text(5);
  r.d.status = q.text(6);
  r.d.attempts = static_cast<int>(q.i64(7));
  r.d.created_at = q.i64(8);
  r.d.next_attempt_at = q.i64(9);
  r.d.sent_at = q.opt_i64(10);
  r.d.last_error = q.text(11);
  r.due_at = q.i64(12);
  r.payload = q.text(13);
  return r;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

void put_be64(std::vector<std::uint8_t>& b, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (i * 8)));
}
std::uint64_t get_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

struct Notifier::Impl {
  Store& store;
  const Clock& clock;
  NotifierOptions opts;
  Sender& sender;
  EventSource source;
  std::string secret;  // 32 bytes, the ack-link key

  std::mutex mu;  // guards woken, stopping, buckets
  std::condition_variable cv;
  bool woken = false;
  bool stopping = false;
  std::atomic<bool> stop_flag{false};
  std::thread worker;
  TimestampMs last_prune = 0;

  struct Bucket {
    double tokens = 0;
    TimestampMs last = 0;
    int rate = -1;
  };
  std::map<Id, Bucket> buckets;

  Impl(Store& s, const Clock& c, NotifierOptions o, Sender& snd, EventSource src)
      : store(s), clock(c), opts(std::move(o)), sender(snd), source(std::move(src)) {}

  // The implicit channel of the config's email_to (id 0), when configured.
  std::optional<Channel> implicit_channel() const {
    if (opts.email_to.empty()) return std::nullopt;
    Channel c;
    c.id = 0;
    c.name = "notifications.email_to";
    c.type = "email";
    c.email.to = opts.email_to;
    c.rate_per_minute = 60;
    return c;
  }

  Status check_channel_ids(sql::Db& db, const Route& r) {
    auto chans = load_channels(db);
    if (!chans) return chans.status();
    for (auto [key, ids] : {std::pair{"channels", &r.channels}, std::pair{"escalate_to", &r.escalate_to}}) {
      for (std::size_t i = 0; i < ids->size(); ++i) {
        Id id = (*ids)[i];
        if (id == 0 && !opts.email_to.empty()) continue;
        if (!chans->count(id))
          return Status::InvalidArgument(std::string(key) + "[" + std::to_string(i) + "]: no channel " +
                                         std::to_string(id));
      }
    }
    return Status::Ok();
  }

  static bool route_matches(const Route& r, const AlertEvent& e) {
    if (!r.severities.empty() && !contains(r.severities, e.alert.severity)) return false;
    if (!r.site_ids.empty() && (!e.site_id || !contains(r.site_ids, *e.site_id))) return false;
    if (!r.asset_ids.empty() && (!e.alert.asset_id || !contains(r.asset_ids, *e.alert.asset_id))) return false;
    return true;
  }

  // When a delivery for an alert of `severity` made now may first leave
  // under route r's quiet hours.
  TimestampMs hold_until(const Route* r, const std::string& severity, TimestampMs now) {
    if (!r || !r->quiet_hours) return now;
    if (severity == "alarm" && !r->quiet_hours->alarms_too) return now;
    auto end = detail::quiet_hours_end(*r->quiet_hours, now);
    if (!end) {
      spdlog::warn("notify: route {}: {}", r->id, end.status().ToString());
      return now;
    }
    return end->value_or(now);
  }

  static Status insert_delivery(sql::Db& db, std::optional<Id> event_id, Id channel_id, std::optional<Id> alert_id,
                                const std::string& event, const std::string& kind, TimestampMs now,
                                TimestampMs due, const std::string& payload, Id* id_out = nullptr) {
    auto q = db.prepare(
        "INSERT OR IGNORE INTO notify_deliveries(event_id, channel_id, alert_id, event, kind, status, attempts, "
        "created_at, due_at, next_attempt_at, last_error, payload) VALUES(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, '', ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, event_id).bind(2, channel_id).bind(3, alert_id).bind(4, event)
                              .bind(5, kind).bind(6, now).bind(7, due).bind(8, due).bind(9, payload).run());
    if (id_out) *id_out = db.last_insert_id();
    return Status::Ok();
  }

  bool channel_usable(const std::map<Id, Channel>& chans, Id id) const {
    if (id == 0) return !opts.email_to.empty();
    auto it = chans.find(id);
    return it != chans.end() && it->second.enabled;
  }

  // One event → deliveries and escalation bookkeeping (inside the fan-out txn).
  Status fan_out(sql::Db& db, const AlertEvent& e, const std::map<Id, Channel>& chans, const std::vector<Route>& routes,
                 TimestampMs now) {
    const std::string payload = dump(payload_of(e));
    const bool lifecycle_notice = e.event == "opened" || e.event == "escalated";
    const bool notifiable_sev = e.alert.severity == "warning" || e.alert.severity == "alarm";
    std::map<Id, TimestampMs> due;  // channel → earliest release
    if (routes.empty()) {
      if (lifecycle_notice && notifiable_sev && !opts.email_to.empty()) due[0] = now;
    } else {
      for (const auto& r : routes) {
        if (!contains(r.events, e.event) || !route_matches(r, e)) continue;
        const TimestampMs t = hold_until(&r, e.alert.severity, now);
        for (Id c : r.channels) {
          if (!channel_usable(chans, c)) continue;
          auto it = due.find(c);
          if (it == due.end() || t < it->second) due[c] = t;
        }
      }
    }
    for (const auto& [c, t] : due)
      VIGIL_RETURN_IF_ERROR(insert_delivery(db, e.event_id, c, e.alert.id, e.event, "notification", now, t, payload));

    // Escalation: armed by opened/escalated while open, disarmed by a person.
    if (lifecycle_notice && (e.alert.status.empty() || e.alert.status == "open")) {
      for (const auto& r : routes) {
        if (r.escalate_after_min <= 0 || r.escalate_to.empty() || !route_matches(r, e)) continue;
        const TimestampMs opened = e.alert.opened_at ? e.alert.opened_at : e.ts;
        auto q = db.prepare(
            "INSERT OR IGNORE INTO notify_escalations(alert_id, route_id, event_id, due_at, state, payload) "
            "VALUES(?, ?, ?, ?, 'armed', ?)");
        if (!q) return q.status();
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, e.alert.id).bind(2, r.id).bind(3, e.event_id)
                                  .bind(4, opened + static_cast<TimestampMs>(r.escalate_after_min) * 60000)
                                  .bind(5, payload).run());
      }
    } else if (e.event == "acknowledged" || e.event == "muted") {
      auto q = db.prepare("UPDATE notify_escalations SET state = 'disarmed' WHERE alert_id = ? AND state = 'armed'");
      if (!q) return q.status();
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, e.alert.id).run());
    } else if (e.event == "closed") {
      auto q = db.prepare("DELETE FROM notify_escalations WHERE alert_id = ?");
      if (!q) return q.status();
      VIGIL_RETURN_IF_ERROR((*q)->bind(1, e.alert.id).run());
    }
    return Status::Ok();
  }

  Result<Id> cursor() {
    std::optional<std::string> v;
    VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
      auto r = kv_get(db, "cursor");
      if (!r) return r.status();
      v = *r;
      return Status::Ok();
    }));
    return v ? static_cast<Id>(std::atoll(v->c_str())) : Id(0);
  }

  // Pulls events after the cursor and fans them out; true when drained.
  Result<bool> pull_events() {
    for (int batch = 0; batch < kMaxBatchesPerPass; ++batch) {
      auto cur = cursor();
      if (!cur) return cur.status();
      auto evs = source(*cur, kEventBatch);
      if (!evs) return evs.status().Annotate("notify: reading alert events");
      if (evs->empty()) return true;
      const TimestampMs now = clock.now_ms();
      VIGIL_RETURN_IF_ERROR(store.write_txn([&](sql::Db& db) -> Status {
        auto stored = kv_get(db, "cursor");
        if (!stored) return stored.status();
        const bool first_run = !stored->has_value();
        Id c = first_run ? 0 : static_cast<Id>(std::atoll((*stored)->c_str()));
        auto chans = load_channels(db);
        if (!chans) return chans.status();
        auto routes = load_routes(db);
        if (!routes) return routes.status();
        for (const auto& e : *evs) {
          if (e.event_id <= c) continue;
          // A new notifier on a database with history does not mail it all.
          if (!(first_run && e.ts < now - kFirstRunHorizonMs))
            VIGIL_RETURN_IF_ERROR(fan_out(db, e, *chans, *routes, now));
          c = e.event_id;
        }
        return kv_put(db, "cursor", std::to_string(c));
      }));
      if (static_cast<int>(evs->size()) < kEventBatch) return true;
    }
    return false;
  }

  Status fire_escalations() {
    const TimestampMs now = clock.now_ms();
    return store.write_txn([&](sql::Db& db) -> Status {
      struct Due {
        Id alert_id, route_id, event_id;
        std::string payload;
      };
      std::vector<Due> due;
      {
        auto q = db.prepare(
            "SELECT alert_id, route_id, event_id, payload FROM notify_escalations WHERE state = 'armed' AND due_at <= ? "
            "ORDER BY due_at LIMIT 500");
        if (!q) return q.status();
        (*q)->bind(1, now);
        for (;;) {
          auto row = (*q)->step();
          if (!row) return row.status();
          if (!*row) break;
          due.push_back({(*q)->i64(0), (*q)->i64(1), (*q)->i64(2), (*q)->text(3)});
        }
        (*q)->reset();
      }
      if (due.empty()) return Status::Ok();
      auto chans = load_channels(db);
      if (!chans) return chans.status();
      auto routes = load_routes(db);
      if (!routes) return routes.status();
      for (const auto& d : due) {
        auto r = std::find_if(routes->begin(), routes->end(), [&](const Route& x) { return x.id == d.route_id; });
        if (r != routes->end()) {
          auto p = json::parse(d.payload, nullptr, false);
          std::string sev, event = "opened";
          if (p.is_object()) {
            event = p.value("event", "opened");
            if (p.contains("alert") && p["alert"].is_object()) sev = p["alert"].value("severity", "");
          }
          const TimestampMs t = hold_until(&*r, sev, now);
          for (Id c : r->escalate_to)
            if (channel_usable(*chans, c))
              VIGIL_RETURN_IF_ERROR(
                  insert_delivery(db, d.event_id, c, d.alert_id, event, "escalation", now, t, d.payload));
        }
        auto u = db.prepare("UPDATE notify_escalations SET state = 'fired' WHERE alert_id = ? AND route_id = ?");
        if (!u) return u.status();
        VIGIL_RETURN_IF_ERROR((*u)->bind(1, d.alert_id).bind(2, d.route_id).run());
      }
      return Status::Ok();
    });
  }

  bool take_token(Id channel, int rate, TimestampMs now) {
    if (rate <= 0) return true;
    std::lock_guard lk(mu);
    auto& b = buckets[channel];
    if (b.rate != rate) b = Bucket{static_cast<double>(rate), now, rate};
    if (now > b.last) {
      b.tokens = std::min<double>(rate, b.tokens + static_cast<double>(now - b.last) * rate / 60000.0);
    }
    b.last = now;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

  std::string ack_token(Id alert_id, const std::string& recipient) {
    std::vector<std::uint8_t> b;
    b.push_back(kTokenVersion);
    put_be64(b, static_cast<std::uint64_t>(alert_id));
    const TimestampMs exp = clock.now_ms() + static_cast<TimestampMs>(opts.ack_link_ttl_h) * 3600 * 1000;
    put_be64(b, static_cast<std::uint64_t>(exp));
    std::uint8_t nonce[kNonceBytes];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
      // Without a random nonce a link could not be told from another: make it
      // unusable rather than guessable.
      spdlog::error("notify: RAND_bytes failed; ack link disabled");
      return "unavailable";
    }
    b.insert(b.end(), nonce, nonce + kNonceBytes);
    const std::string rcpt = recipient.substr(0, kMaxRecipient);
    b.insert(b.end(), rcpt.begin(), rcpt.end());
    auto mac = detail::hmac_sha256(secret, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    b.insert(b.end(), mac.begin(), mac.end());
    return detail::base64url(b);
  }

  std::string ack_link(Id alert_id, const std::string& recipient) {
    std::string base = opts.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/ack/" + ack_token(alert_id, recipient);
  }

  struct Parsed {
    AckGrant grant;
    std::string nonce;
  };
  Result<Parsed> parse_token(const std::string& token) const {
    if (token.empty() || token.size() > 1024) return Status::PermissionDenied("ack link: malformed");
    auto b = detail::base64url_decode(token);
    constexpr std::size_t kMin = 1 + 8 + 8 + kNonceBytes + kMacBytes;
    if (!b || b->size() < kMin || b->size() > kMin + kMaxRecipient || (*b)[0] != kTokenVersion)
      return Status::PermissionDenied("ack link: malformed");
    const std::size_t body = b->size() - kMacBytes;
    auto mac = detail::hmac_sha256(secret, std::string_view(reinterpret_cast<const char*>(b->data()), body));
    if (mac.size() != kMacBytes || CRYPTO_memcmp(mac.data(), b->data() + body, kMacBytes) != 0)
      return Status::PermissionDenied("ack link: not valid (altered or from another gateway)");
    Parsed p;
    p.grant.alert_id = static_cast<Id>(get_be64(b->data() + 1));
    p.grant.expires_at = static_cast<TimestampMs>(get_be64(b->data() + 9));
    p.nonce.assign(reinterpret_cast<const char*>(b->data() + 17), kNonceBytes);
    p.grant.recipient.assign(reinterpret_cast<const char*>(b->data() + 17 + kNonceBytes), body - 17 - kNonceBytes);
    if (p.grant.expires_at < clock.now_ms()) return Status::FailedPrecondition("ack link: expired");
    return p;
  }

  // ---- sending ----
  struct Outcome {
    Status status;
    bool permanent = false;
  };

  Outcome attempt(const Row& r, const std::map<Id, Channel>& chans) {
    std::optional<Channel> ch;
    if (r.d.channel_id == 0) {
      ch = implicit_channel();
      if (!ch) return {Status::FailedPrecondition("notifications.email_to is empty"), true};
    } else {
      auto it = chans.find(r.d.channel_id);
      if (it == chans.end()) return {Status::NotFound("channel removed"), true};
      ch = it->second;
    }
    if (!ch->enabled) return {Status::FailedPrecondition("channel disabled"), true};
    detail::MessageContext m;
    m.payload = json::parse(r.payload, nullptr, false);
    if (!m.payload.is_object()) m.payload = json::object();
    m.kind = r.d.kind;
    m.gateway = opts.gateway_name;
    std::string base = opts.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (m.payload.contains("alert") && m.payload["alert"].is_object()) {
      const auto& a = m.payload["alert"];
      if (a.contains("asset_id") && a["asset_id"].is_number_integer())
        m.link = base + "/#/asset/" + std::to_string(a["asset_id"].get<Id>());
    }
    const bool has_alert = r.d.alert_id && *r.d.alert_id > 0 && r.d.kind != "test";
    if (ch->type == "email") {
      if (has_alert) m.ack_link = ack_link(*r.d.alert_id, join(ch->email.to, ", "));
      auto msg = detail::compose_email(m, ch->email.to);
      return {sender.send_email(opts.smtp, msg), false};
    }
    if (has_alert) m.ack_link = ack_link(*r.d.alert_id, "webhook:" + ch->name);
    WebhookRequest req;
    req.url = ch->webhook.url;
    req.headers = ch->webhook.headers;
    req.ca_file = ch->webhook.ca_file;
    req.verify_tls = ch->webhook.verify_tls;
    const std::string& tmpl = ch->webhook.body_template.empty() ? default_body_template() : ch->webhook.body_template;
    req.body = detail::render_template(tmpl, detail::template_values(m));
    if (req.body.size() > kMaxBody)
      return {Status::ResourceExhausted("webhook body of " + std::to_string(req.body.size()) + " bytes exceeds " +
                                        std::to_string(kMaxBody)),
              true};
    if (!ch->webhook.secret.empty())
      req.headers["X-Vigil-Signature"] = "sha256=" + detail::hex(detail::hmac_sha256(ch->webhook.secret, req.body));
    return {sender.post(req), false};
  }

  Status record(const Row& r, const Outcome& o) {
    const TimestampMs now = clock.now_ms();
    const int attempts = r.d.attempts + 1;
    return store.write_txn([&](sql::Db& db) -> Status {
      if (o.status.ok()) {
        auto q = db.prepare(
            "UPDATE notify_deliveries SET status = 'sent', attempts = ?, sent_at = ?, last_error = '' WHERE id = ?");
        if (!q) return q.status();
        return (*q)->bind(1, attempts).bind(2, now).bind(3, r.d.id).run();
      }
      const bool give_up = o.permanent || now - r.due_at >= kFailAfterMs;
      const std::string err = cap(o.status.message(), 1000);
      if (give_up)
        spdlog::warn("notify: delivery {} to channel {} failed after {} attempt(s): {}", r.d.id, r.d.channel_id,
                     attempts, err);
      else if (attempts == 1)  // later retries only at debug: one line per failing delivery, not per attempt
        spdlog::info("notify: delivery {} to channel {}: attempt {} failed, will retry: {}", r.d.id, r.d.channel_id,
                     attempts, err);
      else
        spdlog::debug("notify: delivery {} to channel {}: attempt {} failed: {}", r.d.id, r.d.channel_id, attempts,
                      err);
      auto q = db.prepare(
          "UPDATE notify_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?");
      if (!q) return q.status();
      return (*q)->bind(1, give_up ? "failed" : "retrying").bind(2, attempts)
          .bind(3, give_up ? now : now + detail::backoff_ms(attempts)).bind(4, err).bind(5, r.d.id).run();
    });
  }

  Status send_due() {
    std::vector<Row> rows;
    std::map<Id, Channel> chans;
    VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
      auto c = load_channels(db);
      if (!c) return c.status();
      chans = std::move(*c);
      auto q = db.prepare(std::string("SELECT ") + kDeliveryCols +
                          " FROM notify_deliveries WHERE status IN ('pending', 'retrying') ORDER BY channel_id, id "
                          "LIMIT 5000");
      if (!q) return q.status();
      for (;;) {
        auto row = (*q)->step();
        if (!row) return row.status();
        if (!*row) break;
        rows.push_back(read_delivery(**q));
      }
      (*q)->reset();
      return Status::Ok();
    }));
    Status first = Status::Ok();
    std::optional<Id> blocked;  // a channel that stops for this pass
    for (const auto& r : rows) {
      if (stop_flag.load()) break;
      if (blocked && *blocked == r.d.channel_id) continue;
      blocked.reset();
      const TimestampMs now = clock.now_ms();
      if (r.d.next_attempt_at > now) {
        // A failed delivery waits for its retry and holds the ones after it;
        // one held by quiet hours does not.
        if (r.d.status == "retrying") blocked = r.d.channel_id;
        continue;
      }
      int rate = r.d.channel_id == 0 ? 60 : 0;
      if (auto it = chans.find(r.d.channel_id); it != chans.end()) rate = it->second.rate_per_minute;
      if (!take_token(r.d.channel_id, rate, now)) {
        blocked = r.d.channel_id;
        continue;
      }
      Outcome o = attempt(r, chans);
      Status s = record(r, o);
      if (!s.ok() && first.ok()) first = s;
      if (!o.status.ok() && !o.permanent) blocked = r.d.channel_id;
    }
    return first;
  }

  Status prune() {
    const TimestampMs now = clock.now_ms();
    if (last_prune != 0 && now - last_prune < kPruneEveryMs && now >= last_prune) return Status::Ok();
    last_prune = now;
    return store.write_txn([&](sql::Db& db) -> Status {
      auto a = db.prepare("DELETE FROM notify_deliveries WHERE status IN ('sent', 'failed') AND created_at < ?");
      if (!a) return a.status();
      VIGIL_RETURN_IF_ERROR((*a)->bind(1, now - kKeepMs).run());
      auto b = db.prepare(
          "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries WHERE status IN ('sent', "
          "'failed') ORDER BY id DESC LIMIT -1 OFFSET ?)");
      if (!b) return b.status();
      VIGIL_RETURN_IF_ERROR((*b)->bind(1, kKeepRows).run());
      auto c = db.prepare("DELETE FROM notify_ack_used WHERE expires_at < ?");
      if (!c) return c.status();
      VIGIL_RETURN_IF_ERROR((*c)->bind(1, now).run());
      auto d = db.prepare("DELETE FROM notify_escalations WHERE state != 'armed' AND due_at < ?");
      if (!d) return d.status();
      return (*d)->bind(1, now - kKeepMs).run();
    });
  }

  Status run_once() {
    Status first = Status::Ok();
    auto keep = [&](const Status& s) {
      if (!s.ok()) {
        spdlog::warn("notify: {}", s.ToString());
        if (first.ok()) first = s;
      }
    };
    auto drained = pull_events();
    keep(drained.status());
    // Escalations wait until every event so far is in: an acknowledgement
    // still in the backlog must disarm first.
    if (drained.ok() && *drained) keep(fire_escalations());
    keep(send_due());
    keep(prune());
    return first;
  }

  void loop() {
    while (!stop_flag.load()) {
      (void)run_once();
      std::unique_lock lk(mu);
      cv.wait_for(lk, std::chrono::seconds(1), [&] { return stopping || woken; });
      woken = false;
    }
  }
};

// ------------------------------------------------------------------ Notifier

Status Notifier::migrate(Store& store) {
  return store.migrate("notify", {
      R"sql(
CREATE TABLE notify_channels(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  rate_per_minute INTEGER NOT NULL,
  config TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE notify_routes(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  config TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE notify_deliveries(
  id INTEGER PRIMARY KEY,
  event_id INTEGER,
  channel_id INTEGER NOT NULL,
  alert_id INTEGER,
  event TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  sent_at INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  UNIQUE(event_id, channel_id, kind));
CREATE INDEX notify_deliveries_queue ON notify_deliveries(status, channel_id, id);
CREATE INDEX notify_deliveries_alert ON notify_deliveries(alert_id, id);
CREATE INDEX notify_deliveries_created ON notify_deliveries(created_at);
CREATE TABLE notify_escalations(
  alert_id INTEGER NOT NULL,
  route_id INTEGER NOT NULL,
  event_id INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY(alert_id, route_id));
CREATE INDEX notify_escalations_due ON notify_escalations(state, due_at);
CREATE TABLE notify_kv(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE notify_ack_used(
  nonce BLOB PRIMARY KEY,
  alert_id INTEGER NOT NULL,
  recipient TEXT NOT NULL,
  used_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
)sql",
  });
}

Notifier::Notifier(Store& store, const Clock& clock, NotifierOptions opts, Sender& sender, EventSource source)
    : impl_(std::make_unique<Impl>(store, clock, std::move(opts), sender, std::move(source))) {}

Notifier::~Notifier() { stop(); }

Result<std::unique_ptr<Notifier>> Notifier::create(Store& store, const Clock& clock, NotifierOptions opts,
                                                   Sender& sender, EventSource source) {
  if (!source) return Status::InvalidArgument("notify: no event source");
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("notify"));
  if (!opts.email_to.empty()) {
    Channel probe;
    probe.name = "email_to";
    probe.type = "email";
    probe.email.to = opts.email_to;
    VIGIL_RETURN_IF_ERROR(validate_channel(probe, opts).Annotate("notifications.email_to"));
  }
  if (opts.ack_link_ttl_h <= 0) return Status::InvalidArgument("notifications.ack_link_ttl_h: must be positive");
  std::unique_ptr<Notifier> n(new Notifier(store, clock, std::move(opts), sender, std::move(source)));
  std::string secret;
  VIGIL_RETURN_IF_ERROR(store.write_txn([&](sql::Db& db) -> Status {
    auto cur = kv_get(db, "ack_secret");
    if (!cur) return cur.status();
    if (*cur && (*cur)->size() == 32) {
      secret = **cur;
      return Status::Ok();
    }
    std::string s(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), 32) != 1)
      return Status::Internal("notify: RAND_bytes failed making the ack-link secret");
    secret = s;
    return kv_put(db, "ack_secret", s);
  }).Annotate("notify"));
  n->impl_->secret = secret;
  return n;
}

void Notifier::start() {
  if (impl_->worker.joinable()) return;
  impl_->stop_flag = false;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = false;
  }
  impl_->worker = std::thread([this] { impl_->loop(); });
}

void Notifier::stop() {
  if (!impl_->worker.joinable()) return;
  impl_->stop_flag = true;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
}

void Notifier::wake() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->woken = true;
  }
  impl_->cv.notify_one();
}

Status Notifier::run_once() { return impl_->run_once(); }

Result<std::vector<Channel>> Notifier::channels() const {
  std::vector<Channel> out;
  VIGIL_RETURN_IF_ERROR(impl_->store.read([&](sql::Db& db) -> Status {
    auto c = load_channels(db);
    if (!c) return c.status();
    for (auto& [id, ch] : *c) out.push_back(std::move(ch));
    return Status::Ok();
  }));
  return out;
}

Result<Channel> Notifier::channel(Id id) const {
  auto all = channels();
  if (!all) return all.status();
  for (auto& c : *all)
    if (c.id == id) return c;
  return Status::NotFound("channel " + std::to_string(id));
}

Result<Id> Notifier::add_channel(const Channel& c, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate_channel(c, impl_->opts));
  const TimestampMs now = impl_->clock.now_ms();
  Id id = 0;
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO notify_channels(name, type, enabled, rate_per_minute, config, created_at, updated_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, c.name).bind(2, c.type).bind(3, c.enabled ? 1 : 0)
                              .bind(4, c.rate_per_minute).bind(5, encode_config(c)).bind(6, now).bind(7, now).run());
    id = db.last_insert_id();
    return Store::audit(db, now, actor, "notify.channel.add", "channel/" + std::to_string(id), c.type + " " + c.name);
  }));
  return id;
}

Status Notifier::update_channel(Id id, const Channel& upd, const std::string& actor) {
  const TimestampMs now = impl_->clock.now_ms();
  return impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto all = load_channels(db);
    if (!all) return all.status();
    auto it = all->find(id);
    if (it == all->end()) return Status::NotFound("channel " + std::to_string(id));
    const Channel& old = it->second;
    Channel c = upd;
    c.id = id;
    if (c.type == "webhook" && old.type == "webhook") {
      if (c.webhook.secret.empty()) c.webhook.secret = old.webhook.secret;
      for (auto& [k, v] : c.webhook.headers)
        if (v.empty())
          if (auto o = old.webhook.headers.find(k); o != old.webhook.headers.end()) v = o->second;
    }
    for (auto h = c.webhook.headers.begin(); h != c.webhook.headers.end();)
      h = h->second.empty() ? c.webhook.headers.erase(h) : std::next(h);
    VIGIL_RETURN_IF_ERROR(validate_channel(c, impl_->opts));
    auto q = db.prepare(
        "UPDATE notify_channels SET name = ?, type = ?, enabled = ?, rate_per_minute = ?, config = ?, updated_at = ? "
        "WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, c.name).bind(2, c.type).bind(3, c.enabled ? 1 : 0).bind(4, c.rate_per_minute)
                              .bind(5, encode_config(c)).bind(6, now).bind(7, id).run());
    return Store::audit(db, now, actor, "notify.channel.update", "channel/" + std::to_string(id), c.type + " " + c.name);
  });
}

Status Notifier::remove_channel(Id id, const std::string& actor) {
  const TimestampMs now = impl_->clock.now_ms();
  return impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto all = load_channels(db);
    if (!all) return all.status();
    if (!all->count(id)) return Status::NotFound("channel " + std::to_string(id));
    auto routes = load_routes(db);
    if (!routes) return routes.status();
    for (const auto& r : *routes)
      if (contains(r.channels, id) || contains(r.escalate_to, id))
        return Status::FailedPrecondition("channel " + std::to_string(id) + " is used by route " +
                                          std::to_string(r.id) + " (" + r.name + ")");
    auto q = db.prepare("DELETE FROM notify_channels WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, id).run());
    auto d = db.prepare(
        "UPDATE notify_deliveries SET status = 'failed', last_error = 'channel removed', next_attempt_at = ? "
        "WHERE channel_id = ? AND status IN ('pending', 'retrying')");
    if (!d) return d.status();
    VIGIL_RETURN_IF_ERROR((*d)->bind(1, now).bind(2, id).run());
    return Store::audit(db, now, actor, "notify.channel.remove", "channel/" + std::to_string(id),
                        all->at(id).name);
  });
}

Result<std::vector<Route>> Notifier::routes() const {
  std::vector<Route> out;
  VIGIL_RETURN_IF_ERROR(impl_->store.read([&](sql::Db& db) -> Status {
    auto r = load_routes(db);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  }));
  return out;
}

Result<Id> Notifier::add_route(const Route& r, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate_route(r));
  const TimestampMs now = impl_->clock.now_ms();
  Id id = 0;
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(impl_->check_channel_ids(db, r));
    auto q = db.prepare("INSERT INTO notify_routes(name, config, created_at, updated_at) VALUES(?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.name).bind(2, encode_route(r)).bind(3, now).bind(4, now).run());
    id = db.last_insert_id();
    return Store::audit(db, now, actor, "notify.route.add", "route/" + std::to_string(id), r.name);
  }));
  return id;
}

Status Notifier::update_route(Id id, const Route& r, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate_route(r));
  const TimestampMs now = impl_->clock.now_ms();
  return impl_->store.write_txn([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(impl_->check_channel_ids(db, r));
    auto q = db.prepare("UPDATE notify_routes SET name = ?, config = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.name).bind(2, encode_route(r)).bind(3, now).bind(4, id).run());
    if (db.changes() == 0) return Status::NotFound("route " + std::to_string(id));
    return Store::audit(db, now, actor, "notify.route.update", "route/" + std::to_string(id), r.name);
  });
}

Status Notifier::remove_route(Id id, const std::string& actor) {
  const TimestampMs now = impl_->clock.now_ms();
  return impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("DELETE FROM notify_routes WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, id).run());
    if (db.changes() == 0) return Status::NotFound("route " + std::to_string(id));
    auto e = db.prepare("DELETE FROM notify_escalations WHERE route_id = ?");
    if (!e) return e.status();
    VIGIL_RETURN_IF_ERROR((*e)->bind(1, id).run());
    return Store::audit(db, now, actor, "notify.route.remove", "route/" + std::to_string(id), "");
  });
}

Result<Id> Notifier::send_test(Id channel_id, const std::string& actor) {
  const TimestampMs now = impl_->clock.now_ms();
  Id id = 0;
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    if (channel_id != 0 || impl_->opts.email_to.empty()) {
      auto all = load_channels(db);
      if (!all) return all.status();
      if (!all->count(channel_id)) return Status::NotFound("channel " + std::to_string(channel_id));
    }
    const std::string payload = dump(json{{"event", "test"}, {"actor", cap(actor, kMaxName)}, {"ts", now}});
    VIGIL_RETURN_IF_ERROR(Impl::insert_delivery(db, std::nullopt, channel_id, std::nullopt, "test", "test", now, now,
                                                payload, &id));
    return Store::audit(db, now, actor, "notify.channel.test", "channel/" + std::to_string(channel_id),
                        "delivery/" + std::to_string(id));
  }));
  wake();
  return id;
}

Result<std::vector<Delivery>> Notifier::deliveries(const DeliveryFilter& f) const {
  if (f.limit < 1 || f.limit > 1000) return Status::InvalidArgument("limit: must be 1..1000");
  std::vector<Delivery> out;
  VIGIL_RETURN_IF_ERROR(impl_->store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kDeliveryCols +
                        " FROM notify_deliveries WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR channel_id = ?2) "
                        "AND (?3 IS NULL OR alert_id = ?3) ORDER BY id DESC LIMIT ?4");
    if (!q) return q.status();
    (*q)->bind(1, f.status).bind(2, f.channel_id).bind(3, f.alert_id).bind(4, f.limit);
    for (;;) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      out.push_back(read_delivery(**q).d);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

std::string Notifier::ack_token(Id alert_id, const std::string& recipient) {
  return impl_->ack_token(alert_id, recipient);
}

std::string Notifier::ack_link(Id alert_id, const std::string& recipient) {
  return impl_->ack_link(alert_id, recipient);
}

Result<AckGrant> Notifier::check_ack(const std::string& token) const {
  auto p = impl_->parse_token(token);
  if (!p) return p.status();
  bool used = false;
  VIGIL_RETURN_IF_ERROR(impl_->store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT 1 FROM notify_ack_used WHERE nonce = ?");
    if (!q) return q.status();
    (*q)->bind_blob(1, p->nonce.data(), p->nonce.size());
    auto row = (*q)->step();
    if (!row) return row.status();
    used = *row;
    (*q)->reset();
    return Status::Ok();
  }));
  if (used) return Status::FailedPrecondition("ack link: already used");
  return p->grant;
}

Result<AckGrant> Notifier::consume_ack(const std::string& token) {
  auto p = impl_->parse_token(token);
  if (!p) return p.status();
  const TimestampMs now = impl_->clock.now_ms();
  bool used = false;
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT OR IGNORE INTO notify_ack_used(nonce, alert_id, recipient, used_at, expires_at) VALUES(?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind_blob(1, p->nonce.data(), p->nonce.size()).bind(2, p->grant.alert_id)
                              .bind(3, p->grant.recipient).bind(4, now).bind(5, p->grant.expires_at).run());
    used = db.changes() == 0;
    return Status::Ok();
  }));
  if (used) return Status::FailedPrecondition("ack link: already used");
  return p->grant;
}

}  // namespace vigil::notify
