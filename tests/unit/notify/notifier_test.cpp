// SPDX-License-Identifier: Apache-2.0
// The notifier's durable queue: fan-out exactly once, restarts, retries in
// order, quiet hours, escalation, rate limits, ack links.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "notify/internal.h"
#include "rig.h"

using namespace notify_test;
using nlohmann::json;

namespace {
constexpr TimestampMs kS = 1000, kMin = 60 * kS, kH = 60 * kMin;
}

TEST_CASE("an event becomes exactly one delivery per routed channel", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  const Id b = r.webhook("maintenance", "http://127.0.0.1:9998/hook");
  const Id c = r.webhook("nobody", "http://127.0.0.1:9997/hook");
  Route all;
  all.channels = {a, b};
  r.route(all);
  Route alarms_only;  // names a again, but only for alarms; c only for site 2
  alarms_only.severities = {"alarm"};
  alarms_only.channels = {a};
  r.route(alarms_only);
  Route other_site;
  other_site.site_ids = {2};
  other_site.channels = {c};
  r.route(other_site);

  r.add_event(10, "opened", "warning");
  r.add_event(10, "escalated", "alarm");
  r.add_event(10, "acknowledged", "alarm");  // not in the routes' events
  r.run();
  r.run();  // a second pass finds nothing new

  auto d = r.all();
  REQUIRE(d.size() == 4);  // opened → a, b; escalated → a, b
  for (const auto& x : d) {
    CHECK(x.kind == "notification");
    CHECK(x.status == "sent");
    CHECK(x.channel_id != c);
    CHECK(x.alert_id == 10);
  }
  CHECK(r.sender.posts.size() == 4);
}

TEST_CASE("with no routes the config's email_to gets every opened and escalated warning and alarm", "[notify]") {
  Rig r;
  r.opts.email_to = {"ops@plant.example", "boss@plant.example"};
  r.restart();
  r.add_event(10, "opened", "warning");
  r.add_event(10, "escalated", "alarm");
  r.add_event(10, "acknowledged", "alarm");
  r.add_event(10, "closed", "alarm");
  r.run();
  REQUIRE(r.sender.emails.size() == 2);
  CHECK(r.sender.emails[0].to == r.opts.email_to);
  CHECK(r.sender.emails[0].subject == "[vigil WARNING] Warning: vibrationISO on Pump 1 drive end");
  CHECK(r.sender.emails[1].subject.rfind("[vigil ALARM] ", 0) == 0);
  auto d = r.all();
  REQUIRE(d.size() == 2);
  CHECK(d[0].channel_id == 0);
}

TEST_CASE("a notification email names the asset, position, state and explanation and carries both links",
          "[notify]") {
  Rig r;
  r.opts.email_to = {"ops@plant.example"};
  r.restart();
  r.add_event(10, "opened", "warning", 4);
  r.run();
  REQUIRE(r.sender.emails.size() == 1);
  const auto& m = r.sender.emails[0];
  for (const auto* s : {&m.text, &m.html}) {
    CHECK(s->find("Pump 1") != std::string::npos);
    CHECK(s->find("drive end") != std::string::npos);
    CHECK(s->find("velocity 5.1 mm/s (zone C)") != std::string::npos);
    CHECK(s->find("https://gw.plant:8443/#/asset/4") != std::string::npos);
    CHECK(s->find("https://gw.plant:8443/ack/") != std::string::npos);
  }
  // The ack link in the mail is a valid token for this alert and its recipients.
  auto at = m.text.find("/ack/");
  auto token = m.text.substr(at + 5, m.text.find('\n', at) - at - 5);
  auto g = r.n->check_ack(token);
  REQUIRE(g.ok());
  CHECK(g->alert_id == 10);
  CHECK(g->recipient == "ops@plant.example");
}

TEST_CASE("a restart after fan-out does not send twice", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route all;
  all.channels = {a};
  r.route(all);
  r.add_event(10, "opened");
  r.sender.fail_next = 1;  // fanned out, first send refused: the delivery waits in the queue
  r.run();
  CHECK(r.sender.posts.empty());
  REQUIRE(r.all().size() == 1);
  CHECK(r.all()[0].status == "retrying");

  r.restart();
  r.clock.advance(10 * kS);
  r.run();  // the restarted notifier resumes the queued delivery and re-reads no event
  r.restart();
  r.run();
  auto d = r.all();
  REQUIRE(d.size() == 1);
  CHECK(d[0].status == "sent");
  CHECK(d[0].attempts == 2);
  CHECK(r.sender.posts.size() == 1);
}

