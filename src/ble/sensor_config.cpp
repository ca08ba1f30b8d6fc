// SPDX-License-Identifier: Apache-2.0
#include "ble/sensor_config.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ble/dfu_client.h"
#include "ble/scanner.h"

namespace vigil::ble {

namespace {

using json = nlohmann::json;

constexpr const char* kColumns =
    "sensor_id, address, seq, measurement_interval_s, waveform_interval_min, tx_power_dbm, desired_at, desired_by, "
    "reported_seq, reported_measurement_interval_s, reported_waveform_interval_min, reported_tx_power_dbm, "
    "reported_firmware, reported_at, state, error, attempts, next_attempt_at";

ConfigState state_from(const std::string& s) {
  if (s == "applied") return ConfigState::kApplied;
  if (s == "failed") return ConfigState::kFailed;
  return ConfigState::kPending;
}

SensorConfigRecord read_row(const sql::Stmt& s) {
  SensorConfigRecord r;
  r.sensor_id = s.i64(0);
  r.address = s.text(1);
  r.desired.seq = static_cast<std::uint32_t>(s.i64(2));
  r.desired.measurement_interval_s = static_cast<std::uint32_t>(s.i64(3));
  r.desired.waveform_interval_min = static_cast<std::uint16_t>(s.i64(4));
  r.desired.tx_power_dbm = static_cast<std::int8_t>(s.i64(5));
  r.desired_at = s.i64(6);
  r.desired_by = s.text(7);
  if (!s.is_null(8)) {
    protocol::SensorConfig c;
    c.seq = static_cast<std::uint32_t>(s.i64(8));
    c.measurement_interval_s = static_cast<std::uint32_t>(s.i64(9));
    c.waveform_interval_min = static_cast<std::uint16_t>(s.i64(10));
    c.tx_power_dbm = static_cast<std::int8_t>(s.i64(11));
    r.reported = c;
  }
  if (!s.is_null(12)) r.reported_firmware = static_cast<std::uint32_t>(s.i64(12));
  r.reported_at = s.is_null(13) ? 0 : s.i64(13);
  r.state = state_from(s.text(14));
  r.error = s.text(15);
  r.attempts = static_cast<int>(s.i64(16));
  r.next_attempt_at = s.i64(17);
  return r;
}

json config_json(const protocol::SensorConfig& c) {
  return {{"seq", c.seq},
          {"measurement_interval_s", c.measurement_interval_s},
          {"waveform_interval_min", c.waveform_interval_min},
          {"tx_power_dbm", c.tx_power_dbm}};
}

Status load_on(sql::Db& db, Id sensor_id, std::optional<SensorConfigRecord>& out) {
  auto q = db.prepare(std::string("SELECT ") + kColumns + " FROM ble_sensor_config WHERE sensor_id = ?");
  if (!q) return q.status();
  (*q)->bind(1, static_cast<std::int64_t>(sensor_id));
  auto row = (*q)->step();
  if (!row) return row.status();
  if (*row) out = read_row(**q);
  (*q)->reset();
  return Status::Ok();
}

// 30 s, 1 min, 2 min, … at most an hour.
TimestampMs backoff_ms(int attempts) {
  return std::min<TimestampMs>(30'000LL << std::min(attempts - 1, 10), 3'600'000);
}

}  // namespace

const char* config_state_name(ConfigState s) {
  switch (s) {
    case ConfigState::kPending: return "pending";
    case ConfigState::kApplied: return "applied";
    case ConfigState::kFailed: return "failed";
  }
  return "pending";
}

json to_json(const SensorConfigRecord& r) {
  json j = {{"sensor_id", r.sensor_id},
            {"state", config_state_name(r.state)},
            {"desired", config_json(r.desired)},
            {"desired_at", r.desired_at},
            {"desired_by", r.desired_by},
            {"reported", r.reported ? config_json(*r.reported) : json(nullptr)},
            {"reported_at", r.reported_at ? json(r.reported_at) : json(nullptr)},
            {"firmware_version",
             r.reported_firmware ? json(protocol::firmware_version_string(*r.reported_firmware)) : json(nullptr)},
            {"attempts", r.attempts},
            {"error", r.error.empty() ? json(nullptr) : json(r.error)}};
  if (r.state == ConfigState::kPending) j["next_attempt_at"] = r.next_attempt_at;
  return j;
}

Result<std::optional<SensorConfigRecord>> load_sensor_config(Store& store, Id sensor_id) {
  std::optional<SensorConfigRecord> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) { return load_on(db, sensor_id, out); }));
  return out;
}

