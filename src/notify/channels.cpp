// SPDX-License-Identifier: Apache-2.0
// Channels and routes as JSON (the REST API's shapes) and their validation.
#include <algorithm>
#include <set>

#include "notify/internal.h"
#include "notify/notifier.h"

namespace vigil::notify {
namespace {

using json = nlohmann::json;

constexpr const char* kRedacted = "\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2";  // "•••"

Status bad(const std::string& field, const std::string& why) { return Status::InvalidArgument(field + ": " + why); }

Status check_members(const json& j, const std::string& prefix, const std::set<std::string>& allowed) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) return bad(prefix + it.key(), "unknown member");
  return Status::Ok();
}

Result<std::string> get_string(const json& j, const char* key, const std::string& field, bool required,
                               std::size_t max_len) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return bad(field, "required");
    return std::string();
  }
  if (!it->is_string()) return bad(field, "must be a string");
  auto s = it->get<std::string>();
  if (s.size() > max_len) return bad(field, "longer than " + std::to_string(max_len) + " bytes");
  return s;
}

Result<std::vector<Id>> get_ids(const json& j, const char* key) {
  std::vector<Id> v;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return v;
  if (!it->is_array()) return bad(key, "must be a list of ids");
  if (it->size() > 1000) return bad(key, "more than 1000 entries");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& x = (*it)[i];
    if (!x.is_number_integer() || x.get<std::int64_t>() < 0)
      return bad(std::string(key) + "[" + std::to_string(i) + "]", "must be an id (a non-negative integer)");
    v.push_back(x.get<Id>());
  }
  return v;
}

bool valid_address(const std::string& a) {
  if (a.size() < 3 || a.size() > 254) return false;
  auto at = a.find('@');
  if (at == std::string::npos || at == 0 || at == a.size() - 1 || a.find('@', at + 1) != std::string::npos)
    return false;
  for (unsigned char c : a)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '(' || c == ')')
      return false;
  return true;
}

bool valid_header_name(const std::string& n) {
  if (n.empty() || n.size() > 100) return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
  return true;
}

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

const std::set<std::string> kEvents = {"opened", "escalated", "updated", "acknowledged", "muted", "unmuted", "closed"};

}  // namespace

const std::string& default_body_template() {
  static const std::string t =
      R"({"gateway": "{{gateway}}", "event": "{{event}}", "actor": "{{actor}}", )"
      R"("alert": {"id": {{alert.id}}, "title": "{{alert.title}}", "severity": "{{alert.severity}}", )"
      R"("status": "{{alert.status}}", "asset": "{{alert.asset}}", "position": "{{alert.position}}", )"
      R"("explanation": "{{alert.explanation}}"}, "link": "{{link}}", "ack_link": "{{ack_link}}"})";
  return t;
}

Status validate_channel(const Channel& c, const NotifierOptions& opts) {
  if (c.name.empty()) return bad("name", "required");
  if (c.name.size() > 100) return bad("name", "longer than 100 bytes");
  if (c.rate_per_minute < 0 || c.rate_per_minute > 6000) return bad("rate_per_minute", "must be 0..6000 (0 = unlimited)");
  if (c.type == "email") {
    if (c.email.to.empty()) return bad("email.to", "at least one address");
    if (c.email.to.size() > 50) return bad("email.to", "at most 50 addresses");
    for (std::size_t i = 0; i < c.email.to.size(); ++i)
      if (!valid_address(c.email.to[i]))
        return bad("email.to[" + std::to_string(i) + "]", "not an e-mail address");
    return Status::Ok();
  }
  if (c.type != "webhook") return bad("type", "must be email or webhook");
  const auto& w = c.webhook;
  VIGIL_RETURN_IF_ERROR(detail::check_webhook_url(w.url, opts).Annotate("webhook.url"));
  if (w.headers.size() > 20) return bad("webhook.headers", "at most 20");
  for (const auto& [k, v] : w.headers) {
    if (!valid_header_name(k)) return bad("webhook.headers." + k, "not a header name");
    for (const char* reserved : {"X-Vigil-Signature", "Host", "Content-Length", "Transfer-Encoding", "Connection"})
      if (iequals(k, reserved)) return bad("webhook.headers." + k, "set by vigil");
    if (v.size() > 4096) return bad("webhook.headers." + k, "longer than 4096 bytes");
    for (unsigned char ch : v)
      if (ch < 0x20 && ch != '\t') return bad("webhook.headers." + k, "control characters");
  }
  if (w.secret.size() > 512) return bad("webhook.secret", "longer than 512 bytes");
  if (w.body_template.size() > 16384) return bad("webhook.body_template", "longer than 16384 bytes");
  if (!w.body_template.empty())
    VIGIL_RETURN_IF_ERROR(detail::check_template(w.body_template).Annotate("webhook.body_template"));
  if (w.ca_file.size() > 4096) return bad("webhook.ca_file", "longer than 4096 bytes");
  return Status::Ok();
}

