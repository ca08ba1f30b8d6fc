// SPDX-License-Identifier: Apache-2.0
#include "app/gateway.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <sys/statvfs.h>
#include <thread>
#include <nlohmann/json.hpp>

#include "alerts/alerts.h"
#include "app/scheduled_backup.h"
#include "app/self_monitor.h"
#include "app/storage_commands.h"
#include "analytics/machine_classes.h"
#include "analytics/pipeline.h"
#include "app/store_options.h"
#include "auth/auth.h"
#include "auth/self_signed.h"
#include "ble/ble_service.h"
#include "ble/relay_out.h"
#include "core/log.h"
#include "http/api.h"
#include "http/api_plant.h"
#include "http/events.h"
#include "http/server.h"
#include "http/static_files.h"
#include "app/ble_dfu_transport.h"
#include "firmware/engine_worker.h"
#include "firmware/firmware_service.h"
#include "http/api_firmware.h"
#include "notify/notifier.h"
#include "rules/rules.h"
#include "sim/demo_plant.h"
#include "uplink/messages.h"
#include "uplink/plant.h"
#include "uplink/plant_command.h"
#include "uplink/uplink.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

namespace vigil::app {
namespace asio = boost::asio;

struct Gateway::Impl {
  Config config;
  Mode mode = Mode::kServe;
  asio::io_context io;
  std::unique_ptr<Clock> owned_clock;
  const Clock* clock = &SystemClock::instance();
  http::EventHub events;  // outlives every producer below
  std::unique_ptr<Store> store;
  std::unique_ptr<analytics::MachineClasses> classes;  // over ZoneTable::global()
  std::unique_ptr<Ingest> ingest;
  // Declared before the pipeline, whose workers feed it: its worker is
  // stopped in run(); the object outlives the pipeline's observers.
  std::unique_ptr<uplink::PlantView> plant_view;  // outlives the uplink that feeds it
  std::unique_ptr<uplink::PlantCommands> plant_commands;  // likewise (plant.command_key_file)
  std::unique_ptr<uplink::Uplink> uplink;
  std::unique_ptr<ble::RelayOut> relay_out;  // fed by ble (declared later: stops first), feeds the uplink
  // Declared in this order so the pipeline (whose workers call the alert
  // service) stops first.
  std::unique_ptr<alerts::AlertService> alerts;
  // Rules raise alerts from ingest's observers; notifications read the
  // alert journal on their own thread (stopped in run()). Both go before the
  // alert service they call.
  std::unique_ptr<rules::RulesEngine> rules;
  std::unique_ptr<notify::Sender> sender;
  std::unique_ptr<notify::Notifier> notifier;
  std::unique_ptr<SelfMonitor> self_monitor;
  std::unique_ptr<ScheduledBackup> backup;  // storage.backup_dir; its thread joins before the rest goes
  std::unique_ptr<analytics::Pipeline> pipeline;
  std::unique_ptr<auth::AuthService> auth;
  // Sensor firmware (src/firmware): images over the sensor's DFU GATT
  // service (BleDfuTransport, on the BLE worker) when the radio is on, else
  // a transport that leaves rollouts waiting. The engine's thread stops (in
  // run()) before the BLE service it waits on.
  std::unique_ptr<firmware::DfuTransport> dfu;
  BleDfuTransport* ble_dfu = nullptr;  // dfu, when it is the BLE one
  std::unique_ptr<firmware::FirmwareService> firmware;
  std::unique_ptr<firmware::EngineWorker> firmware_engine;
  http::Router router;
  http::ApiContext api;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<sim::DemoPlant> plant;
  std::unique_ptr<ble::BleService> ble;  // declared late: stops before what it feeds
  // Signals and the gateway's own timers share one strand: with the
  // io_context on several threads, stopping must not race a timer handler.
  asio::strand<asio::io_context::executor_type> control{io.get_executor()};
  asio::signal_set signals{control, SIGINT, SIGTERM, SIGHUP};
  asio::steady_timer sim_timer{control};
  asio::steady_timer watchdog_timer{control};
  asio::steady_timer housekeeping_timer{control};  // rules' tick, self-monitoring
  std::int64_t next_self_check_ms = 0;
  std::uint64_t watchdog_usec = 0;

