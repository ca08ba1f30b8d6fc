// SPDX-License-Identifier: Apache-2.0
//
// vigil's configuration: one JSON-with-comments file (config/vigil.json lists
// every option with its default). Every field below has the documented
// default; parse_config() fills only what the file names, rejects unknown keys
// and values of the wrong type or range with "FILE:LINE: message".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil {

struct GatewayConfig {
  std::string id = "vigil-gw";  // appears in MQTT topics and the dashboard
  std::string name = "vigil gateway";
  std::string log_level = "info";  // trace|debug|info|warn|error|off (SIGHUP reloads)
};

struct StorageConfig {
  std::string path = "/var/lib/vigil/vigil.db";
  int raw_retention_days = 365;      // raw points older than this are dropped...
  int rollup_retention_days = 3650;  // ...hourly min/max/mean kept this long
  int checkpoint_interval_s = 43200;  // ingest log → compressed chunks (12 h: flash wear)
  int batch_max_rows = 20000;        // one writer transaction holds at most this
  int batch_max_delay_ms = 30000;    // the commit interval (flash wear vs kill -9 losses)
  bool group_commit = true;          // data-path writes share one transaction per interval
  int queue_max_rows = 500000;       // ingest back-pressure limit
  int waveforms_per_position = 500;  // newest raw waveform snapshots kept at full rate
  bool waveforms_keep_daily = true;  // beyond them, the first of each day (for raw_retention_days)
  int page_size = 1024;              // bytes per database page of a NEW database (flash wear)
  int wal_autocheckpoint_mb = 256;   // WAL size at which SQLite copies it into the database (flash wear)
  int integrity_check_interval_h = 6;  // PRAGMA quick_check this often (and at start); 0 = only at start
  int clock_tolerance_s = 300;         // health: clock behind the newest stored point by more = broken
  // Nightly backup (docs/storage.md): empty = off. A directory (a USB stick,
  // a network share) where `vigil backup` files are written every day at
  // backup_at (local time), and at start when the newest is older than a day.
  std::string backup_dir;
  std::string backup_at = "02:00";     // HH:MM local time
  int backup_keep = 7;                 // newest backups kept in backup_dir
  std::string backup_passphrase_file;  // encrypt them (recommended: they hold keys)
  // Command line only (vigil serve --new-database), never read from the file:
  // start with an empty database although one existed at `path`.
  bool new_database = false;
};

struct HttpConfig {
  bool enabled = true;
  std::string address = "0.0.0.0";
  int port = 8080;
  bool tls = false;
  std::string cert_file;  // empty with tls = self-signed under the data dir
  std::string key_file;
  int max_body_bytes = 1 << 20;
  int request_timeout_s = 30;
  int max_connections = 512;
  int max_connections_per_client = 256;  // per IPv4 address / IPv6 /64, loopback included
  int header_timeout_s = 10;              // the whole request head must arrive within this
  int idle_timeout_s = 15;                // keep-alive wait for the next request
  int max_header_bytes = 16384;           // request line + headers; more → 431
  int worker_threads = 0;                 // request handlers; 0 = hardware threads + 2, at least 4
  int max_queued_requests = 256;          // waiting for a worker; more → 503 + Retry-After
};

struct BleConfig {
  bool enabled = false;
  std::string adapter = "hci0";
  int discovery_silence_restart_s = 120;  // restart discovery after this much silence
  int stale_device_s = 900;               // remove uncommissioned devices BlueZ caches
  int waveform_pull_interval_s = 3600;
  int missed_intervals_alert = 3;
  // MQTT topic filters (on the uplink's broker) carrying adverts relayed by
  // OpenMQTTGateway / Theengs Gateway as JSON (docs/plant.md); they are
  // decoded like the radio's own. Empty = no relays. Needs uplink.enabled.
  std::vector<std::string> relay_topics;
  // Relayed adverts a second per relay (token bucket, 1 s burst); the excess
  // is counted in vigil_ble_relay_rejected_total{reason="rate"}.
  int relay_rate_per_s = 1000;
};

struct AnalyticsConfig {
  bool enabled = true;
  double learning_hours = 48;
  int persistence_n = 2;  // N of the last M points above threshold = persistent
  int persistence_m = 3;
  int threads = 1;
  // Plant-specific ISO zone classes, name → limits (checked with
  // check_machine_class). Hide a built-in class of the same name; classes
  // added at runtime (REST, MQTT) hide these in turn.
  std::map<std::string, ZoneLimits> machine_classes;
};

