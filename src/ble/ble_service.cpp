// SPDX-License-Identifier: Apache-2.0
#include "ble/ble_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ble/sdbus_bus.h"
#include "ble/sensor_config.h"

namespace vigil::ble {

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Relay latency on /metrics, process-wide (the gauges outlive any service).
struct RelayLatencyMetrics {
  RelayLatency latency;
  std::array<Counter*, RelayLatency::kBucketsS.size() + 1> buckets{};
  Counter *count, *sum_ms;

  RelayLatencyMetrics() {
    auto& m = MetricsRegistry::global();
    const char* bh = "Relayed adverts by publish-to-ingest latency (cumulative; le in seconds)";
    for (std::size_t i = 0; i < RelayLatency::kBucketsS.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "le=\"%g\"", RelayLatency::kBucketsS[i]);
      buckets[i] = m.counter("vigil_ble_relay_latency_seconds_bucket", bh, le);
    }
    buckets.back() = m.counter("vigil_ble_relay_latency_seconds_bucket", bh, "le=\"+Inf\"");
    count = m.counter("vigil_ble_relay_latency_seconds_count", "Relayed adverts with a latency sample");
    sum_ms = m.counter("vigil_ble_relay_latency_ms_sum", "Sum of relayed adverts' publish-to-ingest latency, ms");
    m.gauge("vigil_ble_relay_latency_p50_seconds", "Median relay latency over the last 1024 relayed adverts",
            [this] { return latency.quantile_s(0.5); });
    m.gauge("vigil_ble_relay_latency_p99_seconds", "p99 relay latency over the last 1024 relayed adverts",
            [this] { return latency.quantile_s(0.99); });
  }
  void record(const RelayedAdvert& a, std::int64_t ingested_ms) {
    const std::int64_t ms = std::max<std::int64_t>(ingested_ms - a.published_ms.value_or(a.received_ms), 0);
    latency.record_ms(ms);
    const double s = static_cast<double>(ms) / 1000.0;
    for (std::size_t i = 0; i < RelayLatency::kBucketsS.size(); ++i)
      if (s <= RelayLatency::kBucketsS[i]) buckets[i]->inc();
    buckets.back()->inc();
    count->inc();
    sum_ms->inc(static_cast<std::uint64_t>(ms));
  }
  static RelayLatencyMetrics& get() {
    static RelayLatencyMetrics m;
    return m;
  }
};

}  // namespace

ScannerOptions scanner_options(const BleConfig& c) {
  ScannerOptions o;
  o.adapter = c.adapter;
  o.discovery_silence_restart_s = c.discovery_silence_restart_s;
  o.stale_device_s = c.stale_device_s;
  o.waveform_pull_interval_s = c.waveform_pull_interval_s;
  o.missed_intervals_alert = c.missed_intervals_alert;
  o.relay_rate_per_s = c.relay_rate_per_s;
  return o;
}

Result<std::unique_ptr<BleService>> BleService::create(Store& store, Ingest& ingest, const Clock& clock,
                                                       ServiceOptions options, BusFactory bus_factory) {
  if (!bus_factory) bus_factory = [] { return make_sdbus_bus(); };
  auto scanner = std::make_unique<Scanner>(nullptr, ingest, store, clock, options.scanner);
  VIGIL_RETURN_IF_ERROR(scanner->init().Annotate("ble"));
  auto svc = std::unique_ptr<BleService>(new BleService(std::move(scanner), std::move(options), std::move(bus_factory)));
  svc->store_ = &store;
  svc->clock_ = &clock;
  return svc;
}

BleService::BleService(std::unique_ptr<Scanner> scanner, ServiceOptions o, BusFactory f)
    : o_(std::move(o)), factory_(std::move(f)), scanner_(std::move(scanner)),
      limiter_(static_cast<double>(o_.scanner.relay_rate_per_s)) {
  auto& m = MetricsRegistry::global();
  relay_accepted_ = m.counter("vigil_ble_relay_adverts_total", "Relayed adverts of commissioned sensors decoded");
  const char* rh = "Relayed adverts dropped, by reason (relay.h)";
  relay_unknown_ = m.counter("vigil_ble_relay_rejected_total", rh, "reason=\"not_commissioned\"");
  relay_queue_full_ = m.counter("vigil_ble_relay_rejected_total", rh, "reason=\"queue_full\"");
  relay_rate_ = m.counter("vigil_ble_relay_rejected_total", rh, "reason=\"rate\"");
  relay_messages_ = m.counter("vigil_ble_relay_messages_total", "Relay messages received (before any check)");
  RelayLatencyMetrics::get();
}

