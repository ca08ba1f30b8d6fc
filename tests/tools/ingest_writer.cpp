// SPDX-License-Identifier: Apache-2.0
//
// Test tool for the crash test (tests/integration/test_crash.py).
//   ingest_writer write DB ROUND — ingests readings for 50 series through the real
//       Ingest → Store path as fast as it can, with a checkpoint every second;
//       after each flush() returns it prints "committed N" (every reading with
//       sequence < N is durable). Runs until killed.
//   ingest_writer verify DB N — reopens the store (replaying the ingest log)
//       and checks that every reading with sequence < N is present exactly
//       once. Exit 0 when all are there.
//   ingest_writer write-grouped DB ROUND / verify-grouped DB N W — the same
//       with group commit (StoreOptions::group_commit) and a waveform and its
//       measurement every batch: "committed N W" after each flush(), and the
//       check that the first W waveforms and their measurements are there.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include "vigil/ingest.h"
#include "vigil/store.h"

using namespace vigil;

namespace {
constexpr int kSeries = 50;
// Recent timestamps: data older than the raw retention would be (rightly)
// deleted by the store's hourly retention pass.
const TimestampMs kT0 = SystemClock::instance().now_ms() / 1000 * 1000 - 10LL * 24 * 3600 * 1000;

bool grouped = false;

Result<std::unique_ptr<Store>> open(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.checkpoint_interval_s = 1;
  o.batch_max_delay_ms = grouped ? 50 : 2;
  o.group_commit = grouped;
  o.waveforms_per_position = 1000000;  // keep every one, so all can be counted
  return Store::open(o);
}

std::string address(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "sim:crash/%02d", i);
  return buf;
}

int write(const std::string& path, int round) {
  auto s = open(path);
  if (!s) {
    std::cerr << s.status().ToString() << "\n";
    return 1;
  }
  Store& store = **s;
  auto site = store.upsert_site({0, "crash", "UTC"});
  if (!site) return 1;
  Asset a;
  a.site_id = *site;
  a.name = "press";
  auto asset = store.upsert_asset(a);
  if (!asset) return 1;
  auto position = store.upsert_position({0, *asset, "DE", PositionType::kMotor});
  if (!position) return 1;
  for (int i = 0; i < kSeries; ++i) {
    Sensor sn;
    sn.address = address(i);
    sn.format = "sim";
    if (!store.upsert_sensor(sn).ok()) return 1;
  }
  std::uint64_t waveforms = 0;
  ManualClock clock(kT0 + 1000LL * 24 * 3600 * 1000);
  Ingest ingest(store, clock);
  std::uint64_t seq = 0;
  for (;;) {
    std::vector<Reading> batch;
    for (int k = 0; k < 2000; ++k, ++seq) {
      int series = static_cast<int>(seq % kSeries);
      batch.push_back({address(series), "temperature_c",
                       kT0 + round * 100'000'000LL + static_cast<TimestampMs>(seq / kSeries) * 1000,
                       static_cast<double>(seq % 100)});
    }
    auto r = ingest.submit(batch);
    if (r.accepted != batch.size()) {
      std::cerr << "rejected " << r.rejected_total() << "\n";
      return 1;
    }
    if (grouped) {
      // Waveform k: samples all equal to k % 1000, so a torn one shows.
      Waveform w;
      w.position_id = *position;
      w.ts = kT0 + round * 100'000'000LL + static_cast<TimestampMs>(waveforms);
      w.sample_rate_hz = 1000;
      w.scale = 1;
      w.samples.assign(512, static_cast<std::int16_t>(waveforms % 1000));
      auto wid = store.put_waveform(w);
      if (!wid) return 1;
      Measurement m;
      m.position_id = *position;
      m.ts = w.ts;
      m.waveform_id = *wid;
      m.features_json = "{}";
      if (!store.put_measurement(m)) return 1;
      ++waveforms;
    }
    if (!store.flush().ok()) return 1;
    std::printf("committed %llu %llu\n", static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(waveforms));
    std::fflush(stdout);
  }
}

// At least w waveforms and w measurements (the acknowledged ones), every
// waveform's samples intact.
bool verify_waveforms(Store& store, std::uint64_t w) {
  std::int64_t n = 0, torn = 0, measurements = 0;
  auto s = store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*), (SELECT count(*) FROM measurements) FROM waveforms");
    if (!q) return q.status();
    auto row = (*q)->step();
    if (!row) return row.status();
    n = (*q)->i64(0);
    measurements = (*q)->i64(1);
    (*q)->reset();
    return Status::Ok();
  });
  if (!s.ok()) {
    std::cerr << s.ToString() << "\n";
    return false;
  }
  auto positions = store.positions();
  if (!positions) return false;
  for (const auto& p : *positions) {
    auto wf = store.latest_waveform(p.id);
    if (!wf || !wf->has_value()) continue;
    for (auto v : (*wf)->samples) torn += v != (*wf)->samples.front();
  }
  std::cout << "waveforms " << n << " and measurements " << measurements << " of at least " << w
            << ", torn samples " << torn << "\n";
  return static_cast<std::uint64_t>(std::min(n, measurements)) >= w && torn == 0;
}

int verify(const std::string& path, std::uint64_t n, std::optional<std::uint64_t> waveforms = std::nullopt) {
  auto s = open(path);
  if (!s) {
    std::cerr << "open after crash: " << s.status().ToString() << "\n";
    return 1;
  }
  auto series = (*s)->series();
  if (!series) return 1;
  std::uint64_t found = 0;
  for (const auto& se : *series) {
    auto pts = (*s)->range(se.id, 0, kT0 + 100LL * 365 * 24 * 3600 * 1000);
    if (!pts) {
      std::cerr << "range: " << pts.status().ToString() << "\n";
      return 1;
    }
    std::set<TimestampMs> uniq;
    for (auto& p : *pts) uniq.insert(p.ts);
    if (uniq.size() != pts->size()) {
      std::cerr << "series " << se.metric << " has duplicate points\n";
      return 1;
    }
    found += pts->size();
  }
  std::cout << "found " << found << " of at least " << n << "\n";
  if (waveforms && !verify_waveforms(**s, *waveforms)) return 1;
  // Everything acknowledged must be there; a little more may be (committed
  // after the last "committed" line was printed).
  return found >= n ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "write") return write(argv[2], std::atoi(argv[3]));
  if (argc == 4 && std::string(argv[1]) == "verify") return verify(argv[2], std::strtoull(argv[3], nullptr, 10));
  grouped = true;
  if (argc == 4 && std::string(argv[1]) == "write-grouped") return write(argv[2], std::atoi(argv[3]));
  if (argc == 5 && std::string(argv[1]) == "verify-grouped")
    return verify(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
  std::cerr << "usage: ingest_writer write|write-grouped DB ROUND | verify DB N | verify-grouped DB N W\n";
  return 2;
}
