// SPDX-License-Identifier: Apache-2.0
//
// Flash wear (issue 17): bytes written to disk per day by a simulated
// 1,000-sensor plant at real-time rates, next to the bytes its data occupies.
//
//   build/tests/bench_flash_writes [DIR]
//     VIGIL_BENCH_QUICK=1   200 sensors instead of 1,000
//     VIGIL_BENCH_SENSORS=N  any number of sensors
//     VIGIL_BENCH_PARTS=readings,waveforms,measurements  leave parts of the plant out
//     VIGIL_BENCH_DAYS=N    measure N simulated days after the first (default
//                           1) and report the mean per day: 6 takes in a
//                           whole seal cycle (a series' small chunks are
//                           re-encoded as sealed ones every ~4 days)
//     VIGIL_BENCH_FRAMES=1  also attribute the second day's WAL frames to
//                           tables and indexes (dbstat); needs a WAL that
//                           is never copied during the day (wal_bytes 1 GiB)
//
// The plant: every sensor sends 8 metrics every 10 minutes (BLE reception
// jitter on the timestamps) and an hourly 8,192-sample waveform with its
// measurement row (features), phases spread evenly over the period, as the
// simulator and real sensors do. Time is simulated: the store's commits and
// checkpoints happen exactly where the policy's intervals fall in simulated
// time (Store::flush is the writer's timed commit, Store::checkpoint its
// timed checkpoint), so two days run in seconds and the result does not
// depend on this machine's speed.
//
// What is counted: every byte this process hands the kernel to write
// (/proc/self/io wchar: SQLite's pwrite()s to the database and its WAL; the
// process writes nothing else while the clock runs) during the second
// simulated day (the first fills chunks and b-trees to a steady
// state), against the growth of the pages the data occupies over that day.
// Each policy runs on its own fresh database in the same run; the first is
// the reference: the store's defaults before the flash policy (a commit every
// 200 ms, a checkpoint every 60 s, 4 KiB pages). VIGIL_BENCH_POLICY=
// "commit_ms,checkpoint_ms,page_size,wal_bytes[,group[,seal]]" runs one policy after it
// (VIGIL_BENCH_NO_REF=1: without the reference).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "vigil/store.h"
#include "vigil/store_tools.h"

using namespace vigil;
namespace fs = std::filesystem;

namespace {
constexpr TimestampMs kDay = 86'400'000;
constexpr TimestampMs kStart = 1'780'000'000'000LL / kDay * kDay;
constexpr TimestampMs kPointPeriod = 600'000;
constexpr TimestampMs kWaveformPeriod = 3'600'000;
constexpr int kMetrics = 8;

struct Policy {
  const char* name;
  TimestampMs commit_ms;      // the writer's batch delay
  TimestampMs checkpoint_ms;  // points → chunks and roll-ups
  int page_size = 4096;
  int wal_bytes = 4 << 20;    // SQLite's WAL auto-checkpoint, in bytes
  bool group = false;         // StoreOptions::group_commit
  bool seal = true;           // StoreOptions::seal_chunks
};

struct Outcome {
  double written = 0, occupied = 0;
  // Where the written bytes went (second day): each store call's share,
  // SQLite's WAL auto-checkpoints included in the call that triggered them.
  double by_waveform = 0, by_measurement = 0, by_commit = 0, by_checkpoint = 0;
  std::int64_t waveforms = 0, commits = 0;
  double wall_s = 0;
};

// Bytes this process has passed to write()/pwrite() so far.
std::int64_t bytes_written() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return 0;
  char key[64];
  long long v = 0;
  std::int64_t out = 0;
  while (std::fscanf(f, "%63[^:]: %lld\n", key, &v) == 2)
    if (std::string(key) == "wchar") out = v;
  std::fclose(f);
  return out;
}

void remove_db(const std::string& p) {
  std::error_code ec;
  for (const char* s : {"", "-wal", "-shm", ".lock", ".created"}) fs::remove(p + s, ec);
}

