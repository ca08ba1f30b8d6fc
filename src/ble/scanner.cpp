// SPDX-License-Identifier: Apache-2.0
#include "ble/scanner.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <set>

#include "ble/commissioned_sensors.h"
#include "ble/device_table.h"
#include "ble/discovery.h"
#include "ble/frame_router.h"
#include "ble/sensor_health.h"
#include "ble/sensor_health_table.h"
#include "ble/waveform_pull.h"

namespace vigil::ble {

namespace {
constexpr const char* kLostHelp =
    "Frames of commissioned sensors that never arrived (gaps in the frame counter or packet id), by the road of "
    "the frame after the gap";
constexpr const char* kJumpHelp =
    "Frame counter steps not taken for loss (sensor reboot, counter reset, long outage), by road";
}  // namespace

struct Scanner::Impl {
  Ingest& ingest;
  Store& store;
  const Clock& clock;
  const ScannerOptions o;
  Counter* c_alerts;
  Counter* c_ignored_decommissioned;
  // Frame loss per road (FrameGap, sensor_health.h): radio, relay.
  Counter* c_lost[2];
  Counter* c_jumps[2];

  // ---- the worker thread's alone (no lock) ----
  BluezBus* bus;
  Discovery discovery;
  WaveformPuller waveforms;
  std::map<std::string, int> waveform_intervals;  // address → seconds; worker thread only
  TimestampMs next_sensor_poll = 0, next_health_flush = 0, next_stale_check = 0;

  // ---- guarded by mu ----
  mutable std::mutex mu;
  DeviceTable devices;
  FrameRouter router;
  SensorHealthTracker health;
  DiscoveryStatus discovery_status;  // discovery.status(), published for snapshots
  bool reload_sensors = true;
  // Addresses of decommissioned sensors: known, so not "discovered", and
  // ignored (counted) — nothing they send is decoded or stored.
  std::set<std::string> decommissioned;
  // The firmware version each sensor last advertised, as stored (bounded by
  // the commissioned sensors; Store::set_sensor_firmware when it changes).
  std::map<std::string, std::string> firmware;
  std::uint64_t dropped = 0;
  SensorAlertSink sink;
  ForeignAdvertSink foreign;  // set before the worker starts; read by it alone

  Impl(BluezBus* b, Ingest& i, Store& s, const Clock& c, ScannerOptions opts, MetricsRegistry& m)
      : ingest(i), store(s), clock(c), o(std::move(opts)),
        c_alerts(m.counter("vigil_ble_alerts_total", "Sensor health alerts raised (silent, battery low, spoofing)")),
        c_ignored_decommissioned(m.counter("vigil_ble_adverts_ignored_total",
                                           "Adverts of known sensors ignored, by reason", "reason=\"decommissioned\"")),
        c_lost{m.counter("vigil_ble_frames_lost_total", kLostHelp, "via=\"radio\""),
               m.counter("vigil_ble_frames_lost_total", kLostHelp, "via=\"relay\"")},
        c_jumps{m.counter("vigil_ble_frame_counter_jumps_total", kJumpHelp, "via=\"radio\""),
                m.counter("vigil_ble_frame_counter_jumps_total", kJumpHelp, "via=\"relay\"")},
        bus(b), discovery(o, m), waveforms(o, m), devices(o.max_devices, m), router(m), health(o) {
    discovery.set_bus(b);
  }

  TimestampMs now() const { return clock.now_ms(); }

  void publish_discovery() {
    std::lock_guard lk(mu);
    discovery_status = discovery.status();
  }

  // Hands alerts to the sink, outside the lock.
  void raise(const std::vector<SensorAlert>& alerts) {
    if (alerts.empty()) return;
    SensorAlertSink s;
    {
      std::lock_guard lk(mu);
      s = sink;
    }
    for (const auto& a : alerts) {
      c_alerts->inc();
      if (!s) {
        spdlog::warn("ble: sensor alert (no alert service to record it): {}: {}", a.title, a.explanation);
        continue;
      }
      spdlog::info("ble: sensor alert: {}", a.title);
      if (auto st = s(a); !st.ok()) spdlog::error("ble: recording sensor alert '{}': {}", a.title, st.ToString());
    }
  }