  void wait_signals();
  Status wire_web(Mode mode);
  void wire_sensor_alerts();
  void sim_tick();
  void pet_watchdog();
  void housekeeping();
  void reload();
  Status wire_rules_and_notifications();
  void wire_self_monitor();
  void wire_plant(const std::string& url);
  void wire_plant_relay();
  void wire_plant_commands(const uplink::PlantKey& key);
};

namespace {
// ble::SensorAlert → the alert service's neutral ExternalAlert (alerts comes
// before ble in the module order and cannot see ble's types).
alerts::ExternalAlert to_external_alert(const ble::SensorAlert& s) {
  alerts::ExternalAlert e;
  e.asset_id = s.asset_id;
  e.position_id = s.position_id;
  e.source = "sensor:" + s.address;
  e.kind = s.kind;
  e.model = alerts::kSensorHealthModel;
  e.severity = s.severity;
  e.title = s.title;
  e.explanation = s.explanation;
  return e;
}
}  // namespace

namespace {
std::string read_secret_file(const std::string& path, Status& err) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = Status::IoError(path + ": cannot read notifications.smtp.password_file");
    return "";
  }
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Names for messages: site, asset and position of an alert (cached per call batch).
struct CatalogNames {
  std::map<Id, Position> positions;
  std::map<Id, Asset> assets;
  std::map<Id, std::string> sites;
  void load(Store& store) {
    if (auto ps = store.positions()) for (auto& p : *ps) positions[p.id] = p;
    if (auto as = store.assets()) for (auto& a : *as) assets[a.id] = a;
    if (auto ss = store.sites()) for (auto& s : *ss) sites[s.id] = s.name;
  }
};
}  // namespace

// Rules raise alerts through the alert service; the notifier reads the
// service's journal (alert_events) after its cursor and is woken by each
// committed change.
Status Gateway::Impl::wire_rules_and_notifications() {
  auto& g = *this;
  const Config& c = g.config;
  alerts::AlertService* as = g.alerts.get();
  auto r = rules::RulesEngine::create(*g.store, *g.clock, [as](const alerts::ExternalAlert& e) {
    return as->raise(e).status();
  });
  if (!r) return r.status().Annotate("rules");
  g.rules = std::move(*r);
  g.ingest->on_readings([re = g.rules.get()](std::span<const AcceptedReading> batch) { re->on_readings(batch); });

  notify::NotifierOptions o;
  o.smtp.host = c.notifications.smtp.host;
  o.smtp.port = c.notifications.smtp.port;
  o.smtp.starttls = c.notifications.smtp.starttls;
  o.smtp.username = c.notifications.smtp.username;
  Status err;
  o.smtp.password = read_secret_file(c.notifications.smtp.password_file, err);
  VIGIL_RETURN_IF_ERROR(err);
  o.smtp.from = c.notifications.smtp.from;
  o.smtp.ca_file = c.notifications.smtp.ca_file;
  o.email_to = c.notifications.email_to;
  o.ack_link_ttl_h = c.notifications.ack_link_ttl_h;
  o.gateway_name = c.gateway.name;
  o.own_http_host = c.http.address;
  o.own_http_port = c.http.port;
  o.public_url = c.notifications.public_url;
  if (o.public_url.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
    o.public_url = std::string(c.http.tls ? "https://" : "http://") + host + ":" + std::to_string(c.http.port);
  }
  while (!o.public_url.empty() && o.public_url.back() == '/') o.public_url.pop_back();
  g.api.notify_options = o;
  g.sender = notify::make_curl_sender();
  Store* st = g.store.get();
  auto source = [as, st](Id after, int limit) -> Result<std::vector<notify::AlertEvent>> {
    auto evs = as->events_after(after, limit);
    if (!evs) return evs.status();
    std::vector<notify::AlertEvent> out;
    if (evs->empty()) return out;
    CatalogNames names;
    names.load(*st);
    for (const auto& e : *evs) {
      auto a = as->get(e.alert_id);
      if (!a) return a.status();
      notify::AlertEvent n;
      n.event_id = e.id;
      n.alert = *a;
      // The alert as it was at this event: a later change (acknowledged
      // before the notifier caught up) must not rewrite what is announced.
      n.alert.severity = e.severity.empty() ? a->severity : e.severity;
      n.event = e.event;
      n.actor = e.actor;
      n.ts = e.ts;
      if (a->position_id) {
        if (auto it = names.positions.find(*a->position_id); it != names.positions.end()) {
          n.position_name = it->second.name;
          if (!a->asset_id) n.alert.asset_id = it->second.asset_id;
        }
      }
      if (n.alert.asset_id) {
        if (auto it = names.assets.find(*n.alert.asset_id); it != names.assets.end()) {
          n.asset_name = it->second.name;
          n.site_id = it->second.site_id;
          if (auto s = names.sites.find(it->second.site_id); s != names.sites.end()) n.site_name = s->second;
        }
      }
      out.push_back(std::move(n));
    }
    return out;
  };
  auto n = notify::Notifier::create(*g.store, SystemClock::instance(), o, *g.sender, source);
  if (!n) return n.status().Annotate("notifications");
  g.notifier = std::move(*n);
  g.alerts->on_event([nt = g.notifier.get()](const alerts::Alert&, const std::string&, const std::string&) {
    nt->wake();
  });
  g.api.rules = g.rules.get();
  g.api.catalog_changed = [re = g.rules.get()] { re->invalidate_catalog(); };
  g.api.notifier = g.notifier.get();
  return Status::Ok();
}

