// SPDX-License-Identifier: Apache-2.0
//
// bench_http_seed DB [POSITIONS] [DAYS]: fills a vigil database with a plant
// of POSITIONS positions (5 per asset) and DAYS days of 10-minute velocity
// RMS and temperature per position, ending now, through the Store directly
// (batched appends, then a checkpoint into chunks and hourly roll-ups).
// Used by tests/bench/http_bench.sh.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vigil/store.h"

using namespace vigil;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_http_seed DB [POSITIONS=100] [DAYS=365]\n");
    return 2;
  }
  const int positions = argc > 2 ? std::atoi(argv[2]) : 100;
  const int days = argc > 3 ? std::atoi(argv[3]) : 365;
  StoreOptions so;
  so.path = argv[1];
  so.checkpoint_interval_s = 3600;  // we checkpoint ourselves
  auto store = Store::open(so);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  Store& s = **store;
  auto t0 = std::chrono::steady_clock::now();
  const TimestampMs now = SystemClock::instance().now_ms();
  const TimestampMs step = 600'000;
  const TimestampMs start = now - static_cast<TimestampMs>(days) * 86'400'000 + step;
  Id site = *s.upsert_site(Site{0, "Bench plant", "UTC"});
  std::vector<std::pair<Id, Id>> series;  // (velocity, temperature)
  for (int i = 0; i < positions; ++i) {
    if (i % 5 == 0) {
      Asset a;
      a.site_id = site;
      a.name = "Machine " + std::to_string(i / 5 + 1);
      a.shaft_rpm = 1480;
      (void)s.upsert_asset(a);
    }
    auto assets = *s.assets(site);
    Id asset = assets.back().id;
    for (auto& a : assets)
      if (a.name == "Machine " + std::to_string(i / 5 + 1)) asset = a.id;
    Id pos = *s.upsert_position(Position{0, asset, "Position " + std::to_string(i % 5 + 1), PositionType::kBearing});
    Sensor sensor;
    char mac[32];
    std::snprintf(mac, sizeof mac, "B0:00:00:00:%02X:%02X", (i >> 8) & 0xff, i & 0xff);
    sensor.address = mac;
    sensor.format = "vigil";
    sensor.position_id = pos;
    sensor.commissioned_at = start;
    Id sid = *s.upsert_sensor(sensor);
    series.emplace_back(*s.ensure_series(sid, "velocity_rms_mm_s", "mm/s"), *s.ensure_series(sid, "temperature_c", "°C"));
  }
  std::vector<SeriesPoint> batch;
  batch.reserve(20000);
  std::uint64_t total = 0;
  for (TimestampMs t = start; t <= now; t += step) {
    const double day = static_cast<double>(t % 86'400'000) / 86'400'000.0;
    for (std::size_t p = 0; p < series.size(); ++p) {
      double v = 1.2 + 0.3 * std::sin(6.283 * day + static_cast<double>(p)) + 0.05 * static_cast<double>((t / step + p) % 7);
      batch.push_back({series[p].first, t, v});
      batch.push_back({series[p].second, t, 40 + 8 * std::sin(6.283 * day)});
    }
    if (batch.size() >= 18000) {
      while (true) {
        auto st = s.append(batch);
        if (st.ok()) break;
        if (st.code() != Status::Code::kResourceExhausted) {
          std::fprintf(stderr, "append: %s\n", st.ToString().c_str());
          return 1;
        }
        (void)s.flush();
      }
      total += batch.size();
      batch.clear();
    }
    if ((t - start) % (30LL * 86'400'000) < step) {
      (void)s.flush();
      (void)s.checkpoint();
    }
  }
  if (!batch.empty()) {
    (void)s.append(batch);
    total += batch.size();
  }
  (void)s.flush();
  auto cs = s.checkpoint();
  if (!cs.ok()) std::fprintf(stderr, "checkpoint: %s\n", cs.ToString().c_str());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("seeded %d positions × %d days: %llu points in %.1f s (%.0f points/s)\n", positions, days,
              static_cast<unsigned long long>(total), secs, static_cast<double>(total) / secs);
  return 0;
}