// Copies the WAL into the database now (what SQLite's auto-checkpoint does
// at wal_bytes), from a second connection: at both ends of the measured day,
// so the day's count holds every copy its commits cause and the growth is the
// database file's own, not pages still waiting in the WAL.
void copy_wal(const std::string& path) {
  sqlite3* db = nullptr;
  int log = -1, copied = -2;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK ||
      sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_FULL, &log, &copied) != SQLITE_OK) {
    std::fprintf(stderr, "wal checkpoint: %s\n", db ? sqlite3_errmsg(db) : "open failed");
    std::exit(1);
  }
  sqlite3_close(db);
  if (log != copied) {
    std::fprintf(stderr, "wal checkpoint: copied %d of %d frames\n", copied, log);
    std::exit(1);
  }
}

// Pages the data occupies: the database's pages (the WAL's included) less
// its free pages.
std::int64_t occupied_bytes(const std::string& path) {
  sqlite3* db = nullptr;
  std::int64_t v[3] = {0, 0, 0};
  const char* sql[3] = {"PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"};
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) std::exit(1);
  for (int i = 0; i < 3; ++i) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql[i], -1, &st, nullptr) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
      std::fprintf(stderr, "%s: %s\n", sql[i], sqlite3_errmsg(db));
      std::exit(1);
    }
    v[i] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return (v[0] - v[1]) * v[2];
}

// Vibration-like counts: a few tones and broadband noise (about half of
// plain int16 once compressed, like the IMS snapshots).
std::vector<std::vector<std::int16_t>> waveform_pool(int n) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 40);
  std::vector<std::vector<std::int16_t>> pool(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    auto& w = pool[static_cast<std::size_t>(k)];
    w.resize(8192);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double t = static_cast<double>(i) / 20480.0;
      const double v = 300 * std::sin(2 * M_PI * (29.5 + k) * t) + 120 * std::sin(2 * M_PI * 236.4 * t) +
                       60 * std::sin(2 * M_PI * 1480 * t) + noise(rng);
      w[i] = static_cast<std::int16_t>(std::lround(v));
    }
  }
  return pool;
}

bool part_on(const char* part) {
  const char* parts = std::getenv("VIGIL_BENCH_PARTS");
  return !parts || std::string(parts).find(part) != std::string::npos;
}

// Counts the WAL's frames per b-tree (dbstat's name; pages on the freelist
// or not in any b-tree count as "free/other").
// `from`: the WAL's size when the day began (its earlier frames are the
// first day's, unless the WAL has restarted since: then all are counted).
std::int64_t wal_size(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path + "-wal", ec);
  return ec ? 0 : static_cast<std::int64_t>(n);
}