// The gateway's own conditions (docs/notifications.md; config "monitoring").
void Gateway::Impl::wire_self_monitor() {
  auto& g = *this;
  SelfProbes p;
  const std::string dir = [&] {
    auto d = std::filesystem::path(g.config.storage.path).parent_path();
    return (d.empty() ? std::filesystem::path(".") : d).string();
  }();
  p.disk_free_pct = [dir]() -> std::optional<double> {
    struct statvfs v {};
    if (statvfs(dir.c_str(), &v) != 0 || v.f_blocks == 0) return std::nullopt;
    return 100.0 * static_cast<double>(v.f_bavail) / static_cast<double>(v.f_blocks);
  };
  if (g.uplink) {
    uplink::Uplink* up = g.uplink.get();
    p.uplink_connected = [up]() -> std::optional<bool> {
      auto s = up->status();
      return s.value("connected", false);
    };
  }
  if (g.ble && g.config.ble.enabled) {  // not with relays alone (no radio)
    ble::BleService* b = g.ble.get();
    p.ble_problem = [b]() -> std::optional<std::string> {
      auto s = b->scanner().state();
      if (s == ble::BleState::kScanning || s == ble::BleState::kStarting) return std::nullopt;
      return std::string("Bluetooth: ") + ble::to_string(s);
    };
  }
  Store* st = g.store.get();
  p.store_stats = [st] { return st->stats(); };
  p.wall_ms = [] { return SystemClock::instance().now_ms(); };
  p.monotonic_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  alerts::AlertService* as = g.alerts.get();
  g.self_monitor = std::make_unique<SelfMonitor>(g.config.monitoring, std::move(p),
                                                 [as](const alerts::ExternalAlert& e) { return as->raise(e).status(); });
}

void Gateway::Impl::housekeeping() {
  if (rules) rules->tick();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch()).count();
  if (backup) backup->tick();
  if (self_monitor && now >= next_self_check_ms) {
    self_monitor->check();
    next_self_check_ms = now + config.monitoring.interval_s * 1000LL;
  }
  housekeeping_timer.expires_after(std::chrono::seconds(1));
  housekeeping_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) housekeeping();
  });
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

// The plant (docs/plant.md): our retained state document on the uplink,
// the other gateways' documents into the plant view.
void Gateway::Impl::wire_plant(const std::string& url) {
  const auto& c = config;
  uplink::PlantOptions po;
  po.plant_id = c.plant.id;
  po.gateway_id = c.gateway.id;
  po.max_gateways = static_cast<std::size_t>(c.plant.max_gateways);
  plant_view = std::make_unique<uplink::PlantView>(po);
  uplink::PlantView* view = plant_view.get();
  uplink->add_subscription(uplink::plant_state_filter(c.plant.id), uplink::kMaxPlantDocBytes,
                           [view](const std::string& topic, const std::string& payload) {
                             std::string why;
                             if (!view->on_message(topic, payload, SystemClock::instance().now_ms(), &why) &&
                                 !why.empty())
                               spdlog::debug("plant: message on {} dropped: {}", topic.substr(0, 200), why);
                           });
  uplink::GatewayInfo self{c.plant.id, c.gateway.id, c.gateway.name, VIGIL_VERSION, url, c.plant.state_interval_s};
  view->set_self({{"name", self.name}, {"url", self.url}, {"version", self.version}, {"assets", nlohmann::json::array()}},
                 0);
  http::ApiContext* ctx = &api;
  uplink->add_retained(
      uplink::plant_state_topic(c.plant.id, c.gateway.id),
      [self, ctx, view, as = alerts.get()]() -> std::string {
        auto fleet = http::fleet_document(*ctx);
        if (!fleet) {
          spdlog::warn("plant: state document: {}", fleet.status().ToString());
          return {};
        }
        // Our active alerts, for every dashboard of the plant (the worst 50).
        nlohmann::json active = nlohmann::json::array();
        if (as) {
          alerts::AlertFilter f;
          f.status = "active";
          f.limit = 500;
          if (auto list = as->list(f); list.ok()) {
            for (const auto& a : *list)
              active.push_back({{"id", a.id},
                                {"asset_id", a.asset_id ? nlohmann::json(*a.asset_id) : nlohmann::json(nullptr)},
                                {"position_id", a.position_id ? nlohmann::json(*a.position_id) : nlohmann::json(nullptr)},
                                {"severity", a.severity},
                                {"status", a.status},
                                {"title", a.title},
                                {"opened_at", uplink::iso8601_ms(a.opened_at)}});
          } else {
            spdlog::warn("plant: active alerts: {}", list.status().ToString());
          }
        }
        const TimestampMs now = SystemClock::instance().now_ms();
        std::string doc = uplink::plant_state_document(self, *fleet, now, uplink::kMaxPlantDocBytes, active);
        view->set_self(nlohmann::json::parse(doc), now);
        return doc;
      },
      c.plant.state_interval_s);
  // Alert and state changes reach the plant soon, not at the next interval.
  uplink::Uplink* up = uplink.get();
  if (alerts)
    alerts->on_event([up](const alerts::Alert&, const std::string&, const std::string&) { up->refresh_retained(); });
  if (pipeline) pipeline->on_state_change([up](const analytics::StateChange&) { up->refresh_retained(); });
}