  // A Device1 message on our adapter: mirror it; decode a commissioned
  // sensor's frames under the lock, hand readings and alerts on after it.
  void on_device(const std::string& path, const DeviceProps& p) {
    const TimestampMs t = now();
    std::string address;
    std::vector<Reading> readings;
    std::vector<SensorAlert> alerts;
    std::optional<std::string> fw;
    std::optional<int> foreign_rssi;
    bool foreign_advert = false;
    {
      std::lock_guard lk(mu);
      const auto* d = devices.on_properties(path, p, t);
      if (!d || d->info.address.empty()) return;
      address = d->info.address;
      if (router.find(address)) {
        health.on_advert(address, d->info.rssi_dbm, t, "radio");
        decode_locked(address, p, t, readings, alerts, fw, /*relayed=*/false);
      } else if (decommissioned.contains(address)) {  // nothing is decoded or stored
        c_ignored_decommissioned->inc();
        return;
      } else {  // discovered only; the plant may own it (handed on below, unlocked)
        if (!foreign) return;
        foreign_advert = true;
        foreign_rssi = d->info.rssi_dbm;
      }
    }
    if (foreign_advert) {
      foreign(address, p, foreign_rssi);
      return;
    }
    submit(address, readings, alerts, fw);
  }

  // A relayed advert (relay.h): no BlueZ object, so no device table; the
  // rest is the radio's road. False when the address is not commissioned
  // (nothing decoded or stored).
  bool on_relayed(const std::string& address, const DeviceProps& p, const std::string& via) {
    const TimestampMs t = now();
    std::vector<Reading> readings;
    std::vector<SensorAlert> alerts;
    std::optional<std::string> fw;
    {
      std::lock_guard lk(mu);
      if (!router.find(address)) {
        if (decommissioned.contains(address)) c_ignored_decommissioned->inc();
        return false;
      }
      health.on_advert(address, p.rssi ? std::optional<int>(*p.rssi) : std::nullopt, t, via);
      decode_locked(address, p, t, readings, alerts, fw, /*relayed=*/true);
    }
    submit(address, readings, alerts, fw);
    return true;
  }

  // Under mu: the frames of a commissioned sensor's message → readings;
  // frame loss counted on the road (`relayed` or radio) that brought it.
  void decode_locked(const std::string& address, const DeviceProps& p, TimestampMs t, std::vector<Reading>& readings,
                     std::vector<SensorAlert>& alerts, std::optional<std::string>& fw, bool relayed) {
    {
      for (auto& out : router.route(address, p, t)) {
        if (!out.frame) {
          health.on_rejected(address, out.why, out.frame.status().message(), t, alerts);
          continue;
        }
        const FrameGap gap = health.on_frame(address, *out.frame, t, alerts);
        if (gap.lost) c_lost[relayed ? 1 : 0]->inc(gap.lost);
        if (gap.jump) c_jumps[relayed ? 1 : 0]->inc();
        if (const auto& v = out.frame->firmware_version; v && !v->empty() && v->size() <= 64) {
          auto& known = firmware[address];
          if (known != *v) {
            known = *v;
            fw = *v;
          }
        }
        waveforms.on_frame(address, *out.frame, t);
        auto rs = out.frame->readings();
        readings.insert(readings.end(), std::make_move_iterator(rs.begin()), std::make_move_iterator(rs.end()));
      }
      if (!readings.empty())
        if (auto rssi = health.rssi_reading(address, t)) readings.push_back(std::move(*rssi));
    }
  }

  // Outside mu: readings to Ingest, alerts to the sink.
  void submit(const std::string& address, const std::vector<Reading>& readings, const std::vector<SensorAlert>& alerts,
              const std::optional<std::string>& fw = std::nullopt) {
    if (fw)  // a new version (or the first since start): kept per sensor for the fleet search
      if (auto st = store.set_sensor_firmware(address, *fw); !st.ok())
        spdlog::warn("ble: sensor {}: storing firmware version {}: {}", address, *fw, st.ToString());
    if (!readings.empty()) {
      const auto r = ingest.submit(readings);
      std::lock_guard lk(mu);
      health.on_ingested(address, r);
    }
    raise(alerts);
  }

