// SPDX-License-Identifier: Apache-2.0
#include "ble/scanner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <thread>

#include "protocol/waveform.h"

namespace vigil::ble {
namespace {

using json = nlohmann::json;
using protocol::Reject;

// The BTHome 16-bit UUID as BlueZ prints it.
constexpr const char* kBthomeUuid128 = "0000fcd2-0000-1000-8000-00805f9b34fb";

const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE ble_sensor_health(
  sensor_id INTEGER PRIMARY KEY REFERENCES sensors(id),
  address TEXT NOT NULL,
  last_seen INTEGER,
  rssi_dbm INTEGER,
  battery_pct REAL,
  advert_rate_per_min REAL NOT NULL DEFAULT 0,
  expected_interval_ms INTEGER,
  adverts INTEGER NOT NULL DEFAULT 0,
  frames_accepted INTEGER NOT NULL DEFAULT 0,
  readings_rejected INTEGER NOT NULL DEFAULT 0,
  counter_resets INTEGER NOT NULL DEFAULT 0,
  rejected_json TEXT NOT NULL DEFAULT '{}',
  waveforms INTEGER NOT NULL DEFAULT 0,
  waveform_failures INTEGER NOT NULL DEFAULT 0,
  last_waveform INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL);
)sql",
    // The decoder's replay state: the last accepted counter per sensor,
    // restored at start so frames recorded before a restart stay replays.
    "ALTER TABLE ble_sensor_health ADD COLUMN last_counter INTEGER;",
    // Which key last_counter was accepted under (key_fingerprint): a counter
    // is meaningless under another key, so a re-keyed sensor starts afresh.
    "ALTER TABLE ble_sensor_health ADD COLUMN counter_key TEXT;"};