// Relaying between the plant's gateways (ble/relay_out.h, docs/plant.md):
// our radio's BTHome adverts of addresses unknown here go to the plant (QoS
// 0, bounded), and every peer's relayed adverts take the relay road, where
// only the sensor's owner decodes them and a frame is stored once.
void Gateway::Impl::wire_plant_relay() {
  const auto& c = config;
  const std::string self = c.gateway.id;
  ble::BleService* b = ble.get();
  uplink->add_subscription(ble::plant_relay_filter(c.plant.id), ble::kMaxRelayJsonBytes,
                           [b, plant = c.plant.id, self](const std::string& topic, const std::string& payload) {
                             const auto from = ble::plant_relay_sender(plant, topic);
                             if (!from || *from == self) return;  // our own adverts, back from the broker
                             b->relay_message(topic, payload, "gateway:" + *from);
                           });
  if (!c.ble.enabled) return;  // no radio: nothing of ours to relay
  uplink::Uplink* up = uplink.get();
  relay_out = std::make_unique<ble::RelayOut>(
      ble::RelayOutOptions{c.plant.id, c.gateway.id, static_cast<double>(c.plant.relay_out_per_s)},
      [up](const std::string& topic, const std::string& payload, std::function<void(bool)> done) {
        return up->publish_volatile(topic, payload, std::move(done));
      });
  ble->scanner().set_foreign_advert_sink(
      [r = relay_out.get()](const std::string& address, const ble::DeviceProps& p, std::optional<int> rssi) {
        r->offer(address, p, rssi, SystemClock::instance().now_ms());
      });
  spdlog::info("plant: relaying adverts of sensors unknown here to plant '{}' (at most {}/s)", c.plant.id,
               c.plant.relay_out_per_s);
}

// Commands between the plant's gateways (uplink/plant_command.h): ours go
// out sealed, QoS 0, while connected; the others' arrive on our command
// topic and are applied through our own REST handlers as an admin actor
// "plant:<gateway>:<user>", so they meet the same checks, audit and cache
// invalidation as a local admin's request.
void Gateway::Impl::wire_plant_commands(const uplink::PlantKey& key) {
  const auto& c = config;
  uplink::Uplink* up = uplink.get();
  http::Router* r = &router;
  plant_commands = std::make_unique<uplink::PlantCommands>(
      uplink::PlantCommandOptions{c.plant.id, c.gateway.id, key},
      [up](const std::string& topic, const std::string& payload) { return up->publish_volatile(topic, payload); },
      [r](const uplink::RemoteRequest& q, const std::string& actor) {
        http::Request req;
        req.method = q.method;
        req.path = q.path;
        req.body = q.body.is_null() ? std::string() : q.body.dump();
        if (!req.body.empty()) req.headers["content-type"] = "application/json";
        req.remote = "plant";
        req.plant_actor = actor;
        http::Response res = r->dispatch(std::move(req));
        nlohmann::json body = nlohmann::json::parse(res.body, nullptr, false);
        if (body.is_discarded()) body = nlohmann::json{{"body", res.body.substr(0, 1024)}};
        return std::pair<int, nlohmann::json>{res.status, std::move(body)};
      },
      [st = store.get()](const std::string& actor, const std::string& action, const std::string& target,
                         const std::string& detail) {
        if (auto s = st->audit(actor, action, target, detail); !s.ok())
          spdlog::warn("plant: command not audited: {}", s.ToString());
      });
  uplink::PlantCommands* pc = plant_commands.get();
  auto handler = [pc](const std::string& topic, const std::string& payload) {
    std::string why;
    pc->on_message(topic, payload, SystemClock::instance().now_ms(), &why);
  };
  uplink->add_subscription(uplink::plant_command_topic(c.plant.id, c.gateway.id), uplink::kMaxPlantCommandBytes, handler);
  uplink->add_subscription(uplink::plant_result_topic(c.plant.id, c.gateway.id), uplink::kMaxPlantCommandBytes, handler);
  spdlog::info("plant: commands between gateways on (sealed with the key in {})", c.plant.command_key_file);
}

// Sensor-health alerts (BLE) go to the alert service, the alerts table's owner.
void Gateway::Impl::wire_sensor_alerts() {
  if (!ble) return;
  ble->set_alert_sink([as = alerts.get()](const ble::SensorAlert& s) -> Status {
    return as->raise(to_external_alert(s)).status();
  });
}