void print_frames(const std::string& path, int page_size, std::int64_t from) {
  std::FILE* f = std::fopen((path + "-wal").c_str(), "rb");
  if (!f) return;
  unsigned char wal_hdr[32];
  if (std::fread(wal_hdr, 1, 32, f) != 32) return;
  std::vector<unsigned char> hdr(24);
  std::vector<char> page(static_cast<std::size_t>(page_size));
  std::vector<std::int64_t> frames_of;  // by page number
  std::int64_t frames = 0, offset = 32;
  while (std::fread(hdr.data(), 1, 24, f) == 24 && std::fread(page.data(), 1, page.size(), f) == page.size()) {
    offset += 24 + page_size;
    // Frames of an earlier WAL generation (other salts) or the first day.
    if (std::memcmp(hdr.data() + 8, wal_hdr + 16, 8) != 0 || offset <= from) continue;
    const std::uint32_t pg = (std::uint32_t{hdr[0]} << 24) | (std::uint32_t{hdr[1]} << 16) |
                             (std::uint32_t{hdr[2]} << 8) | hdr[3];
    if (frames_of.size() <= pg) frames_of.resize(pg + 1, 0);
    ++frames_of[pg];
    ++frames;
  }
  std::fclose(f);
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  std::vector<std::string> name_of(frames_of.size());
  if (sqlite3_prepare_v2(db, "SELECT name, pageno FROM dbstat", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto pg = static_cast<std::size_t>(sqlite3_column_int64(st, 1));
      if (pg < name_of.size()) name_of[pg] = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
  } else {
    std::printf("    dbstat: %s\n", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::vector<std::pair<std::string, std::int64_t>> by;
  for (std::size_t pg = 1; pg < frames_of.size(); ++pg) {
    if (!frames_of[pg]) continue;
    const std::string n = pg == 1 ? "page 1 (header)" : name_of[pg].empty() ? "free/other" : name_of[pg];
    auto it = std::find_if(by.begin(), by.end(), [&](auto& e) { return e.first == n; });
    if (it == by.end()) by.emplace_back(n, frames_of[pg]);
    else it->second += frames_of[pg];
  }
  std::sort(by.begin(), by.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::printf("    WAL frames of the day: %lld (%.1f MB)\n", static_cast<long long>(frames),
              static_cast<double>(frames) * (page_size + 24) / 1e6);
  for (auto& [n, c] : by)
    std::printf("      %-28s %9lld frames %7.1f MB\n", n.c_str(), static_cast<long long>(c),
                static_cast<double>(c) * (page_size + 24) / 1e6);
}

Outcome run(const Policy& pol, const std::string& path, int sensors) {
  remove_db(path);
  const bool readings = part_on("readings"), waveforms = part_on("waveforms"),
             measurements = part_on("measurements");
  StoreOptions o;
  o.path = path;
  // The bench drives commits and checkpoints itself, in simulated time.
  o.batch_max_delay_ms = 3'600'000;
  o.batch_max_rows = 10'000'000;
  o.checkpoint_interval_s = 100'000'000;
  o.queue_max_rows = 10'000'000;
  o.integrity_check_at_open = false;
  o.integrity_check_interval_s = 0;
  o.page_size = pol.page_size;
  o.wal_autocheckpoint_bytes = pol.wal_bytes;
  o.seal_chunks = pol.seal;
  o.group_commit = pol.group;
  ManualClock clock(kStart);
  o.clock = &clock;
  auto opened = Store::open(o);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  auto& store = **opened;
  auto site = store.upsert_site({0, "plant", "UTC"});
  std::vector<std::vector<Id>> series(static_cast<std::size_t>(sensors));
  std::vector<Id> positions(static_cast<std::size_t>(sensors));
  Id asset = 0;
  for (int i = 0; i < sensors; ++i) {
    if (i % 10 == 0) {
      Asset a;
      a.site_id = *site;
      a.name = "machine " + std::to_string(i / 10);
      asset = *store.upsert_asset(a);
    }
    auto pos = store.upsert_position({0, asset, "p" + std::to_string(i), PositionType::kMotor});
    positions[static_cast<std::size_t>(i)] = *pos;
    Sensor sn;
    char buf[32];
    std::snprintf(buf, sizeof buf, "AA:BB:CC:00:%02X:%02X", i / 256, i % 256);
    sn.address = buf;
    sn.format = "bthome";
    sn.position_id = *pos;
    auto sid = store.upsert_sensor(sn);
    for (int m = 0; m < kMetrics; ++m)
      series[static_cast<std::size_t>(i)].push_back(*store.ensure_series(*sid, "metric_" + std::to_string(m), ""));
  }
  const auto pool = waveform_pool(16);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> jitter(-400, 400);
  // Quantised values at a sensor's resolution, wandering slowly.
  std::vector<double> level(static_cast<std::size_t>(sensors) * kMetrics, 20.0);
  std::normal_distribution<double> step(0, 0.05);

  const char* days_env = std::getenv("VIGIL_BENCH_DAYS");
  const int days = days_env ? std::max(1, std::atoi(days_env)) : 1;
  const TimestampMs end = kStart + (1 + days) * kDay;
  const TimestampMs measure_from = kStart + kDay;
  TimestampMs next_commit = kStart + pol.commit_ms, next_checkpoint = kStart + pol.checkpoint_ms;
  // Each sensor's next point and waveform time: phases spread over the period.
  std::vector<TimestampMs> next_pt(static_cast<std::size_t>(sensors)), next_wf(static_cast<std::size_t>(sensors));
  for (int i = 0; i < sensors; ++i) {
    next_pt[static_cast<std::size_t>(i)] = kStart + kPointPeriod * i / sensors;
    next_wf[static_cast<std::size_t>(i)] = kStart + kWaveformPeriod * i / sensors;
  }
  Outcome out;
  bool measuring = false;
  std::int64_t occ0 = 0;
  std::int64_t w0 = 0, wal0 = 0;
  std::vector<SeriesPoint> batch;
  const auto t_wall = std::chrono::steady_clock::now();
  // Advance in 1-second steps of simulated time.
  for (TimestampMs t = kStart; t < end; t += 1000) {
    if (!measuring && t >= measure_from) {
      if (!store.flush().ok()) std::exit(1);
      copy_wal(path);
      occ0 = occupied_bytes(path);
      std::fflush(stdout);
      w0 = bytes_written();
      wal0 = wal_size(path);
      measuring = true;
    }
    clock.set(t);
    batch.clear();
    for (int i = 0; i < sensors; ++i) {
      auto& np = next_pt[static_cast<std::size_t>(i)];
      if (np <= t && !readings) np += kPointPeriod;
      if (np <= t) {
        const TimestampMs ts = np + jitter(rng);
        for (int m = 0; m < kMetrics; ++m) {
          auto& lv = level[static_cast<std::size_t>(i) * kMetrics + static_cast<std::size_t>(m)];
          lv = std::clamp(lv + step(rng), 0.0, 100.0);
          batch.push_back({series[static_cast<std::size_t>(i)][static_cast<std::size_t>(m)], ts,
                           std::round(lv * 100) / 100});
        }
        np += kPointPeriod;
      }
      auto& nw = next_wf[static_cast<std::size_t>(i)];
      if (nw <= t && !waveforms && !measurements) nw += kWaveformPeriod;
      if (nw <= t) {
        Waveform w;
        w.position_id = positions[static_cast<std::size_t>(i)];
        w.ts = nw;
        w.sample_rate_hz = 20480;
        w.scale = 0.001;
        w.samples = pool[static_cast<std::size_t>((i + nw / kWaveformPeriod) % 16)];
        const std::int64_t b0 = measuring ? bytes_written() : 0;
        Result<Id> wid = Id{0};
        if (waveforms) wid = store.put_waveform(w);
        if (!wid) std::exit(1);
        const std::int64_t b1 = measuring ? bytes_written() : 0;
        out.by_waveform += static_cast<double>(b1 - b0);
        out.waveforms += measuring ? 1 : 0;
        Measurement me;
        me.position_id = w.position_id;
        me.ts = w.ts;
        me.waveform_id = *wid;
        me.features_json =
            R"({"rms_g":0.4123,"peak_g":1.532,"crest":3.716,"kurtosis":3.02,"skewness":0.011,"velocity_rms_mm_s":2.314,)"
            R"("band_0_1k":0.211,"band_1_2k":0.102,"band_2_5k":0.087,"band_5_10k":0.034,"envelope_rms":0.051,)"
            R"("bpfo":0.0021,"bpfi":0.0017,"bsf":0.0009,"ftf":0.0004,"shaft_1x":0.31})";
        me.score = 0.42;
        me.state = HealthState::kHealthy;
        if (measurements && !store.put_measurement(me)) std::exit(1);
        out.by_measurement += measuring ? static_cast<double>(bytes_written() - b1) : 0;
        nw += kWaveformPeriod;
      }
    }
    if (!batch.empty() && !store.append(batch).ok()) std::exit(1);
    if (t >= next_commit) {
      const std::int64_t b0 = measuring ? bytes_written() : 0;
      if (!store.flush().ok()) std::exit(1);
      out.by_commit += measuring ? static_cast<double>(bytes_written() - b0) : 0;
      out.commits += measuring ? 1 : 0;
      next_commit += pol.commit_ms;
    }
    if (t >= next_checkpoint) {
      const std::int64_t b0 = measuring ? bytes_written() : 0;
      if (!store.checkpoint().ok()) std::exit(1);
      out.by_checkpoint += measuring ? static_cast<double>(bytes_written() - b0) : 0;
      next_checkpoint += pol.checkpoint_ms;
    }
  }
  if (!store.flush().ok()) std::exit(1);
  if (std::getenv("VIGIL_BENCH_FRAMES")) print_frames(path, pol.page_size, wal0);
  copy_wal(path);
  out.written = static_cast<double>(bytes_written() - w0) / days;
  out.occupied = static_cast<double>(occupied_bytes(path) - occ0) / days;
  out.by_waveform /= days;
  out.by_measurement /= days;
  out.by_commit /= days;
  out.by_checkpoint /= days;
  out.waveforms /= days;
  out.commits /= days;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_wall).count();
  opened->reset();
  remove_db(path);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : fs::temp_directory_path().string();
  int sensors = std::getenv("VIGIL_BENCH_QUICK") ? 200 : 1000;
  if (const char* n = std::getenv("VIGIL_BENCH_SENSORS")) sensors = std::max(1, std::atoi(n));
  std::vector<Policy> policies = {
      {"reference: commit 200 ms, checkpoint 60 s, 4 KiB pages", 200, 60'000, 4096, 4 << 20, false, false},
      {"earlier: commit 1 s, checkpoint 6 h, 1 KiB, WAL 4 MiB", 1000, 6 * 3'600'000, 1024, 4 << 20, false, false},
      {"previous: group commit 10 s, 12 h, 1 KiB, WAL 4 MiB", 10'000, 12 * 3'600'000, 1024, 4 << 20, true, false},
      {"group commit 30 s, 12 h, 1 KiB, WAL 64 MiB, no seals", 30'000, 12 * 3'600'000, 1024, 64 << 20, true, false},
      {"defaults: group commit 30 s, 12 h, 1 KiB, WAL 64 MiB", 30'000, 12 * 3'600'000, 1024, 64 << 20, true},
      {"the same with 4 KiB pages (older databases)", 30'000, 12 * 3'600'000, 4096, 64 << 20, true},
  };
  // "commit_ms,checkpoint_ms,page,wal_bytes[,group[,seal]]"
  if (const char* only = std::getenv("VIGIL_BENCH_POLICY")) {
    Policy p{"custom", 1000, 3'600'000};
    int group = 0, seal = 1;
    std::sscanf(only, "%lld,%lld,%d,%d,%d,%d", reinterpret_cast<long long*>(&p.commit_ms),
                reinterpret_cast<long long*>(&p.checkpoint_ms), &p.page_size, &p.wal_bytes, &group, &seal);
    p.group = group != 0;
    p.seal = seal != 0;
    policies = {policies[0], p};
    if (std::getenv("VIGIL_BENCH_NO_REF")) policies = {p};
  }
  std::printf("Flash writes: %d sensors × %d metrics every 10 min + an hourly 8,192-sample waveform, "
              "%s\n", sensors, kMetrics, std::getenv("VIGIL_BENCH_DAYS") ? "per day after the first" : "second simulated day");
  double ref = 0;
  for (const auto& p : policies) {
    auto o = run(p, dir + "/flash.db", sensors);
    const double ratio = o.written / std::max(1.0, o.occupied);
    if (ref == 0) ref = o.written;
    std::printf("  %-52s written %8.1f MB/day; data grew %7.1f MB → %5.2f× (goal ≤ 3×); %.2f× the reference  [%.0f s]\n",
                p.name, o.written / 1e6, o.occupied / 1e6, ratio, o.written / ref, o.wall_s);
    // With group commit waveforms and measurement rows are written by the
    // commits (they only join the open transaction).
    std::printf("  %-52s   of which: waveforms %.1f MB (%.1f KB each), measurement rows %.1f MB, "
                "%s %.1f MB (%.2f KB each), checkpoints %.1f MB\n", "",
                o.by_waveform / 1e6, o.by_waveform / 1e3 / std::max<double>(1, static_cast<double>(o.waveforms)),
                o.by_measurement / 1e6, p.group ? "group commits (all of the data path)" : "point commits",
                o.by_commit / 1e6,
                o.by_commit / 1e3 / std::max<double>(1, static_cast<double>(o.commits)), o.by_checkpoint / 1e6);
    std::fflush(stdout);
  }
  return 0;
}
