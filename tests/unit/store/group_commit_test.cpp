// SPDX-License-Identifier: Apache-2.0
//
// Group commit (StoreOptions::group_commit): the data path's writes share one
// transaction per commit interval. What a reader sees before and after the
// commit, what commits it early, and what a failing write or a full disk
// leaves behind.
#include <catch2/catch.hpp>

#include <chrono>
#include <sqlite3.h>
#include <thread>

#include "vigil/store.h"
#include "vigil_test/eventually.h"
#include "vigil_test/full_disk.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;

namespace {
constexpr TimestampMs kT0 = 1'780'000'000'000LL;

std::unique_ptr<Store> open_grouped(const std::string& path, int commit_ms = 600'000) {
  StoreOptions o;
  o.path = path;
  o.group_commit = true;
  o.batch_max_delay_ms = commit_ms;  // long: only what the test does commits
  o.checkpoint_interval_s = 100'000;
  o.format_migration_interval_ms = 0;  // a new file has nothing to convert; no stray writes
  auto s = Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

Id make_series(Store& s) {
  auto site = s.upsert_site({0, "plant", "UTC"});
  Asset a;
  a.site_id = *site;
  a.name = "pump";
  auto asset = s.upsert_asset(a);
  auto pos = s.upsert_position({0, *asset, "DE", PositionType::kMotor});
  Sensor sn;
  sn.address = "AA:BB:CC:DD:EE:01";
  sn.format = "bthome";
  sn.position_id = *pos;
  auto sid = s.upsert_sensor(sn);
  auto id = s.ensure_series(*sid, "velocity_rms_mm_s", "mm/s");
  REQUIRE(id.ok());
  return *id;
}

Waveform snapshot(Id position, TimestampMs ts) {
  Waveform w;
  w.position_id = position;
  w.ts = ts;
  w.sample_rate_hz = 20000;
  w.scale = 0.001;
  for (int i = 0; i < 2048; ++i) w.samples.push_back(static_cast<std::int16_t>((i * 53) % 301 - 150));
  return w;
}

// What another connection (another process: `vigil export`, a backup) sees.
std::int64_t committed_rows(const std::string& path, const char* table) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const std::string sql = std::string("SELECT count(*) FROM ") + table;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const std::int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

}  // namespace

TEST_CASE("readings are readable from memory before their group is committed") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"));
  Id id = make_series(*s);
  std::vector<SeriesPoint> pts;
  for (int i = 0; i < 10; ++i) pts.push_back({id, kT0 + i * 1000, 1.0 + i});
  REQUIRE(s->append(pts).ok());
  // The writer takes them within 250 ms: latest and range answer from the heads.
  REQUIRE(eventually([&] { return s->latest(id).has_value(); }));
  CHECK(s->latest(id)->value == 10.0);
  auto r = s->range(id, kT0, kT0 + 60'000);
  REQUIRE(r.ok());
  CHECK(r->size() == 10);
  // Not yet on disk: the commit interval (10 min here) has not passed.
  CHECK(committed_rows(d.file("g.db"), "ingest_log") == 0);
  REQUIRE(s->flush().ok());
  CHECK(committed_rows(d.file("g.db"), "ingest_log") == 10);
  CHECK(s->stats().points_committed == 10);
  CHECK(s->stats().group_commits >= 1);
}

TEST_CASE("a waveform and its measurement join the group and are visible once it commits") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"));
  auto w = s->put_waveform(snapshot(7, kT0));
  REQUIRE(w.ok());
  Measurement m;
  m.position_id = 7;
  m.ts = kT0;
  m.waveform_id = *w;
  m.features_json = R"({"rms_g":0.4})";
  REQUIRE(s->put_measurement(m).ok());
  auto before = s->latest_waveform(7);
  REQUIRE(before.ok());
  CHECK_FALSE(before->has_value());  // readers see the last commit
  CHECK(committed_rows(d.file("g.db"), "measurements") == 0);
  REQUIRE(s->flush().ok());
  auto after = s->latest_waveform(7);
  REQUIRE(after.ok());
  REQUIRE(after->has_value());
  CHECK((*after)->id == *w);
  CHECK(committed_rows(d.file("g.db"), "measurements") == 1);
}

TEST_CASE("the writer commits the group once the commit interval has passed") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"), 100);
  REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  CHECK(eventually([&] { return committed_rows(d.file("g.db"), "waveforms") == 1; }));
}

