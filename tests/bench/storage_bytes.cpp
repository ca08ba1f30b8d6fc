// SPDX-License-Identifier: Apache-2.0
//
// Bytes on disk (issue 17): what a stored point and a stored waveform cost,
// each next to a reference measured in the same run.
//
//   build/tests/bench_storage_bytes [DIR] [IMS_FEATURES.csv]
//     VIGIL_BENCH_QUICK=1   30 days instead of 365 for the year set
//     SHARED_DIR            where data/ims-bearing-test2 is (waveforms)
//     VIGIL_BENCH_PAGE_SIZE  page size of the databases (default: the store's, 1 KiB)
//
// 1. The year of 100 positions (bench_store_ingest's range-read set: one
//    metric, regular 10-minute points) and a harder one: 100 positions × 8
//    metrics at each metric's sensor resolution, timestamps with BLE
//    reception jitter, 30 days. Bytes per point = chunks + roll-ups (+ log)
//    as the file holds them (dbstat), against the same points as plain
//    SQLite rows (series_id, ts, value) in the same run.
// 2. IMS test 2 features (a `vigil backtest` result CSV, if given): every
//    numeric feature column of every channel as a series.
// 3. IMS test 2 raw waveforms: compressed bytes against plain int16, and
//    encode/decode time per snapshot (8,192 samples).
// 4. 30-day range reads on the year set: p99 (target < 5 ms).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/chunk_codec.h"
#include "store/waveform_codec.h"
#include "vigil/store.h"
#include "vigil/store_tools.h"

using namespace vigil;
namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