// Auth, live updates and the analytics/alerts hooks of the REST API.
Status Gateway::Impl::wire_web(Mode mode) {
  auto& g = *this;
  auto& api = g.api;
  auto au = auth::AuthService::create(*g.store);  // wall clock, also in the demo
  if (!au) return au.status();
  g.auth = std::move(*au);
  api.auth = g.auth.get();
  api.secure_cookies = g.config.http.tls;
  // Demo only (127.0.0.1, plain HTTP): loopback callers without credentials
  // act as a technician; admin actions still need the first-start account.
  api.loopback_technician = mode == Mode::kDemo;
  api.events = &g.events;
  g.ingest->on_readings([hub = &g.events](std::span<const AcceptedReading> r) { http::publish_readings(*hub, r); });
  analytics::MachineClasses* mc = g.classes.get();
  api.machine_classes = [mc] { return mc->list(); };
  api.put_machine_class = [mc](const std::string& name, const ZoneLimits& l) { return mc->put(name, l); };
  api.delete_machine_class = [mc](const std::string& name) { return mc->remove(name); };
  // Every alert change (analytics, sensors, REST, uplink commands) reaches
  // the live stream through the alert service.
  api.alerts = g.alerts.get();
  g.alerts->on_event([hub = &g.events](const alerts::Alert& a, const std::string& event, const std::string&) {
    http::publish_alert(*hub, a, event);
  });
  if (g.pipeline) {
    analytics::Pipeline* p = g.pipeline.get();
    p->on_state_change([hub = &g.events](const analytics::StateChange& c) {
      nlohmann::json j = {{"position_id", c.position_id}, {"asset_id", c.asset_id}, {"model", c.model},
                          {"ts", c.ts}, {"state", to_string(c.persistent)}, {"previous", to_string(c.previous)},
                          {"pointwise", to_string(c.pointwise)}, {"explanation", c.explanation}};
      hub->publish("state", j.dump());
    });
    api.machines_changed = [p] { p->invalidate_machines(); };
    api.relearn_position = [p](Id id) { return p->relearn(id); };
    api.position_state = [p](Id id) {
      auto h = p->position_health(id);
      return std::string(h ? to_string(h->state) : "unknown");
    };
    api.position_health = [p](Id id) -> std::optional<nlohmann::json> {
      auto h = p->position_health(id);
      if (!h) return std::nullopt;
      nlohmann::json models = nlohmann::json::array();
      for (const auto& m : h->models) {
        models.push_back({{"model", m.model}, {"pointwise", to_string(m.pointwise)},
                          {"persistent", to_string(m.persistent)}, {"since", http::iso8601(m.ts)}});
        if (!m.learning.empty()) models.back()["learning"] = m.learning;  // why it still initializes
        if (m.learned_hours && m.learning_hours) {  // learning by time: the fleet's "about N h left"
          models.back()["learned_hours"] = *m.learned_hours;
          models.back()["learning_hours"] = *m.learning_hours;
        }
      }
      // metric → learned normal range, for the charts' baseline band.
      nlohmann::json baseline = nlohmann::json::object();
      for (const auto& b : h->baseline)
        baseline[b.metric] = {{"model", b.model}, {"median", b.median}, {"lo", b.lo}, {"hi", b.hi},
                              {"sigma", analytics::kBaselineBandSigma}};
      return nlohmann::json{{"position_id", id}, {"state", to_string(h->state)}, {"models", models},
                            {"baseline", baseline}};
    };
  }
  return Status::Ok();
}

