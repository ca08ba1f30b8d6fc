// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <fstream>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "store/chunk_codec.h"
#include "store/schema.h"
#include "store/store_impl.h"
#include "vigil_test/full_disk.h"
#include "vigil_test/store_scalar.h"
#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000LL;
constexpr TimestampMs kMin = 60'000;

std::unique_ptr<Store> open_store(const std::string& path, const Clock* clock = nullptr, int queue_max = 500000) {
  StoreOptions o;
  o.path = path;
  o.checkpoint_interval_s = 3600;  // tests checkpoint explicitly
  o.batch_max_delay_ms = 5;
  // Retention is judged against the store's clock: keep "now" near the data.
  static ManualClock near_data(kT0 + 40LL * 24 * 3600 * 1000);
  o.clock = clock ? clock : &near_data;
  o.queue_max_rows = queue_max;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

Id make_series(Store& s, const std::string& metric = "temperature_c") {
  auto site = s.upsert_site({0, "Plant", "UTC"});
  REQUIRE(site.ok());
  Asset a;
  a.site_id = *site;
  a.name = "Pump";
  auto asset = s.upsert_asset(a);
  REQUIRE(asset.ok());
  auto pos = s.upsert_position({0, *asset, "DE", PositionType::kPump});
  REQUIRE(pos.ok());
  Sensor sn;
  sn.address = "AA:BB:CC:DD:EE:01";
  sn.format = "bthome";
  sn.position_id = *pos;
  auto sid = s.upsert_sensor(sn);
  REQUIRE(sid.ok());
  auto id = s.ensure_series(*sid, metric, "°C");
  REQUIRE(id.ok());
  return *id;
}

std::vector<SeriesPoint> ramp(Id series, int n, TimestampMs start = kT0, TimestampMs step = 10 * kMin) {
  std::vector<SeriesPoint> v;
  for (int i = 0; i < n; ++i) v.push_back({series, start + i * step, static_cast<double>(i)});
  return v;
}
}  // namespace

TEST_CASE("appended points are read back in time order after a flush") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  auto pts = ramp(id, 100);
  std::reverse(pts.begin(), pts.end());
  REQUIRE(s->append(pts).ok());
  REQUIRE(s->flush().ok());
  auto r = s->range(id, kT0, kT0 + 1000 * 10 * kMin);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 100);
  CHECK(r->front().value == 0);
  CHECK(r->back().value == 99);
  CHECK(s->latest(id)->value == 99);
}

TEST_CASE("a checkpoint moves points into chunks without changing what a range returns") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 1000)).ok());
  REQUIRE(s->flush().ok());
  auto before = s->range(id, kT0 + 50 * 10 * kMin, kT0 + 700 * 10 * kMin);
  REQUIRE(s->checkpoint().ok());
  CHECK(s->stats().log_points == 0);
  auto after = s->range(id, kT0 + 50 * 10 * kMin, kT0 + 700 * 10 * kMin);
  REQUIRE(before.ok());
  REQUIRE(after.ok());
  REQUIRE(before->size() == 651);
  REQUIRE(after->size() == before->size());
  for (std::size_t i = 0; i < after->size(); ++i) CHECK((*after)[i].ts == (*before)[i].ts);
  // More points after the checkpoint extend the newest chunk.
  REQUIRE(s->append(ramp(id, 10, kT0 + 1000 * 10 * kMin)).ok());
  REQUIRE(s->checkpoint().ok());
  auto all = s->range(id, kT0, kT0 + 2000 * 10 * kMin);
  REQUIRE(all.ok());
  CHECK(all->size() == 1010);
}

TEST_CASE("late points older than the newest chunk are kept and ordered") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 300)).ok());
  REQUIRE(s->checkpoint().ok());
  // Two late points, one exactly on an existing chunk start.
  std::vector<SeriesPoint> late = {{id, kT0 + 5 * kMin, -1.0}, {id, kT0, -2.0}};
  REQUIRE(s->append(late).ok());
  REQUIRE(s->checkpoint().ok());
  auto r = s->range(id, kT0, kT0 + 20 * kMin);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 5);  // 0, 10, 20 min + two late ones
  CHECK(std::is_sorted(r->begin(), r->end(), [](auto& a, auto& b) { return a.ts < b.ts; }));
}

TEST_CASE("points survive closing and reopening the store") {
  TempDir d;
  Id id;
  {
    auto s = open_store(d.file("v.db"));
    id = make_series(*s);
    REQUIRE(s->append(ramp(id, 50)).ok());
    REQUIRE(s->flush().ok());
  }  // (kill -9 before the checkpoint is covered by tests/integration/test_crash.py)
  auto s = open_store(d.file("v.db"));
  auto r = s->range(id, kT0, kT0 + 100 * 10 * kMin);
  REQUIRE(r.ok());
  CHECK(r->size() == 50);
  CHECK(s->latest(id)->value == 49);
}

