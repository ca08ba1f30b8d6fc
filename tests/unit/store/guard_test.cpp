// SPDX-License-Identifier: Apache-2.0
//
// One owner per database and a health report that tells the truth: the lock,
// the "created" marker, the open file's identity, quick_check, write errors
// that clear, and the clock check.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "vigil_test/full_disk.h"
#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;
namespace fs = std::filesystem;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000LL;

StoreOptions options(const std::string& path, const Clock* clock = nullptr) {
  StoreOptions o;
  o.path = path;
  o.checkpoint_interval_s = 3600;
  o.batch_max_delay_ms = 5;
  o.lock_wait_ms = 200;
  static ManualClock near_data(kT0);
  o.clock = clock ? clock : &near_data;
  return o;
}

std::unique_ptr<Store> open_ok(const StoreOptions& o) {
  auto s = Store::open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(*s);
}

Id make_series(Store& s) {
  Sensor sn;
  sn.address = "AA:BB:CC:DD:EE:01";
  sn.format = "bthome";
  auto sid = s.upsert_sensor(sn);
  REQUIRE(sid.ok());
  auto id = s.ensure_series(*sid, "temperature_c", "°C");
  REQUIRE(id.ok());
  return *id;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Overwrites one page of a closed database file in the middle with garbage.
void corrupt_middle_page(const std::string& path) {
  const auto size = fs::file_size(path);
  const std::uint64_t page = 4096;
  REQUIRE(size >= 20 * page);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>((size / page / 2) * page));
  std::string junk(page, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) & 0xff);
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}
}  // namespace

TEST_CASE("a second store on a database a server holds is refused at once, naming the server") {
  TempDir d;
  auto o = options(d.file("v.db"));
  o.owner = "vigil serve";
  o.server = true;
  auto first = open_ok(o);

  auto holder = Store::owner(o.path);
  REQUIRE(holder.has_value());
  CHECK(holder->pid == ::getpid());
  CHECK(holder->label == "vigil serve");
  CHECK(holder->server);

  auto o2 = options(o.path);
  o2.owner = "vigil token create";
  o2.lock_wait_ms = 60000;  // a server is not waited for
  auto second = Store::open(o2);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kFailedPrecondition);
  CHECK(contains(second.status().message(), "vigil serve (pid " + std::to_string(::getpid()) + ")"));
  CHECK(contains(second.status().message(), o.path));

  first.reset();
  CHECK_FALSE(Store::owner(o.path).has_value());
  CHECK(Store::open(o2).ok());
}

TEST_CASE("a store waits for a short-lived command that holds the database") {
  TempDir d;
  auto o = options(d.file("v.db"));
  o.owner = "vigil user add";
  auto command = open_ok(o);
  std::thread done([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    command.reset();
  });
  auto o2 = options(o.path);
  o2.lock_wait_ms = 30000;
  auto server = Store::open(o2);
  done.join();
  CHECK(server.ok());
}

TEST_CASE("a store gives up on a command holding the database past the wait, naming it") {
  TempDir d;
  auto o = options(d.file("v.db"));
  o.owner = "vigil sensor add";
  auto command = open_ok(o);
  auto second = Store::open(options(o.path));  // waits 200 ms
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kFailedPrecondition);
  CHECK(contains(second.status().message(), "vigil sensor add (pid"));
}

TEST_CASE("nobody owns a database that was never opened or is closed") {
  TempDir d;
  CHECK_FALSE(Store::owner(d.file("never.db")).has_value());
  { auto s = open_ok(options(d.file("v.db"))); }
  CHECK(fs::exists(d.file("v.db.lock")));
  CHECK_FALSE(Store::owner(d.file("v.db")).has_value());
}

TEST_CASE("a database that existed is not silently re-created empty when it is missing") {
  TempDir d;
  const std::string path = d.file("v.db");
  {
    auto s = open_ok(options(path));
    (void)make_series(*s);
  }
  CHECK(fs::exists(path + ".created"));
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);

  auto refused = Store::open(options(path));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kFailedPrecondition);
  CHECK(contains(refused.status().message(), "is missing"));
  CHECK(contains(refused.status().message(), "--new-database"));
  CHECK_FALSE(fs::exists(path));  // nothing was created

  auto o = options(path);
  o.allow_new_database = true;
  auto s = open_ok(o);
  auto series = s->series();
  REQUIRE(series.ok());
  CHECK(series->empty());
}

TEST_CASE("a write-ahead log without its database counts as a database that existed") {
  TempDir d;
  const std::string path = d.file("old.db");
  std::ofstream(path + "-wal") << "stale";
  auto refused = Store::open(options(path));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::kFailedPrecondition);
  auto o = options(path);
  o.allow_new_database = true;
  auto s = open_ok(o);
  CHECK(s->health().file == StoreHealth::File::kOk);
}

TEST_CASE("a database file deleted while open is reported and gets no more writes") {
  TempDir d;
  const std::string path = d.file("v.db");
  auto s = open_ok(options(path));
  Id id = make_series(*s);
  CHECK(s->health().file == StoreHealth::File::kOk);
  fs::remove(path);

  CHECK(s->health().file == StoreHealth::File::kDeleted);
  REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0, 1.0}}).ok());
  auto f = s->flush();
  CHECK(f.code() == Status::Code::kFailedPrecondition);
  CHECK(contains(f.message(), "deleted"));
  CHECK(s->checkpoint().code() == Status::Code::kFailedPrecondition);
  for (int i = 0; i < 200 && s->stats().write_errors == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto st = s->stats();
  CHECK(st.write_errors > 0);
  CHECK(contains(st.last_error, "deleted"));
  CHECK(st.queued_points == 1);  // kept, not written into the void
}

