// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "app/scheduled_backup.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using vigil::app::ScheduledBackup;
namespace fs = std::filesystem;

namespace {
constexpr TimestampMs kDay = 86'400'000;

struct Harness {
  TempDir dir;
  TimestampMs now = 1'780'000'000'000LL;
  int minute = 600;  // 10:00 local
  int writes = 0;
  bool fail = false;
  std::vector<alerts::ExternalAlert> alerts;
  std::unique_ptr<ScheduledBackup> b;

  explicit Harness(int keep = 3) {
    StorageConfig c;
    c.backup_dir = dir.file("usb");
    c.backup_at = "02:00";
    c.backup_keep = keep;
    b = std::make_unique<ScheduledBackup>(
        c, "gw1",
        [this](const std::string& out) {
          ++writes;
          if (fail) return Status::IoError("no space left on device");
          std::ofstream(out) << "backup";
          return Status::Ok();
        },
        [this](const alerts::ExternalAlert& e) {
          alerts.push_back(e);
          return Status::Ok();
        },
        [this] { return now; }, [this](TimestampMs) { return minute; });
  }
  // One tick, then ticks until a backup it started (if any) is reported.
  void settle() {
    b->tick();
    for (int i = 0; i < 400 && b->succeeded() + b->failed() < b->started(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      b->tick();
    }
  }
  int files() {
    int n = 0;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir.file("usb"), ec)) n += e.path().extension() == ".vgb";
    return n;
  }
};
}  // namespace

TEST_CASE("a first start with backups on catches up at once, then waits for the scheduled time") {
  Harness h;
  h.settle();
  REQUIRE(h.writes == 1);
  REQUIRE(h.b->succeeded() == 1);
  REQUIRE(h.files() == 1);
  // Later the same day, not at 02:00: nothing more.
  h.now += 3600'000;
  h.minute = 700;
  h.settle();
  REQUIRE(h.writes == 1);
  // At 02:00 the next day: one backup, however many ticks fall in that minute.
  h.now += kDay;
  h.minute = 120;
  h.settle();
  h.b->tick();
  h.b->tick();
  REQUIRE(h.writes == 2);
}

TEST_CASE("a restart with a recent backup does not back up again at start") {
  Harness first;
  first.settle();
  REQUIRE(first.writes == 1);
  // The same directory, a new gateway an hour later (files' mtime is now, the clock agrees).
  Harness h;
  fs::create_directories(h.dir.file("usb"));
  for (auto& e : fs::directory_iterator(first.dir.file("usb"))) fs::copy(e.path(), h.dir.file("usb"));
  h.now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  h.settle();
  h.b->tick();
  REQUIRE(h.writes == 0);
}

TEST_CASE("only the newest backup_keep backups of this gateway stay") {
  Harness h(2);
  fs::create_directories(h.dir.file("usb"));
  std::ofstream(h.dir.file("usb/someone-else.vgb")) << "x";
  for (int day = 0; day < 4; ++day) {
    h.now += kDay + 1000;  // distinct UTC stamps, one per day
    h.minute = 120;
    h.settle();
    h.minute = 600;
  }
  int mine = 0;
  for (auto& e : fs::directory_iterator(h.dir.file("usb"))) mine += e.path().filename().string().rfind("vigil-backup-gw1-", 0) == 0;
  CHECK(mine == 2);
  CHECK(fs::exists(h.dir.file("usb/someone-else.vgb")));  // never touched
}

TEST_CASE("a failed backup raises a gateway alert that says where and why") {
  Harness h;
  h.fail = true;
  h.settle();
  REQUIRE(h.b->failed() == 1);
  REQUIRE(h.alerts.size() == 1);
  CHECK(h.alerts[0].kind == "backup_failed");
  CHECK(h.alerts[0].model == "gateway");
  CHECK(h.alerts[0].explanation.find("no space left on device") != std::string::npos);
  CHECK(h.alerts[0].explanation.find(h.dir.file("usb")) != std::string::npos);
}

TEST_CASE("the backup time is a time of day") {
  CHECK(ScheduledBackup::parse_at("02:00") == 120);
  CHECK(ScheduledBackup::parse_at("23:59") == 23 * 60 + 59);
  CHECK_FALSE(ScheduledBackup::parse_at("24:00"));
  CHECK_FALSE(ScheduledBackup::parse_at("2:00"));
  CHECK_FALSE(ScheduledBackup::parse_at("ab:cd"));
}
