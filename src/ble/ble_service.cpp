// SPDX-License-Identifier: Apache-2.0
#include "ble/ble_service.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "ble/sdbus_bus.h"

namespace vigil::ble {

ScannerOptions scanner_options(const BleConfig& c) {
  ScannerOptions o;
  o.adapter = c.adapter;
  o.discovery_silence_restart_s = c.discovery_silence_restart_s;
  o.stale_device_s = c.stale_device_s;
  o.waveform_pull_interval_s = c.waveform_pull_interval_s;
  o.missed_intervals_alert = c.missed_intervals_alert;
  return o;
}

Result<std::unique_ptr<BleService>> BleService::create(Store& store, Ingest& ingest, const Clock& clock,
                                                       ServiceOptions options, BusFactory bus_factory) {
  if (!bus_factory) bus_factory = [] { return make_sdbus_bus(); };
  auto scanner = std::make_unique<Scanner>(nullptr, ingest, store, clock, options.scanner);
  VIGIL_RETURN_IF_ERROR(scanner->init().Annotate("ble"));
  return std::unique_ptr<BleService>(new BleService(std::move(scanner), std::move(options), std::move(bus_factory)));
}

BleService::BleService(std::unique_ptr<Scanner> scanner, ServiceOptions o, BusFactory f)
    : o_(std::move(o)), factory_(std::move(f)), scanner_(std::move(scanner)) {}

BleService::~BleService() { stop(); }

void BleService::start() {
  if (worker_.joinable()) return;
  worker_ = std::thread([this] { run(); });
}

void BleService::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (bus_) bus_->stop();  // joins the D-Bus loop thread; no more push()
  scanner_->set_bus(nullptr);
}

std::uint64_t BleService::events_dropped() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

void BleService::push(BusEvent e) {
  // D-Bus loop thread: never block, never grow without bound.
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    if (queue_.size() >= o_.max_queued_events) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(e));
  }
  cv_.notify_one();
}

void BleService::try_bus() {
  auto now = std::chrono::steady_clock::now();
  if (bus_ || now < next_bus_try_) return;
  next_bus_try_ = now + std::chrono::seconds(o_.bus_retry_s);
  auto b = factory_();
  if (!b) {
    spdlog::warn("ble: {}", b.status().message());
    return;
  }
  (*b)->set_event_handler([this](BusEvent e) { push(std::move(e)); });
  auto s = (*b)->start();
  if (!s.ok()) {
    spdlog::warn("ble: {}", s.message());
    return;
  }
  bus_ = std::move(*b);
  scanner_->set_bus(bus_.get());
}

void BleService::run() {
  auto next_tick = std::chrono::steady_clock::now();
  std::deque<BusEvent> batch;
  std::uint64_t reported_dropped = 0;
  while (true) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_until(lk, next_tick, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch.swap(queue_);
      if (dropped_ != reported_dropped) {
        scanner_->note_dropped(dropped_ - reported_dropped);
        reported_dropped = dropped_;
      }
    }
    for (auto& e : batch) scanner_->handle(e);
    batch.clear();
    if (std::chrono::steady_clock::now() >= next_tick) {
      try_bus();
      scanner_->tick();
      next_tick = std::chrono::steady_clock::now() + o_.tick;
    }
  }
}

// Reads the ble module's own table (ble_sensor_health) with the sensor row.
Result<nlohmann::json> persisted_health(Store& store, Id sensor_id) {
  nlohmann::json j = nullptr;
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT s.address, s.name, s.position_id, s.decommissioned_at, h.last_seen, h.rssi_dbm, h.battery_pct, "
        "h.adverts, h.frames_accepted, h.counter_resets, h.rejected_json, h.waveforms, h.last_waveform "
        "FROM sensors s LEFT JOIN ble_sensor_health h ON h.sensor_id = s.id WHERE s.id = ?");
    if (!q) return q.status();
    (*q)->bind(1, sensor_id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      auto& s = **q;
      auto rej = nlohmann::json::parse(s.is_null(10) ? std::string("{}") : s.text(10), nullptr, false);
      j = {{"sensor_id", sensor_id},
           {"address", s.text(0)},
           {"name", s.text(1)},
           {"position_id", s.is_null(2) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(2))},
           {"decommissioned", !s.is_null(3)},
           {"last_seen", s.is_null(4) || s.i64(4) == 0 ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(4)))},
           {"rssi_dbm", s.is_null(5) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(5))},
           {"battery_pct", s.is_null(6) ? nlohmann::json(nullptr) : nlohmann::json(s.f64(6))},
           {"adverts", s.is_null(7) ? 0 : s.i64(7)},
           {"frames_accepted", s.is_null(8) ? 0 : s.i64(8)},
           {"counter_resets", s.is_null(9) ? 0 : s.i64(9)},
           {"frames_rejected", rej.is_object() ? rej : nlohmann::json::object()},
           {"waveforms", s.is_null(11) ? 0 : s.i64(11)},
           {"last_waveform", s.is_null(12) ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(12)))}};
    }
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return j;
}

}  // namespace vigil::ble