bool BleService::relay_message(const std::string& topic, const std::string& payload, const std::string& via) {
  relay_messages_->inc();
  const std::int64_t received = wall_ms();
  if (!limiter_.allow(topic, received)) {
    relay_rate_->inc();
    return false;
  }
  auto a = parse_relay_json(payload, topic);
  if (a) {
    a->received_ms = received;
    if (!via.empty()) a->via = via;
  }
  if (!a) {
    const std::string reason = relay_reject_reason(a.status());
    MetricsRegistry::global()
        .counter("vigil_ble_relay_rejected_total", "Relayed adverts dropped, by reason (relay.h)",
                 "reason=\"" + reason + "\"")
        ->inc();
    // At most one warning a minute; the counters have the rest.
    static std::atomic<std::int64_t> last_log{0};
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    std::int64_t prev = last_log.load();
    if (now_s - prev >= 60 && last_log.compare_exchange_strong(prev, now_s))
      spdlog::warn("ble: relay message on {} rejected: {}", topic.substr(0, 200), a.status().message());
    return false;
  }
  relay(std::move(*a));
  return true;
}

void BleService::relay(RelayedAdvert advert) {
  if (advert.received_ms == 0) advert.received_ms = wall_ms();
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    if (relayed_.size() >= o_.max_queued_relayed) {
      relay_queue_full_->inc();
      return;
    }
    relayed_.push_back(std::move(advert));
  }
  cv_.notify_one();
}

BleService::~BleService() { stop(); }

void BleService::set_alert_sink(SensorAlertSink sink) { scanner_->set_alert_sink(std::move(sink)); }

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
  if (!o_.radio || bus_ || now < next_bus_try_) return;
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

Status BleService::post_gatt_job(std::string address, Scanner::GattJob job, std::function<void(Status)> done) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return Status::Unavailable("the BLE service is stopping");
    if (gatt_jobs_.size() >= kMaxGattJobs)
      return Status::ResourceExhausted("too many GATT jobs waiting (" + std::to_string(kMaxGattJobs) + ")");
    gatt_jobs_.push_back({std::move(address), std::move(job), std::move(done)});
  }
  cv_.notify_one();
  return Status::Ok();
}

void BleService::run() {
  auto next_tick = std::chrono::steady_clock::now();
  std::deque<BusEvent> batch;
  std::deque<RelayedAdvert> relayed;
  std::uint64_t reported_dropped = 0;
  for (bool last = false; !last;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_until(lk, next_tick,
                     [this] { return stopping_ || !queue_.empty() || !relayed_.empty() || !gatt_jobs_.empty(); });
      // On stop, what is queued is still decoded and stored (once): relayed
      // adverts are acknowledged to the broker already, nobody resends them.
      last = stopping_;
      batch.swap(queue_);
      relayed.swap(relayed_);
      if (dropped_ != reported_dropped) {
        scanner_->note_dropped(dropped_ - reported_dropped);
        reported_dropped = dropped_;
      }
    }
    for (auto& e : batch) scanner_->handle(e);
    batch.clear();
    for (auto& r : relayed) {
      if (scanner_->handle_relayed(r.address, r.props, r.via)) {
        relay_accepted_->inc();
        RelayLatencyMetrics::get().record(r, wall_ms());
      } else if (!scanner_->is_decommissioned(r.address)) {  // those: counted by the scanner
        relay_unknown_->inc();
        spdlog::debug("ble: relayed advert of {} (not commissioned) via {} ignored", r.address, r.via);
      }
    }
    relayed.clear();
    if (last) {
      std::deque<PostedJob> cancelled;
      {
        std::lock_guard lk(mu_);
        cancelled.swap(gatt_jobs_);
      }
      for (auto& j : cancelled)
        if (j.done) j.done(Status::Unavailable("the BLE service stopped"));
      break;
    }
    // One GATT job per pass, so adverts queued meanwhile are handled between jobs.
    std::optional<PostedJob> job;
    {
      std::lock_guard lk(mu_);
      if (!gatt_jobs_.empty()) {
        job = std::move(gatt_jobs_.front());
        gatt_jobs_.pop_front();
      }
    }
    if (job) {
      Status st = scanner_->run_gatt_job(job->address, job->job);
      if (job->done) job->done(st);
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      try_bus();
      scanner_->tick();
      if (store_ && clock_) config_applier_.tick(*scanner_, *store_, clock_->now_ms());
      next_tick = std::chrono::steady_clock::now() + o_.tick;
    }
  }
}

}  // namespace vigil::ble