// Identifies a key without revealing it (FNV-1a 64; the key itself sits in
// the same database, so this is a label, not a secret).
std::string key_fingerprint(const protocol::Key& key) {
  std::uint64_t h = 1469598103934665603ULL;
  for (auto b : key) h = (h ^ b) * 1099511628211ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::optional<std::uint16_t> uuid16(const std::string& uuid) {
  // "0000xxxx-0000-1000-8000-00805f9b34fb"
  if (uuid.size() != 36 || uuid.compare(8, 28, "-0000-1000-8000-00805f9b34fb") != 0 || uuid.compare(0, 4, "0000") != 0)
    return std::nullopt;
  unsigned v = 0;
  for (int i = 4; i < 8; ++i) {
    char c = uuid[static_cast<std::size_t>(i)];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
    else return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

bool is_vigil_mfr(std::uint16_t company, const ByteVec& b) {
  return company == protocol::kVigilCompanyId && !b.empty() && b[0] == protocol::kVigilMagic;
}

std::string detect_format(const DeviceProps& p, const std::string& previous) {
  if (p.manufacturer_data)
    for (auto& [c, b] : *p.manufacturer_data)
      if (is_vigil_mfr(c, b)) return "vigil";
  if (p.service_data && p.service_data->count(kBthomeUuid128)) return previous == "vigil" ? previous : "bthome";
  return previous;
}

bool is_spoof_reason(Reject r) { return r == Reject::kBadMic || r == Reject::kReplay || r == Reject::kDowngrade; }

}  // namespace

const char* to_string(BleState s) {
  switch (s) {
    case BleState::kStarting: return "starting";
    case BleState::kNoBus: return "no_dbus";
    case BleState::kBluezUnavailable: return "bluez_unavailable";
    case BleState::kNoAdapter: return "no_adapter";
    case BleState::kAdapterOff: return "adapter_off";
    case BleState::kScanning: return "scanning";
    case BleState::kDiscoveryFailed: return "discovery_failed";
  }
  return "unknown";
}

std::string iso8601_utc(TimestampMs ts) {
  std::time_t t = static_cast<std::time_t>(ts / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ts % 1000));
  return buf;
}

static json opt_ts(TimestampMs t) { return t ? json(iso8601_utc(t)) : json(nullptr); }
template <typename T>
static json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json to_json(const DiscoveredDevice& d) {
  return {{"address", d.address},   {"name", d.name},
          {"rssi_dbm", opt(d.rssi_dbm)}, {"format", d.format},
          {"first_seen", opt_ts(d.first_seen)}, {"last_seen", opt_ts(d.last_seen)},
          {"adverts", d.adverts},   {"commissioned", d.commissioned}};
}

json to_json(const SensorHealth& h) {
  return {{"sensor_id", h.sensor_id},
          {"address", h.address},
          {"name", h.name},
          {"position_id", opt(h.position_id)},
          {"last_seen", opt_ts(h.last_seen)},
          {"rssi_dbm", opt(h.rssi_dbm)},
          {"battery_pct", opt(h.battery_pct)},
          {"advert_rate_per_min", h.advert_rate_per_min},
          {"expected_interval_s", h.expected_interval_ms ? json(static_cast<double>(*h.expected_interval_ms) / 1000.0)
                                                         : json(nullptr)},
          {"adverts", h.adverts},
          {"frames_accepted", h.frames_accepted},
          {"readings_rejected", h.readings_rejected},
          {"counter_resets", h.counter_resets},
          {"frames_rejected", h.rejected},
          {"waveforms", h.waveforms},
          {"waveform_failures", h.waveform_failures},
          {"last_waveform", opt_ts(h.last_waveform)},
          {"last_error", h.last_error}};
}

struct Scanner::Impl {
  struct Commissioned {
    Id id = 0;
    std::string address;
    std::string name;
    std::string format;
    std::optional<Id> position_id;
    std::optional<Id> asset_id;
    std::optional<protocol::Key> key;
  };
  struct Device {
    std::string path;
    DiscoveredDevice info;
    TimestampMs activity = 0;  // last advert, or when first learnt of (stale clock)
    bool heard = false;        // advertised since we started
  };
  struct Health {
    SensorHealth h;
    std::deque<TimestampMs> advert_times;  // last 60 s, bounded
    std::deque<TimestampMs> gaps;          // recent gaps between bursts, bounded
    TimestampMs last_frame = 0;
    TimestampMs last_rssi_reading = 0;
    bool missed_alerted = false;
    bool battery_alerted = false;
    std::set<std::string> spoof_alerted;
    bool dirty = false;
    bool seen_vigil = false;
    // waveform schedule
    TimestampMs next_pull = 0;
    TimestampMs last_trigger = 0;
    int attempts = 0;
  };
  struct PendingAlert {
    std::string address;
    std::optional<Id> position_id, asset_id;
    std::string severity, title, explanation;
  };

  BluezBus* bus;
  Ingest& ingest;
  Store& store;
  const Clock& clock;
  ScannerOptions o;
  MetricsRegistry& metrics;
  protocol::Decoder decoder;
  std::string adapter_path;

  mutable std::mutex mu;  // guards everything below
  BleState state = BleState::kStarting;
  std::string message = "starting";
  bool bluez_seen = false;
  bool need_sync = true;
  bool need_discovery = false;
  bool adapter_present = false;
  bool adapter_powered = false;
  bool discovering = false;
  TimestampMs next_retry = 0;
  TimestampMs discovery_started = 0;
  TimestampMs last_advert = 0;
  TimestampMs next_sensor_poll = 0;
  TimestampMs next_health_flush = 0;
  TimestampMs next_stale_check = 0;
  bool reload_sensors = true;
  std::map<std::string, Device> devices;                  // path → device
  std::map<std::string, std::string> path_of;             // address → path
  std::map<std::string, Commissioned> sensors;            // address → commissioned, active
  std::map<std::string, Health> health;                   // address → health (commissioned)
  std::map<Id, std::pair<std::string, std::optional<Id>>> retired;  // id → address (decommissioned)
  std::vector<PendingAlert> alerts;
  std::uint64_t adverts = 0, accepted = 0, dropped = 0, discovery_restarts = 0, bluez_restarts = 0, removed = 0;
  std::map<std::string, std::uint64_t> rejected;

  Counter* c_adverts;
  Counter* c_frames;
  Counter* c_restarts;
  Counter* c_bluez_restarts;
  Counter* c_removed;
  Counter* c_waveforms;
  Counter* c_waveform_failures;
  Counter* c_alerts;

  Impl(BluezBus* b, Ingest& i, Store& s, const Clock& c, ScannerOptions opts, MetricsRegistry& m)
      : bus(b), ingest(i), store(s), clock(c), o(std::move(opts)), metrics(m), decoder(&m),
        adapter_path("/org/bluez/" + o.adapter) {
    c_adverts = m.counter("vigil_ble_adverts_total", "BLE advertisements received from BlueZ");
    c_frames = m.counter("vigil_ble_frames_accepted_total", "Frames from commissioned sensors decoded and ingested");
    c_restarts = m.counter("vigil_ble_discovery_restarts_total", "Discovery restarts (silence or stopped)");
    c_bluez_restarts = m.counter("vigil_ble_bluez_restarts_total", "bluetoothd restarts seen");
    c_removed = m.counter("vigil_ble_devices_removed_total", "Stale uncommissioned devices removed from BlueZ");
    c_waveforms = m.counter("vigil_ble_waveforms_total", "Waveforms pulled over GATT");
    c_waveform_failures = m.counter("vigil_ble_waveform_failures_total", "Failed waveform pulls");
    c_alerts = m.counter("vigil_ble_alerts_total", "Sensor health alerts opened or updated");
  }

  TimestampMs now() const { return clock.now_ms(); }

  void set_state(BleState s, std::string msg) {
    if (s != state || msg != message) {
      if (s == BleState::kScanning) spdlog::info("ble: {}", msg);
      else spdlog::warn("ble: {}: {}", to_string(s), msg);
    }
    state = s;
    message = std::move(msg);
  }

  // ---- devices ----
  Device& device(const std::string& path, TimestampMs t) {
    auto it = devices.find(path);
    if (it != devices.end()) return it->second;
    if (devices.size() >= o.max_devices) evict_one();
    Device d;
    d.path = path;
    d.activity = t;
    return devices.emplace(path, std::move(d)).first->second;
  }
  void evict_one() {
    auto victim = devices.end();
    for (auto it = devices.begin(); it != devices.end(); ++it) {
      if (it->second.info.commissioned) continue;
      if (victim == devices.end() || it->second.activity < victim->second.activity) victim = it;
    }
    if (victim == devices.end()) victim = devices.begin();
    erase_device(victim);
  }
  void erase_device(std::map<std::string, Device>::iterator it) {
    auto p = path_of.find(it->second.info.address);
    if (p != path_of.end() && p->second == it->first) path_of.erase(p);
    devices.erase(it);
  }

  void apply_props(Device& d, const DeviceProps& p) {
    if (p.address) {
      d.info.address = *p.address;
      if (auto m = protocol::Mac::parse(*p.address)) d.info.address = m->to_string();
      path_of[d.info.address] = d.path;
      d.info.commissioned = sensors.count(d.info.address) > 0;
    }
    if (p.name) d.info.name = *p.name;
    if (p.rssi) d.info.rssi_dbm = *p.rssi;
  }

  void on_device(const std::string& path, const DeviceProps& p) {
    const TimestampMs t = now();
    Device& d = device(path, t);
    apply_props(d, p);
    const bool has_data = (p.service_data && !p.service_data->empty()) ||
                          (p.manufacturer_data && !p.manufacturer_data->empty());
    const bool advert = has_data || p.rssi.has_value();
    if (!advert) return;
    d.heard = true;
    d.activity = t;
    if (!d.info.first_seen) d.info.first_seen = t;
    d.info.last_seen = t;
    ++d.info.adverts;
    d.info.format = detect_format(p, d.info.format);
    ++adverts;
    c_adverts->inc();
    last_advert = t;
    if (d.info.address.empty()) return;
    auto sit = sensors.find(d.info.address);
    if (sit == sensors.end()) return;  // discovered only: nothing is decoded or stored
    d.info.commissioned = true;
    on_sensor_advert(sit->second, d, p, t);
  }

  Health& health_of(const Commissioned& s) {
    auto& h = health[s.address];
    h.h.sensor_id = s.id;
    h.h.address = s.address;
    h.h.name = s.name;
    h.h.position_id = s.position_id;
    return h;
  }

  void on_sensor_advert(const Commissioned& s, Device& d, const DeviceProps& p, TimestampMs t) {
    Health& h = health_of(s);
    h.dirty = true;
    h.h.last_seen = t;
    ++h.h.adverts;
    if (d.info.rssi_dbm) h.h.rssi_dbm = d.info.rssi_dbm;
    h.advert_times.push_back(t);
    while (!h.advert_times.empty() && (h.advert_times.front() < t - 60000 || h.advert_times.size() > 4096))
      h.advert_times.pop_front();
    h.h.advert_rate_per_min = static_cast<double>(h.advert_times.size());
    if (h.missed_alerted) {
      h.missed_alerted = false;
      spdlog::info("ble: sensor {} heard again", s.address);
    }
    auto mac = protocol::Mac::parse(s.address);
    if (!mac) return;
    std::vector<Reading> readings;
    if (p.service_data) {
      for (auto& [uuid, bytes] : *p.service_data) {
        auto u = uuid16(uuid);
        if (!u || *u != protocol::kBthomeUuid) continue;
        Reject why{};
        auto f = decoder.decode_service_data(*u, bytes, *mac, t, &why);
        on_frame(s, h, f, why, readings, t);
      }
    }
    if (p.manufacturer_data) {
      for (auto& [company, bytes] : *p.manufacturer_data) {
        if (!is_vigil_mfr(company, bytes)) continue;
        Reject why{};
        auto f = decoder.decode_manufacturer_data(company, bytes, *mac, t, &why);
        on_frame(s, h, f, why, readings, t);
      }
    }
    if (readings.empty()) return;
    if (h.h.rssi_dbm && t - h.last_rssi_reading >= static_cast<TimestampMs>(o.rssi_reading_interval_s) * 1000) {
      h.last_rssi_reading = t;
      readings.push_back(Reading{s.address, "rssi_dbm", t, static_cast<double>(*h.h.rssi_dbm)});
    }
    auto r = ingest.submit(readings);
    h.h.readings_rejected += r.rejected_total();
    if (r.rejected_total() > 0) {
      std::string why;
      for (auto& [k, n] : r.rejected) why += std::string(vigil::to_string(k)) + "=" + std::to_string(n) + " ";
      h.h.last_error = "ingest rejected " + why;
    }
  }

  void on_frame(const Commissioned& s, Health& h, const Result<protocol::DecodedFrame>& f, Reject why,
                std::vector<Reading>& readings, TimestampMs t) {
    if (!f) {
      const std::string reason = protocol::to_string(why);
      ++h.h.rejected[reason];
      ++rejected[reason];
      if (is_spoof_reason(why)) {
        h.h.last_error = f.status().message();
        spdlog::warn("ble: sensor {}: frame rejected ({}): possible spoofing", s.address, f.status().message());
        if (h.spoof_alerted.insert(reason).second) {
          std::string title;
          if (why == Reject::kBadMic) title = "Sensor " + s.address + ": frames failed authentication";
          else if (why == Reject::kReplay) title = "Sensor " + s.address + ": replayed frames";
          else title = "Sensor " + s.address + ": unencrypted frames from a keyed sensor";
          alerts.push_back({s.address, s.position_id, s.asset_id, "alarm", title,
                            "Frames from " + s.address + " were rejected (" + reason +
                                "): someone may be spoofing this sensor. Last: " + f.status().message()});
        }
      }
      return;
    }
    ++h.h.frames_accepted;
    ++accepted;
    c_frames->inc();
    if (f->counter_reset) ++h.h.counter_resets;
    if (f->counter) h.h.last_counter = *f->counter;
    if (f->format == protocol::Format::kVigil) h.seen_vigil = true;
    if (h.last_frame && t - h.last_frame >= o.interval_min_gap_ms) {
      h.gaps.push_back(t - h.last_frame);
      if (h.gaps.size() > 9) h.gaps.pop_front();
      std::vector<TimestampMs> g(h.gaps.begin(), h.gaps.end());
      std::nth_element(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(g.size() / 2), g.end());
      h.h.expected_interval_ms = g[g.size() / 2];
    }
    h.last_frame = t;
    for (auto& v : f->values) {
      if (v.metric == "battery_pct") h.h.battery_pct = v.value;
      if (f->format == protocol::Format::kVigil && v.metric == "velocity_rms_mm_s" &&
          v.value >= o.waveform_trigger_velocity_mm_s && t - h.last_trigger >= o.waveform_trigger_min_gap_s * 1000LL) {
        h.last_trigger = t;
        h.next_pull = t;
        h.attempts = 0;
        spdlog::info("ble: sensor {}: velocity {:.2f} mm/s crossed warning; waveform pull scheduled", s.address,
                     v.value);
      }
    }
    if (h.h.battery_pct) {
      if (*h.h.battery_pct < o.battery_low_pct && !h.battery_alerted) {
        h.battery_alerted = true;
        alerts.push_back({s.address, s.position_id, s.asset_id, "warning", "Sensor " + s.address + ": battery low",
                          "Battery at " + std::to_string(static_cast<int>(*h.h.battery_pct)) + " %; replace soon."});
      } else if (*h.h.battery_pct >= o.battery_ok_pct) {
        h.battery_alerted = false;
      }
    }
    auto rs = f->readings();
    readings.insert(readings.end(), std::make_move_iterator(rs.begin()), std::make_move_iterator(rs.end()));
  }

  // ---- bus-facing work (tick) ----
  void sync(TimestampMs t);
  void ensure_discovery(TimestampMs t);
  void load_sensors();
  void check_health(TimestampMs t);
  void flush_alerts();
  void flush_health(bool all);
  void cleanup_stale(TimestampMs t);
  void schedule_waveforms(TimestampMs t);
  Status pull(const std::string& address);
  Result<Waveform> download(const std::string& path, std::map<std::string, std::string>& chars);
};

Scanner::Scanner(BluezBus* bus, Ingest& ingest, Store& store, const Clock& clock, ScannerOptions options,
                 MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(bus, ingest, store, clock, std::move(options), metrics)) {}
Scanner::~Scanner() {
  if (impl_) impl_->flush_health(true);
}

void Scanner::set_bus(BluezBus* bus) {
  std::lock_guard lk(impl_->mu);
  impl_->bus = bus;
  impl_->need_sync = true;
  impl_->next_retry = 0;
}

Status Scanner::init() {
  auto& m = *impl_;
  VIGIL_RETURN_IF_ERROR(m.store.migrate("ble", kMigrations));
  m.load_sensors();
  // Seed counters from the persisted health so they survive restarts.
  std::lock_guard lk(m.mu);
  VIGIL_RETURN_IF_ERROR(m.store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT address, last_seen, rssi_dbm, battery_pct, expected_interval_ms, adverts, frames_accepted, "
        "readings_rejected, counter_resets, rejected_json, waveforms, waveform_failures, last_waveform, last_error, "
        "last_counter, counter_key FROM ble_sensor_health");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      auto& s = **q;
      auto it = m.sensors.find(s.text(0));
      if (it == m.sensors.end()) continue;
      auto& h = m.health_of(it->second);
      h.h.last_seen = s.i64(1);
      if (!s.is_null(2)) h.h.rssi_dbm = static_cast<int>(s.i64(2));
      if (!s.is_null(3)) h.h.battery_pct = s.f64(3);
      if (!s.is_null(4)) h.h.expected_interval_ms = s.i64(4);
      h.h.adverts = static_cast<std::uint64_t>(s.i64(5));
      h.h.frames_accepted = static_cast<std::uint64_t>(s.i64(6));
      h.h.readings_rejected = static_cast<std::uint64_t>(s.i64(7));
      h.h.counter_resets = static_cast<std::uint64_t>(s.i64(8));
      auto rj = json::parse(s.text(9), nullptr, false);
      if (rj.is_object())
        for (auto& [k, v] : rj.items())
          if (v.is_number_unsigned()) h.h.rejected[k] = v.get<std::uint64_t>();
      h.h.waveforms = static_cast<std::uint64_t>(s.i64(10));
      h.h.waveform_failures = static_cast<std::uint64_t>(s.i64(11));
      h.h.last_waveform = s.is_null(12) ? 0 : s.i64(12);
      h.h.last_error = s.text(13);
      // The replay counter only under the key it was accepted with.
      const bool same_key = it->second.key && !s.is_null(15) && s.text(15) == key_fingerprint(*it->second.key);
      if (!s.is_null(14) && same_key) h.h.last_counter = static_cast<std::uint32_t>(s.i64(14));
      else if (!s.is_null(14)) spdlog::info("ble: {} has a new key since its last frame: its counter starts afresh", s.text(0));
      if (h.h.battery_pct && *h.h.battery_pct < m.o.battery_low_pct) h.battery_alerted = true;
    }
    (*q)->reset();
    return Status::Ok();
  }));
  // Restore the decoder's replay state: it has no setter, so feed it one
  // frame of our own, encrypted with the sensor's key at the last accepted
  // counter (objects: a packet id only, so nothing reaches ingest).
  const std::uint8_t packet_id[] = {0x00, 0x00};
  for (auto& [addr, h] : m.health) {
    auto s = m.sensors.find(addr);
    if (s == m.sensors.end() || !s->second.key || !h.h.last_counter) continue;
    auto mac = protocol::Mac::parse(addr);
    auto frame = protocol::encrypt_bthome(*s->second.key, *mac, *h.h.last_counter, packet_id);
    auto r = m.decoder.decode_service_data(protocol::kBthomeUuid, protocol::Bytes(frame).subspan(2), *mac, m.now());
    if (!r) spdlog::warn("ble: restoring the counter of {}: {}", addr, r.status().message());
  }
  return Status::Ok();
}

