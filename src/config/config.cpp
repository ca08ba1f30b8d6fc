// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "config/key_lines.h"

namespace vigil {
namespace {

using json = nlohmann::json;

// "FILE:LINE" of a key path ("storage.path"), "FILE:?" if unknown.
std::string line_of(const std::string& file, const std::map<std::string, int>& lines, const std::string& path) {
  auto l = lines.find(path);
  return file + ":" + (l == lines.end() ? std::string("?") : std::to_string(l->second));
}

// Reads one object section, checking types and ranges; remembers the first
// error with the line of the offending key.
class SectionReader {
 public:
  SectionReader(const json& obj, std::string section, const std::string& file,
                const std::map<std::string, int>& lines)
      : obj_(obj), section_(std::move(section)), file_(file), lines_(lines) {}

  void str(const char* key, std::string& out, std::initializer_list<const char*> allowed = {}) {
    auto* v = take(key);
    if (!v) return;
    if (!v->is_string()) return fail(key, "must be a string");
    std::string s = v->get<std::string>();
    if (allowed.size()) {
      bool ok = false;
      std::string list;
      for (auto a : allowed) {
        ok |= (s == a);
        list += (list.empty() ? "" : "|") + std::string(a);
      }
      if (!ok) return fail(key, "must be one of " + list + ", got '" + s + "'");
    }
    out = s;
  }
  void boolean(const char* key, bool& out) {
    auto* v = take(key);
    if (!v) return;
    if (!v->is_boolean()) return fail(key, "must be true or false");
    out = v->get<bool>();
  }
  template <typename I>
  void integer(const char* key, I& out, long long lo, long long hi) {
    auto* v = take(key);
    if (!v) return;
    if (!v->is_number_integer()) return fail(key, "must be an integer");
    long long x = v->get<long long>();
    if (x < lo || x > hi)
      return fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    out = static_cast<I>(x);
  }
  void number(const char* key, double& out, double lo, double hi) {
    auto* v = take(key);
    if (!v) return;
    if (!v->is_number()) return fail(key, "must be a number");
    double x = v->get<double>();
    if (!(x >= lo && x <= hi)) {
      std::ostringstream m;
      m << "must be between " << lo << " and " << hi;
      return fail(key, m.str());
    }
    out = x;
  }
  void strings(const char* key, std::vector<std::string>& out) {
    auto* v = take(key);
    if (!v) return;
    if (!v->is_array()) return fail(key, "must be a list of strings");
    std::vector<std::string> list;
    for (const auto& x : *v) {
      if (!x.is_string()) return fail(key, "must be a list of strings");
      list.push_back(x.get<std::string>());
    }
    out = std::move(list);
  }
  // A nested object, or nullptr when absent (or not an object: an error).
  const json* object(const char* key) {
    auto* v = take(key);
    if (v && !v->is_object()) {
      fail(key, "must be an object");
      return nullptr;
    }
    return v;
  }
  // Call after all fields: unknown keys are errors.
  Status finish() {
    if (!err_.ok()) return err_;
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (!seen_.count(it.key())) {
        return error_at(section_ + "." + it.key(),
                        "unknown key '" + it.key() + "' in section '" + section_ + "'");
      }
    }
    return Status::Ok();
  }
  Status error_at(const std::string& path, const std::string& msg) const {
    return Status::InvalidArgument(line_of(file_, lines_, path) + ": " + msg);
  }

 private:
  const json* take(const char* key) {
    seen_.insert(key);
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  void fail(const char* key, const std::string& msg) {
    if (err_.ok()) err_ = error_at(section_ + "." + key, section_ + "." + key + " " + msg);
  }
  const json& obj_;
  std::string section_;
  const std::string& file_;
  const std::map<std::string, int>& lines_;
  std::set<std::string> seen_;
  Status err_;
};

// analytics.machine_classes: name → {"ab", "bc", "cd"}, each class checked
// with the rule every other road (REST, MQTT) uses.
Status read_machine_classes(const json& obj, const std::string& file, const std::map<std::string, int>& lines,
                            std::map<std::string, ZoneLimits>& out) {
  const std::string section = "analytics.machine_classes";
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string path = section + "." + it.key();
    if (!valid_machine_class_name(it.key()))
      return Status::InvalidArgument(line_of(file, lines, path) + ": " + section + ": '" + it.key() +
                                     "' is not a valid class name (1..64 characters of A-Z a-z 0-9 . _ -)");
    if (!it->is_object())
      return Status::InvalidArgument(line_of(file, lines, path) + ": " + path +
                                     " must be an object {\"ab\": …, \"bc\": …, \"cd\": …} (mm/s)");
    for (const char* k : {"ab", "bc", "cd"})
      if (!it->contains(k))
        return Status::InvalidArgument(line_of(file, lines, path) + ": " + path + " needs \"ab\", \"bc\" and \"cd\"");
    ZoneLimits l;
    SectionReader r(*it, path, file, lines);
    r.number("ab", l.ab, 0, kMaxZoneLimitMmS);
    r.number("bc", l.bc, 0, kMaxZoneLimitMmS);
    r.number("cd", l.cd, 0, kMaxZoneLimitMmS);
    VIGIL_RETURN_IF_ERROR(r.finish());
    if (auto s = check_machine_class(it.key(), l); !s.ok())
      return Status::InvalidArgument(line_of(file, lines, path) + ": " + section + ": " + s.message());
    out[it.key()] = l;
  }
  return Status::Ok();
}

bool valid_plant_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-')) return false;
  return true;
}

