// SPDX-License-Identifier: Apache-2.0
// A real Store on a temp SQLite file with a small plant, auth, the alert
// service and a Router with every API route: what the HTTP unit tests run
// handlers against. The tables other modules own exist as in the gateway:
// the analytics' (health_states, spectra) by their migration, alerts by the
// AlertService, whose events reach the EventHub. The machine classes are a
// fixed, read-only list here; machine_classes_test.cpp wires the real
// registry (analytics::MachineClasses) into ctx.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "alerts/alerts.h"
#include "analytics/pipeline.h"
#include "auth/auth.h"
#include "http/api.h"
#include "http/api_plant.h"
#include "http/events.h"
#include "notify/notifier.h"
#include "rules/rules.h"
#include "vigil/ingest.h"

namespace vigil::test {

// Records what would be sent (the notifier's worker does not run here).
struct RecordingSender : notify::Sender {
  std::vector<notify::EmailMessage> emails;
  std::vector<notify::WebhookRequest> posts;
  Status send_email(const notify::SmtpSettings&, const notify::EmailMessage& m) override {
    emails.push_back(m);
    return Status::Ok();
  }
  Status post(const notify::WebhookRequest& r) override {
    posts.push_back(r);
    return Status::Ok();
  }
};

struct ApiFixture {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<Ingest> ingest;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<alerts::AlertService> alerts;
  std::unique_ptr<rules::RulesEngine> rules;
  RecordingSender sender;
  std::unique_ptr<notify::Notifier> notifier;
  http::EventHub events;
  http::ApiContext ctx;
  http::Router router;
  Id site = 0, asset = 0, position = 0, sensor = 0, series = 0, rule = 0, channel = 0;
  std::string admin_token, viewer_token, tech_token;
  std::vector<MachineClass> known_classes = {
      {"iso10816_class2", {1.12, 2.8, 7.1}, ClassSource::kBuiltin, std::nullopt},
      {"plant_fan", {1.0, 2.5, 5.0}, ClassSource::kConfig, std::nullopt}};

  explicit ApiFixture(bool with_auth = true) {
    dir = std::filesystem::temp_directory_path() / ("vigil-http-" + auth::random_hex(6));
    std::filesystem::create_directories(dir);
    StoreOptions so;
    so.path = (dir / "t.db").string();
    so.clock = &clock;
    store = Store::open(so).value();
    ingest = std::make_unique<Ingest>(*store, clock);
    if (!analytics::Pipeline::migrate(*store).ok()) throw std::runtime_error("analytics migrations failed");
    alerts = alerts::AlertService::create(*store, clock).value();
    alerts->on_event([this](const alerts::Alert& a, const std::string& event, const std::string&) {
      http::publish_alert(events, a, event);
    });
    site = *store->upsert_site(Site{0, "Plant", "UTC"});
    Asset a;
    a.site_id = site;
    a.name = "Pump P-1";
    a.shaft_rpm = 1480;
    a.bearing = BearingGeometry{9, 7.94, 39.0, 0};
    asset = *store->upsert_asset(a);
    position = *store->upsert_position(Position{0, asset, "Pump DE", PositionType::kPump});
    Sensor s;
    s.address = "AA:BB:CC:DD:EE:01";
    s.format = "vigil";
    s.position_id = position;
    s.commissioned_at = clock.now_ms();
    sensor = *store->upsert_sensor(s);
    std::vector<Reading> rs;
    for (int i = 0; i < 48; ++i)
      rs.push_back({s.address, "velocity_rms_mm_s", clock.now_ms() - (48 - i) * 600'000LL, 1.0 + 0.01 * i});
    ingest->submit(rs);
    (void)store->flush();
    series = (*store->series(position)).front().id;
    ctx.store = store.get();
    ctx.ingest = ingest.get();
    ctx.metrics = &MetricsRegistry::global();
    ctx.clock = &clock;
    ctx.gateway_id = "gw";
    ctx.events = &events;
    ctx.alerts = alerts.get();
    ctx.machine_classes = [this] { return known_classes; };
    rules = rules::RulesEngine::create(*store, clock, [this](const alerts::ExternalAlert& e) {
              return alerts->raise(e).status();
            }).value();
    ctx.rules = rules.get();
    ctx.notify_options.public_url = "https://gw.plant:8443";
    ctx.notify_options.own_http_host = "0.0.0.0";
    ctx.notify_options.own_http_port = 8443;
    notifier = notify::Notifier::create(*store, clock, ctx.notify_options, sender,
                                        [this](Id after, int limit) -> Result<std::vector<notify::AlertEvent>> {
                                          auto evs = alerts->events_after(after, limit);
                                          if (!evs) return evs.status();
                                          std::vector<notify::AlertEvent> out;
                                          for (const auto& e : *evs) {
                                            notify::AlertEvent n;
                                            n.event_id = e.id;
                                            n.alert = alerts->get(e.alert_id).value();
                                            n.event = e.event;
                                            n.actor = e.actor;
                                            n.ts = e.ts;
                                            out.push_back(n);
                                          }
                                          return out;
                                        }).value();
    ctx.notifier = notifier.get();
    {
      rules::Rule r;
      r.name = "Pump too fast";
      r.scope.asset_id = asset;
      r.conditions.push_back({"velocity_rms_mm_s", "above", 4.5, 0.2, 600, 60, "", std::nullopt});
      rule = rules->add(r, "test").value();
      notify::Channel c;
      c.name = "Maintenance team";
      c.type = "email";
      c.email.to = {"maint@plant.example"};
      channel = notifier->add_channel(c, "test").value();
    }
    if (with_auth) {
      auth::AuthOptions o;
      o.scrypt.n = 1024;
      auth = auth::AuthService::create(*store, o).value();
      ctx.auth = auth.get();
      admin_token = auth->create_token("a", auth::Role::kAdmin, "test")->second;
      tech_token = auth->create_token("t", auth::Role::kTechnician, "test")->second;
      viewer_token = auth->create_token("v", auth::Role::kViewer, "test")->second;
    }
    http::register_api(router, ctx);
    // The gateway registers GET /api/v1/plant beside register_api; here
    // without a plant (plant.id ""): this gateway alone.
    http::register_plant_api(router, ctx, {nullptr, "gw-test", "test gateway", "http://localhost:8080/"});
  }
  ~ApiFixture() {
    notifier.reset();
    rules.reset();
    ingest.reset();
    alerts.reset();
    auth.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  // An alert row as any vigil may have left it (test data: production code
  // changes alerts only through the AlertService).
  Id add_alert(const std::string& status = "open") {
    Id id = 0;
    (void)store->write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation) "
          "VALUES(?, ?, 'vibrationML', 'warning', ?, ?, ?, 'Vibration above baseline', 'velocity RMS 3.1× its baseline')");
      (*q)->bind(1, asset).bind(2, position).bind(3, status).bind(4, clock.now_ms()).bind(5, clock.now_ms());
      auto st = (*q)->run();
      id = db.last_insert_id();
      return st;
    });
    return id;
  }

  http::Response call(const std::string& method, const std::string& target, const std::string& token = "",
                      const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    http::Request r;
    r.method = method;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = http::parse_query(target.substr(q + 1));
    r.headers = std::move(headers);
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    if (!body.empty() && !r.headers.count("content-type")) r.headers["content-type"] = "application/json";
    r.body = body;
    r.remote = "10.1.2.3";
    return router.dispatch(r);
  }
  static nlohmann::json js(const http::Response& r) { return nlohmann::json::parse(r.body); }
};

}  // namespace vigil::test