void Scanner::Impl::load_sensors() {
  std::map<std::string, Commissioned> fresh;
  std::map<Id, std::pair<std::string, std::optional<Id>>> gone;
  std::map<Id, Id> asset_of;
  if (auto ps = store.positions()) {
    for (auto& p : *ps) asset_of[p.id] = p.asset_id;
  }
  auto st = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, address, name, format, key, position_id, decommissioned_at FROM sensors");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      auto& s = **q;
      Commissioned c;
      c.id = s.i64(0);
      c.address = s.text(1);
      c.name = s.text(2);
      c.format = s.text(3);
      if (!s.is_null(5)) {
        c.position_id = s.i64(5);
        if (auto a = asset_of.find(*c.position_id); a != asset_of.end()) c.asset_id = a->second;
      }
      auto mac = protocol::Mac::parse(c.address);
      if (!mac) continue;  // simulator sources ("sim:...") are not BLE
      c.address = mac->to_string();
      if (!s.is_null(6)) {
        gone[c.id] = {c.address, c.position_id};
        continue;
      }
      auto k = s.blob(4);
      if (k.size() == 16) {
        protocol::Key key{};
        std::copy(k.begin(), k.end(), key.begin());
        c.key = key;
      }
      fresh[c.address] = std::move(c);
    }
    (*q)->reset();
    return Status::Ok();
  });
  if (!st.ok()) {
    spdlog::warn("ble: reading commissioned sensors: {}", st.ToString());
    return;
  }
  std::lock_guard lk(mu);
  bool changed = fresh.size() != sensors.size();
  for (auto& [addr, c] : fresh) {
    auto mac = protocol::Mac::parse(addr);
    auto old = sensors.find(addr);
    const bool key_changed = old == sensors.end() || old->second.key != c.key;
    if (old == sensors.end() || old->second.position_id != c.position_id || old->second.id != c.id) changed = true;
    if (key_changed) {
      if (c.key) decoder.set_key(*mac, *c.key);
      else decoder.remove_key(*mac);
      if (old != sensors.end()) decoder.reset_counter(*mac);  // a new key restarts the counter
      if (auto hit = health.find(addr); hit != health.end()) {
        hit->second.h.last_counter.reset();
        hit->second.dirty = true;
      }
      changed = true;
    }
    if (old == sensors.end()) spdlog::info("ble: sensor {} commissioned ({})", addr, c.key ? "with key" : "plain");
  }
  for (auto& [addr, c] : sensors) {
    if (!fresh.count(addr)) {
      if (auto mac = protocol::Mac::parse(addr)) decoder.remove_key(*mac);
      health.erase(addr);
      spdlog::info("ble: sensor {} decommissioned; history kept", addr);
      changed = true;
    }
  }
  sensors = std::move(fresh);
  retired = std::move(gone);
  for (auto& [path, d] : devices) d.info.commissioned = sensors.count(d.info.address) > 0;
  for (auto& [addr, c] : sensors) health_of(c);
  if (changed) ingest.invalidate_sensors();
}

