// SPDX-License-Identifier: Apache-2.0
//
// FirmwareService: rollouts and the engine (contract in firmware_service.h).
#include <algorithm>
#include <cmath>
#include <map>

#include "firmware/firmware_service.h"

namespace vigil::firmware {
namespace {

bool finished_state(const std::string& s) { return s == "confirmed" || s == "failed" || s == "reverted"; }
bool failed_state(const std::string& s) { return s == "failed" || s == "reverted"; }

const char* phase_state(DfuPhase p) {
  switch (p) {
    case DfuPhase::kTransferring: return "transferring";
    case DfuPhase::kVerifying: return "verifying";
    case DfuPhase::kTestBoot: return "test_boot";
  }
  return "transferring";
}

constexpr const char* kRolloutCols =
    "SELECT id, image_id, tag, percent, wave_size, failure_threshold, force, state, reason, created_by, created_at, "
    "updated_at FROM firmware_rollouts";

Result<std::vector<Rollout>> read_rollouts(sql::Db& db, std::optional<Id> id) {
  auto q = db.prepare(id ? std::string(kRolloutCols) + " WHERE id = ?" : std::string(kRolloutCols) + " ORDER BY id DESC");
  if (!q) return q.status();
  if (id) (*q)->bind(1, *id);
  std::vector<Rollout> out;
  while (true) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    auto& s = **q;
    Rollout r;
    r.id = s.i64(0);
    r.image_id = s.i64(1);
    if (!s.is_null(2)) r.tag = s.text(2);
    if (!s.is_null(3)) r.percent = s.f64(3);
    r.wave_size = static_cast<int>(s.i64(4));
    r.failure_threshold = s.text(5);
    r.force = s.i64(6) != 0;
    r.state = s.text(7);
    r.reason = s.text(8);
    r.created_by = s.text(9);
    r.created_at = s.i64(10);
    r.updated_at = s.i64(11);
    out.push_back(std::move(r));
  }
  for (auto& r : out) {
    auto t = db.prepare(
        "SELECT sensor_id, address, wave, state, reason, attempts, bytes_sent, started_at, finished_at, updated_at "
        "FROM firmware_rollout_targets WHERE rollout_id = ? ORDER BY wave, sensor_id");
    if (!t) return t.status();
    (*t)->bind(1, r.id);
    while (true) {
      auto row = (*t)->step();
      if (!row) return row.status();
      if (!*row) break;
      auto& s = **t;
      RolloutTarget x;
      x.sensor_id = s.i64(0);
      x.address = s.text(1);
      x.wave = static_cast<int>(s.i64(2));
      x.state = s.text(3);
      x.reason = s.text(4);
      x.attempts = static_cast<int>(s.i64(5));
      x.bytes_sent = s.i64(6);
      x.started_at = s.opt_i64(7);
      x.finished_at = s.opt_i64(8);
      x.updated_at = s.i64(9);
      r.targets.push_back(std::move(x));
    }
  }
  return out;
}

// The board a sensor is, from its "board" tag or its format.
std::optional<std::uint32_t> sensor_board(const Sensor& s, const Tags& tags) {
  if (auto it = tags.find("board"); it != tags.end()) {
    auto b = parse_board(it->second);
    if (b) return *b;
    return std::nullopt;
  }
  if (s.format == "vigil") return kBoardNrf52840;
  return std::nullopt;
}

}  // namespace