TEST_CASE("downsampling gives min, max and mean per bucket from raw points and from roll-ups") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  // 30 days of 10-minute data.
  REQUIRE(s->append(ramp(id, 4320)).ok());
  REQUIRE(s->checkpoint().ok());
  const TimestampMs to = kT0 + 4320 * 10 * kMin - 1;
  // Narrow range: raw buckets.
  auto raw = s->downsample(id, kT0, kT0 + 60 * kMin - 1, 3);
  REQUIRE(raw.ok());
  REQUIRE(raw->size() == 3);
  CHECK((*raw)[0].count == 2);
  CHECK((*raw)[0].min == 0);
  CHECK((*raw)[0].max == 1);
  CHECK((*raw)[0].mean == Approx(0.5));
  // Wide range: hourly roll-ups, 30 buckets of a day each.
  auto wide = s->downsample(id, kT0, to, 30);
  REQUIRE(wide.ok());
  std::int64_t total = 0;
  for (auto& b : *wide) {
    total += b.count;
    CHECK(b.min <= b.mean);
    CHECK(b.mean <= b.max);
  }
  CHECK(total == 4320);
  CHECK(wide->size() <= 31);
}

TEST_CASE("retention drops raw chunks past their age but keeps roll-ups") {
  TempDir d;
  ManualClock clock(kT0 + 400LL * 24 * 3600 * 1000);
  auto s = open_store(d.file("v.db"), &clock);
  Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 500)).ok());
  REQUIRE(s->checkpoint().ok());
  REQUIRE(s->apply_retention().ok());
  auto r = s->range(id, kT0, kT0 + 1000 * 10 * kMin);
  REQUIRE(r.ok());
  CHECK(r->empty());
  auto w = s->downsample(id, kT0, kT0 + 500 * 10 * kMin, 10);
  REQUIRE(w.ok());
  CHECK_FALSE(w->empty());
}

TEST_CASE("a full ingest queue refuses points instead of dropping them silently") {
  TempDir d;
  auto s = open_store(d.file("v.db"), nullptr, 1000);
  Id id = make_series(*s);
  auto st = s->append(ramp(id, 1001));
  CHECK(st.code() == Status::Code::kResourceExhausted);
}

TEST_CASE("a file that is not a database is reported as corruption") {
  TempDir d;
  {
    std::ofstream f(d.file("bad.db"), std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>(i * 7));
  }
  StoreOptions o;
  o.path = d.file("bad.db");
  auto s = Store::open(o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Status::Code::kCorruption);
  CHECK(s.status().message().find("bad.db") != std::string::npos);
}

TEST_CASE("a missing data directory is reported by name") {
  StoreOptions o;
  o.path = "/nonexistent-dir/vigil.db";
  auto s = Store::open(o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("/nonexistent-dir") != std::string::npos);
}

TEST_CASE("a database from a newer vigil is refused") {
  TempDir d;
  {
    auto s = open_store(d.file("v.db"));
    REQUIRE(s->write_txn([](sql::Db& db) { return db.exec("UPDATE schema_migrations SET version = 99 WHERE module='core'"); }).ok());
  }
  StoreOptions o;
  o.path = d.file("v.db");
  auto s = Store::open(o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("newer than this vigil") != std::string::npos);
}

TEST_CASE("module migrations run once each") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  std::vector<std::string> m = {"CREATE TABLE t(x)", "INSERT INTO t VALUES(1)"};
  REQUIRE(s->migrate("mod", m).ok());
  REQUIRE(s->migrate("mod", m).ok());
  int n = -1;
  REQUIRE(s->read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*) FROM t");
    if (!q) return q.status();
    auto r = (*q)->step();
    if (!r) return r.status();
    n = static_cast<int>((*q)->i64(0));
    (*q)->reset();
    return Status::Ok();
  }).ok());
  CHECK(n == 1);
}