void Scanner::Impl::sync(TimestampMs t) {
  if (!bus) return;
  auto objs = bus->get_managed_objects(o.call_timeout);
  std::lock_guard lk(mu);
  if (!objs) {
    need_sync = true;
    next_retry = t + o.bluez_retry_s * 1000LL;
    adapter_present = false;
    discovering = false;
    set_state(BleState::kBluezUnavailable, "bluetoothd not reachable: " + objs.status().message());
    return;
  }
  bluez_seen = true;
  need_sync = false;
  for (auto& [path, p] : objs->devices) {
    bool existed = devices.count(path) > 0;
    Device& d = device(path, t);
    apply_props(d, p);
    if (!existed) d.activity = t;  // cached by BlueZ; stale clock starts now
  }
  auto a = objs->adapters.find(adapter_path);
  if (a == objs->adapters.end()) {
    adapter_present = false;
    discovering = false;
    std::string have;
    for (auto& [p, _] : objs->adapters) have += (have.empty() ? "" : ", ") + p;
    set_state(BleState::kNoAdapter, "no adapter " + adapter_path + (have.empty() ? "" : " (have: " + have + ")"));
    return;
  }
  adapter_present = true;
  adapter_powered = a->second.powered.value_or(false);
  discovering = a->second.discovering.value_or(false);
  if (!adapter_powered) {
    set_state(BleState::kAdapterOff, "adapter " + o.adapter + " is powered off");
    return;
  }
  need_discovery = true;
}