Result<Rollout> FirmwareService::create_rollout(const RolloutRequest& req, const std::string& actor) {
  auto img = image(req.image_id);
  if (!img) return img.status();
  if (req.wave_size < 1 || req.wave_size > 10000)
    return Status::InvalidArgument("wave_size: must be a whole number from 1 to 10000");
  if (req.percent && !(*req.percent > 0 && *req.percent <= 100))
    return Status::InvalidArgument("percent: must be in (0, 100]");
  VIGIL_RETURN_IF_ERROR(check_threshold(req.failure_threshold));
  std::string tag_key, tag_value;
  if (req.tag) {
    auto eq = req.tag->find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == req.tag->size())
      return Status::InvalidArgument("tag: expected key=value");
    tag_key = req.tag->substr(0, eq);
    tag_value = req.tag->substr(eq + 1);
  }
  auto sensors = store_.sensors();
  if (!sensors) return sensors.status();
  auto all_tags = store_.all_tags();
  if (!all_tags) return all_tags.status();
  std::map<Id, Tags> tags;
  for (auto& t : *all_tags)
    if (t.kind == TagKind::kSensor) tags[t.id][t.key] = t.value;
  auto running = store_.sensor_firmware();
  if (!running) return running.status();

  std::vector<Sensor> chosen;
  for (auto& s : *sensors) {
    if (s.decommissioned_at) continue;
    const Tags& st = tags[s.id];
    if (sensor_board(s, st) != img->board_id) continue;
    if (req.tag) {
      auto it = st.find(tag_key);
      if (it == st.end() || it->second != tag_value) continue;
    }
    chosen.push_back(s);
  }
  std::sort(chosen.begin(), chosen.end(), [](const Sensor& a, const Sensor& b) { return a.id < b.id; });
  if (req.percent)
    chosen.resize(static_cast<std::size_t>(std::ceil(static_cast<double>(chosen.size()) * *req.percent / 100.0 - 1e-9)));
  std::vector<Sensor> targets;
  for (auto& s : chosen) {
    auto it = running->find(s.id);
    if (it != running->end()) {
      auto v = parse_version(it->second);
      if (v && *v > img->version && !req.force)
        return Status::FailedPrecondition("downgrade: sensor " + s.address + " runs " + it->second + ", newer than " +
                                          version_string(img->version) + " (set force to roll it out anyway)");
      if (v && *v == img->version && !req.force) continue;  // already there
    }
    targets.push_back(s);
  }
  if (targets.empty())
    return Status::FailedPrecondition("no sensor selected: no commissioned " + board_name(img->board_id) +
                                      " sensor matches" + (req.tag ? " tag " + *req.tag : std::string()) +
                                      " and needs version " + version_string(img->version));
  const TimestampMs now = clock_.now_ms();
  Id id = 0;
  auto st = store_.write_txn([&](sql::Db& db) -> Status {
    // The image may have been deleted since it was read above.
    auto still = db.prepare("SELECT 1 FROM firmware_images WHERE id = ?");
    if (!still) return still.status();
    (*still)->bind(1, req.image_id);
    auto there = (*still)->step();
    if (!there) return there.status();
    if (!*there) return Status::NotFound("no firmware image " + std::to_string(req.image_id));
    auto q = db.prepare(
        "INSERT INTO firmware_rollouts(image_id, tag, percent, wave_size, failure_threshold, force, state, reason, "
        "created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,'running','',?,?,?)");
    if (!q) return q.status();
    (*q)->bind(1, req.image_id).bind(2, req.tag).bind(3, req.percent).bind(4, req.wave_size);
    (*q)->bind(5, req.failure_threshold).bind(6, req.force ? 1 : 0).bind(7, actor).bind(8, now).bind(9, now);
    VIGIL_RETURN_IF_ERROR((*q)->run());
    id = db.last_insert_id();
    auto t = db.prepare(
        "INSERT INTO firmware_rollout_targets(rollout_id, sensor_id, address, wave, state, updated_at) "
        "VALUES (?,?,?,?,'queued',?)");
    if (!t) return t.status();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      (*t)->bind(1, id).bind(2, targets[i].id).bind(3, targets[i].address);
      (*t)->bind(4, static_cast<std::int64_t>(i / static_cast<std::size_t>(req.wave_size))).bind(5, now);
      VIGIL_RETURN_IF_ERROR((*t)->run());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rollout(id);
}

Result<std::vector<Rollout>> FirmwareService::rollouts() {
  std::vector<Rollout> out;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto r = read_rollouts(db, std::nullopt);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Rollout> FirmwareService::rollout(Id id) {
  std::vector<Rollout> out;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto r = read_rollouts(db, id);
    if (!r) return r.status();
    out = std::move(*r);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.empty()) return Status::NotFound("no firmware rollout " + std::to_string(id));
  return std::move(out.front());
}

Status FirmwareService::set_rollout_state(Id id, const std::string& state, const std::string& reason) {
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE firmware_rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    return (*q)->bind(1, state).bind(2, reason).bind(3, clock_.now_ms()).bind(4, id).run();
  });
}