TEST_CASE("only the newest waveforms per position are kept") {
  TempDir d;
  StoreOptions o;
  o.path = d.file("v.db");
  o.waveforms_per_position = 3;
  o.waveforms_keep_daily = false;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  for (int i = 0; i < 5; ++i) {
    Waveform w;
    w.position_id = 7;
    w.ts = kT0 + i;
    w.sample_rate_hz = 1000;
    w.scale = 0.001;
    w.samples = {static_cast<std::int16_t>(i), 1, 2};
    REQUIRE((*s)->put_waveform(w).ok());
  }
  auto latest = (*s)->latest_waveform(7);
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK((*latest)->samples[0] == 4);
  int n = 0;
  REQUIRE((*s)->read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT count(*) FROM waveforms");
    if (!q) return q.status();
    (void)(*q)->step();
    n = static_cast<int>((*q)->i64(0));
    (*q)->reset();
    return Status::Ok();
  }).ok());
  CHECK(n == 3);
}

TEST_CASE("beyond the newest waveforms, the first of each day is kept until raw retention") {
  TempDir d;
  StoreOptions o;
  o.path = d.file("v.db");
  o.waveforms_per_position = 4;
  o.raw_retention_days = 30;
  ManualClock clock(kT0);
  o.clock = &clock;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  const TimestampMs day = 86'400'000, hour = 3'600'000;
  const TimestampMs day0 = kT0 / day * day;
  // Three days of hourly waveforms.
  for (int h = 0; h < 72; ++h) {
    Waveform w;
    w.position_id = 7;
    w.ts = day0 + h * hour;
    w.sample_rate_hz = 1000;
    w.scale = 0.001;
    w.samples = {static_cast<std::int16_t>(h), 1, 2};
    REQUIRE((*s)->put_waveform(w).ok());
  }
  auto kept = [&] {
    std::vector<TimestampMs> ts;
    REQUIRE((*s)->read([&](sql::Db& db) -> Status {
      auto q = db.prepare("SELECT ts FROM waveforms WHERE position_id = 7 ORDER BY ts");
      if (!q) return q.status();
      for (;;) {
        auto r = (*q)->step();
        if (!r) return r.status();
        if (!*r) break;
        ts.push_back((*q)->i64(0));
      }
      return Status::Ok();
    }).ok());
    return ts;
  };
  // The newest 4 (hours 68..71) plus the first of days 0 and 1 (day 2's
  // first, hour 48, is older than the newest 4 and the first of its day).
  CHECK(kept() == std::vector<TimestampMs>{day0, day0 + 24 * hour, day0 + 48 * hour, day0 + 68 * hour,
                                           day0 + 69 * hour, day0 + 70 * hour, day0 + 71 * hour});
  // Raw retention removes the daily ones with the raw points.
  clock.set(day0 + 30 * day + 25 * hour);
  REQUIRE((*s)->apply_retention().ok());
  CHECK(kept() == std::vector<TimestampMs>{day0 + 48 * hour, day0 + 68 * hour, day0 + 69 * hour,
                                           day0 + 70 * hour, day0 + 71 * hour});
}

TEST_CASE("a new database takes the configured page size; an existing one keeps its own") {
  TempDir d;
  auto page_size = [&](Store& s) {
    std::int64_t v = 0;
    REQUIRE(s.read([&](sql::Db& db) -> Status {
      auto q = db.prepare("PRAGMA page_size");
      if (!q) return q.status();
      (void)(*q)->step();
      v = (*q)->i64(0);
      return Status::Ok();
    }).ok());
    return v;
  };
  StoreOptions o;
  o.path = d.file("p.db");
  o.page_size = 1024;
  {
    auto s = Store::open(o);
    REQUIRE(s.ok());
    CHECK(page_size(**s) == 1024);
  }
  o.page_size = 8192;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  CHECK(page_size(**s) == 1024);
}

TEST_CASE("the chunk size limit packs whole cells into a page and never spills to overflow pages") {
  using store_detail::chunk_bytes_for_page;
  CHECK(chunk_bytes_for_page(1024) == 177);  // 5 cells of ≤ 203 B in a 1,016-byte leaf
  CHECK(chunk_bytes_for_page(4096) == 791);
  for (std::int64_t page = 512; page <= 65536; page *= 2) {
    const std::int64_t max_local = (page - 12) * 64 / 255 - 23;  // SQLite's index b-tree cell limit
    const auto limit = static_cast<std::int64_t>(chunk_bytes_for_page(page));
    CHECK(limit + 22 <= max_local);
    CHECK(limit >= 64);
  }
}

TEST_CASE("the sealed chunk limit makes a record that fills exactly one overflow page") {
  using store_detail::sealed_chunk_bytes_for_page;
  CHECK(sealed_chunk_bytes_for_page(1024) == 1101);  // 103 B in the leaf + 1,020 on the overflow page - 22 B of record
  for (std::int64_t page = 512; page <= 65536; page *= 2) {
    const std::int64_t max_local = (page - 12) * 64 / 255 - 23, min_local = (page - 12) * 32 / 255 - 23;
    const auto record = static_cast<std::int64_t>(sealed_chunk_bytes_for_page(page)) + 22;
    CHECK(record > max_local);                        // it spills...
    CHECK(record - min_local == page - 4);            // ...into one whole overflow page
    CHECK(sealed_chunk_bytes_for_page(page) > 4 * store_detail::chunk_bytes_for_page(page));
  }
}

