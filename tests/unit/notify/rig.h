// SPDX-License-Identifier: Apache-2.0
// The notify tests' rig: a real temporary Store, a ManualClock, a FakeSender
// that records (and can refuse) what it is asked to send, and an event source
// over a vector the test appends to.
#pragma once

#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "notify/notifier.h"
#include "vigil/store.h"
#include "vigil_test/temp_dir.h"

namespace notify_test {

using namespace vigil;
using namespace vigil::notify;

struct FakeSender final : Sender {
  std::vector<EmailMessage> emails;
  std::vector<WebhookRequest> posts;
  int fail_next = 0;  // refuse this many sends ("HTTP 503")
  int refused = 0;
  Status send_email(const SmtpSettings&, const EmailMessage& m) override {
    if (fail_next > 0) {
      --fail_next;
      ++refused;
      return Status::Unavailable("smtp: 451 try later");
    }
    emails.push_back(m);
    return Status::Ok();
  }
  Status post(const WebhookRequest& r) override {
    if (fail_next > 0) {
      --fail_next;
      ++refused;
      return Status::Unavailable("webhook: HTTP 503");
    }
    posts.push_back(r);
    return Status::Ok();
  }
};

// 2026-01-15T12:00:00Z (winter: Europe/Berlin is UTC+1).
inline constexpr TimestampMs kT0 = 1'768'478'400'000;

struct Rig {
  TempDir dir;
  ManualClock clock{kT0};
  FakeSender sender;
  std::vector<AlertEvent> events;
  std::unique_ptr<Store> store;
  std::unique_ptr<Notifier> n;
  NotifierOptions opts;

  Rig() {
    StoreOptions o;
    o.path = dir.file("vigil.db");
    o.clock = &clock;
    auto s = Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
    opts.public_url = "https://gw.plant:8443";
    opts.gateway_name = "hall-3";
    opts.own_http_host = "gw.plant";
    opts.own_http_port = 8443;
    restart();
  }
  ~Rig() {
    n.reset();
    store.reset();
  }
  EventSource source() {
    return [this](Id after, int limit) -> Result<std::vector<AlertEvent>> {
      std::vector<AlertEvent> out;
      for (const auto& e : events)
        if (e.event_id > after && static_cast<int>(out.size()) < limit) out.push_back(e);
      return out;
    };
  }
  // A new Notifier on the same database (a gateway restart).
  void restart() {
    n.reset();
    auto r = Notifier::create(*store, clock, opts, sender, source());
    REQUIRE(r.ok());
    n = std::move(*r);
  }
  void run() { REQUIRE(n->run_once().ok()); }

  AlertEvent& add_event(Id alert_id, const std::string& event, const std::string& severity = "warning",
                        Id asset_id = 4, Id site_id = 1) {
    AlertEvent e;
    e.event_id = static_cast<Id>(events.size()) + 1;
    e.alert.id = alert_id;
    e.alert.asset_id = asset_id;
    e.alert.position_id = 7;
    e.alert.model = "vibrationISO";
    e.alert.severity = severity;
    e.alert.status = event == "acknowledged" ? "acknowledged" : event == "closed" ? "closed" : "open";
    e.alert.opened_at = clock.now_ms();
    e.alert.title = "Warning: vibrationISO on Pump 1 drive end";
    e.alert.explanation = "velocity 5.1 mm/s (zone C)";
    e.event = event;
    e.actor = "analytics";
    e.ts = clock.now_ms();
    e.asset_name = "Pump 1";
    e.position_name = "drive end";
    e.site_name = "Hall 3";
    e.site_id = site_id;
    events.push_back(e);
    return events.back();
  }

  Id webhook(const std::string& name, const std::string& url = "http://127.0.0.1:9999/hook",
             const std::string& secret = "") {
    Channel c;
    c.name = name;
    c.type = "webhook";
    c.rate_per_minute = 0;
    c.webhook.url = url;
    c.webhook.secret = secret;
    auto id = n->add_channel(c, "admin");
    REQUIRE(id.ok());
    return *id;
  }
  Id email(const std::string& name, std::vector<std::string> to) {
    Channel c;
    c.name = name;
    c.type = "email";
    c.rate_per_minute = 0;
    c.email.to = std::move(to);
    auto id = n->add_channel(c, "admin");
    REQUIRE(id.ok());
    return *id;
  }
  Id route(Route r) {
    if (r.name.empty()) r.name = "route";
    auto id = n->add_route(r, "admin");
    REQUIRE(id.ok());
    return *id;
  }
  std::vector<Delivery> all(DeliveryFilter f = {}) {
    auto d = n->deliveries(f);
    REQUIRE(d.ok());
    std::reverse(d->begin(), d->end());  // oldest first
    return *d;
  }
};

}  // namespace notify_test