Status FirmwareService::stop(Id id) {
  std::lock_guard lock(mu_);
  auto r = rollout(id);
  if (!r) return r.status();
  if (r->state != "running" && r->state != "paused")
    return Status::FailedPrecondition("rollout " + std::to_string(id) + " is " + r->state + ", not running");
  return set_rollout_state(id, "stopped", "stopped by an admin");
}

Status FirmwareService::resume(Id id) {
  std::lock_guard lock(mu_);
  auto r = rollout(id);
  if (!r) return r.status();
  if (r->state != "stopped" && r->state != "paused")
    return Status::FailedPrecondition("rollout " + std::to_string(id) + " is " + r->state + ", not stopped");
  return set_rollout_state(id, "running", "");
}

Status FirmwareService::set_target(Id rollout_id, Id sensor_id, const std::string& state, const std::string& reason,
                                   std::optional<std::int64_t> bytes, bool attempt, bool finished) {
  return store_.write_txn([&](sql::Db& db) -> Status {
    const TimestampMs now = clock_.now_ms();
    auto q = db.prepare(
        "UPDATE firmware_rollout_targets SET state = ?, reason = ?, bytes_sent = COALESCE(?, bytes_sent), "
        "attempts = attempts + ?, started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END, "
        "finished_at = CASE WHEN ? THEN ? ELSE finished_at END, updated_at = ? WHERE rollout_id = ? AND sensor_id = ?");
    if (!q) return q.status();
    (*q)->bind(1, state).bind(2, reason).bind(3, bytes).bind(4, attempt ? 1 : 0).bind(5, attempt ? 1 : 0).bind(6, now);
    (*q)->bind(7, finished ? 1 : 0).bind(8, now).bind(9, now).bind(10, rollout_id).bind(11, sensor_id);
    return (*q)->run();
  });
}

Result<int> FirmwareService::step() {
  // Only the running rollouts are read (finished ones pile up over the years).
  std::vector<Id> running;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id FROM firmware_rollouts WHERE state = 'running' ORDER BY id");
    if (!q) return q.status();
    while (true) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      running.push_back((*q)->i64(0));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  int handed = 0;
  for (Id id : running) {  // oldest first
    auto r = rollout(id);
    if (!r) return r.status();
    if (r->state != "running") continue;  // stopped meanwhile
    auto more = step_rollout(*r, handed);
    if (!more) return more.status();
  }
  return handed;
}