void Scanner::Impl::ensure_discovery(TimestampMs t) {
  if (!bus) return;
  {
    std::lock_guard lk(mu);
    if (!need_discovery || !adapter_present || !adapter_powered || t < next_retry) return;
  }
  auto s = bus->set_discovery_filter(adapter_path, o.call_timeout);
  if (s.ok()) {
    s = bus->start_discovery(adapter_path, o.call_timeout);
    if (s.code() == Status::Code::kAlreadyExists) s = Status::Ok();  // InProgress: already discovering
  }
  std::lock_guard lk(mu);
  if (!s.ok()) {
    next_retry = t + o.bluez_retry_s * 1000LL;
    set_state(BleState::kDiscoveryFailed, "StartDiscovery on " + o.adapter + ": " + s.message());
    return;
  }
  need_discovery = false;
  discovering = true;
  discovery_started = t;
  set_state(BleState::kScanning, "scanning on " + o.adapter);
}

void Scanner::Impl::check_health(TimestampMs t) {
  std::lock_guard lk(mu);
  for (auto& [addr, h] : health) {
    if (!h.h.last_seen || !h.h.expected_interval_ms || h.missed_alerted) continue;
    const TimestampMs limit = *h.h.expected_interval_ms * o.missed_intervals_alert;
    if (t - h.h.last_seen <= limit) continue;
    h.missed_alerted = true;
    auto s = sensors.find(addr);
    if (s == sensors.end()) continue;
    alerts.push_back({addr, s->second.position_id, s->second.asset_id, "warning",
                      "Sensor " + addr + ": not heard for " + std::to_string(o.missed_intervals_alert) + " intervals",
                      "Last heard " + iso8601_utc(h.h.last_seen) + "; expected every " +
                          std::to_string(*h.h.expected_interval_ms / 1000) + " s. Check the battery, range and mounting."});
  }
}

void Scanner::Impl::flush_alerts() {
  std::vector<PendingAlert> todo;
  {
    std::lock_guard lk(mu);
    todo.swap(alerts);
  }
  const TimestampMs t = now();
  for (auto& a : todo) {
    bool opened = false;
    auto st = store.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare("SELECT id FROM alerts WHERE model = 'sensorHealth' AND status != 'closed' AND title = ?");
      if (!q) return q.status();
      (*q)->bind(1, a.title);
      auto row = (*q)->step();
      if (!row) return row.status();
      std::optional<Id> existing;
      if (*row) existing = (*q)->i64(0);
      (*q)->reset();
      if (existing) {
        auto u = db.prepare("UPDATE alerts SET updated_at = ?, explanation = ? WHERE id = ?");
        if (!u) return u.status();
        (*u)->bind(1, t).bind(2, a.explanation).bind(3, *existing);
        return (*u)->run();
      }
      auto i = db.prepare(
          "INSERT INTO alerts(asset_id, position_id, model, severity, status, opened_at, updated_at, title, explanation) "
          "VALUES (?, ?, 'sensorHealth', ?, 'open', ?, ?, ?, ?)");
      if (!i) return i.status();
      (*i)->bind(1, a.asset_id).bind(2, a.position_id).bind(3, a.severity).bind(4, t).bind(5, t).bind(6, a.title).bind(
          7, a.explanation);
      opened = true;
      return (*i)->run();
    });
    if (!st.ok()) {
      spdlog::error("ble: recording alert '{}': {}", a.title, st.ToString());
      continue;
    }
    c_alerts->inc();
    if (opened) {
      spdlog::warn("ble: alert: {}", a.title);
      auto au = store.audit("ble", "alert.open", "sensor:" + a.address, a.title);
      if (!au.ok()) spdlog::error("ble: audit: {}", au.ToString());
    }
  }
}