  void load_sensors() {
    auto fresh = load_commissioned_sensors(store);
    if (!fresh) {
      spdlog::warn("ble: reading commissioned sensors: {}", fresh.status().ToString());
      return;
    }
    // Decommissioned sensors: the same table, rows with decommissioned_at
    // (addresses are unique, so an address is one or the other).
    std::set<std::string> retired;
    if (auto all = store.sensors(); all.ok()) {
      for (const auto& s : *all) {
        if (!s.decommissioned_at) continue;
        if (auto mac = protocol::Mac::parse(s.address)) retired.insert(mac->to_string());
      }
    } else {
      spdlog::warn("ble: reading decommissioned sensors: {}", all.status().ToString());
    }
    bool changed = false;
    {
      std::lock_guard lk(mu);
      decommissioned = std::move(retired);
      auto ch = router.set_sensors(std::move(*fresh));
      std::set<std::string> addresses;
      for (auto& [addr, s] : router.sensors()) addresses.insert(addr);
      devices.set_commissioned(std::move(addresses));
      for (auto& addr : ch.removed) {
        firmware.erase(addr);
        health.forget(addr);
        waveforms.forget(addr);
      }
      for (auto& addr : ch.rekeyed) health.forget_counter(addr);
      for (auto& [addr, s] : router.sensors()) health.track(s);
      changed = ch.any;
    }
    if (changed) ingest.invalidate_sensors();
  }

  Status restore_health() {
    auto rows = load_sensor_health(store);
    if (!rows) return rows.status();
    const TimestampMs t = now();
    std::lock_guard lk(mu);
    for (auto& row : *rows) {
      const auto& addr = row.health.address;
      if (!router.find(addr)) continue;
      std::optional<std::uint32_t> counter;
      if (row.health.last_counter) {
        // The replay counter only under the key it was accepted with.
        if (router.restore_counter(addr, *row.health.last_counter, row.counter_key, t))
          counter = row.health.last_counter;
        else
          spdlog::info("ble: {} has a new key since its last frame: its counter starts afresh", addr);
      }
      health.restore(addr, row.health, counter);
    }
    return Status::Ok();
  }

  void flush_health(bool all) {
    std::vector<StoredSensorHealth> rows;
    {
      std::lock_guard lk(mu);
      for (auto& h : health.take_dirty(all)) {
        auto key = router.key_label(h.address);
        rows.push_back({std::move(h), std::move(key)});
      }
    }
    if (auto st = save_sensor_health(store, rows, now()); !st.ok())
      spdlog::warn("ble: persisting sensor health: {}", st.ToString());
  }

  // RemoveDevice for uncommissioned devices BlueZ keeps caching.
  void remove_stale(TimestampMs t) {
    std::vector<std::string> victims;
    {
      std::lock_guard lk(mu);
      victims = devices.stale(t, o.stale_device_s * 1000LL, o.max_removals_per_tick);
    }
    const bool call = bus && discovery.status().adapter_present;
    for (auto& path : victims) {
      Status s = call ? bus->remove_device(discovery.adapter_path(), path, o.call_timeout) : Status::Ok();
      std::lock_guard lk(mu);
      if (!s.ok() && s.code() != Status::Code::kNotFound) {
        spdlog::debug("ble: RemoveDevice {}: {}", path, s.message());
        devices.removal_failed(path, t);
        continue;
      }
      devices.removed_from_bluez(path);
    }
  }

