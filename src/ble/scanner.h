// SPDX-License-Identifier: Apache-2.0
//
// Scanner: vigil's BLE logic above the BluezBus seam — a coordinator over
// parts with one job each (private headers of this module):
//
//   DeviceTable          device_table.h    the mirror of BlueZ's Device1 objects; stale cleanup
//   Discovery            discovery.h       StartDiscovery, the silence watchdog, bluetoothd restarts
//   FrameRouter          frame_router.h    commissioned sensors, keys, decoder, counter restore
//   SensorHealthTracker  sensor_health.h   advert rate, interval, battery, silence → SensorAlerts
//   (persistence)        sensor_health_table.h  the ble_sensor_health table (this module's)
//   WaveformPuller       waveform_pull.h   when to pull, and the GATT download
//
// The Scanner routes bus events to them, runs their periodic work in tick(),
// and hands what they produce to the rest of vigil: readings and waveforms
// to Ingest (the one ingest path), sensor alerts to the SensorAlertSink
// (sensor_alerts.h; the alerts module records them). Devices that are not
// commissioned are only listed as discovered: nothing they send is decoded
// or stored. Decommissioned sensors are known but ignored: not listed as
// discovered, their adverts counted in vigil_ble_adverts_ignored_total
// {reason="decommissioned"}.
//
// Threading.
//   - handle(), tick(), pull_waveform() and set_bus() run on one thread (the
//     BleService worker; a unit test's thread), never concurrently. Only
//     they call the bus, and never with the scanner's lock held.
//   - The snapshot accessors (status_json, state, discovered, devices,
//     health, health_all, frames_accepted, adverts_total) and
//     reload_sensors_soon, note_dropped, set_alert_sink may be called from
//     any thread; they take the scanner's lock briefly.
//   - The lock guards the device table, the frame router, the health tracker
//     and the published discovery status. Under it the scanner only updates
//     those; it never calls the bus, Ingest, the store or the alert sink
//     while holding it. Readings are collected under the lock and submitted
//     after it is released, so Ingest's observers and the alert sink may call
//     back into the snapshot accessors. Lock order: under the scanner's
//     lock only the protocol Decoder's own (leaf) mutex is ever taken.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "ble/scanner_types.h"
#include "ble/sensor_alerts.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::ble {

class Scanner {
 public:
  // bus may be null (no system bus yet, see set_bus); the others must outlive
  // the Scanner.
  Scanner(BluezBus* bus, Ingest& ingest, Store& store, const Clock& clock, ScannerOptions options,
          MetricsRegistry& metrics = MetricsRegistry::global());
  ~Scanner();  // persists the health of every sensor
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Creates the module's table, loads the commissioned sensors and their
  // persisted health, and restores each decoder counter that is still valid.
  Status init();
  // On the worker thread, or while it is stopped.
  void set_bus(BluezBus* bus);
  // Where sensor alerts go (any thread). Without a sink they are logged at
  // warn and counted in vigil_ble_alerts_total all the same.
  void set_alert_sink(SensorAlertSink sink);
  // Where the radio's adverts of addresses this gateway does not know go
  // (neither commissioned nor decommissioned here): the plant relay
  // (relay_out.h). `rssi` is the device's last known RSSI. Called on the
  // worker thread, outside the scanner's lock; must not block. Set before
  // the worker starts (BleService::start), never while it runs.
  using ForeignAdvertSink =
      std::function<void(const std::string& address, const DeviceProps& p, std::optional<int> rssi)>;
  void set_foreign_advert_sink(ForeignAdvertSink sink);

  void handle(const BusEvent& e);
  // An advert a relay heard (relay.h): decoded like the radio's own (keys,
  // replay protection, ingest), `via` recorded as where the sensor was last
  // heard. False (nothing decoded) when `address` is not commissioned (a
  // decommissioned one's is counted as ignored, see is_decommissioned). On
  // the worker thread, like handle(). Frames lost (gaps in a sensor's frame
  // counter, sensor_health.h) are counted in vigil_ble_frames_lost_total
  // {via="radio"|"relay"} by the road of the frame after the gap.
  bool handle_relayed(const std::string& address, const DeviceProps& p, const std::string& via);
  // Periodic work; call about once a second.
  void tick();
  // Re-reads the sensors table at the next tick (after commissioning).
  void reload_sensors_soon();
  // Counted in status (events the worker had to drop: queue full).
  void note_dropped(std::uint64_t n);

  // ---- snapshots (any thread) ----
  nlohmann::json status_json() const;
  BleState state() const;
  // Devices heard, neither commissioned nor decommissioned, newest first.
  std::vector<DiscoveredDevice> discovered() const;
  std::vector<DiscoveredDevice> devices() const;  // every device heard, commissioned too
  std::optional<SensorHealth> health(Id sensor_id) const;
  std::vector<SensorHealth> health_all() const;
  std::uint64_t frames_accepted() const;
  std::uint64_t adverts_total() const;
  // A decommissioned sensor's address (normalised): its adverts are ignored
  // and counted in vigil_ble_adverts_ignored_total{reason="decommissioned"},
  // and it is not listed as discovered.
  bool is_decommissioned(const std::string& address) const;

  // Pulls the waveform of a commissioned sensor now and hands it to ingest
  // (tests, CLI). On the worker thread only.
  Status pull_waveform(const std::string& address);

  // Runs `job` with the bus and the device object of `address` (a GATT
  // procedure: firmware update, configuration). On the worker thread only.
  // kUnavailable without a D-Bus connection, kNotFound when BlueZ does not
  // know the device (not heard since bluetoothd started).
  using GattJob = std::function<Status(BluezBus& bus, const std::string& device_path)>;
  Status run_gatt_job(const std::string& address, const GattJob& job);

  // Each sensor's own waveform interval in seconds (the interval it reports,
  // sensor_config.h), replacing the previous map; a sensor absent from it
  // keeps ble.waveform_pull_interval_s. On the worker thread only.
  void set_waveform_intervals(std::map<std::string, int> seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::ble
