// SPDX-License-Identifier: Apache-2.0
//
// config/vigil.json is the file the Debian package installs as
// /etc/vigil/vigil.json and the reference of every option. These tests keep it
// from drifting away from the code: it must parse, name every option, and give
// each the default of src/config/config.h — except the deliberate differences
// of the installed gateway listed in kDeliberate below.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "config/config.h"

using namespace vigil;

namespace {

const std::string kShipped = std::string(VIGIL_SOURCE_DIR) + "/config/vigil.json";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every option the parser knows, by section. Adding an option to config.h and
// config.cpp means adding it here and, with its default and a comment, to
// config/vigil.json.
const std::map<std::string, std::set<std::string>> kOptions = {
    {"gateway", {"id", "name", "log_level"}},
    {"storage",
     {"path", "raw_retention_days", "rollup_retention_days", "checkpoint_interval_s", "batch_max_rows",
      "batch_max_delay_ms", "group_commit", "queue_max_rows", "waveforms_per_position", "waveforms_keep_daily", "page_size", "wal_autocheckpoint_mb", "integrity_check_interval_h",
      "clock_tolerance_s", "backup_dir", "backup_at", "backup_keep", "backup_passphrase_file"}},
    {"http",
     {"enabled", "address", "port", "tls", "cert_file", "key_file", "max_body_bytes", "request_timeout_s",
      "max_connections", "max_connections_per_client", "header_timeout_s", "idle_timeout_s", "max_header_bytes",
      "worker_threads", "max_queued_requests"}},
    {"ble",
     {"enabled", "adapter", "discovery_silence_restart_s", "stale_device_s", "waveform_pull_interval_s",
      "missed_intervals_alert", "relay_topics", "relay_rate_per_s"}},
    {"analytics", {"enabled", "learning_hours", "persistence_n", "persistence_m", "threads", "machine_classes"}},
    {"uplink",
     {"enabled", "host", "port", "protocol", "ca_file", "cert_file", "key_file", "client_id", "topic_prefix",
      "keepalive_s", "summary_interval_s", "outbox_max_mb", "send_raw_readings"}},
    {"plant", {"id", "state_interval_s", "url", "max_gateways", "relay", "relay_out_per_s", "command_key_file"}},
    {"notifications", {"smtp", "email_to", "public_url", "ack_link_ttl_h"}},
    {"monitoring",
     {"disk_free_warning_pct", "disk_free_alarm_pct", "uplink_down_alert_min", "ble_down_alert_min",
      "writer_lag_alert_s", "clock_jump_alert_s", "interval_s"}},
    {"firmware", {"signing_public_key_file", "engine_interval_s", "max_attempts"}},
    {"demo", {"time_factor", "seed", "fault_onset_hours", "fault_growth_hours", "measurement_interval_s"}},
};
// Options that are objects of options themselves, and their keys.
const std::map<std::string, std::set<std::string>> kNested = {
    {"notifications.smtp", {"host", "port", "starttls", "username", "password_file", "from", "ca_file"}},
};

// The installed gateway differs from the built-in defaults on purpose here
// (documented in the file's header and in docs/packaging.md).
const std::set<std::string> kDeliberate = {"http.tls", "http.port"};

}  // namespace

TEST_CASE("shipped config parses with load_config") {
  auto c = load_config(kShipped);
  INFO((c ? std::string() : c.status().message()));
  REQUIRE(c.ok());
  CHECK(c->source_path == kShipped);
}

TEST_CASE("shipped config names every option of every section, and nothing else") {
  auto root = nlohmann::json::parse(read_file(kShipped), nullptr, /*allow_exceptions=*/true,
                                    /*ignore_comments=*/true);
  REQUIRE(root.is_object());
  std::set<std::string> sections;
  for (auto it = root.begin(); it != root.end(); ++it) sections.insert(it.key());
  std::set<std::string> expected_sections;
  for (const auto& [name, keys] : kOptions) expected_sections.insert(name);
  CHECK(sections == expected_sections);

  for (const auto& [name, keys] : kOptions) {
    INFO("section " << name);
    REQUIRE(root.contains(name));
    std::set<std::string> present;
    for (auto it = root[name].begin(); it != root[name].end(); ++it) present.insert(it.key());
    CHECK(present == keys);
  }
  for (const auto& [path, keys] : kNested) {
    INFO("object " << path);
    auto dot = path.find('.');
    const auto& obj = root[path.substr(0, dot)][path.substr(dot + 1)];
    REQUIRE(obj.is_object());
    std::set<std::string> present;
    for (auto it = obj.begin(); it != obj.end(); ++it) present.insert(it.key());
    CHECK(present == keys);
  }
}

TEST_CASE("shipped config documents every option with a comment") {
  // Each section and each option has a // comment somewhere above it within
  // its section (options may share one, like cert_file/key_file).
  std::string text = read_file(kShipped);
  CHECK(text.rfind("// SPDX-License-Identifier: Apache-2.0", 0) == 0);
  std::istringstream in(text);
  std::string line;
  int comments = 0, options = 0;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line.compare(first, 2, "//") == 0) ++comments;
    else if (line[first] == '"' && line.back() != '{') ++options;  // not a section's opening line
  }
  std::size_t total = 0;
  for (const auto& [name, keys] : kOptions) total += keys.size();
  // A nested object's opening line ends with '{' (not counted); its keys are.
  for (const auto& [name, keys] : kNested) total += keys.size() - 1;
  CHECK(options == static_cast<int>(total));
  CHECK(comments >= options);  // comments explain options, with room to spare
}

