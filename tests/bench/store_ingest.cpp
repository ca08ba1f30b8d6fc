// SPDX-License-Identifier: Apache-2.0
//
// Storage benchmarks (foundation issue), each printed next to its same-run
// reference:
//  1. Sustained ingest through the real path (Ingest::submit → batched writer
//     → ingest log → checkpoint into chunks and roll-ups), 1,000 interleaved
//     series, in readings/s — next to plain appends of the same rows into an
//     unindexed SQLite table (the practical limit) and a naive (series, ts)
//     indexed table. Target: ≥ 50% of the limit.
//  2. A 30-day range read (4,320 points at 10 minutes) of one series from a
//     database holding a year for 100 positions. Target: < 5 ms.
//
// Usage: bench_store_ingest [DIR]   (VIGIL_BENCH_QUICK=1 for a smoke run)
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "vigil/ingest.h"
#include "vigil/store.h"

using namespace vigil;
using Clk = std::chrono::steady_clock;

namespace {
constexpr TimestampMs kStart = 1'780'000'000'000LL;
constexpr TimestampMs kTenMin = 600'000;

double seconds_since(Clk::time_point t0) {
  return std::chrono::duration<double>(Clk::now() - t0).count();
}

void remove_db(const std::string& p) {
  // With ".created" too: the store refuses to re-create a database that existed.
  for (const char* s : {"", "-wal", "-shm", ".created", ".lock"}) std::filesystem::remove(p + s);
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// The reference: the same rows, same pragmas, same batch size, plain SQLite.
double plain_sqlite(const std::string& path, int series, int per_series, int batch, bool indexed) {
  remove_db(path);
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8000;"
                         "CREATE TABLE r(series_id INTEGER, ts INTEGER, value REAL);", nullptr, nullptr, nullptr),
        db, "schema");
  if (indexed) check(sqlite3_exec(db, "CREATE INDEX r_st ON r(series_id, ts)", nullptr, nullptr, nullptr), db, "index");
  sqlite3_stmt* st = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?)", -1, &st, nullptr), db, "prepare");
  const long total = static_cast<long>(series) * per_series;
  auto t0 = Clk::now();
  long i = 0;
  while (i < total) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (int k = 0; k < batch && i < total; ++k, ++i) {
      sqlite3_bind_int64(st, 1, i % series + 1);
      sqlite3_bind_int64(st, 2, kStart + (i / series) * kTenMin);
      sqlite3_bind_double(st, 3, static_cast<double>(i % 1000) * 0.01);
      check(sqlite3_step(st), db, "insert");
      sqlite3_reset(st);
    }
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  double secs = seconds_since(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return static_cast<double>(total) / secs;
}

std::unique_ptr<Store> open_store(const std::string& path, const Clock& clock) {
  remove_db(path);
  StoreOptions o;
  o.path = path;
  o.clock = &clock;
  o.checkpoint_interval_s = 60;
  o.queue_max_rows = 2'000'000;
  auto s = Store::open(o);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(s.value());
}

std::vector<std::string> commission(Store& store, int sensors) {
  auto site = store.upsert_site({0, "bench", "UTC"});
  Asset a;
  a.site_id = *site;
  a.name = "bench";
  auto asset = store.upsert_asset(a);
  std::vector<std::string> addrs;
  for (int i = 0; i < sensors; ++i) {
    auto pos = store.upsert_position({0, *asset, "p" + std::to_string(i), PositionType::kMotor});
    Sensor s;
    char buf[32];
    std::snprintf(buf, sizeof buf, "AA:BB:CC:00:%02X:%02X", i / 256, i % 256);
    s.address = buf;
    s.format = "vigil";
    s.position_id = *pos;
    if (!store.upsert_sensor(s).ok()) std::exit(1);
    addrs.push_back(buf);
  }
  return addrs;
}

const char* kMetrics[10] = {"velocity_rms_mm_s", "accel_rms_g", "accel_peak_g", "crest_factor", "kurtosis",
                            "temperature_c", "battery_pct", "velocity_rms_mm_s.x", "velocity_rms_mm_s.y",
                            "velocity_rms_mm_s.z"};

