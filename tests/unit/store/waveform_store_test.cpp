// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstring>

#include "vigil/store.h"
#include "vigil/store_tools.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;

namespace {
std::unique_ptr<Store> open_at(const std::string& path) {
  StoreOptions o;
  o.path = path;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}
Waveform snapshot(Id position, TimestampMs ts, int seed) {
  Waveform w;
  w.position_id = position;
  w.ts = ts;
  w.sample_rate_hz = 20000;
  w.axes = 1;
  w.scale = 0.001;
  for (int i = 0; i < 4096; ++i) w.samples.push_back(static_cast<std::int16_t>((i * 37 + seed) % 201 - 100));
  return w;
}
}  // namespace

TEST_CASE("waveforms are stored compressed and read back sample for sample, by id or by time") {
  TempDir dir;
  auto store = open_at(dir.file("v.db"));
  auto a = snapshot(7, 1000, 1), b = snapshot(7, 2000, 2);
  auto ida = store->put_waveform(a);
  auto idb = store->put_waveform(b);
  REQUIRE(ida.ok());
  REQUIRE(idb.ok());
  auto newest = store->latest_waveform(7);
  REQUIRE(newest.ok());
  REQUIRE(newest->has_value());
  CHECK((*newest)->samples == b.samples);
  auto older = store->waveform(7, std::nullopt, 1500);
  REQUIRE(older.ok());
  REQUIRE(older->has_value());
  CHECK((*older)->id == *ida);
  CHECK((*older)->samples == a.samples);
  auto by_id = store->waveform(7, *ida, std::nullopt);
  REQUIRE(by_id.ok());
  CHECK((*by_id)->ts == 1000);
  auto other_position = store->waveform(8, *ida, std::nullopt);
  REQUIRE(other_position.ok());
  CHECK_FALSE(other_position->has_value());
  store.reset();
  auto r = storage_report(dir.file("v.db"));
  REQUIRE(r.ok());
  CHECK(r->waveforms == 2);
  CHECK(r->waveform_raw_bytes == 2 * 4096 * 2);
}

TEST_CASE("waveforms an older vigil stored as plain int16 still read") {
  TempDir dir;
  auto store = open_at(dir.file("v.db"));
  auto w = snapshot(3, 5000, 9);
  REQUIRE(store->write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("INSERT INTO waveforms(position_id, ts, sample_rate_hz, axes, scale, samples) VALUES(3, 5000, 20000, 1, 0.001, ?)");
    if (!q) return q.status();
    (*q)->bind_blob(1, w.samples.data(), w.samples.size() * 2);
    return (*q)->run();
  }).ok());
  auto back = store->latest_waveform(3);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->samples == w.samples);
}