// MQTT 3.1.1 §4.7: '#' only as the last whole level, '+' only as a whole level.
bool valid_topic_filter(const std::string& f) {
  if (f.empty() || f.size() > 256 || f.find('\0') != std::string::npos) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t end = f.find('/', start);
    std::string level = f.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (level.find_first_of("+#") != std::string::npos && level.size() != 1) return false;
    if (level == "#" && end != std::string::npos) return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<Config> parse_config(const std::string& text, const std::string& filename) {
  json root;
  try {
    root = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    int line = config_detail::line_of_offset(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    auto pos = what.find("]: ");
    if (pos != std::string::npos) what = what.substr(pos + 3);
    return Status::InvalidArgument(filename + ":" + std::to_string(line) + ": " + what);
  } catch (const json::exception& e) {
    // out_of_range 406: a number too large for a double ("1E999"). The
    // message quotes the token; its first occurrence gives the line.
    std::string what = e.what();
    auto pos = what.find("]: ");
    if (pos != std::string::npos) what = what.substr(pos + 3);
    int line = 1;
    auto q1 = what.find('\''), q2 = what.rfind('\'');
    if (q1 != std::string::npos && q2 > q1 + 1) {
      auto at = text.find(what.substr(q1 + 1, q2 - q1 - 1));
      if (at != std::string::npos) line = config_detail::line_of_offset(text, at);
    }
    return Status::InvalidArgument(filename + ":" + std::to_string(line) + ": " + what);
  }
  if (!root.is_object()) {
    return Status::InvalidArgument(filename + ":1: the configuration must be a JSON object");
  }
  auto lines = config_detail::key_lines(text);
  Config c;
  c.source_path = filename;

  static const json kEmpty = json::object();
  auto section = [&](const char* name) -> Result<const json*> {
    auto it = root.find(name);
    if (it == root.end()) return &kEmpty;
    if (!it->is_object()) {
      return Status::InvalidArgument(line_of(filename, lines, name) + ": section '" + name + "' must be an object");
    }
    return &*it;
  };
  static const std::set<std::string> kSections = {"gateway", "storage", "http", "ble",
                                                  "analytics", "uplink", "demo", "notifications",
                                                  "monitoring", "plant", "firmware"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!kSections.count(it.key())) {
      return Status::InvalidArgument(line_of(filename, lines, it.key()) + ": unknown section '" + it.key() + "'");
    }
  }

#define VIGIL_SECTION(name, body)                               \
  {                                                             \
    auto sec = section(name);                                   \
    if (!sec) return sec.status();                              \
    SectionReader r(**sec, name, filename, lines);              \
    body;                                                       \
    VIGIL_RETURN_IF_ERROR(r.finish());                          \
  }

  VIGIL_SECTION("gateway", {
    r.str("id", c.gateway.id);
    r.str("name", c.gateway.name);
    r.str("log_level", c.gateway.log_level, {"trace", "debug", "info", "warn", "error", "off"});
  });
  VIGIL_SECTION("storage", {
    r.str("path", c.storage.path);
    r.integer("raw_retention_days", c.storage.raw_retention_days, 1, 36500);
    r.integer("rollup_retention_days", c.storage.rollup_retention_days, 1, 36500);
    r.integer("checkpoint_interval_s", c.storage.checkpoint_interval_s, 1, 86400);
    r.integer("batch_max_rows", c.storage.batch_max_rows, 1, 1000000);
    r.integer("batch_max_delay_ms", c.storage.batch_max_delay_ms, 1, 60000);
    r.boolean("group_commit", c.storage.group_commit);
    r.integer("queue_max_rows", c.storage.queue_max_rows, 1000, 100000000);
    r.integer("waveforms_per_position", c.storage.waveforms_per_position, 0, 1000000);
    r.boolean("waveforms_keep_daily", c.storage.waveforms_keep_daily);
    r.integer("page_size", c.storage.page_size, 512, 65536);
    if (c.storage.page_size & (c.storage.page_size - 1))
      return r.error_at("storage.page_size", "must be a power of two from 512 to 65536, got " +
                                                 std::to_string(c.storage.page_size));
    r.integer("wal_autocheckpoint_mb", c.storage.wal_autocheckpoint_mb, 1, 1024);
    r.integer("integrity_check_interval_h", c.storage.integrity_check_interval_h, 0, 8760);
    r.integer("clock_tolerance_s", c.storage.clock_tolerance_s, 1, 30 * 86400);
    r.str("backup_dir", c.storage.backup_dir);
    r.str("backup_at", c.storage.backup_at);
    {
      const std::string& at = c.storage.backup_at;
      const bool ok = at.size() == 5 && at[2] == ':' && std::isdigit(static_cast<unsigned char>(at[0])) &&
                      std::isdigit(static_cast<unsigned char>(at[1])) && std::isdigit(static_cast<unsigned char>(at[3])) &&
                      std::isdigit(static_cast<unsigned char>(at[4])) && (at[0] - '0') * 10 + (at[1] - '0') < 24 &&
                      (at[3] - '0') * 10 + (at[4] - '0') < 60;
      if (!ok) return r.error_at("storage.backup_at", "must be a time of day HH:MM (00:00..23:59), got '" + at + "'");
    }
    r.integer("backup_keep", c.storage.backup_keep, 1, 3650);
    r.str("backup_passphrase_file", c.storage.backup_passphrase_file);
  });
  VIGIL_SECTION("http", {
    r.boolean("enabled", c.http.enabled);
    r.str("address", c.http.address);
    r.integer("port", c.http.port, 0, 65535);
    r.boolean("tls", c.http.tls);
    r.str("cert_file", c.http.cert_file);
    r.str("key_file", c.http.key_file);
    r.integer("max_body_bytes", c.http.max_body_bytes, 1024, 1 << 30);
    r.integer("request_timeout_s", c.http.request_timeout_s, 1, 3600);
    r.integer("max_connections", c.http.max_connections, 1, 100000);
    r.integer("max_connections_per_client", c.http.max_connections_per_client, 1, 100000);
    r.integer("header_timeout_s", c.http.header_timeout_s, 1, 3600);
    r.integer("idle_timeout_s", c.http.idle_timeout_s, 1, 3600);
    r.integer("max_header_bytes", c.http.max_header_bytes, 1024, 1 << 20);
    r.integer("worker_threads", c.http.worker_threads, 0, 256);
    r.integer("max_queued_requests", c.http.max_queued_requests, 1, 1000000);
  });
  VIGIL_SECTION("ble", {
    r.boolean("enabled", c.ble.enabled);
    r.str("adapter", c.ble.adapter);
    r.integer("discovery_silence_restart_s", c.ble.discovery_silence_restart_s, 5, 86400);
    r.integer("stale_device_s", c.ble.stale_device_s, 10, 86400 * 30);
    r.integer("waveform_pull_interval_s", c.ble.waveform_pull_interval_s, 60, 86400 * 7);
    r.integer("missed_intervals_alert", c.ble.missed_intervals_alert, 1, 1000);
    r.integer("relay_rate_per_s", c.ble.relay_rate_per_s, 1, 100000);
    r.strings("relay_topics", c.ble.relay_topics);
    if (c.ble.relay_topics.size() > 64) return r.error_at("ble.relay_topics", "ble.relay_topics: at most 64 filters");
    for (const auto& f : c.ble.relay_topics)
      if (!valid_topic_filter(f))
        return r.error_at("ble.relay_topics", "ble.relay_topics: '" + f +
                                                  "' is not an MQTT topic filter (1..256 bytes; + and # only as whole "
                                                  "levels, # last)");
  });
  VIGIL_SECTION("analytics", {
    r.boolean("enabled", c.analytics.enabled);
    r.number("learning_hours", c.analytics.learning_hours, 0.1, 24 * 365);
    r.integer("persistence_n", c.analytics.persistence_n, 1, 100);
    r.integer("persistence_m", c.analytics.persistence_m, 1, 100);
    r.integer("threads", c.analytics.threads, 1, 64);
    if (const json* mc = r.object("machine_classes"))
      VIGIL_RETURN_IF_ERROR(read_machine_classes(*mc, filename, lines, c.analytics.machine_classes));
  });
  if (c.analytics.persistence_n > c.analytics.persistence_m) {
    return Status::InvalidArgument(line_of(filename, lines, "analytics.persistence_n") +
                                   ": analytics.persistence_n must not exceed persistence_m");
  }
  VIGIL_SECTION("uplink", {
    r.boolean("enabled", c.uplink.enabled);
    r.str("host", c.uplink.host);
    r.integer("port", c.uplink.port, 1, 65535);
    r.str("protocol", c.uplink.protocol, {"mqttv311", "mqttv5"});
    r.str("ca_file", c.uplink.ca_file);
    r.str("cert_file", c.uplink.cert_file);
    r.str("key_file", c.uplink.key_file);
    r.str("client_id", c.uplink.client_id);
    r.str("topic_prefix", c.uplink.topic_prefix);
    r.integer("keepalive_s", c.uplink.keepalive_s, 5, 3600);
    r.integer("summary_interval_s", c.uplink.summary_interval_s, 60, 86400);
    r.integer("outbox_max_mb", c.uplink.outbox_max_mb, 1, 100000);
    r.boolean("send_raw_readings", c.uplink.send_raw_readings);
  });
  VIGIL_SECTION("plant", {
    r.str("id", c.plant.id);
    if (!c.plant.id.empty() && !valid_plant_id(c.plant.id))
      return r.error_at("plant.id", "plant.id: '" + c.plant.id + "' is not a valid plant id (1..64 of A-Z a-z 0-9 . _ -)");
    r.integer("state_interval_s", c.plant.state_interval_s, 5, 86400);
    r.str("url", c.plant.url);
    r.integer("max_gateways", c.plant.max_gateways, 1, 10000);
    r.boolean("relay", c.plant.relay);
    r.integer("relay_out_per_s", c.plant.relay_out_per_s, 1, 100000);
    r.str("command_key_file", c.plant.command_key_file);
  });
  // The gateway id names our topic in the plant's tree: no MQTT wildcards or levels.
  if (!c.plant.id.empty() && !valid_plant_id(c.gateway.id))
    return Status::InvalidArgument(line_of(filename, lines, "plant.id") + ": plant.id is set, so gateway.id '" +
                                   c.gateway.id + "' must be 1..64 characters of A-Z a-z 0-9 . _ -");
  VIGIL_SECTION("notifications", {
    if (const json* smtp = r.object("smtp")) {
      SectionReader s(*smtp, "notifications.smtp", filename, lines);
      auto& o = c.notifications.smtp;
      s.str("host", o.host);
      s.integer("port", o.port, 1, 65535);
      s.str("starttls", o.starttls, {"off", "on", "required"});
      s.str("username", o.username);
      s.str("password_file", o.password_file);
      s.str("from", o.from);
      s.str("ca_file", o.ca_file);
      VIGIL_RETURN_IF_ERROR(s.finish());
    }
    r.strings("email_to", c.notifications.email_to);
    for (const auto& to : c.notifications.email_to)
      if (to.find('@') == std::string::npos || to.find_first_of(" \r\n<>,;") != std::string::npos)
        return r.error_at("notifications.email_to", "notifications.email_to: '" + to + "' is not an email address");
    r.str("public_url", c.notifications.public_url);
    r.integer("ack_link_ttl_h", c.notifications.ack_link_ttl_h, 1, 24 * 30);
  });
  VIGIL_SECTION("monitoring", {
    r.number("disk_free_warning_pct", c.monitoring.disk_free_warning_pct, 0, 100);
    r.number("disk_free_alarm_pct", c.monitoring.disk_free_alarm_pct, 0, 100);
    r.integer("uplink_down_alert_min", c.monitoring.uplink_down_alert_min, 0, 100000);
    r.integer("ble_down_alert_min", c.monitoring.ble_down_alert_min, 0, 100000);
    r.integer("writer_lag_alert_s", c.monitoring.writer_lag_alert_s, 0, 86400);
    r.integer("clock_jump_alert_s", c.monitoring.clock_jump_alert_s, 0, 86400);
    r.integer("interval_s", c.monitoring.interval_s, 1, 3600);
  });
  VIGIL_SECTION("firmware", {
    r.str("signing_public_key_file", c.firmware.signing_public_key_file);
    r.integer("engine_interval_s", c.firmware.engine_interval_s, 1, 86400);
    r.integer("max_attempts", c.firmware.max_attempts, 1, 100);
  });
  VIGIL_SECTION("demo", {
    r.number("time_factor", c.demo.time_factor, 1, 100000);
    r.integer("seed", c.demo.seed, 0, 4294967295LL);
    r.number("fault_onset_hours", c.demo.fault_onset_hours, 0, 10000);
    r.number("fault_growth_hours", c.demo.fault_growth_hours, 1, 100000);
    r.number("measurement_interval_s", c.demo.measurement_interval_s, 1, 86400);
  });
#undef VIGIL_SECTION
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot open configuration file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError(path + ": read error");
  return parse_config(ss.str(), path);
}

}  // namespace vigil
