// SPDX-License-Identifier: Apache-2.0
//
// A clock that jumps back: new readings are older than the stored ones. They
// must still be stored (not dropped), be counted and show in the store's
// clock check.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"
#include "vigil/ingest.h"

using namespace vigil;

namespace {
constexpr TimestampMs kNow = 1'800'000'000'000LL;
constexpr TimestampMs kHour = 3'600'000;
const std::string kSensor = "AA:BB:CC:DD:EE:07";

struct Plant {
  TempDir dir;
  ManualClock clock{kNow};
  MetricsRegistry metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Ingest> ingest;
  Plant() {
    StoreOptions o;
    o.path = dir.file("v.db");
    o.batch_max_delay_ms = 5;
    o.clock = &clock;
    o.clock_tolerance_ms = 5 * 60'000;
    auto s = Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
    Sensor sn;
    sn.address = kSensor;
    sn.format = "bthome";
    REQUIRE(store->upsert_sensor(sn).ok());
    ingest = std::make_unique<Ingest>(*store, clock, metrics);
  }
  IngestResult reading_now(double v) {
    std::vector<Reading> r = {{kSensor, "temperature_c", clock.now_ms(), v}};
    return ingest->submit(r);
  }
};
}  // namespace

TEST_CASE("after the clock jumps back an hour readings are still stored, counted as out of order") {
  Plant p;
  for (int i = 0; i < 3; ++i) {
    CHECK(p.reading_now(20 + i).accepted == 1);
    p.clock.advance(60'000);
  }
  REQUIRE(p.store->flush().ok());
  CHECK(p.store->health().clock_ok);
  CHECK(p.ingest->out_of_order_total() == 0);

  p.clock.advance(-kHour);
  for (int i = 0; i < 5; ++i) {
    auto res = p.reading_now(30 + i);
    CHECK(res.accepted == 1);
    CHECK(res.rejected_total() == 0);
    CHECK(res.out_of_order == 1);
    p.clock.advance(60'000);
  }
  REQUIRE(p.store->flush().ok());
  CHECK(p.ingest->out_of_order_total() == 5);

  auto series = p.store->series();
  REQUIRE(series.ok());
  REQUIRE(series->size() == 1);
  auto pts = p.store->range(series->front().id, kNow - 2 * kHour, kNow + 2 * kHour);
  REQUIRE(pts.ok());
  CHECK(pts->size() == 8);  // nothing dropped

  auto h = p.store->health();
  CHECK_FALSE(h.clock_ok);
  CHECK(h.clock_behind_ms > 50 * 60'000);
}

TEST_CASE("a reading at the same timestamp as the newest stays a duplicate after a jump back") {
  Plant p;
  const TimestampMs t = p.clock.now_ms();
  CHECK(p.reading_now(20).accepted == 1);
  p.clock.advance(-kHour);
  std::vector<Reading> again = {{kSensor, "temperature_c", t, 20}};
  auto res = p.ingest->submit(again);
  CHECK(res.accepted == 0);
  CHECK(res.rejected.at(RejectReason::kDuplicate) == 1);
}