Result<std::unique_ptr<Gateway>> Gateway::create(Config config, Mode mode) {
  auto g = std::make_unique<Impl>();
  g->config = std::move(config);
  g->mode = mode;
  const Config& c = g->config;
  VIGIL_RETURN_IF_ERROR(log::setup(c.gateway.log_level));

  if (mode == Mode::kDemo) {
    // The demo plant runs on an accelerated clock; everything (ingest
    // validation, retention, analytics) sees the same simulated time.
    auto sc = std::make_unique<ScaledClock>(SystemClock::instance().now_ms(), c.demo.time_factor);
    g->clock = sc.get();
    g->owned_clock = std::move(sc);
  }

  StoreOptions so = store_options(c.storage);
  // The demo's clock runs hundreds of times faster: a 1 s commit interval
  // (the flash policy) would be many simulated minutes of readings unseen.
  if (mode == Mode::kDemo) so.batch_max_delay_ms = std::min(so.batch_max_delay_ms, 200);
  so.clock = g->clock;
  // This process owns the database while it runs: admin commands and a
  // second gateway are refused (store.h, "Ownership").
  so.owner = mode == Mode::kDemo ? "vigil demo" : "vigil serve";
  so.server = true;
  so.allow_new_database = c.storage.new_database;
  auto store = Store::open(so);
  if (!store) return store.status();
  g->store = std::move(*store);
  // Machine classes before anything scores: built-in < configured < stored
  // user classes (REST, MQTT).
  g->classes = std::make_unique<analytics::MachineClasses>(*g->store);
  VIGIL_RETURN_IF_ERROR(g->classes->load(c.analytics.machine_classes));
  g->ingest = std::make_unique<Ingest>(*g->store, *g->clock);
  // Each module's tables before anything reads them: the analytics'
  // (health_states, read by the REST API) also with the analytics off, and
  // the alert service (owner of the alerts table) always, for sensor alerts.
  VIGIL_RETURN_IF_ERROR(analytics::Pipeline::migrate(*g->store).Annotate("analytics"));
  auto alert_service = alerts::AlertService::create(*g->store, *g->clock);
  if (!alert_service) return alert_service.status();
  g->alerts = std::move(*alert_service);
  VIGIL_RETURN_IF_ERROR(g->wire_rules_and_notifications());
  // ---- sources ----
  if (mode == Mode::kDemo) {
    g->plant = std::make_unique<sim::DemoPlant>(*g->store, *g->ingest, c.demo, g->clock->now_ms());
    VIGIL_RETURN_IF_ERROR(g->plant->setup());
  }
  const bool relays = c.uplink.enabled && !c.ble.relay_topics.empty();
  if (!c.ble.relay_topics.empty() && !c.uplink.enabled)
    spdlog::warn("ble.relay_topics is set but uplink.enabled is false: relays are not heard");
  if (c.ble.enabled || relays) {
    // A missing bus, bluetoothd or adapter is a status of the "ble" health
    // component, not a start-up failure: the rest of vigil keeps working.
    // With relays alone (ble.enabled off) there is no radio and no D-Bus.
    ble::ServiceOptions bo;
    bo.scanner = ble::scanner_options(c.ble);
    bo.radio = c.ble.enabled;
    auto b = ble::BleService::create(*g->store, *g->ingest, *g->clock, bo);
    if (!b) return b.status();
    g->ble = std::move(*b);
    g->wire_sensor_alerts();
  }

  // ---- sensor firmware (src/firmware) ----
  {
    firmware::FirmwareOptions fo;
    fo.max_attempts = c.firmware.max_attempts;
    if (!c.firmware.signing_public_key_file.empty()) {
      auto pem = firmware::read_public_key_file(c.firmware.signing_public_key_file);
      if (!pem) return pem.status().Annotate("firmware.signing_public_key_file");
      fo.signing_public_key_pem = std::move(*pem);
    }
    // Over the radio when there is one (the sensor's DFU GATT service);
    // relays alone cannot reach a sensor, so rollouts then wait.
    if (g->ble && c.ble.enabled) {
      auto t = std::make_unique<BleDfuTransport>(*g->ble);
      g->ble_dfu = t.get();
      g->dfu = std::move(t);
    } else {
      g->dfu = std::make_unique<firmware::UnsupportedDfuTransport>();
    }
    auto fw = firmware::FirmwareService::open(*g->store, *g->clock, *g->dfu, std::move(fo));
    if (!fw) return fw.status();
    g->firmware = std::move(*fw);
    g->firmware_engine = std::make_unique<firmware::EngineWorker>(
        *g->firmware, std::chrono::milliseconds(c.firmware.engine_interval_s * 1000LL));
  }


  // ---- analytics ----
  if (c.analytics.enabled) {
    analytics::PipelineOptions po;
    po.analytics.learning_hours = c.analytics.learning_hours;
    po.analytics.persistence_n = c.analytics.persistence_n;
    po.analytics.persistence_m = c.analytics.persistence_m;
    po.threads = c.analytics.threads;
    auto p = analytics::Pipeline::create(*g->store, po, *g->clock);
    if (!p) return p.status();
    g->pipeline = std::move(*p);
    g->alerts->attach(*g->pipeline);
    g->pipeline->attach(*g->ingest);
  }

  // ---- uplink (cloud, MQTT/TLS) ----
  if (!c.plant.id.empty() && !c.uplink.enabled)
    spdlog::warn("plant.id is set but uplink.enabled is false: this gateway stays out of plant '{}'", c.plant.id);
  std::string plant_url = c.plant.url;
  if (plant_url.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
    plant_url = std::string(c.http.tls ? "https://" : "http://") + host + ":" + std::to_string(c.http.port) + "/";
  }
  if (c.uplink.enabled) {
    const bool in_plant = !c.plant.id.empty();
    auto u = uplink::Uplink::from_config(
        c.uplink, c.gateway.id, *g->store, *g->clock, g->pipeline.get(), g->alerts.get(),
        in_plant ? uplink::plant_state_topic(c.plant.id, c.gateway.id) : std::string(),
        in_plant ? uplink::plant_will_payload(c.plant.id, c.gateway.id) : std::string());
    if (!u) return u.status();
    g->uplink = std::move(*u);
    if (g->pipeline) g->uplink->attach(*g->pipeline);
    g->uplink->attach_raw(*g->ingest);
    if (in_plant) g->wire_plant(plant_url);
    if (in_plant && !c.plant.command_key_file.empty()) {
      auto key = uplink::read_plant_key(c.plant.command_key_file);
      if (!key) return key.status().Annotate("plant.command_key_file");
      g->wire_plant_commands(*key);
    }
    // Without a BLE road (ble.enabled off, no ble.relay_topics) there is
    // neither a radio to relay from nor a scanner to decode with.
    if (in_plant && c.plant.relay && g->ble) g->wire_plant_relay();
    if (g->ble && relays) {
      ble::BleService* b = g->ble.get();
      for (const auto& f : c.ble.relay_topics)
        g->uplink->add_subscription(f, ble::kMaxRelayJsonBytes,
                                    [b](const std::string& topic, const std::string& payload) {
                                      b->relay_message(topic, payload);
                                    });
    }
  }

  // ---- HTTP ----
  auto& api = g->api;
  api.store = g->store.get();
  api.ingest = g->ingest.get();
  api.metrics = &MetricsRegistry::global();
  api.clock = g->clock;
  api.gateway_id = c.gateway.id;
  api.gateway_name = c.gateway.name;
  api.started_at = SystemClock::instance().now_ms();
  api.demo = mode == Mode::kDemo;
  VIGIL_RETURN_IF_ERROR(g->wire_web(mode));
  if (g->uplink) {
    uplink::Uplink* up = g->uplink.get();
    api.components["uplink"] = [up] { return up->status(); };
  }
  g->wire_self_monitor();
  if (!c.storage.backup_dir.empty()) {
    std::string pass;
    if (!c.storage.backup_passphrase_file.empty()) {
      auto p = read_passphrase(c.storage.backup_passphrase_file);
      if (!p) return p.status().Annotate("storage.backup_passphrase_file");
      pass = *p;
    }
    alerts::AlertService* as = g->alerts.get();
    g->backup = std::make_unique<ScheduledBackup>(
        c.storage, c.gateway.id,
        [snapshot = c, pass](const std::string& out) { return write_backup(snapshot, out, pass); },
        [as](const alerts::ExternalAlert& e) { return as->raise(e).status(); },
        [] { return SystemClock::instance().now_ms(); },
        [](TimestampMs now) {
          std::time_t t = static_cast<std::time_t>(now / 1000);
          std::tm tm{};
          localtime_r(&t, &tm);
          return tm.tm_hour * 60 + tm.tm_min;
        });
    spdlog::info("backup: every day at {} (local time) to {}, keeping {}", c.storage.backup_at, c.storage.backup_dir,
                 c.storage.backup_keep);
  }
  http::register_api(g->router, api);
  if (g->ble) http::register_ble_api(g->router, api, *g->ble);
  http::register_firmware_api(g->router, api, *g->firmware);
  if (g->ble && !c.ble.enabled) {
    // Relays alone: no radio to report on, and nothing wrong with that.
    api.components["ble"] = [] {
      auto& m = MetricsRegistry::global();
      return nlohmann::json{{"status", "relays_only"}, {"ok", true}, {"radio", false},
                            {"relay_adverts", m.counter_value("vigil_ble_relay_adverts_total")}};
    };
  }
  {
    http::PlantApi pa{nullptr, c.gateway.id, c.gateway.name, plant_url};
    if (g->plant_view)
      pa.snapshot = [v = g->plant_view.get(), up = g->uplink.get()] {
        auto j = v->snapshot(SystemClock::instance().now_ms());
        j["connected"] = up->connected();  // false: the view is as of the last connection
        return j;
      };
    if (auto* pc = g->plant_commands.get()) {
      pa.send_command = [pc](const std::string& to, const std::string& method, const std::string& path,
                             const nlohmann::json& body, const std::string& actor, http::PlantApi::Then then) {
        return pc->send(to, uplink::RemoteRequest{method, path, body}, actor, SystemClock::instance().now_ms(),
                        std::move(then));
      };
      pa.commands = [pc] { return pc->list(SystemClock::instance().now_ms()); };
      pa.command = [pc](const std::string& id) { return pc->get(id, SystemClock::instance().now_ms()); };
    }
    http::register_plant_api(g->router, api, std::move(pa));
  }
  g->router.set_fallback(http::serve_static);

  auto* st = g->store.get();
  MetricsRegistry::global().gauge("vigil_store_queued_points", "Points waiting for the batch writer",
                                  [st] { return static_cast<double>(st->stats().queued_points); });
  MetricsRegistry::global().gauge("vigil_store_points_committed", "Points committed since start",
                                  [st] { return static_cast<double>(st->stats().points_committed); });
  MetricsRegistry::global().gauge("vigil_store_write_errors", "Failed store writes since start",
                                  [st] { return static_cast<double>(st->stats().write_errors); });

  if (c.http.enabled) {
    http::ServerOptions ho;
    ho.address = c.http.address;
    ho.port = static_cast<unsigned short>(c.http.port);
    ho.max_body_bytes = static_cast<std::size_t>(c.http.max_body_bytes);
    ho.request_timeout_s = c.http.request_timeout_s;
    ho.max_connections = c.http.max_connections;
    ho.max_connections_per_client = c.http.max_connections_per_client;
    ho.header_timeout_s = c.http.header_timeout_s;
    ho.idle_timeout_s = c.http.idle_timeout_s;
    ho.max_header_bytes = static_cast<std::size_t>(c.http.max_header_bytes);
    ho.worker_threads = c.http.worker_threads;
    ho.max_queued_requests = static_cast<std::size_t>(c.http.max_queued_requests);
    ho.tls = c.http.tls;
    ho.cert_file = c.http.cert_file;
    ho.key_file = c.http.key_file;
    if (ho.tls && (ho.cert_file.empty() || ho.key_file.empty())) {
      // HTTPS by default: a self-signed certificate made once under the data directory.
      auto dir = std::filesystem::path(c.storage.path).parent_path();
      auto cert = auth::ensure_self_signed((dir.empty() ? std::filesystem::path(".") : dir).string());
      if (!cert) return cert.status().Annotate("http: self-signed certificate");
      ho.cert_file = cert->cert_file;
      ho.key_file = cert->key_file;
      auto fp = auth::cert_fingerprint(ho.cert_file);
      spdlog::info("http: {} self-signed certificate {} (SHA-256 {})", cert->generated ? "created" : "using",
                   ho.cert_file, fp ? *fp : std::string("?"));
    }
    g->server = std::make_unique<http::Server>(g->io, g->router, ho);
    VIGIL_RETURN_IF_ERROR(g->server->listen());
    spdlog::info("http: listening on {}://{}:{}", ho.tls ? "https" : "http", ho.address, g->server->port());
    // First start: the one-time code that creating the first admin needs.
    if (auto code = auth::announce_setup(*g->auth, ho.tls, ho.address, g->server->port()); !code)
      return code.status().Annotate("auth: setup code");
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(g)));
}