TEST_CASE("a new notifier on a database with old alert events does not mail the history", "[notify]") {
  Rig r;
  r.opts.email_to = {"ops@plant.example"};
  r.add_event(1, "opened");  // two days before the notifier first runs
  r.clock.advance(48 * kH);
  r.add_event(2, "opened");
  r.restart();
  r.run();
  REQUIRE(r.sender.emails.size() == 1);
  REQUIRE(r.all().size() == 1);
  CHECK(r.all()[0].alert_id == 2);
}

TEST_CASE("a failing receiver is retried with back-off and then delivered in order", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  const Id b = r.webhook("other", "http://127.0.0.1:9998/hook");
  Route all;
  all.channels = {a};
  all.severities = {"warning"};
  r.route(all);
  Route second;
  second.channels = {b};
  second.severities = {"alarm"};
  r.route(second);

  r.add_event(10, "opened", "warning");
  r.add_event(11, "opened", "warning");
  r.sender.fail_next = 4;
  r.run();  // 10 fails (1); 11 waits behind it
  auto d = r.all();
  REQUIRE(d.size() == 2);
  CHECK(d[0].status == "retrying");
  CHECK(d[0].attempts == 1);
  CHECK(d[0].next_attempt_at == kT0 + 10 * kS);
  CHECK(d[1].status == "pending");
  CHECK(d[1].attempts == 0);

  // A failing channel blocks only itself: an alarm for channel b goes out.
  r.add_event(12, "opened", "alarm");
  r.sender.fail_next = 0;
  r.run();
  REQUIRE(r.sender.posts.size() == 1);
  CHECK(r.sender.posts[0].url == "http://127.0.0.1:9998/hook");
  r.sender.fail_next = 2;

  // Back-off: 10 s, 20 s, 40 s.
  TimestampMs expected_gap[] = {20 * kS, 40 * kS, 80 * kS};
  for (int i = 0; i < 3; ++i) {
    r.clock.advance(5 * kS);
    r.run();  // not yet due: nothing tried
    CHECK(r.sender.refused == 4 - 3 + i);
    r.clock.set(r.all()[0].next_attempt_at);
    r.run();
    auto x = r.all()[0];
    if (i < 2) {
      CHECK(x.status == "retrying");
      CHECK(x.attempts == i + 2);
      CHECK(x.next_attempt_at - r.clock.now_ms() == expected_gap[i]);
    }
  }
  // The fourth attempt succeeded, and the second alert followed it.
  d = r.all(DeliveryFilter{std::nullopt, a, std::nullopt, 100});
  REQUIRE(d.size() == 2);
  CHECK(d[0].status == "sent");
  CHECK(d[0].attempts == 4);
  CHECK(d[0].last_error.empty());
  CHECK(d[1].status == "sent");
  REQUIRE(r.sender.posts.size() == 3);
  CHECK(json::parse(r.sender.posts[1].body)["alert"]["id"] == 10);
  CHECK(json::parse(r.sender.posts[2].body)["alert"]["id"] == 11);
}

TEST_CASE("back-off doubles from 10 s to at most 15 min", "[notify]") {
  using vigil::notify::detail::backoff_ms;
  CHECK(backoff_ms(1) == 10 * kS);
  CHECK(backoff_ms(2) == 20 * kS);
  CHECK(backoff_ms(3) == 40 * kS);
  CHECK(backoff_ms(7) == 640 * kS);
  CHECK(backoff_ms(8) == 15 * kMin);
  CHECK(backoff_ms(1000) == 15 * kMin);
}

TEST_CASE("a delivery that cannot be sent for 24 hours fails, keeping its last error", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route all;
  all.channels = {a};
  r.route(all);
  r.add_event(10, "opened");
  r.sender.fail_next = 1'000'000;
  r.run();
  for (int i = 0; i < 200; ++i) {
    auto d = r.all();
    REQUIRE(d.size() == 1);
    if (d[0].status == "failed") break;
    r.clock.set(d[0].next_attempt_at);
    r.run();
  }
  auto d = r.all();
  REQUIRE(d.size() == 1);
  CHECK(d[0].status == "failed");
  CHECK(d[0].last_error == "webhook: HTTP 503");
  CHECK(r.clock.now_ms() - kT0 >= 24 * kH);
  CHECK(r.clock.now_ms() - kT0 < 24 * kH + 16 * kMin);
}

