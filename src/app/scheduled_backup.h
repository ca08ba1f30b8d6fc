// SPDX-License-Identifier: Apache-2.0
//
// ScheduledBackup: the nightly backup of config storage.backup_dir. Once a
// day at storage.backup_at (local time), and at start when the newest
// backup in the directory is older than a day (a box that was off at the
// scheduled time catches up), it writes "vigil-backup-<gateway>-<UTC>.vgb"
// with write_backup() on its own thread (the gateway goes on), keeps the
// newest storage.backup_keep files, and raises an alert (model "gateway",
// kind backup_failed) through the sink when a backup fails. A later
// success does not close that alert: a person does, as for every alert.
//
// Thread-safety: tick() from one thread (the gateway's control strand);
// the backup runs on a thread of its own, joined by the destructor.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "alerts/alerts.h"
#include "config/config.h"

namespace vigil::app {

class ScheduledBackup {
 public:
  using Sink = std::function<Status(const alerts::ExternalAlert&)>;
  using Writer = std::function<Status(const std::string& out)>;  // the seam: write_backup in the gateway
  // now_ms: wall clock; local_minute_of_day(now): minutes since local midnight.
  ScheduledBackup(StorageConfig config, std::string gateway_id, Writer writer, Sink sink,
                  std::function<TimestampMs()> now_ms, std::function<int(TimestampMs)> local_minute_of_day);
  ~ScheduledBackup();
  void tick();
  std::uint64_t started() const { return started_.load(); }
  std::uint64_t succeeded() const { return ok_.load(); }
  std::uint64_t failed() const { return failed_.load(); }

  // "HH:MM" → minutes since midnight; nullopt when malformed.
  static std::optional<int> parse_at(const std::string& at);

 private:
  void start(TimestampMs now);
  void finish_if_done();
  void prune();
  std::optional<TimestampMs> newest_backup_ms() const;

  StorageConfig cfg_;
  std::string gateway_id_;
  Writer writer_;
  Sink sink_;
  std::function<TimestampMs()> now_;
  std::function<int(TimestampMs)> minute_of_day_;
  int at_minute_ = 120;
  std::thread worker_;
  std::atomic<bool> running_{false};
  Status result_;
  std::string current_;
  TimestampMs last_started_ = 0;
  bool checked_at_start_ = false;
  std::atomic<std::uint64_t> started_{0}, ok_{0}, failed_{0};
};

}  // namespace vigil::app
