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
#include <cstdio>
#include <cstdlib>
#include <iostream>
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

Result<std::unique_ptr<Store>> open(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.checkpoint_interval_s = 1;
  o.batch_max_delay_ms = 2;
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
  for (int i = 0; i < kSeries; ++i) {
    Sensor sn;
    sn.address = address(i);
    sn.format = "sim";
    if (!store.upsert_sensor(sn).ok()) return 1;
  }
  (void)site;
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
    if (!store.flush().ok()) return 1;
    std::printf("committed %llu\n", static_cast<unsigned long long>(seq));
    std::fflush(stdout);
  }
}

int verify(const std::string& path, std::uint64_t n) {
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
  // Everything acknowledged must be there; a little more may be (committed
  // after the last "committed" line was printed).
  return found >= n ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "write") return write(argv[2], std::atoi(argv[3]));
  if (argc == 4 && std::string(argv[1]) == "verify") return verify(argv[2], std::strtoull(argv[3], nullptr, 10));
  std::cerr << "usage: ingest_writer write DB ROUND | verify DB N\n";
  return 2;
}
