// SPDX-License-Identifier: Apache-2.0
//
// Scanner: vigil's BLE logic above the BluezBus seam.
//
//   - device table from GetManagedObjects + InterfacesAdded/Removed +
//     PropertiesChanged (RSSI, ServiceData, ManufacturerData), bounded;
//   - frame routing: a commissioned sensor's BTHome service data (UUID FCD2)
//     and vigil manufacturer data (company FFFF, magic 'V') go through the
//     protocol Decoder (keys from the sensors table) and then Ingest::submit,
//     the one ingest path; devices that are not commissioned are only listed
//     as discovered (nothing they send is decoded or stored);
//   - discovery: SetDiscoveryFilter{Transport=le, DuplicateData=true} +
//     StartDiscovery; re-synced when bluetoothd restarts (NameOwnerChanged),
//     restarted when adverts stop for discovery_silence_restart_s or the
//     adapter stops discovering; no adapter / powered off / no bluetoothd is
//     a status, not an error;
//   - stale cleanup: RemoveDevice for uncommissioned devices not heard for
//     stale_device_s (BlueZ's cache otherwise grows without bound);
//   - sensor health (last seen, RSSI, battery, advert rate, counter resets,
//     rejections by reason), persisted in `ble_sensor_health`; alerts
//     (model "sensorHealth") for missed intervals, low battery and frames
//     that fail authentication, replay or downgrade checks;
//   - waveform pull over the GATT service (docs/protocol.md §4) on a schedule
//     and when advertised velocity crosses the warning level.
//
// Threading: handle() and tick() are called from one thread (BleService's
// worker; the unit tests' thread). They never run concurrently. The snapshot
// accessors (status_json, discovered, health) may be called from any thread.
// handle() never calls the bus; tick() does (synchronously, with timeouts).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "protocol/decoder.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::ble {

struct ScannerOptions {
  std::string adapter = "hci0";  // adapter name; object path /org/bluez/<name>
  int discovery_silence_restart_s = 120;
  int stale_device_s = 900;
  int waveform_pull_interval_s = 3600;
  int missed_intervals_alert = 3;
  int sensor_poll_s = 5;          // re-read the sensors table (commissioning while running)
  int bluez_retry_s = 5;          // retry GetManagedObjects/StartDiscovery after a failure
  int health_flush_s = 30;        // persist ble_sensor_health
  int waveform_first_delay_s = 5;  // first pull after a sensor is first heard
  int waveform_retry_s = 60;
  int waveform_max_attempts = 3;
  int waveform_trigger_min_gap_s = 300;       // at most one triggered pull per 5 min
  double waveform_trigger_velocity_mm_s = 4.5;  // ISO 10816 class II zone B/C
  double battery_low_pct = 15;
  double battery_ok_pct = 25;  // re-arms the low-battery alert
  int rssi_reading_interval_s = 60;  // rssi_dbm readings per sensor
  TimestampMs interval_min_gap_ms = 1000;  // gaps below this are one burst
  std::size_t max_devices = 8192;        // device table bound
  std::size_t max_removals_per_tick = 64;
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds connect_timeout{15000};
  std::chrono::milliseconds gatt_timeout{5000};
};

enum class BleState { kStarting, kNoBus, kBluezUnavailable, kNoAdapter, kAdapterOff, kScanning, kDiscoveryFailed };
const char* to_string(BleState s);

struct DiscoveredDevice {
  std::string address;
  std::string name;
  std::optional<int> rssi_dbm;
  std::string format = "unknown";  // bthome | vigil | unknown
  TimestampMs first_seen = 0, last_seen = 0;
  std::uint64_t adverts = 0;
  bool commissioned = false;
};

struct SensorHealth {
  Id sensor_id = 0;
  std::string address;
  std::string name;
  std::optional<Id> position_id;
  TimestampMs last_seen = 0;
  std::optional<int> rssi_dbm;
  std::optional<double> battery_pct;
  double advert_rate_per_min = 0;
  std::optional<TimestampMs> expected_interval_ms;
  std::uint64_t adverts = 0;
  std::uint64_t frames_accepted = 0;
  std::uint64_t readings_rejected = 0;  // by ingest
  std::uint64_t counter_resets = 0;
  std::optional<std::uint32_t> last_counter;  // replay state, persisted
  std::map<std::string, std::uint64_t> rejected;  // protocol reject reason → count
  std::uint64_t waveforms = 0, waveform_failures = 0;
  TimestampMs last_waveform = 0;
  std::string last_error;
};

nlohmann::json to_json(const DiscoveredDevice& d);
nlohmann::json to_json(const SensorHealth& h);
std::string iso8601_utc(TimestampMs ts);

class Scanner {
 public:
  // bus may be null (no system bus yet, see set_bus); the others must outlive
  // the Scanner.
  Scanner(BluezBus* bus, Ingest& ingest, Store& store, const Clock& clock, ScannerOptions options,
          MetricsRegistry& metrics = MetricsRegistry::global());
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Creates the module's tables and loads sensors and persisted health.
  Status init();
  void set_bus(BluezBus* bus);

  void handle(const BusEvent& e);
  // Periodic work; call about once a second.
  void tick();
  // Re-reads the sensors table at the next tick (after commissioning).
  void reload_sensors_soon();
  // Counted in status (events the worker had to drop: queue full).
  void note_dropped(std::uint64_t n);

  // ---- snapshots (any thread) ----
  nlohmann::json status_json() const;
  BleState state() const;
  // Devices heard and not commissioned, newest first.
  std::vector<DiscoveredDevice> discovered() const;
  std::vector<DiscoveredDevice> devices() const;  // every device, commissioned too
  std::optional<SensorHealth> health(Id sensor_id) const;
  std::vector<SensorHealth> health_all() const;
  std::uint64_t frames_accepted() const;
  std::uint64_t adverts_total() const;

  // Pulls the waveform of a commissioned sensor now (tests, CLI). On the
  // worker thread only.
  Status pull_waveform(const std::string& address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::ble