namespace {
// Noisy values with six significant digits: ~18 bits a value, so the byte
// limits, not the point counts, end the chunks.
std::vector<SeriesPoint> noisy(Id id, int n, TimestampMs start, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.03);
  std::vector<SeriesPoint> pts;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", 0.1 + noise(rng));
    pts.push_back({id, start + i * 10 * kMin, std::strtod(buf, nullptr)});
  }
  return pts;
}

void check_round_trip(Store& s, Id id, const std::vector<SeriesPoint>& pts) {
  auto back = s.range(id, pts.front().ts, pts.back().ts);
  REQUIRE(back.ok());
  REQUIRE(back->size() == pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    CHECK((*back)[i].ts == pts[i].ts);
    CHECK((*back)[i].value == pts[i].value);
  }
}
}  // namespace

TEST_CASE("a checkpoint seals chunks that fill one overflow page each and keeps the rest in full small chunks") {
  TempDir d;
  auto s = open_store(d.file("fill.db"));
  Id id = make_series(*s);
  const auto pts = noisy(id, 3000, kT0, 5);
  REQUIRE(s->append(pts).ok());
  REQUIRE(s->checkpoint().ok());
  const auto small = static_cast<std::int64_t>(store_detail::chunk_bytes_for_page(1024));
  const auto sealed = static_cast<std::int64_t>(store_detail::sealed_chunk_bytes_for_page(1024));
  const std::string is_sealed = "length(data) > " + std::to_string(small);
  const std::int64_t n_sealed = vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE " + is_sealed);
  CHECK(n_sealed >= 5);
  CHECK(vigil_test::scalar(*s, "SELECT max(length(data)) FROM chunks") <= sealed);
  CHECK(vigil_test::scalar(*s, "SELECT min(length(data)) FROM chunks WHERE " + is_sealed) >= sealed * 9 / 10);
  // What is left after the seals: small chunks, full but for the newest.
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE t0 > (SELECT max(t0) FROM chunks WHERE " +
                                   is_sealed + ") AND length(data) > " + std::to_string(small)) == 0);
  // Each sealed chunk owns one overflow page, and that page is all but full.
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM dbstat WHERE name = 'chunks' AND pagetype = 'overflow'") ==
        n_sealed);
  CHECK(vigil_test::scalar(*s, "SELECT coalesce(sum(unused), 0) FROM dbstat WHERE name = 'chunks' AND "
                               "pagetype = 'overflow'") <= n_sealed * 1024 / 10);
  check_round_trip(*s, id, pts);
}

TEST_CASE("small chunks written at successive checkpoints are sealed once they fill a sealed chunk") {
  TempDir d;
  auto s = open_store(d.file("seal.db"));
  Id id = make_series(*s);
  const auto pts = noisy(id, 2000, kT0, 7);
  const auto small = static_cast<std::int64_t>(store_detail::chunk_bytes_for_page(1024));
  std::int64_t max_small_chunks = 0;
  for (std::size_t i = 0; i < pts.size(); i += 72) {  // twelve hours of 10-minute points a checkpoint
    const std::size_t e = std::min(pts.size(), i + 72);
    REQUIRE(s->append(std::vector<SeriesPoint>(pts.begin() + static_cast<std::ptrdiff_t>(i),
                                               pts.begin() + static_cast<std::ptrdiff_t>(e)))
                .ok());
    REQUIRE(s->checkpoint().ok());
    max_small_chunks = std::max(max_small_chunks, vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE "
                                                                         "length(data) <= " + std::to_string(small)));
  }
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE length(data) > " + std::to_string(small)) >= 3);
  CHECK(max_small_chunks <= 8);  // a sealed chunk's worth, never the whole history
  check_round_trip(*s, id, pts);
  // A late point inside a sealed chunk, and one on the newest chunk's key,
  // merge into what is there: nothing is overwritten.
  std::vector<SeriesPoint> all = pts;
  const SeriesPoint late{id, pts[100].ts + 1, 0.5};
  const TimestampMs newest_key = vigil_test::scalar(*s, "SELECT max(t0) FROM chunks");
  const SeriesPoint same_key{id, newest_key, 0.25};
  REQUIRE(s->append(std::vector<SeriesPoint>{late, same_key}).ok());
  REQUIRE(s->checkpoint().ok());
  all.push_back(late);
  all.push_back(same_key);
  std::stable_sort(all.begin(), all.end(), [](const SeriesPoint& a, const SeriesPoint& b) { return a.ts < b.ts; });
  auto back = s->range(id, all.front().ts, all.back().ts);
  REQUIRE(back.ok());
  CHECK(back->size() == all.size());
  std::multiset<std::pair<TimestampMs, double>> want, got;
  for (const auto& p : all) want.insert({p.ts, p.value});
  for (const auto& p : *back) got.insert({p.ts, p.value});
  CHECK(want == got);
}

