// SPDX-License-Identifier: Apache-2.0
//
// Backup of a large database while ingest runs (issue 17): how long
// `backup_database` (SQLite's online backup API from a read-only
// connection, as `vigil backup` does) takes on a ~1 GB database, and the
// ingest throughput during it next to the throughput of the same ingest
// without a backup, in the same run.
//
//   build/tests/bench_backup_online [DIR]     (VIGIL_BENCH_QUICK=1: ~150 MB)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "vigil/store.h"
#include "vigil/store_tools.h"

using namespace vigil;
namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {
double seconds_since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

void remove_db(const std::string& p) {
  std::error_code ec;
  for (const char* s : {"", "-wal", "-shm", ".lock", ".created"}) fs::remove(p + s, ec);
}

// Appends points as fast as the store takes them for `seconds`; returns points/s.
double ingest_for(Store& store, const std::vector<Id>& series, double seconds, std::atomic<bool>* stop = nullptr) {
  std::vector<SeriesPoint> batch;
  TimestampMs ts = 1'800'000'000'000LL;
  long n = 0;
  const auto t0 = Clk::now();
  while (stop ? !stop->load() : seconds_since(t0) < seconds) {
    batch.clear();
    for (int i = 0; i < 2000; ++i) batch.push_back({series[static_cast<std::size_t>(i) % series.size()], ts + i, 0.01 * (i % 300)});
    ts += 2000;
    if (store.append(batch).ok()) n += 2000;
    else std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!store.flush().ok()) std::exit(1);
  return static_cast<double>(n) / seconds_since(t0);
}
}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : fs::temp_directory_path().string() + "/vigil-bench-backup";
  fs::create_directories(dir);
  const bool quick = std::getenv("VIGIL_BENCH_QUICK") != nullptr;
  const std::string path = dir + "/big.db", out = dir + "/big-backup.db";
  remove_db(path);
  remove_db(out);
  StoreOptions o;
  o.path = path;
  o.waveforms_per_position = 1'000'000;
  o.checkpoint_interval_s = 30;
  o.integrity_check_at_open = false;
  auto s = Store::open(o);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    return 1;
  }
  Store& store = **s;
  auto site = store.upsert_site({0, "bench", "UTC"});
  Asset a;
  a.site_id = *site;
  a.name = "bench";
  auto asset = store.upsert_asset(a);
  std::vector<Id> series;
  for (int i = 0; i < 100; ++i) {
    auto pos = store.upsert_position({0, *asset, "p" + std::to_string(i), PositionType::kMotor});
    Sensor sn;
    char buf[32];
    std::snprintf(buf, sizeof buf, "AA:BB:CC:01:%02X:%02X", i / 256, i % 256);
    sn.address = buf;
    sn.format = "vigil";
    sn.position_id = *pos;
    auto sid = store.upsert_sensor(sn);
    series.push_back(*store.ensure_series(*sid, "velocity_rms_mm_s", "mm/s"));
  }
  // Fill with noisy waveforms (they make the bulk of a real database).
  const double target_bytes = quick ? 150e6 : 1.0e9;
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 2000);
  Waveform w;
  w.sample_rate_hz = 20000;
  w.axes = 1;
  w.scale = 0.001;
  w.samples.resize(8192);
  const auto fill0 = Clk::now();
  int count = 0;
  while (static_cast<double>(fs::file_size(path)) + static_cast<double>(fs::exists(path + "-wal") ? fs::file_size(path + "-wal") : 0) <
         target_bytes) {
    for (auto& x : w.samples) x = static_cast<std::int16_t>(std::clamp(noise(rng), -32000.0, 32000.0));
    w.position_id = 1 + count % 100;
    w.ts = 1'700'000'000'000LL + count * 1000LL;
    if (!store.put_waveform(w).ok()) return 1;
    ++count;
  }
  if (!store.checkpoint().ok()) return 1;
  std::printf("database: %.0f MB (%d waveforms), filled in %.0f s\n", static_cast<double>(fs::file_size(path)) / 1e6,
              count, seconds_since(fill0));

  const double reference = ingest_for(store, series, quick ? 3 : 8);
  std::atomic<bool> done{false};
  double during = 0;
  std::thread ingest([&] { during = ingest_for(store, series, 0, &done); });
  const auto b0 = Clk::now();
  Status st = backup_database(path, out);
  const double backup_s = seconds_since(b0);
  done = true;
  ingest.join();
  if (!st.ok()) {
    std::fprintf(stderr, "backup: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("online backup of %.0f MB: %.1f s (%.0f MB/s), consistent copy %.0f MB\n",
              static_cast<double>(fs::file_size(path)) / 1e6, backup_s,
              static_cast<double>(fs::file_size(out)) / 1e6 / backup_s, static_cast<double>(fs::file_size(out)) / 1e6);
  std::printf("ingest during the backup: %.0f points/s   reference without a backup (same run): %.0f points/s (%.0f%%)\n",
              during, reference, 100 * during / reference);
  const Status check = check_database(out);
  std::printf("the copy passes integrity_check: %s\n", check.ok() ? "yes" : check.ToString().c_str());
  remove_db(out);
  return check.ok() ? 0 : 1;
}