  void pull_due_waveform(TimestampMs t) {
    if (discovery.state() != BleState::kScanning) return;
    std::vector<WaveformPuller::Candidate> eligible;
    {
      std::lock_guard lk(mu);
      for (auto& [addr, s] : router.sensors()) {
        const SensorHealth* h = health.find(addr);
        if (!s.position_id || !h || !devices.path_of(addr)) continue;
        auto iv = waveform_intervals.find(addr);
        eligible.push_back({addr, h->last_seen, s.format == "vigil", iv == waveform_intervals.end() ? 0 : iv->second});
      }
    }
    if (auto due = waveforms.due(eligible, t)) {
      // Its outcome is counted, logged and scheduled by pull_and_store.
      (void)pull_and_store(*due);
    }
  }

  // GATT pull (blocking, no lock), then ingest; the outcome goes to the
  // schedule and the sensor's health.
  Status pull_and_store(const std::string& address) {
    if (!bus) return Status::Unavailable("no D-Bus connection");
    std::optional<std::string> path;
    {
      std::lock_guard lk(mu);
      path = devices.path_of(address);
    }
    if (!path) return Status::NotFound("sensor " + address + " not known to BlueZ");
    const TimestampMs t = now();
    auto w = waveforms.pull(*bus, *path, t);
    Status st = w.status();
    if (w) {
      auto id = ingest.submit_waveform(address, std::move(*w));
      if (id) spdlog::info("ble: sensor {}: waveform {} stored", address, *id);
      else st = id.status().Annotate("submit_waveform");
    }
    waveforms.done(address, st, t);
    std::lock_guard lk(mu);
    health.on_waveform(address, st, t);
    return st;
  }
};

Scanner::Scanner(BluezBus* bus, Ingest& ingest, Store& store, const Clock& clock, ScannerOptions options,
                 MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(bus, ingest, store, clock, std::move(options), metrics)) {}

Scanner::~Scanner() {
  if (impl_) impl_->flush_health(true);
}

Status Scanner::init() {
  VIGIL_RETURN_IF_ERROR(migrate_sensor_health_table(impl_->store));
  impl_->load_sensors();
  return impl_->restore_health();
}

void Scanner::set_foreign_advert_sink(ForeignAdvertSink sink) { impl_->foreign = std::move(sink); }

void Scanner::set_bus(BluezBus* bus) {
  impl_->bus = bus;
  impl_->discovery.set_bus(bus);
}

void Scanner::set_alert_sink(SensorAlertSink sink) {
  std::lock_guard lk(impl_->mu);
  impl_->sink = std::move(sink);
}

void Scanner::handle(const BusEvent& e) {
  auto& m = *impl_;
  using K = BusEvent::Kind;
  switch (e.kind) {
    case K::kDeviceAdded:
    case K::kDeviceChanged:
      // Devices of other adapters are ignored.
      if (e.path.rfind(m.discovery.adapter_path() + "/", 0) != 0) return;
      m.on_device(e.path, e.device);
      return;
    case K::kDeviceRemoved: {
      std::lock_guard lk(m.mu);
      m.devices.remove(e.path);
      return;
    }
    case K::kAdapterAdded:
    case K::kAdapterChanged:
    case K::kAdapterRemoved:
    case K::kBluezUp:
    case K::kBluezDown:
      m.discovery.on_event(e);
      m.publish_discovery();
      return;
  }
}

bool Scanner::handle_relayed(const std::string& address, const DeviceProps& p, const std::string& via) {
  return impl_->on_relayed(address, p, via);
}

void Scanner::tick() {
  auto& m = *impl_;
  const TimestampMs t = m.now();
  bool reload = t >= m.next_sensor_poll;
  TimestampMs last_advert = 0;
  {
    std::lock_guard lk(m.mu);
    reload = reload || m.reload_sensors;
    m.reload_sensors = false;
    last_advert = m.devices.last_advert();
  }
  if (reload) {
    m.next_sensor_poll = t + m.o.sensor_poll_s * 1000LL;
    m.load_sensors();
  }
  auto objects = m.discovery.tick(t, last_advert);
  {
    std::lock_guard lk(m.mu);
    if (objects) m.devices.merge(*objects, t);
    m.discovery_status = m.discovery.status();
  }
  std::vector<SensorAlert> alerts;
  {
    std::lock_guard lk(m.mu);
    m.health.check_silence(t, alerts);
  }
  m.raise(alerts);
  if (t >= m.next_stale_check) {
    m.next_stale_check = t + 5000;
    m.remove_stale(t);
  }
  m.pull_due_waveform(t);
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
  return impl_->pull_and_store(mac->to_string());
}

void Scanner::set_waveform_intervals(std::map<std::string, int> seconds) {
  impl_->waveform_intervals = std::move(seconds);
}

Status Scanner::run_gatt_job(const std::string& address, const GattJob& job) {
  auto mac = protocol::Mac::parse(address);
  if (!mac) return Status::InvalidArgument("not a MAC address: " + address);
  if (!impl_->bus) return Status::Unavailable("no D-Bus connection");
  std::optional<std::string> path;
  {
    std::lock_guard lk(impl_->mu);
    path = impl_->devices.path_of(mac->to_string());
  }
  if (!path) return Status::NotFound("sensor " + mac->to_string() + " not known to BlueZ (not heard yet)");
  return job(*impl_->bus, *path);
}

BleState Scanner::state() const {
  std::lock_guard lk(impl_->mu);
  return impl_->discovery_status.state;
}

nlohmann::json Scanner::status_json() const {
  auto& m = *impl_;
  std::lock_guard lk(m.mu);
  const auto& d = m.discovery_status;
  const auto counts = m.devices.counts();
  std::size_t decommissioned_heard = 0;
  if (!m.decommissioned.empty())
    for (const auto& d : m.devices.heard())  // bounded by max_devices
      if (!d.commissioned && m.decommissioned.contains(d.address)) ++decommissioned_heard;
  const TimestampMs last = m.devices.last_advert();
  return {{"status", to_string(d.state)},
          {"ok", d.state == BleState::kScanning},
          {"message", d.message},
          {"adapter", m.o.adapter},
          {"discovering", d.discovering},
          {"devices_known", counts.known},
          {"devices_heard", counts.heard},
          {"discovered", counts.uncommissioned - std::min(counts.uncommissioned, decommissioned_heard)},
          {"decommissioned_known", decommissioned_heard},
          {"adverts_ignored_decommissioned", m.c_ignored_decommissioned->value()},
          {"commissioned", m.router.sensors().size()},
          {"commissioned_heard", m.health.heard()},
          {"adverts_total", m.devices.adverts()},
          {"frames_accepted", m.router.accepted()},
          {"frames_rejected", m.router.rejected()},
          {"events_dropped", m.dropped},
          {"discovery_restarts", d.discovery_restarts},
          {"bluez_restarts", d.bluez_restarts},
          {"devices_removed", m.devices.removed()},
          {"last_advert", last ? nlohmann::json(iso8601_utc(last)) : nlohmann::json(nullptr)}};
}

std::vector<DiscoveredDevice> Scanner::devices() const {
  std::lock_guard lk(impl_->mu);
  auto all = impl_->devices.heard();
  for (auto& d : all) d.decommissioned = impl_->decommissioned.contains(d.address);
  return all;
}

std::vector<DiscoveredDevice> Scanner::discovered() const {
  auto all = devices();
  std::erase_if(all, [](const DiscoveredDevice& d) { return d.commissioned || d.decommissioned; });
  return all;
}

bool Scanner::is_decommissioned(const std::string& address) const {
  std::lock_guard lk(impl_->mu);
  return impl_->decommissioned.contains(address);
}

std::optional<SensorHealth> Scanner::health(Id sensor_id) const {
  std::lock_guard lk(impl_->mu);
  return impl_->health.by_id(sensor_id);
}

std::vector<SensorHealth> Scanner::health_all() const {
  std::lock_guard lk(impl_->mu);
  return impl_->health.all();
}

std::uint64_t Scanner::frames_accepted() const {
  std::lock_guard lk(impl_->mu);
  return impl_->router.accepted();
}

std::uint64_t Scanner::adverts_total() const {
  std::lock_guard lk(impl_->mu);
  return impl_->devices.adverts();
}

}  // namespace vigil::ble