TEST_CASE("a database file replaced while open is reported as replaced") {
  TempDir d;
  const std::string path = d.file("v.db");
  auto s = open_ok(options(path));
  std::ofstream(d.file("other.db")) << "another file";
  fs::rename(d.file("other.db"), path);
  auto h = s->health();
  CHECK(h.file == StoreHealth::File::kReplaced);
  CHECK(std::string(to_string(h.file)) == "replaced");
}

TEST_CASE("quick_check at open passes a sound database and finds a corrupt page without refusing to start") {
  TempDir d;
  const std::string path = d.file("v.db");
  {
    auto s = open_ok(options(path));
    auto h = s->health();
    CHECK(h.integrity == StoreHealth::Integrity::kOk);  // a new, empty file passes too
    REQUIRE(s->write_txn([](sql::Db& db) -> Status {
      VIGIL_RETURN_IF_ERROR(db.exec("CREATE TABLE filler(id INTEGER PRIMARY KEY, b BLOB)"));
      return db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                     "INSERT INTO filler(b) SELECT randomblob(200) FROM n");
    }).ok());
  }
  {
    auto s = open_ok(options(path));
    auto h = s->health();
    CHECK(h.integrity == StoreHealth::Integrity::kOk);
    CHECK(h.integrity_checked_at > 0);
    CHECK(h.integrity_problems == 0);
  }
  corrupt_middle_page(path);
  auto s = open_ok(options(path));
  auto h = s->health();
  CHECK(h.integrity == StoreHealth::Integrity::kFailed);
  CHECK(h.integrity_problems > 0);
  CHECK(std::string(to_string(h.integrity)) == "failed");
  CHECK(s->check_integrity().code() == Status::Code::kCorruption);
}

TEST_CASE("the scheduled quick_check runs on a reader while points keep being written") {
  TempDir d;
  const std::string path = d.file("v.db");
  { auto s = open_ok(options(path)); (void)make_series(*s); }
  auto o = options(path);
  o.integrity_check_interval_s = 1;
  auto s = open_ok(o);
  const TimestampMs first = s->health().integrity_checked_at;
  REQUIRE(first > 0);
  Id id = s->series()->front().id;
  TimestampMs later = first;
  for (int i = 0; i < 500 && later == first; ++i) {
    REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0 + i, 1.0}}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    later = s->health().integrity_checked_at;
  }
  CHECK(later > first);
  CHECK(s->health().integrity == StoreHealth::Integrity::kOk);
  REQUIRE(s->flush().ok());
}

TEST_CASE("a full disk shows in the stats while it lasts and clears when space comes back") {
  TempDir d;
  auto s = open_ok(options(d.file("v.db")));
  Id id = make_series(*s);
  REQUIRE(vigil_test::fill_disk(*s).ok());
  std::vector<SeriesPoint> pts;
  for (int i = 0; i < 20000; ++i) pts.push_back({id, kT0 + i * 1000LL, static_cast<double>(i)});
  REQUIRE(s->append(pts).ok());
  for (int i = 0; i < 500 && s->stats().write_errors == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto during = s->stats();
  CHECK(during.write_errors > 0);
  CHECK(during.disk_full);
  CHECK_FALSE(during.last_error.empty());
  auto hd = s->health();
  CHECK(hd.writes_failing);
  CHECK(hd.disk_full);

  REQUIRE(vigil_test::free_disk(*s).ok());
  REQUIRE(s->flush().ok());
  auto after = s->stats();
  CHECK(after.last_error.empty());
  CHECK_FALSE(after.disk_full);
  CHECK(after.write_errors >= during.write_errors);  // the past stays counted
  auto ha = s->health();
  CHECK_FALSE(ha.writes_failing);
  CHECK_FALSE(ha.disk_full);
}

TEST_CASE("the clock check fails while the newest stored point is ahead of the clock by more than the tolerance") {
  TempDir d;
  ManualClock clock(kT0);
  auto o = options(d.file("v.db"), &clock);
  o.clock_tolerance_ms = 60'000;
  auto s = open_ok(o);
  auto h0 = s->health();
  CHECK(h0.clock_ok);
  CHECK_FALSE(h0.newest_ts.has_value());

  Id id = make_series(*s);
  REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0 + 30'000, 1.0}}).ok());
  REQUIRE(s->flush().ok());
  auto h1 = s->health();
  CHECK(h1.clock_ok);  // 30 s ahead: within the tolerance
  CHECK(h1.clock_behind_ms == 30'000);

  clock.set(kT0 - 3'600'000);  // the clock jumps back an hour
  auto h2 = s->health();
  CHECK_FALSE(h2.clock_ok);
  CHECK(h2.clock_behind_ms == 3'630'000);
  REQUIRE(h2.newest_ts.has_value());
  CHECK(*h2.newest_ts == kT0 + 30'000);

  clock.set(kT0 + 60'000);  // and catches up again
  CHECK(s->health().clock_ok);
  CHECK(s->health().clock_behind_ms == 0);
}

TEST_CASE("the newest stored timestamp survives a reopen (replayed log and checkpointed chunks)") {
  TempDir d;
  ManualClock clock(kT0);
  const std::string path = d.file("v.db");
  {
    auto s = open_ok(options(path, &clock));
    Id id = make_series(*s);
    REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0 + 7'200'000, 1.0}}).ok());
    REQUIRE(s->flush().ok());
  }  // checkpointed at close
  auto o = options(path, &clock);
  auto s = open_ok(o);
  auto h = s->health();
  REQUIRE(h.newest_ts.has_value());
  CHECK(*h.newest_ts == kT0 + 7'200'000);
  CHECK_FALSE(h.clock_ok);
}
