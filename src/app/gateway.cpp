// SPDX-License-Identifier: Apache-2.0
#include "app/gateway.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "http/api.h"
#include "http/server.h"
#include "http/static_files.h"
#include "sim/demo_plant.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

namespace vigil::app {
namespace asio = boost::asio;

struct Gateway::Impl {
  Config config;
  Mode mode = Mode::kServe;
  asio::io_context io{1};
  std::unique_ptr<Clock> owned_clock;
  const Clock* clock = &SystemClock::instance();
  std::unique_ptr<Store> store;
  std::unique_ptr<Ingest> ingest;
  http::Router router;
  http::ApiContext api;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<sim::DemoPlant> plant;
  asio::signal_set signals{io, SIGINT, SIGTERM, SIGHUP};
  asio::steady_timer sim_timer{io};
  asio::steady_timer watchdog_timer{io};
  std::uint64_t watchdog_usec = 0;

  void wait_signals();
  void sim_tick();
  void pet_watchdog();
  void reload();
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

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

  StoreOptions so;
  so.path = c.storage.path;
  so.raw_retention_days = c.storage.raw_retention_days;
  so.rollup_retention_days = c.storage.rollup_retention_days;
  so.checkpoint_interval_s = c.storage.checkpoint_interval_s;
  so.batch_max_rows = c.storage.batch_max_rows;
  so.batch_max_delay_ms = c.storage.batch_max_delay_ms;
  so.queue_max_rows = c.storage.queue_max_rows;
  so.waveforms_per_position = c.storage.waveforms_per_position;
  so.clock = g->clock;
  auto store = Store::open(so);
  if (!store) return store.status();
  g->store = std::move(*store);
  g->ingest = std::make_unique<Ingest>(*g->store, *g->clock);

  // ---- sources ----
  if (mode == Mode::kDemo) {
    g->plant = std::make_unique<sim::DemoPlant>(*g->store, *g->ingest, c.demo, g->clock->now_ms());
    VIGIL_RETURN_IF_ERROR(g->plant->setup());
  }
  if (c.ble.enabled) {
    spdlog::warn("ble: enabled in the configuration, but this build has no BLE scanner yet");
  }

  // ---- analytics ----

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
  http::register_api(g->router, api);
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
    ho.tls = c.http.tls;
    ho.cert_file = c.http.cert_file;
    ho.key_file = c.http.key_file;
    g->server = std::make_unique<http::Server>(g->io, g->router, ho);
    VIGIL_RETURN_IF_ERROR(g->server->listen());
    spdlog::info("http: listening on {}://{}:{}", ho.tls ? "https" : "http", ho.address, g->server->port());
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
    if (server) server->stop();
    sim_timer.cancel();
    watchdog_timer.cancel();
    io.stop();
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
  g.io.run();
  // Graceful stop: flush what is queued, checkpoint, close.
  auto s = g.store->flush();
  if (!s.ok()) spdlog::error("stop: flush: {}", s.ToString());
  s = g.store->checkpoint();
  if (!s.ok()) spdlog::error("stop: checkpoint: {}", s.ToString());
  spdlog::info("stopped");
  return s.ok() ? 0 : 1;
}

}  // namespace vigil::app