struct UplinkConfig {
  bool enabled = false;
  std::string host = "localhost";
  int port = 8883;
  std::string protocol = "mqttv5";  // mqttv311 | mqttv5
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string client_id;                 // empty = gateway id
  std::string topic_prefix = "vigil/{gateway_id}";
  int keepalive_s = 60;
  int summary_interval_s = 3600;
  int outbox_max_mb = 64;
  bool send_raw_readings = false;
};

// A plant: gateways with the same id on the same broker (the uplink's) share
// a plant view (docs/plant.md). Needs uplink.enabled.
struct PlantConfig {
  std::string id;               // empty = no plant; 1..64 of A-Z a-z 0-9 . _ -
  int state_interval_s = 60;    // this gateway's state document is republished this often
  std::string url;              // this gateway's dashboard as others link it; empty = http(s)://<hostname>:<http.port>/
  int max_gateways = 256;       // plant view bound (gateways beyond are dropped and counted)
  // Relaying between the plant's gateways (docs/plant.md): BTHome adverts of
  // addresses unknown here go to the plant, and the plant's relayed adverts
  // are heard. false = neither direction.
  bool relay = true;
  int relay_out_per_s = 200;    // adverts this gateway relays a second at most (excess dropped and counted)
  // Commands between the plant's gateways (commission, move, re-assign a
  // sensor on another gateway; uplink/plant_command.h): a file with the
  // plant's 32-byte key as 64 hex digits, the same on every gateway. Empty =
  // commands off (neither sent nor accepted).
  std::string command_key_file;
};

// Alerts that reach people (docs/notifications.md). Channels, routes and
// rules live in the database (dashboard, REST); this section holds the SMTP
// relay and the simplest routing: every warning and alarm to email_to.
struct NotificationsConfig {
  struct Smtp {
    std::string host;                 // empty = no email
    int port = 25;
    std::string starttls = "on";      // off | on (when offered) | required
    std::string username;
    std::string password_file;        // the password, read at start (never in this file)
    std::string from = "vigil@localhost";
    std::string ca_file;              // verify the relay's certificate against this CA; empty = system CAs
  } smtp;
  std::vector<std::string> email_to;
  std::string public_url;   // base of links in messages; empty = http(s)://<hostname>:<http.port>
  int ack_link_ttl_h = 72;  // acknowledge links expire after this
};

// Gateway self-monitoring: conditions of the box itself raised as alerts
// (model "gateway"). 0 disables a check.
struct MonitoringConfig {
  double disk_free_warning_pct = 10;  // free space on the database's disk below this → warning
  double disk_free_alarm_pct = 3;     // → alarm
  int uplink_down_alert_min = 30;     // uplink enabled and disconnected this long
  int ble_down_alert_min = 5;         // BLE enabled and the adapter unusable this long
  int writer_lag_alert_s = 60;        // oldest reading waiting for the store's writer
  int clock_jump_alert_s = 300;       // wall clock moved against the monotonic clock by more
  int interval_s = 10;                // how often the checks run
};

// Sensor firmware update (src/firmware, docs/firmware.md).
struct FirmwareConfig {
  // The vendor's Ed25519 public key (PEM, `vigil firmware keygen` writes it
  // as KEY.pub.pem): uploaded images must be signed by its private key.
  // Empty = uploads refused (409), rollouts of stored images still run.
  std::string signing_public_key_file;
  // Seconds between passes of the rollout engine.
  int engine_interval_s = 10;
  // A sensor whose transfer drops this many times is marked failed.
  int max_attempts = 3;
};

struct DemoConfig {
  double time_factor = 600;  // simulated seconds per wall second
  std::uint32_t seed = 7;
  double fault_onset_hours = 6;    // sim time before the bearing fault starts
  double fault_growth_hours = 72;  // sim time from onset to severe damage
  double measurement_interval_s = 600;
};

struct Config {
  std::string source_path;  // file it was read from ("" = defaults)
  GatewayConfig gateway;
  StorageConfig storage;
  HttpConfig http;
  BleConfig ble;
  AnalyticsConfig analytics;
  UplinkConfig uplink;
  PlantConfig plant;
  NotificationsConfig notifications;
  MonitoringConfig monitoring;
  FirmwareConfig firmware;
  DemoConfig demo;
};

// Parses JSON-with-comments text. `filename` is used in error messages only.
Result<Config> parse_config(const std::string& text, const std::string& filename);
// Reads and parses a file; I/O errors name the file.
Result<Config> load_config(const std::string& path);

}  // namespace vigil