TEST_CASE("quiet hours hold a warning until they end but not an alarm", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route q;
  q.channels = {a};
  q.quiet_hours = QuietHours{"22:00", "06:00", "Europe/Berlin", false};
  r.route(q);
  // 23:30 in Berlin (UTC+1 in January) = 22:30 UTC.
  const TimestampMs night = kT0 + 10 * kH + 30 * kMin;
  const TimestampMs morning = kT0 + 17 * kH;  // 06:00 Berlin the next day = 05:00 UTC
  r.clock.set(night);
  r.add_event(10, "opened", "warning");
  r.add_event(11, "opened", "alarm");
  r.run();
  auto d = r.all();
  REQUIRE(d.size() == 2);
  CHECK(d[0].status == "pending");
  CHECK(d[0].next_attempt_at == morning);
  CHECK(d[1].status == "sent");  // the alarm bypasses, and the held warning does not block it
  REQUIRE(r.sender.posts.size() == 1);

  r.clock.set(morning - kS);
  r.run();
  CHECK(r.sender.posts.size() == 1);
  r.clock.set(morning);
  r.run();
  CHECK(r.sender.posts.size() == 2);
  CHECK(r.all()[0].status == "sent");
}

TEST_CASE("quiet hours with alarms_too hold alarms as well", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route q;
  q.channels = {a};
  q.quiet_hours = QuietHours{"12:00", "14:00", "UTC", true};
  r.route(q);
  r.add_event(11, "opened", "alarm");
  r.run();
  CHECK(r.sender.posts.empty());
  CHECK(r.all()[0].next_attempt_at == kT0 + 2 * kH);
}