namespace {
constexpr TimestampMs kStart = 1'700'000'000'000LL / 86'400'000 * 86'400'000;
constexpr TimestampMs kTenMin = 600'000;

double seconds_since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

void remove_db(const std::string& p) {
  std::error_code ec;
  for (const char* s : {"", "-wal", "-shm", ".lock", ".created"}) fs::remove(p + s, ec);
}

// The same points as plain rows: the reference every figure is compared with.
double plain_rows_bytes_per_point(const std::string& path, const std::vector<SeriesPoint>& pts) {
  remove_db(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE r(series_id INTEGER, ts INTEGER, value REAL); BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?)", -1, &st, nullptr);
  for (const auto& p : pts) {
    sqlite3_bind_int64(st, 1, p.series_id);
    sqlite3_bind_int64(st, 2, p.ts);
    sqlite3_bind_double(st, 3, p.value);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  const double b = static_cast<double>(fs::file_size(path));
  remove_db(path);
  return b / static_cast<double>(pts.size());
}

struct Loaded {
  std::unique_ptr<Store> store;
  std::vector<Id> series;
};

Loaded open_with_series(const std::string& path, const Clock& clock, int positions,
                        const std::vector<std::string>& metrics) {
  remove_db(path);
  StoreOptions o;
  o.path = path;
  o.clock = &clock;
  o.checkpoint_interval_s = 3600;
  o.queue_max_rows = 2'000'000;
  if (const char* ps = std::getenv("VIGIL_BENCH_PAGE_SIZE")) o.page_size = std::atoi(ps);  // default: the store's
  o.integrity_check_at_open = false;
  auto s = Store::open(o);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  Loaded l{std::move(*s), {}};
  auto site = l.store->upsert_site({0, "bench", "UTC"});
  Asset a;
  a.site_id = *site;
  a.name = "bench";
  auto asset = l.store->upsert_asset(a);
  for (int i = 0; i < positions; ++i) {
    auto pos = l.store->upsert_position({0, *asset, "p" + std::to_string(i), PositionType::kMotor});
    Sensor sn;
    char buf[32];
    std::snprintf(buf, sizeof buf, "AA:BB:CC:00:%02X:%02X", i / 256, i % 256);
    sn.address = buf;
    sn.format = "vigil";
    sn.position_id = *pos;
    auto sid = l.store->upsert_sensor(sn);
    for (const auto& m : metrics) l.series.push_back(*l.store->ensure_series(*sid, m, ""));
  }
  return l;
}

void append_all(Store& store, const std::vector<SeriesPoint>& pts) {
  for (std::size_t i = 0; i < pts.size(); i += 100'000) {
    std::span<const SeriesPoint> part(pts.data() + i, std::min<std::size_t>(100'000, pts.size() - i));
    while (!store.append(part).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!store.flush().ok() || !store.checkpoint().ok()) std::exit(1);
}

// VIGIL_BENCH_BREAKDOWN=1: where a set's bytes go — per table, the pages
// (dbstat: payload, b-tree cell/page overhead, unused slack), and per chunk
// row the codec's header, timestamp and value bits.
void print_breakdown(const std::string& path, double points) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return;
  sqlite3_stmt* st = nullptr;
  std::printf("  breakdown, B/point: table: pages = payload + cell/page overhead + unused\n");
  if (sqlite3_prepare_v2(db,
                         "SELECT name, sum(pgsize), sum(payload), sum(unused), count(*) FROM dbstat "
                         "GROUP BY name ORDER BY 2 DESC LIMIT 6",
                         -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const double pg = static_cast<double>(sqlite3_column_int64(st, 1)), pl = static_cast<double>(sqlite3_column_int64(st, 2)),
                   un = static_cast<double>(sqlite3_column_int64(st, 3));
      std::printf("    %-22s %.2f = %.2f + %.2f + %.2f  (%lld pages)\n",
                  reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), pg / points, pl / points,
                  (pg - pl - un) / points, un / points, static_cast<long long>(sqlite3_column_int64(st, 4)));
    }
  }
  sqlite3_finalize(st);
  double rows = 0, blob = 0, hdr = 0, tsb = 0, vb = 0, pad = 0, n = 0;
  std::map<int, int> modes;
  if (sqlite3_prepare_v2(db, "SELECT data FROM chunks", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 0));
      std::span<const std::uint8_t> b(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
      store_detail::ChunkComposition c;
      rows += 1;
      blob += static_cast<double>(b.size());
      if (!store_detail::describe_chunk(b, c).ok()) continue;
      n += static_cast<double>(c.points);
      hdr += static_cast<double>(c.header_bytes);
      tsb += static_cast<double>(c.timestamp_bits);
      vb += static_cast<double>(c.value_bits);
      pad += static_cast<double>(c.padding_bits);
      ++modes[c.ts_mode * 100 + c.value_mode];
    }
  }
  sqlite3_finalize(st);
  if (n > 0) {
    std::printf("    chunk rows %.0f, %.1f points and %.1f B a row; per point: header %.3f B, timestamps %.2f bits, "
                "values %.2f bits, padding %.3f B\n",
                rows, n / rows, blob / rows, hdr / n, tsb / n, vb / n, pad / 8 / n);
    std::printf("    rows by (timestamp mode, value mode):");
    for (auto [m, c] : modes) std::printf(" (%d,%d) %d", m / 100, m % 100, c);
    std::printf("\n");
  }
  if (sqlite3_prepare_v2(db, "SELECT count(*), sum(length(data)) FROM rollup_daily", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const double r = static_cast<double>(sqlite3_column_int64(st, 0)), bytes = static_cast<double>(sqlite3_column_int64(st, 1));
    if (r > 0) std::printf("    roll-up rows %.0f, %.1f B a row (%.2f B/point of blobs)\n", r, bytes / r, bytes / points);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

void report_points(const char* what, const std::string& path, const std::vector<SeriesPoint>& pts,
                   const std::string& dir) {
  auto r = storage_report(path);
  if (!r) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::exit(1);
  }
  const double plain = plain_rows_bytes_per_point(dir + "/plain.db", pts);
  std::printf("%s: %lld points\n", what, static_cast<long long>(r->points));
  std::printf("  vigil: %.2f B/point (chunks %.2f + roll-ups %.2f), file %.1f MB   (goal ≤ 3 B)\n", r->bytes_per_point,
              static_cast<double>(r->chunk_bytes) / static_cast<double>(r->points),
              static_cast<double>(r->rollup_bytes) / static_cast<double>(r->points),
              static_cast<double>(r->db_file_bytes) / 1e6);
  std::printf("  reference: the same points as plain SQLite rows  %.2f B/point (%.1f× vigil)\n", plain,
              plain / r->bytes_per_point);
  if (std::getenv("VIGIL_BENCH_BREAKDOWN")) print_breakdown(path, static_cast<double>(r->points));
}

// The year set of bench_store_ingest (regular 10-minute points, 0.01 steps).
void year_set(const std::string& dir, int days) {
  const std::string path = dir + "/year.db";
  ManualClock clock(kStart + static_cast<TimestampMs>(days) * 86'400'000);
  auto l = open_with_series(path, clock, 100, {"velocity_rms_mm_s"});
  std::vector<SeriesPoint> pts;
  const int per_series = days * 144;
  pts.reserve(static_cast<std::size_t>(per_series) * 100);
  for (int step = 0; step < per_series; ++step)
    for (Id id : l.series) pts.push_back({id, kStart + step * kTenMin, 1.0 + (step % 50) * 0.01});
  auto t0 = Clk::now();
  append_all(*l.store, pts);
  const double load_s = seconds_since(t0);
  // Range reads: 30 days of one series.
  std::vector<double> us;
  const TimestampMs end = kStart + static_cast<TimestampMs>(per_series) * kTenMin;
  for (int rep = 0; rep < 500; ++rep) {
    Id id = l.series[static_cast<std::size_t>(rep % 100)];
    TimestampMs to = end - (rep % 7) * 86'400'000LL;
    TimestampMs from = std::max<TimestampMs>(kStart, to - 30LL * 86400000);
    auto t = Clk::now();
    auto r = l.store->range(id, from, to - 1);
    us.push_back(seconds_since(t) * 1e6);
    if (!r || r->empty()) std::exit(1);
  }
  l.store.reset();
  std::sort(us.begin(), us.end());
  char what[128];
  std::snprintf(what, sizeof what, "Year set: %d days × 100 positions, regular 10-minute points (loaded in %.1f s)", days,
                load_s);
  report_points(what, path, pts, dir);
  std::printf("  30-day range read of one series: median %.0f µs, p99 %.0f µs   (target: < 5000 µs)\n",
              us[us.size() / 2], us[us.size() * 99 / 100]);
  if (!std::getenv("VIGIL_BENCH_KEEP")) remove_db(path);
}

// 8 metrics at their sensors' resolution, BLE reception jitter.
void plant_set(const std::string& dir, int days) {
  struct Metric {
    const char* name;
    double resolution, level, step, daily;
  };
  const Metric metrics[] = {{"velocity_rms_mm_s", 0.01, 2.5, 0.03, 0.4},   {"accel_rms_g", 0.001, 0.3, 0.004, 0.05},
                            {"accel_peak_g", 0.001, 1.2, 0.02, 0.2},       {"crest_factor", 0.01, 4.0, 0.05, 0.1},
                            {"kurtosis", 0.01, 3.2, 0.05, 0.1},            {"temperature_c", 0.01, 45, 0.05, 3},
                            {"battery_pct", 1, 90, 0.0, 0},                {"rpm", 1, 1480, 1.0, 5}};
  std::vector<std::string> names;
  for (const auto& m : metrics) names.push_back(m.name);
  const std::string path = dir + "/plant.db";
  ManualClock clock(kStart + static_cast<TimestampMs>(days) * 86'400'000);
  auto l = open_with_series(path, clock, 100, names);
  std::mt19937 rng(17);
  std::normal_distribution<double> n01(0, 1);
  std::uniform_int_distribution<int> jitter(-400, 400);
  std::vector<SeriesPoint> pts;
  const int per_series = days * 144;
  std::vector<double> state(l.series.size());
  for (std::size_t s = 0; s < state.size(); ++s) state[s] = metrics[s % 8].level;
  for (int step = 0; step < per_series; ++step) {
    const double day_phase = std::sin(2 * M_PI * (step % 144) / 144.0);
    for (std::size_t s = 0; s < l.series.size(); ++s) {
      const auto& m = metrics[s % 8];
      state[s] += m.step * n01(rng) - 0.01 * (state[s] - m.level);
      const double raw = state[s] + m.daily * day_phase;
      // Quantised as the sensor sends it: an integer count times the resolution.
      const double v = std::round(raw / m.resolution) * m.resolution;
      pts.push_back({l.series[s], kStart + step * kTenMin + jitter(rng), v});
    }
  }
  append_all(*l.store, pts);
  l.store.reset();
  char what[160];
  std::snprintf(what, sizeof what,
                "Plant set: %d days × 100 positions × 8 metrics at sensor resolution, ±400 ms reception jitter", days);
  report_points(what, path, pts, dir);
  if (!std::getenv("VIGIL_BENCH_KEEP")) remove_db(path);
}

// Every numeric column of a `vigil backtest` result, per channel.
void ims_features(const std::string& dir, const std::string& csv) {
  std::ifstream in(csv);
  if (!in) {
    std::printf("IMS features: SKIPPED (no result CSV at %s)\n", csv.c_str());
    return;
  }
  std::string header;
  std::getline(in, header);
  std::vector<std::string> cols;
  {
    std::stringstream hs(header);
    std::string c;
    while (std::getline(hs, c, ',')) cols.push_back(c);
  }
  // Columns from velocity_rms_mm_s to env_ftf_g are the features.
  auto first = std::find(cols.begin(), cols.end(), "velocity_rms_mm_s") - cols.begin();
  auto last = std::find(cols.begin(), cols.end(), "explanation") - cols.begin();
  const std::string path = dir + "/ims.db";
  ManualClock clock(kStart);
  std::vector<std::string> feature_names(cols.begin() + first, cols.begin() + last);
  auto l = open_with_series(path, clock, 4, feature_names);
  std::map<std::string, std::size_t> channel_index;
  std::vector<SeriesPoint> pts;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    std::string c;
    while (static_cast<long>(f.size()) < last && std::getline(ls, c, ',')) f.push_back(c);
    if (static_cast<long>(f.size()) < last) continue;
    std::tm tm{};
    if (!strptime(f[1].c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) continue;
    const TimestampMs ts = static_cast<TimestampMs>(timegm(&tm)) * 1000;
    auto [it, _] = channel_index.emplace(f[2], channel_index.size());
    if (it->second >= 4) continue;
    for (long k = first; k < last; ++k) {
      if (f[static_cast<std::size_t>(k)].empty()) continue;
      pts.push_back({l.series[it->second * feature_names.size() + static_cast<std::size_t>(k - first)], ts,
                     std::strtod(f[static_cast<std::size_t>(k)].c_str(), nullptr)});
    }
  }
  std::stable_sort(pts.begin(), pts.end(), [](const SeriesPoint& a, const SeriesPoint& b) { return a.ts < b.ts; });
  if (!pts.empty()) clock.set(pts.back().ts + 86'400'000);  // 2004: inside retention, as the rig saw it
  append_all(*l.store, pts);
  l.store.reset();
  report_points("IMS test 2 features (backtest result, 6 significant digits, 4 channels)", path, pts, dir);
  remove_db(path);
}

void ims_waveforms(const std::string& shared) {
  const fs::path dir = fs::path(shared) / "data/ims-bearing-test2";
  std::ifstream mf(dir / "manifest.json");
  if (!mf) {
    std::printf("IMS waveforms: SKIPPED (dataset absent at %s)\n", dir.c_str());
    return;
  }
  auto m = nlohmann::json::parse(mf);
  const std::size_t n = m.at("samples_per_snapshot").get<std::size_t>();
  std::ifstream bin(dir / m.at("file").get<std::string>(), std::ios::binary);
  std::vector<std::int16_t> x(n), back;
  double raw = 0, packed = 0, enc_s = 0, dec_s = 0;
  int count = 0;
  while (bin.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(n * 2))) {
    auto t = Clk::now();
    auto blob = store_detail::encode_waveform(x, 1);
    enc_s += seconds_since(t);
    t = Clk::now();
    if (!store_detail::decode_waveform(blob, n, back).ok() || back != x) {
      std::fprintf(stderr, "waveform %d did not round-trip\n", count);
      std::exit(1);
    }
    dec_s += seconds_since(t);
    raw += static_cast<double>(n * 2);
    packed += static_cast<double>(blob.size());
    ++count;
  }
  std::printf("IMS test 2 waveforms: %d channel-snapshots of %zu samples, lossless\n", count, n);
  std::printf("  vigil: %.1f%% of plain int16 (%.0f B per snapshot)   (goal ≤ 60%%)\n", 100 * packed / raw,
              packed / count);
  std::printf("  reference: plain int16 %.0f B per snapshot\n", raw / count);
  std::printf("  encode %.0f µs, decode %.0f µs per snapshot\n", 1e6 * enc_s / count, 1e6 * dec_s / count);
}
}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : fs::temp_directory_path().string() + "/vigil-bench-storage";
  fs::create_directories(dir);
  const bool quick = std::getenv("VIGIL_BENCH_QUICK") != nullptr;
  const char* shared_env = std::getenv("SHARED_DIR");
  const std::string shared = shared_env ? shared_env : std::string("../shared");
  year_set(dir, quick ? 30 : 365);
  plant_set(dir, quick ? 7 : 30);
  ims_features(dir, argc > 2 ? argv[2] : "");
  ims_waveforms(shared);
  return 0;
}
