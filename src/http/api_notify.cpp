// SPDX-License-Identifier: Apache-2.0
//
// Rules, notification channels, routes, the delivery log and acknowledge
// links (docs/notifications.md). The handlers translate between HTTP and the
// owners — rules::RulesEngine (rules, rule_state) and notify::Notifier
// (channels, routes, deliveries, ack tokens) — and hold no state.
//
// Validation problems from the owners read "field: why"; they become 422
// problems with a `field` member so the dashboard can put the message beside
// the input.
#include <nlohmann/json.hpp>

#include "core/text_escape.h"
#include "http/api_internal.h"
#include "notify/notifier.h"
#include "rules/rules.h"

namespace vigil::http::detail {
namespace {

Response not_wired(const char* what) {
  return problem(503, "unavailable", std::string(what) + " are not available on this gateway");
}

// A 422 whose detail is "path: why" also names the field.
Response field_problem(const Status& s) {
  if (s.code() != Status::Code::kInvalidArgument) return from_status(s);
  const std::string& m = s.message();
  json j = {{"type", "about:blank"}, {"title", "Unprocessable Content"}, {"status", 422},
            {"code", "bad_field"},   {"detail", m}};
  auto colon = m.find(": ");
  if (colon != std::string::npos && colon < 80 && m.find(' ') >= colon) j["field"] = m.substr(0, colon);
  return Response::text(422, json_text(j), "application/problem+json");
}

std::optional<Id> path_id(const Request& req) {
  auto v = to_int(req.params.at("id"));
  if (!v || *v <= 0) return std::nullopt;
  return *v;
}

Response bad_id() { return problem(404, "not_found", "no such id"); }

// Bounds on what clients can make the gateway hold and evaluate: every
// reading is checked against the rules on its metric, and the worker scans
// channels and routes for every alert event.
constexpr std::size_t kMaxRules = 10'000, kMaxChannels = 100, kMaxRoutes = 200;
constexpr TimestampMs kMaxPreviewRangeMs = 366LL * 86'400'000;

Response too_many(const char* what, std::size_t n) {
  return problem(409, "limit_reached", std::string("at most ") + std::to_string(n) + " " + what +
                                           " per gateway: delete one first");
}

// The small page an acknowledge link opens: readable on a phone, no script,
// one button (a mail scanner that prefetches the link does not acknowledge).
Response ack_page(int status, const std::string& title, const std::string& body_html) {
  std::string page =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" + html_escape(title) + " · vigil</title><style>"
      "body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1.5rem;max-width:34rem;color:#1a1a1a}"
      "h1{font-size:1.3rem}.sev{font-weight:600}button{font:inherit;padding:.8rem 1.4rem;border:0;"
      "border-radius:.4rem;background:#0b57d0;color:#fff;min-height:48px}dt{color:#555}</style></head><body>"
      "<h1>" + html_escape(title) + "</h1>" + body_html + "</body></html>";
  Response r = Response::text(status, std::move(page), "text/html; charset=utf-8");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  return r;
}

Response ack_refused(const Status& s) {
  const bool used = s.message().find("used") != std::string::npos;
  const bool expired = s.message().find("expired") != std::string::npos;
  std::string why = used      ? "This link was already used: the alert was acknowledged with it."
                    : expired ? "This link has expired. Open the dashboard to acknowledge the alert."
                              : "This link is not valid. Open the dashboard to acknowledge the alert.";
  // A tampered or unknown token is "no such link" (404), a used or expired one "gone" (410).
  return ack_page(s.code() == Status::Code::kPermissionDenied ? 404 : 410, "Link not usable",
                  "<p>" + html_escape(why) + "</p>");
}

std::string alert_summary_html(const alerts::Alert& a) {
  return "<dl><dt>Alert</dt><dd>" + html_escape(a.title) + "</dd><dt>Severity</dt><dd class=\"sev\">" +
         html_escape(a.severity) + "</dd><dt>Status</dt><dd>" + html_escape(a.status) + "</dd>" +
         (a.explanation.empty() ? "" : "<dt>Why</dt><dd>" + html_escape(a.explanation) + "</dd>") + "</dl>";
}

void register_rules(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/rules", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.rules) return not_wired("rules");
    auto list = ctx.rules->list();
    if (!list) return from_status(list.status());
    json arr = json::array();
    for (const auto& r : *list) arr.push_back(rules::to_json(r));
    return ok(arr);
  });

  auto parse = [&ctx](const json& body) { return rules::rule_from_json(body, [&ctx](const std::string& m) {
                                            return ctx.rules->known_metric(m);
                                          }); };

  router.add("POST", "/api/v1/rules", [&ctx, parse](const Request& req) {
    VIGIL_REQUIRE(req, Role::kTechnician);
    if (!ctx.rules) return not_wired("rules");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto rule = parse(std::get<json>(b));
    if (!rule) return field_problem(rule.status());
    if (auto all = ctx.rules->list(); all && all->size() >= kMaxRules) return too_many("rules", kMaxRules);
    auto id = ctx.rules->add(*rule, who.name);
    if (!id) return field_problem(id.status());
    auto now = ctx.rules->get(*id);
    if (!now) return from_status(now.status());
    return created(rules::to_json(*now));
  });