Result<Channel> channel_from_json(const json& j, const NotifierOptions& opts) {
  if (!j.is_object()) return Status::InvalidArgument("channel: must be an object");
  VIGIL_RETURN_IF_ERROR(check_members(j, "", {"id", "name", "type", "enabled", "rate_per_minute", "email", "webhook",
                                              "created_at", "updated_at"}));
  Channel c;
  auto name = get_string(j, "name", "name", true, 100);
  if (!name) return name.status();
  c.name = *name;
  auto type = get_string(j, "type", "type", true, 20);
  if (!type) return type.status();
  c.type = *type;
  if (c.type != "email" && c.type != "webhook") return bad("type", "must be email or webhook");
  if (auto it = j.find("enabled"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return bad("enabled", "must be true or false");
    c.enabled = it->get<bool>();
  }
  if (auto it = j.find("rate_per_minute"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return bad("rate_per_minute", "must be an integer");
    auto v = it->get<std::int64_t>();
    if (v < 0 || v > 6000) return bad("rate_per_minute", "must be 0..6000 (0 = unlimited)");
    c.rate_per_minute = static_cast<int>(v);
  }
  if (c.type == "email") {
    if (j.contains("webhook") && !j["webhook"].is_null()) return bad("webhook", "only for type webhook");
    auto it = j.find("email");
    if (it == j.end() || !it->is_object()) return bad("email", "required: {\"to\": [addresses]}");
    VIGIL_RETURN_IF_ERROR(check_members(*it, "email.", {"to"}));
    auto to = it->find("to");
    if (to == it->end() || !to->is_array()) return bad("email.to", "must be a list of addresses");
    for (std::size_t i = 0; i < to->size(); ++i) {
      if (!(*to)[i].is_string()) return bad("email.to[" + std::to_string(i) + "]", "must be a string");
      c.email.to.push_back((*to)[i].get<std::string>());
    }
  } else {
    if (j.contains("email") && !j["email"].is_null()) return bad("email", "only for type email");
    auto it = j.find("webhook");
    if (it == j.end() || !it->is_object()) return bad("webhook", "required: {\"url\": ...}");
    const json& w = *it;
    VIGIL_RETURN_IF_ERROR(check_members(w, "webhook.", {"url", "headers", "secret", "secret_set", "body_template",
                                                        "ca_file", "verify_tls"}));
    auto url = get_string(w, "url", "webhook.url", true, 2048);
    if (!url) return url.status();
    c.webhook.url = *url;
    if (auto h = w.find("headers"); h != w.end() && !h->is_null()) {
      if (!h->is_object()) return bad("webhook.headers", "must be an object of name: value");
      for (auto x = h->begin(); x != h->end(); ++x) {
        if (!x->is_string()) return bad("webhook.headers." + x.key(), "must be a string");
        std::string v = x->get<std::string>();
        if (v == kRedacted) v.clear();  // as to_json answered: keep the old value
        c.webhook.headers[x.key()] = v;
      }
    }
    auto secret = get_string(w, "secret", "webhook.secret", false, 512);
    if (!secret) return secret.status();
    c.webhook.secret = *secret;
    auto tmpl = get_string(w, "body_template", "webhook.body_template", false, 16384);
    if (!tmpl) return tmpl.status();
    c.webhook.body_template = *tmpl;
    auto ca = get_string(w, "ca_file", "webhook.ca_file", false, 4096);
    if (!ca) return ca.status();
    c.webhook.ca_file = *ca;
    if (auto v = w.find("verify_tls"); v != w.end() && !v->is_null()) {
      if (!v->is_boolean()) return bad("webhook.verify_tls", "must be true or false");
      c.webhook.verify_tls = v->get<bool>();
    }
  }
  VIGIL_RETURN_IF_ERROR(validate_channel(c, opts));
  return c;
}

json to_json(const Channel& c) {
  json j = {{"id", c.id},           {"name", c.name},       {"type", c.type},
            {"enabled", c.enabled}, {"rate_per_minute", c.rate_per_minute},
            {"created_at", c.created_at}, {"updated_at", c.updated_at}};
  if (c.type == "email") {
    j["email"] = {{"to", c.email.to}};
  } else {
    json headers = json::object();
    for (const auto& [k, v] : c.webhook.headers) headers[k] = kRedacted;
    j["webhook"] = {{"url", c.webhook.url},
                    {"headers", headers},
                    {"secret_set", !c.webhook.secret.empty()},
                    {"body_template", c.webhook.body_template},
                    {"ca_file", c.webhook.ca_file},
                    {"verify_tls", c.webhook.verify_tls}};
  }
  return j;
}

Status validate_route(const Route& r) {
  if (r.name.empty()) return bad("name", "required");
  if (r.name.size() > 100) return bad("name", "longer than 100 bytes");
  for (std::size_t i = 0; i < r.severities.size(); ++i)
    if (r.severities[i] != "warning" && r.severities[i] != "alarm")
      return bad("severities[" + std::to_string(i) + "]", "must be warning or alarm");
  for (std::size_t i = 0; i < r.events.size(); ++i)
    if (!kEvents.count(r.events[i]))
      return bad("events[" + std::to_string(i) + "]",
                 "must be one of opened, escalated, updated, acknowledged, muted, unmuted, closed");
  if (r.channels.empty() && r.escalate_to.empty()) return bad("channels", "at least one channel");
  if (r.escalate_after_min < 0 || r.escalate_after_min > 7 * 24 * 60)
    return bad("escalate_after_min", "must be 0..10080 (0 = no escalation)");
  if (r.escalate_after_min > 0 && r.escalate_to.empty()) return bad("escalate_to", "required with escalate_after_min");
  if (r.quiet_hours) {
    const auto& q = *r.quiet_hours;
    if (!detail::parse_hhmm(q.from)) return bad("quiet_hours.from", "not HH:MM");
    if (!detail::parse_hhmm(q.to)) return bad("quiet_hours.to", "not HH:MM");
    if (q.from == q.to) return bad("quiet_hours.to", "equals from");
    auto probe = detail::quiet_hours_end(q, 0);
    if (!probe) return probe.status();
  }
  return Status::Ok();
}

Result<Route> route_from_json(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("route: must be an object");
  VIGIL_RETURN_IF_ERROR(check_members(j, "", {"id", "name", "severities", "site_ids", "asset_ids", "events", "channels",
                                              "quiet_hours", "escalate_after_min", "escalate_to", "created_at"}));
  Route r;
  auto name = get_string(j, "name", "name", true, 100);
  if (!name) return name.status();
  r.name = *name;
  for (const char* key : {"severities", "events"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_array()) return bad(key, "must be a list of strings");
    std::vector<std::string> v;
    for (std::size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) return bad(std::string(key) + "[" + std::to_string(i) + "]", "must be a string");
      v.push_back((*it)[i].get<std::string>());
    }
    (std::string(key) == "severities" ? r.severities : r.events) = v;
  }
  for (auto [key, dst] : {std::pair{"site_ids", &r.site_ids}, std::pair{"asset_ids", &r.asset_ids},
                          std::pair{"channels", &r.channels}, std::pair{"escalate_to", &r.escalate_to}}) {
    auto v = get_ids(j, key);
    if (!v) return v.status();
    *dst = *v;
  }
  if (auto it = j.find("escalate_after_min"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return bad("escalate_after_min", "must be an integer");
    auto v = it->get<std::int64_t>();
    if (v < 0 || v > 7 * 24 * 60) return bad("escalate_after_min", "must be 0..10080 (0 = no escalation)");
    r.escalate_after_min = static_cast<int>(v);
  }
  if (auto it = j.find("quiet_hours"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return bad("quiet_hours", "must be an object {from, to, timezone, alarms_too}");
    VIGIL_RETURN_IF_ERROR(check_members(*it, "quiet_hours.", {"from", "to", "timezone", "alarms_too"}));
    QuietHours q;
    auto from = get_string(*it, "from", "quiet_hours.from", true, 5);
    if (!from) return from.status();
    auto to = get_string(*it, "to", "quiet_hours.to", true, 5);
    if (!to) return to.status();
    auto tz = get_string(*it, "timezone", "quiet_hours.timezone", false, 64);
    if (!tz) return tz.status();
    q.from = *from;
    q.to = *to;
    if (!tz->empty()) q.timezone = *tz;
    if (auto a = it->find("alarms_too"); a != it->end() && !a->is_null()) {
      if (!a->is_boolean()) return bad("quiet_hours.alarms_too", "must be true or false");
      q.alarms_too = a->get<bool>();
    }
    r.quiet_hours = q;
  }
  VIGIL_RETURN_IF_ERROR(validate_route(r));
  return r;
}

json to_json(const Route& r) {
  json j = {{"id", r.id},
            {"name", r.name},
            {"severities", r.severities},
            {"site_ids", r.site_ids},
            {"asset_ids", r.asset_ids},
            {"events", r.events},
            {"channels", r.channels},
            {"quiet_hours", nullptr},
            {"escalate_after_min", r.escalate_after_min},
            {"escalate_to", r.escalate_to},
            {"created_at", r.created_at}};
  if (r.quiet_hours)
    j["quiet_hours"] = {{"from", r.quiet_hours->from},
                        {"to", r.quiet_hours->to},
                        {"timezone", r.quiet_hours->timezone},
                        {"alarms_too", r.quiet_hours->alarms_too}};
  return j;
}

json to_json(const Delivery& d) {
  json j = {{"id", d.id},
            {"channel_id", d.channel_id},
            {"alert_id", d.alert_id ? json(*d.alert_id) : json(nullptr)},
            {"event", d.event},
            {"kind", d.kind},
            {"status", d.status},
            {"attempts", d.attempts},
            {"created_at", d.created_at},
            {"next_attempt_at", d.next_attempt_at},
            {"sent_at", d.sent_at ? json(*d.sent_at) : json(nullptr)},
            {"last_error", d.last_error}};
  return j;
}

}  // namespace vigil::notify