TEST_CASE("a catalog write commits the open group first") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"));
  REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  REQUIRE(s->upsert_site({0, "second plant", "UTC"}).ok());
  CHECK(committed_rows(d.file("g.db"), "waveforms") == 1);
  CHECK(committed_rows(d.file("g.db"), "sites") == 1);
  // write_txn (another module's table) is durable on return too.
  REQUIRE(s->put_waveform(snapshot(7, kT0 + 1000)).ok());
  REQUIRE(s->write_txn([](sql::Db& db) { return db.exec("CREATE TABLE other_module(x)"); }).ok());
  CHECK(committed_rows(d.file("g.db"), "waveforms") == 2);
}

TEST_CASE("a failing data write is undone alone; the rest of its group commits") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"));
  REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  auto bad = s->data_txn([](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(db.exec("INSERT INTO waveforms(position_id, ts, sample_rate_hz, axes, scale, samples) "
                                  "VALUES(8, 1, 1, 1, 1, x'00')"));
    return Status::InvalidArgument("changed my mind");
  });
  CHECK(bad.code() == Status::Code::kInvalidArgument);
  REQUIRE(s->put_waveform(snapshot(7, kT0 + 1000)).ok());
  REQUIRE(s->flush().ok());
  CHECK(committed_rows(d.file("g.db"), "waveforms") == 2);
  auto eight = s->latest_waveform(8);
  REQUIRE(eight.ok());
  CHECK_FALSE(eight->has_value());
}

TEST_CASE("closing the store commits the group: nothing accepted before a clean stop is lost") {
  TempDir d;
  Id id = 0;
  {
    auto s = open_grouped(d.file("g.db"));
    id = make_series(*s);
    REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0, 3.5}, {id, kT0 + 1000, 4.5}}).ok());
    REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  }
  auto s = open_grouped(d.file("g.db"));
  auto r = s->range(id, kT0, kT0 + 10'000);
  REQUIRE(r.ok());
  CHECK(r->size() == 2);
  auto w = s->latest_waveform(7);
  REQUIRE(w.ok());
  CHECK(w->has_value());
}

TEST_CASE("a full disk refuses the waveform, keeps the readings queued, and both arrive once space is back") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"), 50);
  Id id = make_series(*s);
  REQUIRE(s->flush().ok());
  REQUIRE(vigil_test::fill_disk(*s).ok());
  auto w = s->put_waveform(snapshot(7, kT0));
  CHECK_FALSE(w.ok());  // the caller hears it: nothing was accepted
  std::vector<SeriesPoint> pts;
  for (int i = 0; i < 5000; ++i) pts.push_back({id, kT0 + i * 1000LL, static_cast<double>(i)});
  REQUIRE(s->append(pts).ok());
  CHECK(eventually([&] { return s->stats().write_errors > 0; }));
  CHECK(s->stats().group_writes_lost == 0);
  REQUIRE(vigil_test::free_disk(*s).ok());
  REQUIRE(s->flush().ok());
  REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  REQUIRE(s->flush().ok());
  auto r = s->range(id, kT0, kT0 + 10'000'000);
  REQUIRE(r.ok());
  CHECK(r->size() == 5000);
  CHECK(committed_rows(d.file("g.db"), "ingest_log") == 5000);
  CHECK(committed_rows(d.file("g.db"), "waveforms") == 1);
}

TEST_CASE("a checkpoint commits the group and moves its readings into chunks") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"));
  Id id = make_series(*s);
  std::vector<SeriesPoint> pts;
  for (int i = 0; i < 300; ++i) pts.push_back({id, kT0 + i * 600'000LL, 20.0 + (i % 7) * 0.01});
  REQUIRE(s->append(pts).ok());
  REQUIRE(s->put_waveform(snapshot(7, kT0)).ok());
  REQUIRE(s->checkpoint().ok());
  CHECK(committed_rows(d.file("g.db"), "ingest_log") == 0);
  CHECK(committed_rows(d.file("g.db"), "chunks") >= 1);
  CHECK(committed_rows(d.file("g.db"), "waveforms") == 1);
  auto r = s->range(id, kT0, kT0 + 300 * 600'000LL);
  REQUIRE(r.ok());
  CHECK(r->size() == 300);
}

TEST_CASE("with group commit the generation stands still while the store is idle") {
  TempDir d;
  auto s = open_grouped(d.file("g.db"), 100);
  Id id = make_series(*s);
  REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0, 1.0}}).ok());
  REQUIRE(s->flush().ok());
  const auto g0 = s->generation();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // several writer ticks
  CHECK(s->generation() == g0);
  REQUIRE(s->append(std::vector<SeriesPoint>{{id, kT0 + 1000, 2.0}}).ok());
  CHECK(eventually([&] { return s->generation() > g0; }));  // taken into the heads: readable, so a change
}