  router.add("GET", "/api/v1/rules/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.rules) return not_wired("rules");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto r = ctx.rules->get(*id);
    if (!r) return from_status(r.status());
    return ok(rules::to_json(*r));
  });

  router.add("PUT", "/api/v1/rules/{id}", [&ctx, parse](const Request& req) {
    VIGIL_REQUIRE(req, Role::kTechnician);
    if (!ctx.rules) return not_wired("rules");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto rule = parse(std::get<json>(b));
    if (!rule) return field_problem(rule.status());
    if (auto st = ctx.rules->update(*id, *rule, who.name); !st.ok()) return field_problem(st);
    auto now = ctx.rules->get(*id);
    if (!now) return from_status(now.status());
    return ok(rules::to_json(*now));
  });

  router.add("DELETE", "/api/v1/rules/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kTechnician);
    if (!ctx.rules) return not_wired("rules");
    auto id = path_id(req);
    if (!id) return bad_id();
    if (auto st = ctx.rules->remove(*id, who.name); !st.ok()) return from_status(st);
    return Response::json(204, "");
  });

  // "Would have fired N times": the rule (not yet saved) over stored history.
  router.add("POST", "/api/v1/rules/preview", [&ctx, parse](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.rules) return not_wired("rules");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    auto it = body.find("rule");
    if (it == body.end() || !it->is_object()) return problem(422, "missing_field", "rule: required (an object)");
    auto rule = parse(*it);
    if (!rule) {
      // Paths inside the rule are reported under "rule.".
      return field_problem(Status::InvalidArgument("rule." + rule.status().message()));
    }
    const TimestampMs now = ctx.clock ? ctx.clock->now_ms() : SystemClock::instance().now_ms();
    double from = static_cast<double>(now - 7LL * 86'400'000), to = static_cast<double>(now);
    if (auto e = get_number(body, "from", from)) return *e;
    if (auto e = get_number(body, "to", to)) return *e;
    TimestampMs f = clamp_timestamp(static_cast<TimestampMs>(std::clamp(from, -9.2e18, 9.2e18)));
    TimestampMs t = clamp_timestamp(static_cast<TimestampMs>(std::clamp(to, -9.2e18, 9.2e18)));
    if (t < f) return problem(422, "bad_field", "to: before from");
    if (t - f > kMaxPreviewRangeMs) return problem(422, "bad_field", "from: a preview covers at most 366 days");
    auto fires = ctx.rules->preview(*rule, f, t);
    if (!fires) return field_problem(fires.status());
    json times = json::array();
    for (const auto& x : *fires) {
      if (times.size() >= 1000) break;  // the count stays exact
      times.push_back({{"ts", x.ts},
                       {"asset_id", x.asset_id ? json(*x.asset_id) : json(nullptr)},
                       {"position_id", x.position_id ? json(*x.position_id) : json(nullptr)},
                       {"explanation", x.explanation}});
    }
    return ok({{"fires", fires->size()}, {"from", f}, {"to", t}, {"times", times}});
  });
}

void register_channels(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/notifications/channels", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.notifier) return not_wired("notifications");
    auto list = ctx.notifier->channels();
    if (!list) return from_status(list.status());
    json arr = json::array();
    for (const auto& c : *list) arr.push_back(notify::to_json(c));
    return ok(arr);
  });

  router.add("POST", "/api/v1/notifications/channels", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto c = notify::channel_from_json(std::get<json>(b), ctx.notify_options);
    if (!c) return field_problem(c.status());
    if (auto all = ctx.notifier->channels(); all && all->size() >= kMaxChannels) return too_many("channels", kMaxChannels);
    auto id = ctx.notifier->add_channel(*c, who.name);
    if (!id) return field_problem(id.status());
    auto now = ctx.notifier->channel(*id);
    if (!now) return from_status(now.status());
    return created(notify::to_json(*now));
  });

  router.add("GET", "/api/v1/notifications/channels/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto c = ctx.notifier->channel(*id);
    if (!c) return from_status(c.status());
    return ok(notify::to_json(*c));
  });

  router.add("PUT", "/api/v1/notifications/channels/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto c = notify::channel_from_json(std::get<json>(b), ctx.notify_options);
    if (!c) return field_problem(c.status());
    if (auto st = ctx.notifier->update_channel(*id, *c, who.name); !st.ok()) return field_problem(st);
    auto now = ctx.notifier->channel(*id);
    if (!now) return from_status(now.status());
    return ok(notify::to_json(*now));
  });

  router.add("DELETE", "/api/v1/notifications/channels/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    if (auto st = ctx.notifier->remove_channel(*id, who.name); !st.ok()) return from_status(st);
    return Response::json(204, "");
  });

  router.add("POST", "/api/v1/notifications/channels/{id}/test", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto d = ctx.notifier->send_test(*id, who.name);
    if (!d) return from_status(d.status());
    return Response::json(202, json_text({{"delivery_id", *d}}));
  });
}