TEST_CASE("a damaged chunk is left as it is and does not stop a series' checkpoints") {
  TempDir d;
  auto s = open_store(d.file("damaged.db"));
  Id id = make_series(*s);
  const auto pts = noisy(id, 1122, kT0, 9);
  auto damage = [&](const std::string& which) {  // zeros: an unknown version, the length kept
    REQUIRE(s->write_txn([&](sql::Db& db) {
      return db.exec("UPDATE chunks SET data = zeroblob(length(data)) WHERE t0 = (SELECT " + which +
                     "(t0) FROM chunks)");
    }).ok());
  };
  REQUIRE(s->append(std::vector<SeriesPoint>(pts.begin(), pts.begin() + 72)).ok());
  REQUIRE(s->checkpoint().ok());
  REQUIRE(vigil_test::scalar(*s, "SELECT count(*) FROM chunks") >= 1);
  damage("min");
  // Enough new points to seal, with the damaged chunk in the series' tail:
  // no seal, the points go into small chunks.
  REQUIRE(s->append(std::vector<SeriesPoint>(pts.begin() + 72, pts.begin() + 1072)).ok());
  REQUIRE(s->checkpoint().ok());
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM ingest_log") == 0);
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE data = zeroblob(length(data))") == 1);
  CHECK(vigil_test::scalar(*s, "SELECT sum(n) FROM chunks") == 1072);
  // The newest chunk damaged: it is not extended; the points open a chunk.
  damage("max");
  REQUIRE(s->append(std::vector<SeriesPoint>(pts.begin() + 1072, pts.end())).ok());
  REQUIRE(s->checkpoint().ok());
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM ingest_log") == 0);
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM chunks WHERE data = zeroblob(length(data))") == 2);
  CHECK(vigil_test::scalar(*s, "SELECT sum(n) FROM chunks") == 1122);
}

TEST_CASE("the writer copies the WAL into the database at the configured size, in pages") {
  TempDir d;
  StoreOptions o;
  o.path = d.file("w.db");
  o.page_size = 1024;
  o.wal_autocheckpoint_bytes = 256 * 1024;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  std::int64_t pages = 0;
  REQUIRE((*s)->write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("PRAGMA wal_autocheckpoint");
    if (!q) return q.status();
    (void)(*q)->step();
    pages = (*q)->i64(0);
    return Status::Ok();
  }).ok());
  CHECK(pages == 256);
  // The shipped default: 256 MiB.
  CHECK(StoreOptions{}.wal_autocheckpoint_bytes == 256 * 1024 * 1024);
}

TEST_CASE("readings, waveforms and measurements leave the catalog generation; catalog writes move it") {
  TempDir d;
  StoreOptions o;
  o.path = d.file("g.db");
  auto s = Store::open(o);
  REQUIRE(s.ok());
  auto& st = **s;
  auto site = st.upsert_site({0, "plant", "UTC"});
  REQUIRE(site.ok());
  Asset a;
  a.site_id = *site;
  a.name = "pump";
  auto asset = st.upsert_asset(a);
  REQUIRE(asset.ok());
  auto pos = st.upsert_position({0, *asset, "DE", PositionType::kMotor});
  REQUIRE(pos.ok());
  Sensor sn;
  sn.address = "AA:BB:CC:DD:EE:01";
  sn.format = "bthome";
  sn.position_id = *pos;
  auto sid = st.upsert_sensor(sn);
  REQUIRE(sid.ok());
  auto series = st.ensure_series(*sid, "temperature_c", "°C");
  REQUIRE(series.ok());
  const auto cat0 = st.catalog_generation();
  const auto all0 = st.generation();
  const SeriesPoint p{*series, kT0, 21.5};
  REQUIRE(st.append(std::span<const SeriesPoint>(&p, 1)).ok());
  REQUIRE(st.flush().ok());
  REQUIRE(st.checkpoint().ok());
  Waveform w;
  w.position_id = *pos;
  w.ts = kT0;
  w.sample_rate_hz = 1000;
  w.scale = 0.001;
  w.samples = {1, 2, 3};
  REQUIRE(st.put_waveform(w).ok());
  Measurement m;
  m.position_id = *pos;
  m.ts = kT0;
  REQUIRE(st.put_measurement(m).ok());
  REQUIRE(st.write_txn([](sql::Db& db) { return db.exec("CREATE TABLE IF NOT EXISTS other_module(x)"); }).ok());
  CHECK(st.generation() > all0);
  CHECK(st.catalog_generation() == cat0);
  REQUIRE(st.rename(CatalogKind::kAsset, *asset, "pump 2", "test").ok());
  CHECK(st.catalog_generation() > cat0);
}