// 100 sensors × 10 metrics = 1,000 interleaved series, through Ingest.
double real_path(const std::string& path, int per_series) {
  ManualClock clock(kStart + static_cast<TimestampMs>(per_series) * kTenMin);
  auto store = open_store(path, clock);
  auto addrs = commission(*store, 100);
  MetricsRegistry metrics;
  Ingest ingest(*store, clock, metrics);
  std::vector<Reading> batch;
  batch.reserve(1000);
  auto t0 = Clk::now();
  for (int step = 0; step < per_series; ++step) {
    const TimestampMs ts = kStart + step * kTenMin;
    batch.clear();
    for (const auto& a : addrs)
      for (const char* m : kMetrics) batch.push_back({a, m, ts, static_cast<double>(step % 1000) * 0.01});
    for (;;) {
      auto r = ingest.submit(batch);
      if (r.accepted == batch.size()) break;
      if (r.rejected[RejectReason::kQueueFull] != batch.size()) {
        std::fprintf(stderr, "unexpected rejections: %zu\n", r.rejected_total());
        std::exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // back-pressure: wait for the writer
    }
  }
  if (!store->flush().ok()) std::exit(1);
  const double ingest_secs = seconds_since(t0);
  auto tc = Clk::now();
  if (!store->checkpoint().ok()) std::exit(1);  // durable and compacted, included in the time
  double secs = seconds_since(t0);
  std::printf("  (vigil split: %.2f s appending through ingest, %.2f s final checkpoint; %llu checkpoints)\n",
              ingest_secs, seconds_since(tc), static_cast<unsigned long long>(store->stats().checkpoints));
  return 1000.0 * per_series / secs;
}

void range_read(const std::string& path, int days) {
  const int per_series = days * 144;
  ManualClock clock(kStart + static_cast<TimestampMs>(per_series) * kTenMin);
  auto store = open_store(path, clock);
  auto addrs = commission(*store, 100);
  std::vector<Id> ids;
  auto t0 = Clk::now();
  for (int i = 0; i < 100; ++i) {
    auto sensor = store->sensor_by_address(addrs[static_cast<std::size_t>(i)]);
    ids.push_back(*store->ensure_series((*sensor)->id, "velocity_rms_mm_s", "mm/s"));
  }
  std::vector<SeriesPoint> pts;
  for (int step = 0; step < per_series; ++step) {
    for (Id id : ids) pts.push_back({id, kStart + step * kTenMin, 1.0 + (step % 50) * 0.01});
    if (pts.size() >= 100000) {
      while (!store->append(pts).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pts.clear();
    }
  }
  if (!pts.empty()) while (!store->append(pts).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!store->checkpoint().ok()) std::exit(1);
  std::printf("  loaded %d days × 100 positions (%d points) in %.1f s, file %.1f MB\n", days, per_series * 100,
              seconds_since(t0), static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  std::vector<double> us;
  const TimestampMs end = kStart + static_cast<TimestampMs>(per_series) * kTenMin;
  for (int rep = 0; rep < 500; ++rep) {
    Id id = ids[static_cast<std::size_t>(rep % 100)];
    TimestampMs to = end - (rep % 7) * 24LL * 3600 * 1000;
    TimestampMs from = to - 30LL * 24 * 3600 * 1000;
    auto t = Clk::now();
    auto r = store->range(id, from, to - 1);
    us.push_back(seconds_since(t) * 1e6);
    if (!r || r->size() != 4320) {
      std::fprintf(stderr, "range returned %zu points\n", r ? r->size() : 0);
      std::exit(1);
    }
  }
  std::sort(us.begin(), us.end());
  std::printf("30-day range read (4,320 points) of one series, %d-day DB of 100 positions:\n", days);
  std::printf("  median %.0f µs, p99 %.0f µs   (target: < 5000 µs)\n", us[us.size() / 2], us[us.size() * 99 / 100]);
}
}  // namespace

int main(int argc, char** argv) {
  const bool quick = std::getenv("VIGIL_BENCH_QUICK") != nullptr;
  std::string dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path().string();
  const int per_series = quick ? 200 : 2000;  // 1,000 series × this many points
  std::printf("Ingest of %d readings across 1,000 interleaved series:\n", 1000 * per_series);
  double limit = plain_sqlite(dir + "/bench-plain.db", 1000, per_series, 20000, false);
  double naive = plain_sqlite(dir + "/bench-naive.db", 1000, quick ? 100 : 500, 20000, true);
  double vigil = real_path(dir + "/bench-vigil.db", per_series);
  std::printf("  reference: plain appends, unindexed table   %10.0f rows/s (the practical limit)\n", limit);
  std::printf("  reference: naive (series, ts) index           %10.0f rows/s\n", naive);
  std::printf("  vigil ingest path incl. checkpoint            %10.0f readings/s = %.0f%% of the limit (target ≥ 50%%)\n",
              vigil, 100.0 * vigil / limit);
  range_read(dir + "/bench-year.db", quick ? 40 : 365);
  for (const char* f : {"bench-plain.db", "bench-naive.db", "bench-vigil.db", "bench-year.db"}) remove_db(dir + "/" + f);
  return 0;
}