void Scanner::Impl::flush_health(bool all) {
  std::vector<SensorHealth> rows;
  std::vector<std::optional<std::string>> keys;  // fingerprint of each row's current key
  {
    std::lock_guard lk(mu);
    for (auto& [addr, h] : health) {
      if (!h.dirty && !all) continue;
      if (!h.h.sensor_id) continue;
      h.dirty = false;
      rows.push_back(h.h);
      auto c = sensors.find(addr);
      keys.push_back(c != sensors.end() && c->second.key ? std::optional(key_fingerprint(*c->second.key))
                                                         : std::nullopt);
    }
  }
  if (rows.empty()) return;
  const TimestampMs t = now();
  auto st = store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "INSERT INTO ble_sensor_health(sensor_id, address, last_seen, rssi_dbm, battery_pct, advert_rate_per_min, "
        "expected_interval_ms, adverts, frames_accepted, readings_rejected, counter_resets, rejected_json, waveforms, "
        "waveform_failures, last_waveform, last_error, updated_at, last_counter, counter_key) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(sensor_id) DO UPDATE SET address=excluded.address, last_seen=excluded.last_seen, "
        "rssi_dbm=excluded.rssi_dbm, battery_pct=excluded.battery_pct, advert_rate_per_min=excluded.advert_rate_per_min, "
        "expected_interval_ms=excluded.expected_interval_ms, adverts=excluded.adverts, "
        "frames_accepted=excluded.frames_accepted, readings_rejected=excluded.readings_rejected, "
        "counter_resets=excluded.counter_resets, rejected_json=excluded.rejected_json, waveforms=excluded.waveforms, "
        "waveform_failures=excluded.waveform_failures, last_waveform=excluded.last_waveform, "
        "last_error=excluded.last_error, updated_at=excluded.updated_at, "
        "last_counter=CASE WHEN excluded.counter_key IS ble_sensor_health.counter_key "
        "THEN COALESCE(excluded.last_counter, ble_sensor_health.last_counter) ELSE excluded.last_counter END, "
        "counter_key=excluded.counter_key");
    if (!q) return q.status();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& h = rows[i];
      std::optional<std::int64_t> rssi;
      if (h.rssi_dbm) rssi = *h.rssi_dbm;
      std::optional<std::int64_t> last_wf;
      if (h.last_waveform) last_wf = h.last_waveform;
      (*q)->bind(1, h.sensor_id)
          .bind(2, h.address)
          .bind(3, h.last_seen)
          .bind(4, rssi)
          .bind(5, h.battery_pct)
          .bind(6, h.advert_rate_per_min)
          .bind(7, h.expected_interval_ms)
          .bind(8, static_cast<std::int64_t>(h.adverts))
          .bind(9, static_cast<std::int64_t>(h.frames_accepted))
          .bind(10, static_cast<std::int64_t>(h.readings_rejected))
          .bind(11, static_cast<std::int64_t>(h.counter_resets))
          .bind(12, json(h.rejected).dump())
          .bind(13, static_cast<std::int64_t>(h.waveforms))
          .bind(14, static_cast<std::int64_t>(h.waveform_failures))
          .bind(15, last_wf)
          .bind(16, h.last_error)
          .bind(17, t);
      if (h.last_counter) (*q)->bind(18, static_cast<std::int64_t>(*h.last_counter));
      else (*q)->bind_null(18);
      (*q)->bind(19, keys[i]);
      VIGIL_RETURN_IF_ERROR((*q)->run());
    }
    return Status::Ok();
  });
  if (!st.ok()) spdlog::warn("ble: persisting sensor health: {}", st.ToString());
}

void Scanner::Impl::cleanup_stale(TimestampMs t) {
  std::vector<std::string> victims;
  {
    std::lock_guard lk(mu);
    const TimestampMs limit = o.stale_device_s * 1000LL;
    for (auto& [path, d] : devices) {
      if (d.info.commissioned || t - d.activity <= limit) continue;
      victims.push_back(path);
      if (victims.size() >= o.max_removals_per_tick) break;
    }
  }
  for (auto& path : victims) {
    Status s = Status::Ok();
    if (bus && adapter_present) s = bus->remove_device(adapter_path, path, o.call_timeout);
    std::lock_guard lk(mu);
    if (!s.ok() && s.code() != Status::Code::kNotFound) {
      spdlog::debug("ble: RemoveDevice {}: {}", path, s.message());
      if (auto it = devices.find(path); it != devices.end()) it->second.activity = t;  // try again later
      continue;
    }
    ++removed;
    c_removed->inc();
    if (auto it = devices.find(path); it != devices.end()) erase_device(it);
  }
}

void Scanner::Impl::schedule_waveforms(TimestampMs t) {
  std::string due;
  {
    std::lock_guard lk(mu);
    if (state != BleState::kScanning) return;
    for (auto& [addr, h] : health) {
      auto s = sensors.find(addr);
      if (s == sensors.end() || !s->second.position_id) continue;
      if (!(h.seen_vigil || s->second.format == "vigil")) continue;
      if (!h.h.last_seen || !path_of.count(addr)) continue;  // never heard: not in range
      if (!h.next_pull) h.next_pull = h.h.last_seen + o.waveform_first_delay_s * 1000LL;
      if (t >= h.next_pull) {
        due = addr;
        break;
      }
    }
  }
  if (due.empty()) return;
  auto st = pull(due);
  std::lock_guard lk(mu);
  auto it = health.find(due);
  if (it == health.end()) return;
  auto& h = it->second;
  h.dirty = true;
  if (st.ok()) {
    h.attempts = 0;
    h.next_pull = t + o.waveform_pull_interval_s * 1000LL;
    return;
  }
  ++h.h.waveform_failures;
  c_waveform_failures->inc();
  h.h.last_error = "waveform: " + st.message();
  spdlog::warn("ble: sensor {}: waveform pull failed: {}", due, st.message());
  if (++h.attempts < o.waveform_max_attempts) {
    h.next_pull = t + o.waveform_retry_s * 1000LL;
  } else {
    h.attempts = 0;
    h.next_pull = t + o.waveform_pull_interval_s * 1000LL;
  }
}