TEST_CASE("chunk encoding round-trips and rejects damaged blobs") {
  std::vector<Point> pts = {{-5, 1.5}, {0, -2.25}, {1'700'000'000'000LL, 1e300}, {1'700'000'000'001LL, 0}};
  auto blob = store_detail::encode_chunk(pts);
  std::vector<Point> back;
  REQUIRE(store_detail::decode_chunk(blob, back).ok());
  REQUIRE(back.size() == pts.size());
  for (std::size_t i = 0; i < pts.size(); ++i) {
    CHECK(back[i].ts == pts[i].ts);
    CHECK(back[i].value == pts[i].value);
  }
  for (std::size_t cut = 0; cut < blob.size(); ++cut) {
    std::vector<Point> out;
    std::span<const std::uint8_t> part(blob.data(), cut);
    CHECK(store_detail::decode_chunk(part, out).code() == Status::Code::kCorruption);
    CHECK(out.empty());
  }
}

TEST_CASE("the audit log records who did what") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  REQUIRE(s->audit("alice", "sensor.commission", "AA:BB", "with key").ok());
  auto log = s->audit_log(10);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].actor == "alice");
  CHECK((*log)[0].action == "sensor.commission");
}

TEST_CASE("a day of hourly roll-ups round-trips, merges, and rejects damage") {
  using store_detail::HourAggregate;
  std::vector<HourAggregate> day = {{0, 6, 1.0, 2.0, 9.0}, {13, 1, -5.0, -5.0, -5.0}, {23, 2, 0.5, 0.75, 1.25}};
  auto blob = store_detail::encode_rollup_day(day);
  std::vector<HourAggregate> back;
  REQUIRE(store_detail::decode_rollup_day(blob, back).ok());
  REQUIRE(back.size() == 3);
  CHECK(back[1].hour == 13);
  CHECK(back[1].min == -5.0);
  CHECK(back[2].sum == 1.25);
  std::vector<HourAggregate> more = {{13, 2, -7.0, 4.0, -3.0}, {14, 1, 3.0, 3.0, 3.0}};
  store_detail::merge_rollup_day(back, more);
  REQUIRE(back.size() == 4);
  CHECK(back[1].count == 3);
  CHECK(back[1].min == -7.0);
  CHECK(back[1].max == 4.0);
  CHECK(back[1].sum == -8.0);
  CHECK(back[2].hour == 14);
  std::vector<HourAggregate> out;
  CHECK_FALSE(store_detail::decode_rollup_day({}, out).ok());
  for (std::size_t cut = 1; cut < blob.size(); ++cut) {
    // Any truncation is corruption and yields nothing (v2 has one mask and
    // length-checked streams, so no shorter day hides in a prefix).
    auto st = store_detail::decode_rollup_day(std::span<const std::uint8_t>(blob.data(), cut), out);
    CHECK_FALSE(st.ok());
    CHECK(out.empty());
  }
  auto bad = blob;
  bad[1] = 30;  // hour out of range
  CHECK(store_detail::decode_rollup_day(bad, back).code() == Status::Code::kCorruption);
}

TEST_CASE("a full disk delays points but loses none of them") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  // Cap the file at its current size: every commit now fails with SQLITE_FULL,
  // as on a full file system.
  REQUIRE(vigil_test::fill_disk(*s).ok());
  REQUIRE(s->append(ramp(id, 20000)).ok());
  for (int i = 0; i < 200 && s->stats().write_errors == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s->stats().write_errors > 0);
  CHECK(s->stats().last_error.find("full") != std::string::npos);
  // Space comes back: the queued batch is retried and everything arrives.
  REQUIRE(vigil_test::free_disk(*s).ok());
  REQUIRE(s->flush().ok());
  auto r = s->range(id, kT0, kT0 + 30000LL * 10 * kMin);
  REQUIRE(r.ok());
  CHECK(r->size() == 20000);
}