void Gateway::Impl::wait_signals() {
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
      wait_signals();
      return;
    }
    spdlog::info("signal {}: stopping", sig);
    sd_notify(0, "STOPPING=1");
    sim_timer.cancel();
    watchdog_timer.cancel();
    housekeeping_timer.cancel();
    // Graceful: requests in flight finish and write their replies first.
    if (server) server->stop([this] { io.stop(); });
    else io.stop();
  });
}

void Gateway::Impl::reload() {
  // Only what is safe to change under load: the log level. Everything else
  // needs a restart and says so.
  sd_notify(0, "RELOADING=1");
  if (config.source_path.empty()) {
    spdlog::info("SIGHUP: no configuration file to reload");
  } else {
    auto c = load_config(config.source_path);
    if (!c) {
      spdlog::error("SIGHUP: keeping the running configuration: {}", c.status().message());
    } else {
      auto s = log::setup(c->gateway.log_level);
      if (s.ok()) config.gateway.log_level = c->gateway.log_level;
      spdlog::info("SIGHUP: configuration re-read; log level {}", config.gateway.log_level);
    }
  }
  sd_notify(0, "READY=1");
}

void Gateway::Impl::sim_tick() {
  plant->tick(clock->now_ms());
  sim_timer.expires_after(std::chrono::milliseconds(100));
  sim_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sim_tick();
  });
}