void register_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/notifications/routes", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.notifier) return not_wired("notifications");
    auto list = ctx.notifier->routes();
    if (!list) return from_status(list.status());
    json arr = json::array();
    for (const auto& r : *list) arr.push_back(notify::to_json(r));
    return ok(arr);
  });

  router.add("POST", "/api/v1/notifications/routes", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto route = notify::route_from_json(std::get<json>(b));
    if (!route) return field_problem(route.status());
    if (auto all = ctx.notifier->routes(); all && all->size() >= kMaxRoutes) return too_many("routes", kMaxRoutes);
    auto id = ctx.notifier->add_route(*route, who.name);
    if (!id) return field_problem(id.status());
    auto list = ctx.notifier->routes();
    if (!list) return from_status(list.status());
    for (const auto& r : *list)
      if (r.id == *id) return created(notify::to_json(r));
    return problem(500, "internal", "route vanished after it was stored");
  });

  router.add("PUT", "/api/v1/notifications/routes/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    auto route = notify::route_from_json(std::get<json>(b));
    if (!route) return field_problem(route.status());
    if (auto st = ctx.notifier->update_route(*id, *route, who.name); !st.ok()) return field_problem(st);
    auto list = ctx.notifier->routes();
    if (!list) return from_status(list.status());
    for (const auto& r : *list)
      if (r.id == *id) return ok(notify::to_json(r));
    return bad_id();
  });

  router.add("DELETE", "/api/v1/notifications/routes/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.notifier) return not_wired("notifications");
    auto id = path_id(req);
    if (!id) return bad_id();
    if (auto st = ctx.notifier->remove_route(*id, who.name); !st.ok()) return from_status(st);
    return Response::json(204, "");
  });

  router.add("GET", "/api/v1/notifications/deliveries", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.notifier) return not_wired("notifications");
    notify::DeliveryFilter f;
    if (auto s = req.q("status")) {
      if (*s != "pending" && *s != "retrying" && *s != "sent" && *s != "failed")
        return problem(400, "invalid_argument", "status must be pending, retrying, sent or failed");
      f.status = *s;
    }
    std::int64_t v = 0;
    if (auto e = query_int(req, "channel_id", 0, INT64_MAX, v)) return *e;
    if (req.q("channel_id")) f.channel_id = v;
    if (auto e = query_int(req, "alert_id", 1, INT64_MAX, v)) return *e;
    if (req.q("alert_id")) f.alert_id = v;
    std::int64_t limit = 100;
    if (auto e = query_int(req, "limit", 1, 1000, limit)) return *e;
    f.limit = static_cast<int>(limit);
    auto list = ctx.notifier->deliveries(f);
    if (!list) return from_status(list.status());
    json arr = json::array();
    for (const auto& d : *list) arr.push_back(notify::to_json(d));
    return ok(arr);
  });
}

// The token in the path is the credential: no session, no CSRF token (a
// forged POST would need the token itself).
void register_ack_links(Router& router, ApiContext& ctx) {
  router.add("GET", "/ack/{token}", [&ctx](const Request& req) {
    if (!ctx.notifier || !ctx.alerts) return not_wired("acknowledge links");
    const std::string& token = req.params.at("token");
    auto g = ctx.notifier->check_ack(token);
    if (!g) return ack_refused(g.status());
    auto a = ctx.alerts->get(g->alert_id);
    if (!a) return ack_page(404, "Alert not found", "<p>The alert no longer exists.</p>");
    if (a->status != "open" && a->status != "muted")
      return ack_page(200, "Already " + a->status, alert_summary_html(*a));
    return ack_page(200, "Acknowledge this alert?",
                    alert_summary_html(*a) + "<form method=\"post\"><button type=\"submit\">Acknowledge</button></form>"
                    "<p>Acknowledging tells everyone maintenance is planned; the alert stays until it is closed.</p>");
  });

  router.add("POST", "/ack/{token}", [&ctx](const Request& req) {
    if (!ctx.notifier || !ctx.alerts) return not_wired("acknowledge links");
    const std::string& token = req.params.at("token");
    auto g = ctx.notifier->check_ack(token);
    if (!g) return ack_refused(g.status());
    auto a = ctx.alerts->get(g->alert_id);
    if (!a) return ack_page(404, "Alert not found", "<p>The alert no longer exists.</p>");
    if (a->status != "open" && a->status != "muted")
      return ack_page(200, "Already " + a->status, alert_summary_html(*a));
    auto used = ctx.notifier->consume_ack(token);  // single use, even if two taps race
    if (!used) return ack_refused(used.status());
    auto st = ctx.alerts->acknowledge(g->alert_id, "link:" + g->recipient, "acknowledged from a notification link");
    if (!st.ok() && st.code() != Status::Code::kFailedPrecondition) return from_status(st);
    auto now = ctx.alerts->get(g->alert_id);
    return ack_page(200, "Acknowledged", now ? alert_summary_html(*now) : std::string());
  });
}

}  // namespace

void register_notifications(Router& router, ApiContext& ctx) {
  register_rules(router, ctx);
  register_channels(router, ctx);
  register_routes(router, ctx);
  register_ack_links(router, ctx);
}

}  // namespace vigil::http::detail