TEST_CASE("the generation moves after every kind of write and stands still while idle") {
  TempDir d;
  auto s = open_store(d.file("v.db"));
  Id id = make_series(*s);
  auto g0 = s->generation();
  REQUIRE(s->append(ramp(id, 10)).ok());
  REQUIRE(s->flush().ok());
  auto g1 = s->generation();
  CHECK(g1 > g0);  // committed readings
  REQUIRE(s->upsert_site({0, "Second plant", "UTC"}).ok());
  auto g2 = s->generation();
  CHECK(g2 > g1);  // catalog
  REQUIRE(s->write_txn([](sql::Db& db) { return db.exec("CREATE TABLE t(x)"); }).ok());
  auto g3 = s->generation();
  CHECK(g3 > g2);  // write_txn
  REQUIRE(s->audit("tester", "touch", "nothing", "").ok());
  CHECK(s->generation() > g3);
  // The batch writer wakes every few ms with nothing to do: not a change.
  auto idle = s->generation();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (void)s->sites();
  CHECK(s->generation() == idle);
}

TEST_CASE("user machine classes are stored by name, replaced, deleted and kept across a reopen") {
  TempDir d;
  {
    auto s = open_store(d.file("v.db"));
    REQUIRE(s->put_machine_class("pump_l7", {2, 4, 8}).ok());
    REQUIRE(s->put_machine_class("fan_l3", {1, 2, 3}).ok());
    REQUIRE(s->put_machine_class("pump_l7", {2, 5, 9}).ok());
    CHECK(s->put_machine_class("upside_down", {3, 2, 1}).code() == Status::Code::kInvalidArgument);
    CHECK(s->put_machine_class("no good", {1, 2, 3}).code() == Status::Code::kInvalidArgument);
  }
  auto s = open_store(d.file("v.db"));
  auto all = s->machine_classes();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "fan_l3");  // by name
  CHECK((*all)[1].limits == ZoneLimits{2, 5, 9});
  CHECK((*all)[1].source == ClassSource::kUser);
  CHECK(*s->delete_machine_class("fan_l3"));
  CHECK_FALSE(*s->delete_machine_class("fan_l3"));
  CHECK(s->machine_classes()->size() == 1);
}

TEST_CASE("a version 2 database migrates, its assets read an automatic envelope band and keep a set one") {
  TempDir d;
  const std::string path = d.file("v2.db");
  {
    // A database as vigil left it before v3: the first two core migrations
    // and one asset written by them.
    auto db = sql::Db::open(path, sql::Db::Mode::kReadWriteCreate);
    REQUIRE(db.ok());
    const auto& all = store_detail::core_migrations();
    REQUIRE(all.size() >= 3);
    std::vector<std::string> v2(all.begin(), all.begin() + 2);
    REQUIRE(store_detail::apply_migrations(**db, "core", v2).ok());
    REQUIRE((*db)->exec("INSERT INTO sites(name) VALUES('Plant');"
                        "INSERT INTO assets(site_id, name, machine_class, shaft_rpm) "
                        "VALUES(1, 'Fan', 'iso10816_class2', 980)").ok());
  }
  auto s = open_store(path);
  auto assets = s->assets();
  REQUIRE(assets.ok());
  REQUIRE(assets->size() == 1);
  CHECK(assets->front().shaft_rpm == 980);
  CHECK(assets->front().envelope_lo_hz == 0);
  CHECK(assets->front().envelope_hi_hz == 0);

  Asset a = assets->front();
  a.envelope_lo_hz = 1500;
  a.envelope_hi_hz = 3500;
  REQUIRE(s->upsert_asset(a).ok());
  auto back = s->asset(a.id);
  REQUIRE(back.ok());
  CHECK(back->envelope_lo_hz == 1500);
  CHECK(back->envelope_hi_hz == 3500);
}

namespace {
std::int64_t rollup_rows(Store& s) { return vigil_test::scalar(s, "SELECT count(*) FROM rollup_daily"); }
void check_same_buckets(const std::vector<Bucket>& a, const std::vector<Bucket>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].ts == b[i].ts);
    CHECK(a[i].count == b[i].count);
    CHECK(a[i].min == b[i].min);
    CHECK(a[i].max == b[i].max);
    CHECK(a[i].mean == Approx(b[i].mean));
  }
}
}  // namespace