// One rollout: the queued targets of its lowest unfinished wave. Returns
// whether the rollout is still running afterwards.
Result<bool> FirmwareService::step_rollout(const Rollout& r, int& handed) {
  auto finish_check = [&](const Rollout& now) -> Result<bool> {
    int failed = 0, done = 0;
    for (auto& t : now.targets) {
      failed += failed_state(t.state) ? 1 : 0;
      done += finished_state(t.state) ? 1 : 0;
    }
    const int total = static_cast<int>(now.targets.size());
    std::lock_guard lock(mu_);
    auto cur = rollout(now.id);
    if (!cur) return cur.status();
    if (cur->state != "running") return false;
    if (threshold_crossed(now.failure_threshold, failed, total)) {
      VIGIL_RETURN_IF_ERROR(set_rollout_state(now.id, "failed",
                                              std::to_string(failed) + " of " + std::to_string(total) +
                                                  " sensors failed: the failure threshold " + now.failure_threshold +
                                                  " was crossed"));
      return false;
    }
    if (done == total) {
      VIGIL_RETURN_IF_ERROR(set_rollout_state(now.id, "completed", ""));
      return false;
    }
    return true;
  };
  auto running = finish_check(r);
  if (!running || !*running) return running;

  int wave = -1;
  for (auto& t : r.targets)
    if (!finished_state(t.state)) {
      wave = t.wave;
      break;
    }
  if (wave < 0) return false;
  std::vector<std::uint8_t> blob;
  std::map<Id, std::vector<std::uint8_t>> keys;
  auto st = store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT blob FROM firmware_images WHERE id = ?");
    if (!q) return q.status();
    (*q)->bind(1, r.image_id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) return Status::NotFound("rollout " + std::to_string(r.id) + ": image " + std::to_string(r.image_id) + " is gone");
    auto b = (*q)->blob(0);
    blob.assign(b.begin(), b.end());
    auto k = db.prepare("SELECT id, key FROM sensors WHERE key IS NOT NULL");
    if (!k) return k.status();
    while (true) {
      auto kr = (*k)->step();
      if (!kr) return kr.status();
      if (!*kr) break;
      auto kb = (*k)->blob(1);
      keys[(*k)->i64(0)].assign(kb.begin(), kb.end());
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  auto info = parse_image(blob);
  if (!info) return info.status().Annotate("rollout " + std::to_string(r.id) + ": stored image");
  const std::uint8_t flags = r.force ? kFlagForce : 0;
  DfuImage image{blob, info->version, flags};

  for (auto& t : r.targets) {
    if (t.wave != wave || finished_state(t.state)) continue;
    {
      // A stop between two targets takes effect here.
      std::lock_guard lock(mu_);
      auto cur = rollout(r.id);
      if (!cur) return cur.status();
      if (cur->state != "running") return false;
    }
    auto kit = keys.find(t.sensor_id);
    if (kit == keys.end() || kit->second.size() != 16) {
      VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, "failed", "the sensor has no AES-128 key to authenticate the image",
                                       std::nullopt, false, true));
      continue;
    }
    auto tag = dfu_tag(kit->second, flags, blob);
    if (!tag) return tag.status();
    SensorTarget target{t.sensor_id, t.address, info->board_id};
    std::string phase = "queued";
    std::int64_t bytes = t.bytes_sent;
    ++handed;
    auto out = transport_.update(target, image, *tag, [&](DfuPhase p, std::uint64_t acked) {
      bytes = static_cast<std::int64_t>(acked);
      if (phase != phase_state(p)) {  // persist phase changes, not every chunk
        phase = phase_state(p);
        (void)set_target(r.id, t.sensor_id, phase, "", bytes, false, false);
      }
    });
    if (!out) {
      const bool give_up = t.attempts + 1 >= options_.max_attempts;
      VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, give_up ? "failed" : "queued",
                                       (give_up ? "gave up after " + std::to_string(t.attempts + 1) + " attempts: "
                                                : std::string("connection lost, will resume: ")) +
                                           out.status().message(),
                                       bytes, true, give_up));
      continue;
    }
    switch (out->kind) {
      case DfuOutcome::Kind::kWaiting:
        // Written only when it changes: a waiting rollout must not rewrite
        // its row every engine pass (flash wear).
        if (t.state != "queued" || t.reason != "waiting: " + out->reason)
          VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, "queued", "waiting: " + out->reason, std::nullopt, false, false));
        --handed;
        return true;  // nothing reaches the sensors by this transport: try again later
      case DfuOutcome::Kind::kConfirmed:
        VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, "confirmed", "", bytes, true, true));
        break;
      case DfuOutcome::Kind::kRejected:
        VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, "failed", out->reason, bytes, true, true));
        break;
      case DfuOutcome::Kind::kReverted:
        VIGIL_RETURN_IF_ERROR(set_target(r.id, t.sensor_id, "reverted", out->reason, bytes, true, true));
        break;
    }
    auto now = rollout(r.id);
    if (!now) return now.status();
    auto still = finish_check(*now);
    if (!still || !*still) return still;
  }
  auto now = rollout(r.id);
  if (!now) return now.status();
  return finish_check(*now);
}

}  // namespace vigil::firmware
