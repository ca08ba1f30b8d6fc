// SPDX-License-Identifier: Apache-2.0
#include "app/scheduled_backup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <vector>

namespace vigil::app {
namespace fs = std::filesystem;
namespace {
constexpr TimestampMs kDayMs = 86'400'000;
constexpr const char* kPrefix = "vigil-backup-";

std::string utc_stamp(TimestampMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}
}  // namespace

std::optional<int> ScheduledBackup::parse_at(const std::string& at) {
  if (at.size() != 5 || at[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4})
    if (at[static_cast<std::size_t>(i)] < '0' || at[static_cast<std::size_t>(i)] > '9') return std::nullopt;
  const int h = (at[0] - '0') * 10 + (at[1] - '0'), m = (at[3] - '0') * 10 + (at[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

ScheduledBackup::ScheduledBackup(StorageConfig config, std::string gateway_id, Writer writer, Sink sink,
                                 std::function<TimestampMs()> now_ms, std::function<int(TimestampMs)> minute_of_day)
    : cfg_(std::move(config)),
      gateway_id_(std::move(gateway_id)),
      writer_(std::move(writer)),
      sink_(std::move(sink)),
      now_(std::move(now_ms)),
      minute_of_day_(std::move(minute_of_day)) {
  at_minute_ = parse_at(cfg_.backup_at).value_or(120);
}

ScheduledBackup::~ScheduledBackup() {
  if (worker_.joinable()) worker_.join();
}

std::optional<TimestampMs> ScheduledBackup::newest_backup_ms() const {
  std::error_code ec;
  std::optional<TimestampMs> newest;
  for (const auto& e : fs::directory_iterator(cfg_.backup_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || e.path().extension() != ".vgb") continue;
    auto t = fs::last_write_time(e.path(), ec);
    if (ec) continue;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::file_clock::to_sys(t).time_since_epoch())
                        .count();
    if (!newest || ms > *newest) newest = ms;
  }
  return newest;
}

void ScheduledBackup::prune() {
  std::error_code ec;
  std::vector<fs::path> mine;
  for (const auto& e : fs::directory_iterator(cfg_.backup_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix + gateway_id_ + "-", 0) == 0 && e.path().extension() == ".vgb") mine.push_back(e.path());
  }
  std::sort(mine.begin(), mine.end());  // the UTC stamp sorts by time
  while (static_cast<int>(mine.size()) > std::max(1, cfg_.backup_keep)) {
    fs::remove(mine.front(), ec);
    mine.erase(mine.begin());
  }
}

void ScheduledBackup::start(TimestampMs now) {
  last_started_ = now;
  ++started_;
  current_ = (fs::path(cfg_.backup_dir) / (kPrefix + gateway_id_ + "-" + utc_stamp(now) + ".vgb")).string();
  running_ = true;
  if (worker_.joinable()) worker_.join();
  worker_ = std::thread([this] {
    std::error_code ec;
    fs::create_directories(cfg_.backup_dir, ec);
    result_ = ec ? Status::IoError("cannot create " + cfg_.backup_dir + ": " + ec.message()) : writer_(current_);
    running_ = false;  // publishes result_ (release) to finish_if_done (acquire)
  });
}

void ScheduledBackup::finish_if_done() {
  if (running_ || current_.empty()) return;
  if (worker_.joinable()) worker_.join();
  if (result_.ok()) {
    ++ok_;
    spdlog::info("backup: written {}", current_);
    prune();
  } else {
    ++failed_;
    spdlog::error("backup: {} failed: {}", current_, result_.ToString());
    alerts::ExternalAlert e;
    e.source = "gateway";
    e.kind = "backup_failed";
    e.model = "gateway";
    e.severity = "warning";
    e.title = "Nightly backup failed";
    e.explanation = "The backup to " + cfg_.backup_dir + " failed: " + result_.message() +
                    ". Check the stick or share (mounted, writable, space) — the next attempt is at " +
                    cfg_.backup_at + " or at the next start.";
    if (Status s = sink_(e); !s.ok()) spdlog::warn("backup: alert not raised: {}", s.ToString());
  }
  current_.clear();
}

void ScheduledBackup::tick() {
  if (cfg_.backup_dir.empty()) return;
  finish_if_done();
  if (running_) return;
  const TimestampMs now = now_();
  if (!checked_at_start_) {
    // Catch up: nothing written in the last day (the box was off at the
    // scheduled time, or this is the first start with backups on).
    checked_at_start_ = true;
    auto newest = newest_backup_ms();
    if (!newest || now - *newest > kDayMs) {
      start(now);
      return;
    }
    last_started_ = *newest;
  }
  const int minute = minute_of_day_(now);
  // The scheduled minute, once a day (a second tick in the same minute, or
  // a clock set back a little, does not start another).
  if (minute >= at_minute_ && minute < at_minute_ + 5 && now - last_started_ > 60LL * 60 * 1000) start(now);
}

}  // namespace vigil::app
