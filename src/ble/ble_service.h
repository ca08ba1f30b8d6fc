// SPDX-License-Identifier: Apache-2.0
//
// BleService: runs the Scanner. Owns the BluezBus (sdbus-c++ by default) and
// one worker thread.
//
// Threads. The sdbus-c++ connection runs its own event loop thread
// (enterEventLoopAsync, never also polled from asio); its signal handlers only
// convert messages and push them onto a bounded queue (max_queued_events;
// overflow is counted as dropped, never blocks the D-Bus thread). The worker
// thread drains the queue into Scanner::handle() and calls Scanner::tick()
// once a second; every blocking D-Bus call (StartDiscovery, RemoveDevice,
// GATT reads, all with timeouts) happens there, so a hung bluetoothd never
// stalls the gateway's io_context (HTTP keeps answering, /api/v1/health shows
// the BLE component's state).
//
// If the system bus itself is unreachable, the service keeps retrying every
// bus_retry_s and reports "no_dbus".
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "ble/bluez_bus.h"
#include "ble/relay.h"
#include "ble/scanner.h"
#include "ble/sensor_config.h"
#include "config/config.h"

namespace vigil::ble {

struct ServiceOptions {
  ScannerOptions scanner;
  std::size_t max_queued_events = 65536;
  int bus_retry_s = 10;
  std::chrono::milliseconds tick{1000};
  // false = relays only (ble.enabled off, ble.relay_topics set): no D-Bus,
  // no radio; relayed adverts are still decoded and stored.
  bool radio = true;
  std::size_t max_queued_relayed = 4096;
};

ScannerOptions scanner_options(const BleConfig& c);

class BleService {
 public:
  using BusFactory = std::function<Result<std::unique_ptr<BluezBus>>()>;
  // bus_factory defaults to make_sdbus_bus. Store, ingest and clock must
  // outlive the service.
  static Result<std::unique_ptr<BleService>> create(Store& store, Ingest& ingest, const Clock& clock,
                                                    ServiceOptions options, BusFactory bus_factory = nullptr);
  ~BleService();  // stops the worker and the bus
  BleService(const BleService&) = delete;
  BleService& operator=(const BleService&) = delete;

  void start();
  void stop();
  // Where the scanner's sensor alerts go (Scanner::set_alert_sink; any thread).
  void set_alert_sink(SensorAlertSink sink);

  // A relayed advert (relay.h), from any thread: queued (bounded; overflow
  // counted in vigil_ble_relay_rejected_total{reason="queue_full"}) and
  // decoded on the worker like the radio's adverts.
  void relay(RelayedAdvert advert);
  // One relay MQTT message: counted in vigil_ble_relay_messages_total; over
  // the relay's rate (RelayRateLimiter, ble.relay_rate_per_s) it is dropped
  // as vigil_ble_relay_rejected_total{reason="rate"}; then parse_relay_json:
  // a bad one is counted in vigil_ble_relay_rejected_total{reason} and
  // logged, never stored; a good one goes to relay(). False when rejected.
  // Decoded ones feed vigil_ble_relay_latency_seconds_* (publish → ingest).
  // `via` (e.g. "gateway:<id>" for a plant peer, relay_out.h) replaces the
  // default "relay:<topic>" as where the sensor was heard.
  bool relay_message(const std::string& topic, const std::string& payload, const std::string& via = {});

  // A GATT procedure for the sensor `address` (firmware update,
  // configuration: dfu_client.h), from any thread. The worker runs it
  // between scanner work, one job at a time, and then calls `done` with its
  // outcome on the worker thread (Scanner::run_gatt_job's errors included).
  // Bounded: with kMaxGattJobs waiting, kResourceExhausted at once and
  // `done` is never called. On stop, waiting jobs get kUnavailable.
  static constexpr std::size_t kMaxGattJobs = 64;
  Status post_gatt_job(std::string address, Scanner::GattJob job, std::function<void(Status)> done);

  Scanner& scanner() { return *scanner_; }
  const Scanner& scanner() const { return *scanner_; }
  std::uint64_t events_dropped() const;

 private:
  BleService(std::unique_ptr<Scanner> scanner, ServiceOptions o, BusFactory f);
  void run();
  void try_bus();
  void push(BusEvent e);

  ServiceOptions o_;
  BusFactory factory_;
  std::unique_ptr<BluezBus> bus_;
  std::unique_ptr<Scanner> scanner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BusEvent> queue_;
  std::deque<RelayedAdvert> relayed_;
  struct PostedJob {
    std::string address;
    Scanner::GattJob job;
    std::function<void(Status)> done;
  };
  std::deque<PostedJob> gatt_jobs_;  // guarded by mu_
  Store* store_ = nullptr;            // set by create(); outlives the service
  const Clock* clock_ = nullptr;
  SensorConfigApplier config_applier_;  // worker thread only
  Counter *relay_accepted_, *relay_unknown_, *relay_queue_full_, *relay_rate_, *relay_messages_;
  RelayRateLimiter limiter_;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread worker_;
  std::chrono::steady_clock::time_point next_bus_try_{};
};

// A commissioned sensor's persisted BLE health (what the scanner last wrote,
// for a sensor the running scanner does not track, e.g. decommissioned), as
// the REST API shows it; null when there is no sensor `sensor_id`. Keys are
// never included. (Defined with the table, in sensor_health_table.cpp.)
Result<nlohmann::json> persisted_health(Store& store, Id sensor_id);

}  // namespace vigil::ble