Result<Waveform> Scanner::Impl::download(const std::string& path, std::map<std::string, std::string>& chars) {
  const std::string info_c = chars[protocol::kWaveformInfoCharUuid];
  const std::string req_c = chars[protocol::kChunkRequestCharUuid];
  const std::string data_c = chars[protocol::kChunkDataCharUuid];
  if (info_c.empty() || req_c.empty() || data_c.empty())
    return Status::NotFound("waveform service not found on " + path);
  Status last = Status::Internal("no attempt");
  for (int restart = 0; restart < 3; ++restart) {
    auto info_b = bus->read_value(info_c, o.gatt_timeout);
    if (!info_b) return info_b.status();
    auto info = protocol::parse_waveform_info(*info_b);
    if (!info) return info.status();
    if (info->total_bytes == 0) return Status::NotFound("sensor has no waveform yet");
    auto req = protocol::chunk_request(0, 0);
    VIGIL_RETURN_IF_ERROR(bus->write_value(req_c, ByteVec(req.begin(), req.end()), o.gatt_timeout));
    protocol::WaveformAssembler a(*info);
    // Bounded: a chunk carries at least 1 data byte; real ones ~238.
    const std::size_t max_reads = info->total_bytes / 16 + 64;
    bool seq_changed = false;
    for (std::size_t i = 0; i < max_reads && !a.complete(); ++i) {
      auto c = bus->read_value(data_c, o.gatt_timeout);
      if (!c) return c.status();
      if (c->size() >= 2 && (static_cast<std::uint16_t>((*c)[0] | ((*c)[1] << 8))) != info->seq) {
        seq_changed = true;  // a new measurement replaced the burst: start again
        break;
      }
      auto s = a.add_chunk(*c);
      if (!s.ok()) return s;
    }
    if (seq_changed) {
      last = Status::Unavailable("burst replaced during download");
      continue;
    }
    if (!a.complete()) return Status::Unavailable("waveform incomplete after the read limit");
    return a.finish(now());
  }
  return last;
}

