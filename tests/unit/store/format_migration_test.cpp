// SPDX-License-Identifier: Apache-2.0
//
// The online migration of v1 chunks and roll-ups (store/format_migration.cpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <thread>

#include "store/chunk_codec.h"
#include "vigil/store.h"
#include "vigil/store_tools.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;

namespace {
constexpr TimestampMs kDay = 86'400'000;
constexpr TimestampMs kT0 = 1'780'000'000'000LL / kDay * kDay;

void put_f64(std::vector<std::uint8_t>& b, double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, 8);
  for (int k = 0; k < 8; ++k) b.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
}
void put_varint(std::vector<std::uint8_t>& b, std::uint64_t v) {
  while (v >= 0x80) {
    b.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<std::uint8_t>(v));
}
std::uint64_t zigzag(std::int64_t v) { return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63); }

// A chunk as vigil wrote it before format v2: version 1, count, zig-zag
// varint timestamp deltas (the first from 0), little-endian doubles.
std::vector<std::uint8_t> chunk_v1(const std::vector<Point>& pts) {
  std::vector<std::uint8_t> b = {1};
  put_varint(b, pts.size());
  TimestampMs prev = 0;
  for (const auto& p : pts) {
    put_varint(b, zigzag(p.ts - prev));
    prev = p.ts;
  }
  for (const auto& p : pts) put_f64(b, p.value);
  return b;
}

// A roll-up day in format v1: version 1, then per hour: u8 hour, varint
// count, f64 min, max, sum.
std::vector<std::uint8_t> rollup_v1(int hour, std::int64_t count, double mn, double mx, double sum) {
  std::vector<std::uint8_t> b = {1, static_cast<std::uint8_t>(hour)};
  put_varint(b, static_cast<std::uint64_t>(count));
  put_f64(b, mn);
  put_f64(b, mx);
  put_f64(b, sum);
  return b;
}
}  // namespace

TEST_CASE("a running store converts v1 chunks and roll-ups to v2 in the background, losing nothing") {
  TempDir d;
  StoreOptions o;
  o.path = d.file("old.db");
  o.format_migration_interval_ms = 0;  // off while the old rows are planted
  Id series = 0;
  std::vector<Point> all;
  {
    auto s = Store::open(o);
    REQUIRE(s.ok());
    auto site = (*s)->upsert_site({0, "plant", "UTC"});
    Asset a;
    a.site_id = *site;
    a.name = "pump";
    auto asset = (*s)->upsert_asset(a);
    auto pos = (*s)->upsert_position({0, *asset, "DE", PositionType::kMotor});
    Sensor sn;
    sn.address = "AA:BB:CC:DD:EE:02";
    sn.format = "bthome";
    sn.position_id = *pos;
    auto sid = (*s)->upsert_sensor(sn);
    series = *(*s)->ensure_series(*sid, "temperature_c", "°C");
    // 600 chunks of 10 points (more than two migration steps of 256 rows).
    REQUIRE((*s)->write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare("INSERT INTO chunks(series_id, t0, t1, n, data) VALUES(?, ?, ?, ?, ?)");
      if (!q) return q.status();
      for (int c = 0; c < 600; ++c) {
        std::vector<Point> pts;
        for (int k = 0; k < 10; ++k) pts.push_back({kT0 + (c * 10 + k) * 60'000LL, 20.0 + 0.01 * (c % 97) + 0.1 * k});
        all.insert(all.end(), pts.begin(), pts.end());
        auto blob = chunk_v1(pts);
        (*q)->bind(1, series).bind(2, pts.front().ts).bind(3, pts.back().ts).bind(4, std::int64_t{10});
        (*q)->bind_blob(5, blob.data(), blob.size());
        VIGIL_RETURN_IF_ERROR((*q)->run());
      }
      auto r = db.prepare("INSERT INTO rollup_daily(series_id, day, data) VALUES(?, ?, ?)");
      if (!r) return r.status();
      auto blob = rollup_v1(3, 60, 19.5, 21.25, 1230.5);
      (*r)->bind(1, series).bind(2, kT0).bind_blob(3, blob.data(), blob.size());
      return (*r)->run();
    }).ok());
  }
  auto before = storage_report(o.path);
  REQUIRE(before.ok());
  CHECK(before->old_format_rows == 601);

  o.format_migration_interval_ms = 1;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  // Reads go on while it converts.
  for (int i = 0; i < 400; ++i) {
    auto r = storage_report(o.path);
    REQUIRE(r.ok());
    auto got = (*s)->range(series, kT0, kT0 + 10 * kDay);
    REQUIRE(got.ok());
    REQUIRE(got->size() == all.size());
    if (r->old_format_rows == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  auto after = storage_report(o.path);
  REQUIRE(after.ok());
  CHECK(after->old_format_rows == 0);
  auto got = (*s)->range(series, kT0, kT0 + 10 * kDay);
  REQUIRE(got.ok());
  REQUIRE(got->size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK((*got)[i].ts == all[i].ts);
    CHECK((*got)[i].value == all[i].value);
  }
  // The roll-up converted with its aggregates intact, and the walk recorded.
  REQUIRE((*s)->read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT data FROM rollup_daily WHERE series_id = ?");
    if (!q) return q.status();
    (*q)->bind(1, series);
    auto row = (*q)->step();
    if (!row) return row.status();
    REQUIRE(*row);
    std::vector<store_detail::HourAggregate> hours;
    auto blob = (*q)->blob(0);
    CHECK(blob[0] == 2);
    REQUIRE(store_detail::decode_rollup_day(blob, hours).ok());
    REQUIRE(hours.size() == 1);
    CHECK(hours[0].hour == 3);
    CHECK(hours[0].count == 60);
    CHECK(hours[0].min == 19.5);
    CHECK(hours[0].max == 21.25);
    CHECK(hours[0].sum == 1230.5);
    (*q)->reset();
    auto m = db.prepare("SELECT count(*) FROM meta WHERE key = 'formats_v2_at'");
    if (!m) return m.status();
    (void)(*m)->step();
    CHECK((*m)->i64(0) == 1);
    return Status::Ok();
  }).ok());
}