TEST_CASE("roll-ups are written only as retention drops chunks, and each point counts once in a wide downsample") {
  TempDir d;
  ManualClock clock(kT0 + 30LL * 24 * 3600 * 1000);
  auto s = open_store(d.file("v.db"), &clock);
  Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 4320)).ok());  // 30 days of 10-minute points
  REQUIRE(s->checkpoint().ok());
  CHECK(rollup_rows(*s) == 0);  // the chunks hold them: nothing twice on the card
  const TimestampMs to = kT0 + 4320 * 10 * kMin - 1;
  auto before = s->downsample(id, kT0, to, 30);
  REQUIRE(before.ok());
  std::int64_t total = 0;
  for (auto& b : *before) total += b.count;
  CHECK(total == 4320);
  // A year later the raw chunks go; their hours stay as roll-ups, and the
  // same wide query answers the same.
  clock.set(kT0 + 400LL * 24 * 3600 * 1000);
  REQUIRE(s->apply_retention().ok());
  auto raw = s->range(id, kT0, to);
  REQUIRE(raw.ok());
  CHECK(raw->empty());
  CHECK(rollup_rows(*s) >= 30);
  auto after = s->downsample(id, kT0, to, 30);
  REQUIRE(after.ok());
  check_same_buckets(*before, *after);
}

TEST_CASE("roll-ups a checkpoint wrote for points still in chunks are trimmed once at open; older ones stay") {
  TempDir d;
  const TimestampMs day = 24LL * 3600 * 1000;
  Id id = 0;
  std::vector<Bucket> want;
  {
    auto s = open_store(d.file("v.db"));
    id = make_series(*s);
    REQUIRE(s->append(ramp(id, 288, kT0 + 2 * day)).ok());  // two days in chunks
    REQUIRE(s->checkpoint().ok());
    // As an older vigil left it: roll-ups of those same two days, plus one day
    // before the oldest chunk whose points retention had already dropped.
    REQUIRE(s->write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare("INSERT INTO rollup_daily(series_id, day, data) VALUES(?, ?, ?)");
      if (!q) return q.status();
      for (int k = 0; k < 3; ++k) {
        std::vector<store_detail::HourAggregate> hours;
        for (int h = 0; h < 24; ++h) hours.push_back({h, 6, 1.0, 2.0, 9.0});
        auto blob = store_detail::encode_rollup_day(hours);
        const TimestampMs dd = (kT0 / day + 1 + k) * day;
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, id).bind(2, dd).bind_blob(3, blob.data(), blob.size()).run());
      }
      return db.exec("DELETE FROM meta WHERE key = 'rollups_at_retention_at'");
    }).ok());
  }
  auto s = open_store(d.file("v.db"));
  auto w = s->downsample(id, kT0 - day, kT0 + 5 * day, 6);
  REQUIRE(w.ok());
  std::int64_t total = 0;
  for (auto& b : *w) total += b.count;
  // 288 points from the chunks, once; the dropped day's 24 × 6 from its
  // roll-up; the hours before the oldest chunk on its own day kept too.
  const TimestampMs first_hour = (kT0 + 2 * day) / 3'600'000 * 3'600'000;
  const TimestampMs first_day = first_hour / day * day;
  const std::int64_t kept_hours_that_day = (first_hour - first_day) / 3'600'000;
  const std::int64_t dropped_days = (first_day - (kT0 / day + 1) * day) / day;
  CHECK(total == 288 + dropped_days * 24 * 6 + kept_hours_that_day * 6);
  // Once: a second open changes nothing.
  const auto rows = rollup_rows(*s);
  s.reset();
  auto again = open_store(d.file("v.db"));
  CHECK(rollup_rows(*again) == rows);
}

TEST_CASE("a damaged chunk past raw retention is dropped without stopping retention") {
  TempDir d;
  ManualClock clock(kT0 + 30LL * 24 * 3600 * 1000);
  auto s = open_store(d.file("v.db"), &clock);
  Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 1000)).ok());
  REQUIRE(s->checkpoint().ok());
  REQUIRE(vigil_test::scalar(*s, "SELECT count(*) FROM chunks") >= 2);
  REQUIRE(s->write_txn([](sql::Db& db) {
    return db.exec("UPDATE chunks SET data = x'ff00' WHERE t0 = (SELECT min(t0) FROM chunks)");
  }).ok());
  clock.set(kT0 + 400LL * 24 * 3600 * 1000);
  REQUIRE(s->apply_retention().ok());
  CHECK(vigil_test::scalar(*s, "SELECT count(*) FROM chunks") == 0);
  // The readable ones were rolled up.
  auto w = s->downsample(id, kT0, kT0 + 1000 * 10 * kMin, 10);
  REQUIRE(w.ok());
  std::int64_t total = 0;
  for (auto& b : *w) total += b.count;
  CHECK(total > 0);
  CHECK(total < 1000);
}