Status Scanner::Impl::pull(const std::string& address) {
  if (!bus) return Status::Unavailable("no D-Bus connection");
  std::string path;
  {
    std::lock_guard lk(mu);
    auto p = path_of.find(address);
    if (p == path_of.end()) return Status::NotFound("sensor " + address + " not known to BlueZ");
    path = p->second;
  }
  auto cs = bus->connect(path, o.connect_timeout);
  if (!cs.ok() && cs.code() != Status::Code::kAlreadyExists) return cs.Annotate("Connect");
  // Characteristics appear once services are resolved: poll a few times.
  std::map<std::string, std::string> chars;
  Result<Waveform> w = Status::NotFound("waveform service not found on " + path);
  for (int i = 0; i < 20; ++i) {
    auto objs = bus->get_managed_objects(o.call_timeout);
    if (!objs) {
      w = objs.status();
      break;
    }
    for (auto& [cp, c] : objs->characteristics)
      if (cp.rfind(path + "/", 0) == 0) chars[c.uuid] = cp;
    if (chars.count(protocol::kChunkDataCharUuid)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (chars.count(protocol::kChunkDataCharUuid)) w = download(path, chars);
  auto ds = bus->disconnect(path, o.call_timeout);
  if (!ds.ok()) spdlog::debug("ble: Disconnect {}: {}", path, ds.message());
  if (!w) return w.status();
  auto id = ingest.submit_waveform(address, std::move(*w));
  if (!id) return id.status().Annotate("submit_waveform");
  std::lock_guard lk(mu);
  if (auto it = health.find(address); it != health.end()) {
    ++it->second.h.waveforms;
    it->second.h.last_waveform = now();
    it->second.dirty = true;
  }
  c_waveforms->inc();
  spdlog::info("ble: sensor {}: waveform {} stored", address, *id);
  return Status::Ok();
}

void Scanner::handle(const BusEvent& e) {
  auto& m = *impl_;
  std::lock_guard lk(m.mu);
  using K = BusEvent::Kind;
  switch (e.kind) {
    case K::kDeviceAdded:
    case K::kDeviceChanged:
      // Devices of other adapters are ignored.
      if (e.path.rfind(m.adapter_path + "/", 0) != 0) return;
      m.on_device(e.path, e.device);
      return;
    case K::kDeviceRemoved:
      if (auto it = m.devices.find(e.path); it != m.devices.end()) m.erase_device(it);
      return;
    case K::kAdapterAdded:
    case K::kAdapterChanged:
      if (e.path != m.adapter_path) return;
      if (e.kind == K::kAdapterAdded) {
        m.adapter_present = true;
        m.need_discovery = true;
      }
      if (e.adapter.powered) {
        m.adapter_powered = *e.adapter.powered;
        if (!m.adapter_powered) {
          m.discovering = false;
          m.set_state(BleState::kAdapterOff, "adapter " + m.o.adapter + " is powered off");
        } else {
          m.need_discovery = true;
          m.next_retry = 0;
        }
      }
      if (e.adapter.discovering) {
        const bool was = m.discovering;
        m.discovering = *e.adapter.discovering;
        if (was && !m.discovering && m.adapter_powered && m.state == BleState::kScanning) {
          // Someone (or bluetoothd) stopped discovery: start it again.
          spdlog::warn("ble: discovery stopped on {}; restarting", m.o.adapter);
          m.need_discovery = true;
          ++m.discovery_restarts;
          m.c_restarts->inc();
        }
      }
      return;
    case K::kAdapterRemoved:
      if (e.path != m.adapter_path) return;
      m.adapter_present = false;
      m.discovering = false;
      m.set_state(BleState::kNoAdapter, "adapter " + m.o.adapter + " removed");
      return;
    case K::kBluezDown:
      m.adapter_present = false;
      m.discovering = false;
      m.set_state(BleState::kBluezUnavailable, "bluetoothd stopped");
      return;
    case K::kBluezUp:
      if (m.bluez_seen) {
        ++m.bluez_restarts;
        m.c_bluez_restarts->inc();
      }
      spdlog::info("ble: bluetoothd appeared on the bus; re-reading its objects");
      m.need_sync = true;
      m.next_retry = 0;
      return;
  }
}

void Scanner::tick() {
  auto& m = *impl_;
  const TimestampMs t = m.now();
  bool do_sync, reload;
  {
    std::lock_guard lk(m.mu);
    if (!m.bus) {
      m.set_state(BleState::kNoBus, "no D-Bus system bus connection");
    }
    do_sync = m.bus && m.need_sync && t >= m.next_retry;
    reload = m.reload_sensors || t >= m.next_sensor_poll;
    if (reload) {
      m.reload_sensors = false;
      m.next_sensor_poll = t + m.o.sensor_poll_s * 1000LL;
    }
    // Silence watchdog: discovery that silently stopped delivering adverts.
    if (m.state == BleState::kScanning && !m.need_discovery) {
      const TimestampMs since = std::max(m.last_advert, m.discovery_started);
      if (t - since > m.o.discovery_silence_restart_s * 1000LL) {
        spdlog::warn("ble: no advertisements for {} s; restarting discovery", (t - since) / 1000);
        m.need_discovery = true;
        m.next_retry = 0;
        ++m.discovery_restarts;
        m.c_restarts->inc();
        m.discovery_started = t;
      }
    }
  }
  if (reload) m.load_sensors();
  if (do_sync) m.sync(t);
  bool restart_needed = false;
  {
    std::lock_guard lk(m.mu);
    restart_needed = m.need_discovery && m.discovering && m.state == BleState::kScanning;
  }
  if (restart_needed && m.bus) {
    // ensure_discovery() below starts it again either way; a failed stop is
    // worth a line (it usually means bluetoothd is gone, which sync notices).
    if (auto st = m.bus->stop_discovery(m.adapter_path, m.o.call_timeout); !st.ok())
      spdlog::info("ble: stopping discovery before a restart: {}", st.ToString());
  }
  m.ensure_discovery(t);
  m.check_health(t);
  m.flush_alerts();
  if (t >= m.next_stale_check) {
    m.next_stale_check = t + 5000;
    m.cleanup_stale(t);
  }
  m.schedule_waveforms(t);
  if (t >= m.next_health_flush) {
    m.next_health_flush = t + m.o.health_flush_s * 1000LL;
    m.flush_health(false);
  }
}

void Scanner::reload_sensors_soon() {
  std::lock_guard lk(impl_->mu);
  impl_->reload_sensors = true;
}

void Scanner::note_dropped(std::uint64_t n) {
  std::lock_guard lk(impl_->mu);
  impl_->dropped += n;
}

Status Scanner::pull_waveform(const std::string& address) {
  auto mac = protocol::Mac::parse(address);
  if (!mac) return Status::InvalidArgument("not a MAC address: " + address);
  return impl_->pull(mac->to_string());
}

BleState Scanner::state() const {
  std::lock_guard lk(impl_->mu);
  return impl_->state;
}

json Scanner::status_json() const {
  auto& m = *impl_;
  std::lock_guard lk(m.mu);
  std::size_t heard = 0, uncommissioned = 0;
  for (auto& [p, d] : m.devices) {
    if (!d.heard) continue;
    ++heard;
    if (!d.info.commissioned) ++uncommissioned;
  }
  std::size_t active = 0;
  for (auto& [a, h] : m.health)
    if (h.h.last_seen) ++active;
  return {{"status", to_string(m.state)},
          {"ok", m.state == BleState::kScanning},
          {"message", m.message},
          {"adapter", m.o.adapter},
          {"discovering", m.discovering},
          {"devices_known", m.devices.size()},
          {"devices_heard", heard},
          {"discovered", uncommissioned},
          {"commissioned", m.sensors.size()},
          {"commissioned_heard", active},
          {"adverts_total", m.adverts},
          {"frames_accepted", m.accepted},
          {"frames_rejected", m.rejected},
          {"events_dropped", m.dropped},
          {"discovery_restarts", m.discovery_restarts},
          {"bluez_restarts", m.bluez_restarts},
          {"devices_removed", m.removed},
          {"last_advert", opt_ts(m.last_advert)}};
}

std::vector<DiscoveredDevice> Scanner::devices() const {
  std::lock_guard lk(impl_->mu);
  std::vector<DiscoveredDevice> out;
  for (auto& [p, d] : impl_->devices)
    if (d.heard && !d.info.address.empty()) out.push_back(d.info);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.last_seen > b.last_seen; });
  return out;
}

std::vector<DiscoveredDevice> Scanner::discovered() const {
  auto all = devices();
  std::erase_if(all, [](const DiscoveredDevice& d) { return d.commissioned; });
  return all;
}

std::optional<SensorHealth> Scanner::health(Id sensor_id) const {
  std::lock_guard lk(impl_->mu);
  for (auto& [a, h] : impl_->health)
    if (h.h.sensor_id == sensor_id) return h.h;
  return std::nullopt;
}

std::vector<SensorHealth> Scanner::health_all() const {
  std::lock_guard lk(impl_->mu);
  std::vector<SensorHealth> out;
  for (auto& [a, h] : impl_->health) out.push_back(h.h);
  return out;
}

std::uint64_t Scanner::frames_accepted() const {
  std::lock_guard lk(impl_->mu);
  return impl_->accepted;
}

std::uint64_t Scanner::adverts_total() const {
  std::lock_guard lk(impl_->mu);
  return impl_->adverts;
}

}  // namespace vigil::ble