void Gateway::Impl::pet_watchdog() {
  // Only pet while the store's writer is making progress: a wedged writer
  // should get us restarted, not kept alive by a healthy timer.
  auto st = store->stats();
  if (st.queued_points < static_cast<std::size_t>(config.storage.queue_max_rows)) sd_notify(0, "WATCHDOG=1");
  watchdog_timer.expires_after(std::chrono::microseconds(watchdog_usec / 2));
  watchdog_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) pet_watchdog();
  });
}

int Gateway::run() {
  auto& g = *impl_;
  g.wait_signals();
  if (g.plant) g.sim_tick();
  if (sd_watchdog_enabled(0, &g.watchdog_usec) > 0 && g.watchdog_usec > 0) g.pet_watchdog();
  sd_notify(0, "READY=1\nSTATUS=vigil running");
  if (g.ble) g.ble->start();
  if (g.uplink) g.uplink->start();
  if (g.notifier) g.notifier->start();
  g.firmware_engine->start();
  g.housekeeping();
  // HTTP handlers are plain functions over thread-safe services, so the
  // io_context runs on every core: one slow request does not queue the rest.
  std::vector<std::thread> workers;
  const unsigned extra = std::max(1u, std::thread::hardware_concurrency()) - 1;
  for (unsigned i = 0; i < std::min(extra, 3u); ++i) workers.emplace_back([&g] { g.io.run(); });
  g.io.run();
  for (auto& t : workers) t.join();
  if (g.ble_dfu) g.ble_dfu->cancel();  // a transfer in progress resumes after the restart
  g.firmware_engine->stop();
  if (g.ble) g.ble->stop();
  if (g.uplink) g.uplink->stop();
  if (g.notifier) g.notifier->stop();
  if (g.rules) g.rules->tick();  // pending durations reach the database
  // Graceful stop: flush what is queued, checkpoint, close.
  auto s = g.store->flush();
  if (!s.ok()) spdlog::error("stop: flush: {}", s.ToString());
  s = g.store->checkpoint();
  if (!s.ok()) spdlog::error("stop: checkpoint: {}", s.ToString());
  spdlog::info("stopped");
  return s.ok() ? 0 : 1;
}

}  // namespace vigil::app