Result<SensorConfigRecord> set_desired_config(Store& store, Id sensor_id, const std::string& address,
                                              protocol::SensorConfig desired, const std::string& actor,
                                              TimestampMs now) {
  VIGIL_RETURN_IF_ERROR(protocol::validate_sensor_config(desired));
  SensorConfigRecord rec;
  VIGIL_RETURN_IF_ERROR(store.write_txn([&](sql::Db& db) -> Status {
    std::optional<SensorConfigRecord> prev;
    VIGIL_RETURN_IF_ERROR(load_on(db, sensor_id, prev));
    desired.seq = prev ? prev->desired.seq + 1 : 1;
    auto up = db.prepare(
        "INSERT INTO ble_sensor_config(sensor_id, address, seq, measurement_interval_s, waveform_interval_min, "
        "tx_power_dbm, desired_at, desired_by, state, error, attempts, next_attempt_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', '', 0, ?7) "
        "ON CONFLICT(sensor_id) DO UPDATE SET address = ?2, seq = ?3, measurement_interval_s = ?4, "
        "waveform_interval_min = ?5, tx_power_dbm = ?6, desired_at = ?7, desired_by = ?8, state = 'pending', "
        "error = '', attempts = 0, next_attempt_at = ?7");
    if (!up) return up.status();
    (*up)->bind(1, static_cast<std::int64_t>(sensor_id)).bind(2, address).bind(3, static_cast<std::int64_t>(desired.seq));
    (*up)->bind(4, static_cast<std::int64_t>(desired.measurement_interval_s))
        .bind(5, static_cast<std::int64_t>(desired.waveform_interval_min))
        .bind(6, static_cast<std::int64_t>(desired.tx_power_dbm))
        .bind(7, static_cast<std::int64_t>(now))
        .bind(8, actor);
    VIGIL_RETURN_IF_ERROR((*up)->run());
    VIGIL_RETURN_IF_ERROR(Store::audit(db, now, actor, "sensor.config", "sensor:" + std::to_string(sensor_id),
                                       config_json(desired).dump()));
    std::optional<SensorConfigRecord> now_rec;
    VIGIL_RETURN_IF_ERROR(load_on(db, sensor_id, now_rec));
    if (!now_rec) return Status::Internal("sensor configuration not stored");
    rec = *now_rec;
    return Status::Ok();
  }));
  return rec;
}