TEST_CASE("the end of quiet hours is found in the route's time zone, past midnight and across DST", "[notify]") {
  using vigil::notify::detail::quiet_hours_end;
  QuietHours q{"22:00", "06:00", "Europe/Berlin", false};
  // 21:59 Berlin: not quiet.
  auto e = quiet_hours_end(q, kT0 + 8 * kH + 59 * kMin);
  REQUIRE(e.ok());
  CHECK(!e->has_value());
  // 02:00 Berlin (01:00 UTC on the 16th): ends at 06:00 Berlin the same day.
  e = quiet_hours_end(q, kT0 + 13 * kH);
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK(**e == kT0 + 17 * kH);
  // 06:00 sharp is no longer quiet.
  e = quiet_hours_end(q, kT0 + 17 * kH);
  REQUIRE(e.ok());
  CHECK(!e->has_value());
  // Summer (UTC+2): 2026-07-01T21:30Z is 23:30 in Berlin; the end is 04:00Z.
  const TimestampMs july1 = 1'782'864'000'000;  // 2026-07-01T00:00:00Z
  e = quiet_hours_end(q, july1 + 21 * kH + 30 * kMin);
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK(**e == july1 + 28 * kH);
  // Daytime hours do not wrap.
  QuietHours day{"12:00", "13:30", "UTC", false};
  e = quiet_hours_end(day, kT0 + 10 * kMin);
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK(**e == kT0 + 90 * kMin);
  QuietHours bad{"22:00", "06:00", "Mars/Olympus", false};
  CHECK(quiet_hours_end(bad, kT0).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("an unacknowledged alert escalates once", "[notify]") {
  Rig r;
  const Id ops = r.webhook("ops");
  const Id boss = r.email("boss", {"boss@plant.example"});
  Route rt;
  rt.channels = {ops};
  rt.escalate_after_min = 30;
  rt.escalate_to = {boss};
  r.route(rt);
  r.add_event(10, "opened", "warning");
  r.run();
  CHECK(r.sender.posts.size() == 1);
  CHECK(r.sender.emails.empty());
  r.clock.advance(29 * kMin);
  r.run();
  CHECK(r.sender.emails.empty());
  r.clock.advance(1 * kMin);
  r.run();
  REQUIRE(r.sender.emails.size() == 1);
  CHECK(r.sender.emails[0].subject == "[vigil WARNING] Not acknowledged: Warning: vibrationISO on Pump 1 drive end");
  // Later events and passes do not escalate it again.
  r.add_event(10, "escalated", "alarm");
  r.clock.advance(2 * kH);
  r.run();
  r.restart();
  r.run();
  CHECK(r.sender.emails.size() == 1);
  auto esc = r.all();
  CHECK(std::count_if(esc.begin(), esc.end(), [](const Delivery& d) { return d.kind == "escalation"; }) == 1);
}

TEST_CASE("an acknowledged alert does not escalate", "[notify]") {
  Rig r;
  const Id ops = r.webhook("ops");
  const Id boss = r.email("boss", {"boss@plant.example"});
  Route rt;
  rt.channels = {ops};
  rt.escalate_after_min = 30;
  rt.escalate_to = {boss};
  r.route(rt);
  r.add_event(10, "opened");
  r.run();
  r.clock.advance(10 * kMin);
  r.add_event(10, "acknowledged");
  r.clock.advance(30 * kMin);
  r.run();
  CHECK(r.sender.emails.empty());
}

TEST_CASE("a channel's rate limit spreads a burst out", "[notify]") {
  Rig r;
  Channel c;
  c.name = "slow";
  c.type = "webhook";
  c.rate_per_minute = 2;
  c.webhook.url = "http://127.0.0.1:9999/hook";
  auto a = r.n->add_channel(c, "admin");
  REQUIRE(a.ok());
  Route rt;
  rt.channels = {*a};
  r.route(rt);
  for (Id i = 1; i <= 3; ++i) r.add_event(i, "opened");
  r.run();
  CHECK(r.sender.posts.size() == 2);
  r.clock.advance(30 * kS);  // one token back
  r.run();
  CHECK(r.sender.posts.size() == 3);
}

TEST_CASE("a test delivery reaches the channel with no alert", "[notify]") {
  Rig r;
  const Id a = r.email("ops", {"ops@plant.example"});
  auto id = r.n->send_test(a, "admin");
  REQUIRE(id.ok());
  r.run();
  REQUIRE(r.sender.emails.size() == 1);
  CHECK(r.sender.emails[0].subject.find("TEST") != std::string::npos);
  auto d = r.all();
  REQUIRE(d.size() == 1);
  CHECK(d[0].id == *id);
  CHECK(d[0].kind == "test");
  CHECK(!d[0].alert_id);
  CHECK(r.n->send_test(999, "admin").status().code() == Status::Code::kNotFound);
}

TEST_CASE("a webhook body is signed with the channel's secret", "[notify]") {
  Rig r;
  const Id a = r.webhook("signed", "http://127.0.0.1:9999/hook", "s3cret");
  Route rt;
  rt.channels = {a};
  r.route(rt);
  r.add_event(10, "opened");
  r.run();
  REQUIRE(r.sender.posts.size() == 1);
  const auto& p = r.sender.posts[0];
  CHECK(p.headers.at("X-Vigil-Signature") ==
        "sha256=" + vigil::notify::detail::hex(vigil::notify::detail::hmac_sha256("s3cret", p.body)));
  auto body = json::parse(p.body);
  CHECK(body["gateway"] == "hall-3");
  CHECK(body["alert"]["asset"] == "Pump 1");
  CHECK(body["link"] == "https://gw.plant:8443/#/asset/4");
  CHECK(body["ack_link"].get<std::string>().rfind("https://gw.plant:8443/ack/", 0) == 0);
}

TEST_CASE("a tampered, expired or used ack token is refused", "[notify]") {
  Rig r;
  const std::string t = r.n->ack_token(42, "ops@plant.example");
  auto g = r.n->check_ack(t);
  REQUIRE(g.ok());
  CHECK(g->alert_id == 42);
  CHECK(g->recipient == "ops@plant.example");
  CHECK(g->expires_at == kT0 + 72 * kH);
  CHECK(r.n->ack_link(42, "x").rfind("https://gw.plant:8443/ack/", 0) == 0);

  SECTION("tampered") {
    for (std::size_t i : {std::size_t(3), t.size() / 2, t.size() - 2}) {
      std::string bad = t;
      bad[i] = bad[i] == 'A' ? 'B' : 'A';
      CHECK(r.n->check_ack(bad).status().code() == Status::Code::kPermissionDenied);
      CHECK(r.n->consume_ack(bad).status().code() == Status::Code::kPermissionDenied);
    }
    CHECK(r.n->check_ack("").status().code() == Status::Code::kPermissionDenied);
    CHECK(r.n->check_ack("not a token!").status().code() == Status::Code::kPermissionDenied);
    CHECK(r.n->check_ack(t.substr(0, 40)).status().code() == Status::Code::kPermissionDenied);
  }
  SECTION("expired") {
    r.clock.advance(72 * kH + 1);
    CHECK(r.n->check_ack(t).status().code() == Status::Code::kFailedPrecondition);
    CHECK(r.n->consume_ack(t).status().code() == Status::Code::kFailedPrecondition);
  }
  SECTION("used, also after a restart") {
    REQUIRE(r.n->consume_ack(t).ok());
    CHECK(r.n->check_ack(t).status().code() == Status::Code::kFailedPrecondition);
    CHECK(r.n->consume_ack(t).status().code() == Status::Code::kFailedPrecondition);
    r.restart();  // same secret, same record of used nonces
    CHECK(r.n->consume_ack(t).status().code() == Status::Code::kFailedPrecondition);
    // Another link for the same alert is a different token and still works.
    CHECK(r.n->consume_ack(r.n->ack_token(42, "ops@plant.example")).ok());
  }
}

TEST_CASE("a token from another gateway's secret is refused", "[notify]") {
  Rig one, two;
  const std::string t = one.n->ack_token(42, "ops@plant.example");
  CHECK(two.n->check_ack(t).status().code() == Status::Code::kPermissionDenied);
}

TEST_CASE("updating a channel keeps its secret and header values unless new ones are sent", "[notify]") {
  Rig r;
  Channel c;
  c.name = "ops";
  c.type = "webhook";
  c.webhook.url = "https://hooks.example/1";
  c.webhook.secret = "s3cret";
  c.webhook.headers = {{"Authorization", "Bearer abc"}};
  auto id = r.n->add_channel(c, "admin");
  REQUIRE(id.ok());
  // What the dashboard sends back after reading the redacted channel.
  auto j = to_json(*r.n->channel(*id));
  j["name"] = "ops (renamed)";
  auto upd = channel_from_json(j, r.opts);
  REQUIRE(upd.ok());
  REQUIRE(r.n->update_channel(*id, *upd, "admin").ok());
  auto got = r.n->channel(*id);
  REQUIRE(got.ok());
  CHECK(got->name == "ops (renamed)");
  CHECK(got->webhook.secret == "s3cret");
  CHECK(got->webhook.headers.at("Authorization") == "Bearer abc");
  // New values replace them.
  upd->webhook.secret = "n3w";
  upd->webhook.headers["Authorization"] = "Bearer xyz";
  REQUIRE(r.n->update_channel(*id, *upd, "admin").ok());
  got = r.n->channel(*id);
  CHECK(got->webhook.secret == "n3w");
  CHECK(got->webhook.headers.at("Authorization") == "Bearer xyz");
  CHECK(r.n->update_channel(999, *upd, "admin").code() == Status::Code::kNotFound);
}

TEST_CASE("a channel a route uses cannot be removed; a route must name existing channels", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route rt;
  rt.name = "all";
  rt.channels = {a};
  const Id route_id = r.route(rt);
  CHECK(r.n->remove_channel(a, "admin").code() == Status::Code::kFailedPrecondition);
  rt.channels = {a, 77};
  auto bad = r.n->add_route(rt, "admin");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() == "channels[1]: no channel 77");
  REQUIRE(r.n->remove_route(route_id, "admin").ok());
  REQUIRE(r.n->remove_channel(a, "admin").ok());
  CHECK(r.n->channels()->empty());
  auto audit = r.store->audit_log(10);
  REQUIRE(audit.ok());
  CHECK(audit->front().action == "notify.channel.remove");
}

TEST_CASE("sent and failed deliveries older than 30 days are pruned", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route rt;
  rt.channels = {a};
  r.route(rt);
  r.add_event(10, "opened");
  r.run();
  REQUIRE(r.all().size() == 1);
  r.clock.advance(29 * 24 * kH);
  r.add_event(11, "opened");
  r.run();
  CHECK(r.all().size() == 2);
  r.clock.advance(2 * 24 * kH);
  r.run();
  auto d = r.all();
  REQUIRE(d.size() == 1);
  CHECK(d[0].alert_id == 11);
}

TEST_CASE("the worker thread sends what wake() announces and stops cleanly", "[notify]") {
  Rig r;
  const Id a = r.webhook("ops");
  Route rt;
  rt.channels = {a};
  r.route(rt);
  r.add_event(10, "opened");  // before start(): the worker reads the rig's events
  r.n->start();
  r.n->wake();
  // Waits for the worker (a slow machine waits longer; nothing is timed).
  for (int i = 0; i < 1000; ++i) {
    auto d = r.n->deliveries({});
    REQUIRE(d.ok());
    if (!d->empty() && d->front().status == "sent") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.n->stop();
  r.n->stop();  // idempotent
  REQUIRE(r.sender.posts.size() == 1);
  CHECK(r.all()[0].status == "sent");
}