TEST_CASE("shipped config equals the struct defaults except the documented differences") {
  auto parsed = load_config(kShipped);
  REQUIRE(parsed.ok());
  const Config& f = *parsed;
  const Config d{};

  // Deliberate differences of the installed gateway: HTTPS on 8443, a
  // self-signed certificate generated at first start (cert/key empty).
  CHECK(kDeliberate.size() == 2);
  CHECK(f.http.tls == true);
  CHECK(d.http.tls == false);
  CHECK(f.http.port == 8443);
  CHECK(f.http.cert_file.empty());
  CHECK(f.http.key_file.empty());
  // The installed paths the package, the unit and docs/packaging.md rely on.
  CHECK(f.storage.path == "/var/lib/vigil/vigil.db");
  CHECK(f.http.address == "0.0.0.0");

  // gateway
  CHECK(f.gateway.id == d.gateway.id);
  CHECK(f.gateway.name == d.gateway.name);
  CHECK(f.gateway.log_level == d.gateway.log_level);
  // storage
  CHECK(f.storage.path == d.storage.path);
  CHECK(f.storage.raw_retention_days == d.storage.raw_retention_days);
  CHECK(f.storage.rollup_retention_days == d.storage.rollup_retention_days);
  CHECK(f.storage.checkpoint_interval_s == d.storage.checkpoint_interval_s);
  CHECK(f.storage.batch_max_rows == d.storage.batch_max_rows);
  CHECK(f.storage.batch_max_delay_ms == d.storage.batch_max_delay_ms);
  CHECK(f.storage.group_commit == d.storage.group_commit);
  CHECK(f.storage.wal_autocheckpoint_mb == d.storage.wal_autocheckpoint_mb);
  CHECK(f.storage.queue_max_rows == d.storage.queue_max_rows);
  CHECK(f.storage.waveforms_per_position == d.storage.waveforms_per_position);
  // http (tls and port: deliberate, above)
  CHECK(f.http.enabled == d.http.enabled);
  CHECK(f.http.address == d.http.address);
  CHECK(f.http.cert_file == d.http.cert_file);
  CHECK(f.http.key_file == d.http.key_file);
  CHECK(f.http.max_body_bytes == d.http.max_body_bytes);
  CHECK(f.http.request_timeout_s == d.http.request_timeout_s);
  CHECK(f.http.max_connections == d.http.max_connections);
  CHECK(f.http.max_connections_per_client == d.http.max_connections_per_client);
  CHECK(f.http.header_timeout_s == d.http.header_timeout_s);
  CHECK(f.http.idle_timeout_s == d.http.idle_timeout_s);
  CHECK(f.http.max_header_bytes == d.http.max_header_bytes);
  CHECK(f.http.worker_threads == d.http.worker_threads);
  CHECK(f.http.max_queued_requests == d.http.max_queued_requests);
  // ble
  CHECK(f.ble.enabled == d.ble.enabled);
  CHECK(f.ble.adapter == d.ble.adapter);
  CHECK(f.ble.discovery_silence_restart_s == d.ble.discovery_silence_restart_s);
  CHECK(f.ble.stale_device_s == d.ble.stale_device_s);
  CHECK(f.ble.waveform_pull_interval_s == d.ble.waveform_pull_interval_s);
  CHECK(f.ble.missed_intervals_alert == d.ble.missed_intervals_alert);
  CHECK(f.ble.relay_topics == d.ble.relay_topics);
  // plant
  CHECK(f.plant.id == d.plant.id);
  CHECK(f.plant.state_interval_s == d.plant.state_interval_s);
  CHECK(f.plant.url == d.plant.url);
  CHECK(f.plant.max_gateways == d.plant.max_gateways);
  CHECK(f.plant.relay == d.plant.relay);
  CHECK(f.plant.relay_out_per_s == d.plant.relay_out_per_s);
  CHECK(f.plant.command_key_file == d.plant.command_key_file);
  // analytics
  CHECK(f.analytics.enabled == d.analytics.enabled);
  CHECK(f.analytics.learning_hours == d.analytics.learning_hours);
  CHECK(f.analytics.persistence_n == d.analytics.persistence_n);
  CHECK(f.analytics.persistence_m == d.analytics.persistence_m);
  CHECK(f.analytics.threads == d.analytics.threads);
  CHECK(f.analytics.machine_classes == d.analytics.machine_classes);
  // uplink
  CHECK(f.uplink.enabled == d.uplink.enabled);
  CHECK(f.uplink.host == d.uplink.host);
  CHECK(f.uplink.port == d.uplink.port);
  CHECK(f.uplink.protocol == d.uplink.protocol);
  CHECK(f.uplink.ca_file == d.uplink.ca_file);
  CHECK(f.uplink.cert_file == d.uplink.cert_file);
  CHECK(f.uplink.key_file == d.uplink.key_file);
  CHECK(f.uplink.client_id == d.uplink.client_id);
  CHECK(f.uplink.topic_prefix == d.uplink.topic_prefix);
  CHECK(f.uplink.keepalive_s == d.uplink.keepalive_s);
  CHECK(f.uplink.summary_interval_s == d.uplink.summary_interval_s);
  CHECK(f.uplink.outbox_max_mb == d.uplink.outbox_max_mb);
  CHECK(f.uplink.send_raw_readings == d.uplink.send_raw_readings);
  // demo
  CHECK(f.demo.time_factor == d.demo.time_factor);
  CHECK(f.demo.seed == d.demo.seed);
  CHECK(f.demo.fault_onset_hours == d.demo.fault_onset_hours);
  CHECK(f.demo.fault_growth_hours == d.demo.fault_growth_hours);
  CHECK(f.demo.measurement_interval_s == d.demo.measurement_interval_s);
}