Result<std::vector<SensorConfigRecord>> due_sensor_configs(Store& store, TimestampMs now) {
  std::vector<SensorConfigRecord> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(std::string("SELECT ") + kColumns +
                        " FROM ble_sensor_config WHERE state = 'pending' AND next_attempt_at <= ? "
                        "ORDER BY next_attempt_at LIMIT 256");
    if (!q) return q.status();
    (*q)->bind(1, static_cast<std::int64_t>(now));
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      out.push_back(read_row(**q));
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status record_config_attempt(Store& store, const SensorConfigRecord& attempted,
                             const Result<protocol::ReportedConfig>& outcome, TimestampMs now) {
  return store.write_txn([&](sql::Db& db) -> Status {
    std::optional<SensorConfigRecord> cur;
    VIGIL_RETURN_IF_ERROR(load_on(db, attempted.sensor_id, cur));
    if (!cur || cur->desired.seq != attempted.desired.seq) return Status::Ok();  // superseded
    std::string state = "pending", error;
    int attempts = cur->attempts + 1;
    TimestampMs next = now + backoff_ms(attempts);
    if (outcome.ok()) {
      const auto& rep = outcome->config;
      if (rep.seq == cur->desired.seq && rep.measurement_interval_s == cur->desired.measurement_interval_s &&
          rep.waveform_interval_min == cur->desired.waveform_interval_min &&
          rep.tx_power_dbm == cur->desired.tx_power_dbm) {
        state = "applied";
      } else {
        state = "failed";
        error = "the sensor reported configuration seq " + std::to_string(rep.seq) + " instead of " +
                std::to_string(cur->desired.seq);
      }
      auto up = db.prepare(
          "UPDATE ble_sensor_config SET reported_seq = ?2, reported_measurement_interval_s = ?3, "
          "reported_waveform_interval_min = ?4, reported_tx_power_dbm = ?5, reported_firmware = ?6, "
          "reported_at = ?7 WHERE sensor_id = ?1");
      if (!up) return up.status();
      (*up)->bind(1, static_cast<std::int64_t>(cur->sensor_id)).bind(2, static_cast<std::int64_t>(rep.seq));
      (*up)->bind(3, static_cast<std::int64_t>(rep.measurement_interval_s))
          .bind(4, static_cast<std::int64_t>(rep.waveform_interval_min))
          .bind(5, static_cast<std::int64_t>(rep.tx_power_dbm))
          .bind(6, static_cast<std::int64_t>(outcome->firmware_version))
          .bind(7, static_cast<std::int64_t>(now));
      VIGIL_RETURN_IF_ERROR((*up)->run());
    } else {
      error = outcome.status().ToString();
      // The sensor said no (a value it does not allow): retrying will not help.
      const bool refused = outcome.status().code() == Status::Code::kFailedPrecondition ||
                           outcome.status().code() == Status::Code::kInvalidArgument ||
                           outcome.status().message().find("NotPermitted") != std::string::npos ||
                           outcome.status().message().find("InvalidValue") != std::string::npos;
      if (refused || attempts >= kMaxConfigAttempts) state = "failed";
    }
    auto st = db.prepare(
        "UPDATE ble_sensor_config SET state = ?2, error = ?3, attempts = ?4, next_attempt_at = ?5 WHERE sensor_id = ?1");
    if (!st) return st.status();
    (*st)->bind(1, static_cast<std::int64_t>(cur->sensor_id)).bind(2, state).bind(3, error).bind(4, attempts);
    (*st)->bind(5, static_cast<std::int64_t>(next));
    return (*st)->run();
  });
}

Result<std::map<std::string, int>> reported_waveform_intervals(Store& store) {
  std::map<std::string, int> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT address, reported_waveform_interval_min FROM ble_sensor_config "
        "WHERE reported_waveform_interval_min > 0");
    if (!q) return q.status();
    for (;;) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      out[(*q)->text(0)] = static_cast<int>((*q)->i64(1)) * 60;
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

void SensorConfigApplier::refresh_intervals(Scanner& scanner, Store& store, TimestampMs now) {
  next_intervals_ = now + 60'000;
  auto iv = reported_waveform_intervals(store);
  if (!iv) {
    spdlog::warn("ble: reported waveform intervals not readable: {}", iv.status().ToString());
    return;
  }
  scanner.set_waveform_intervals(std::move(*iv));
}

void SensorConfigApplier::tick(Scanner& scanner, Store& store, TimestampMs now) {
  if (now >= next_intervals_) refresh_intervals(scanner, store, now);
  if (now < next_check_) return;
  next_check_ = now + 5'000;
  auto due = due_sensor_configs(store, now);
  if (!due) {
    spdlog::warn("ble: sensor configurations not readable: {}", due.status().ToString());
    return;
  }
  for (const auto& rec : *due) {
    auto h = scanner.health(rec.sensor_id);
    if (!h || !h->last_seen || now - h->last_seen > window_ms_) continue;  // not listening now
    std::optional<Result<protocol::ReportedConfig>> attempt;
    Status run = scanner.run_gatt_job(rec.address, [&](BluezBus& bus, const std::string& path) -> Status {
      attempt = config_apply(bus, path, rec.desired, DfuClientOptions{});
      return attempt->status();
    });
    if (!attempt) {  // never connected (no bus, BlueZ does not know it): not an attempt
      spdlog::debug("ble: sensor {}: configuration waits: {}", rec.address, run.ToString());
      continue;
    }
    const Result<protocol::ReportedConfig>& outcome = *attempt;
    if (outcome.ok())
      spdlog::info("ble: sensor {}: configuration {} applied", rec.address, rec.desired.seq);
    else
      spdlog::warn("ble: sensor {}: configuration {} not applied: {}", rec.address, rec.desired.seq,
                   outcome.status().ToString());
    if (auto s = record_config_attempt(store, rec, outcome, now); !s.ok())
      spdlog::warn("ble: sensor {}: configuration outcome not stored: {}", rec.address, s.ToString());
    refresh_intervals(scanner, store, now);
    return;  // one GATT procedure per tick: adverts keep flowing
  }
}

}  // namespace vigil::ble
