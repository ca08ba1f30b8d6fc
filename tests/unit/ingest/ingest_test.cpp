// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <cmath>

#include "vigil_test/temp_dir.h"
#include "vigil/ingest.h"

using namespace vigil;

namespace {
constexpr TimestampMs kNow = 1'800'000'000'000LL;

struct Fixture {
  TempDir dir;
  ManualClock clock{kNow};
  MetricsRegistry metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Ingest> ingest;
  Fixture() {
    StoreOptions o;
    o.path = dir.file("v.db");
    o.batch_max_delay_ms = 5;
    auto s = Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
    auto site = store->upsert_site({0, "P", "UTC"});
    Asset a;
    a.site_id = *site;
    a.name = "A";
    auto asset = store->upsert_asset(a);
    auto pos = store->upsert_position({0, *asset, "DE", PositionType::kMotor});
    Sensor sn;
    sn.address = "AA:BB:CC:DD:EE:01";
    sn.format = "bthome";
    sn.position_id = *pos;
    REQUIRE(store->upsert_sensor(sn).ok());
    Sensor gone = sn;
    gone.address = "AA:BB:CC:DD:EE:02";
    gone.decommissioned_at = kNow - 1000;
    REQUIRE(store->upsert_sensor(gone).ok());
    ingest = std::make_unique<Ingest>(*store, clock, metrics);
  }
};
const std::string kSensor = "AA:BB:CC:DD:EE:01";
}  // namespace

TEST_CASE("valid readings from a commissioned sensor are stored") {
  Fixture f;
  std::vector<Reading> r = {{kSensor, "temperature_c", kNow - 1000, 21.5}, {kSensor, "velocity_rms_mm_s", kNow - 1000, 1.2}};
  auto res = f.ingest->submit(r);
  CHECK(res.accepted == 2);
  CHECK(res.rejected_total() == 0);
  REQUIRE(f.store->flush().ok());
  auto series = f.store->series();
  REQUIRE(series.ok());
  REQUIRE(series->size() == 2);
  CHECK((*series)[0].position_id.has_value());
  CHECK(f.store->latest((*series)[0].id)->value == 21.5);
}

TEST_CASE("every kind of bad reading is rejected and counted by reason") {
  Fixture f;
  std::vector<Reading> r = {
      {"11:22:33:44:55:66", "temperature_c", kNow, 20},              // unknown source
      {"AA:BB:CC:DD:EE:02", "temperature_c", kNow, 20},              // decommissioned
      {kSensor, "Temperature!", kNow, 20},                           // bad metric
      {kSensor, "temperature_c", kNow, std::nan("")},                // not finite
      {kSensor, "temperature_c", kNow, 5000},                        // out of range
      {kSensor, "temperature_c", 1000, 20},                          // before 2000
      {kSensor, "temperature_c", kNow + 2LL * 24 * 3600 * 1000, 20},  // far future
  };
  auto res = f.ingest->submit(r);
  CHECK(res.accepted == 0);
  CHECK(res.rejected[RejectReason::kUnknownSource] == 1);
  CHECK(res.rejected[RejectReason::kDecommissioned] == 1);
  CHECK(res.rejected[RejectReason::kBadMetric] == 1);
  CHECK(res.rejected[RejectReason::kNotFinite] == 1);
  CHECK(res.rejected[RejectReason::kOutOfRange] == 1);
  CHECK(res.rejected[RejectReason::kBadTimestamp] == 2);
  CHECK(f.metrics.counter_value("vigil_ingest_rejected_total", "reason=\"bad_timestamp\"") == 2);
  CHECK(f.metrics.counter_value("vigil_ingest_rejected_total", "reason=\"unknown_source\"") == 1);
}

TEST_CASE("a repeated reading with the same timestamp is a duplicate") {
  Fixture f;
  std::vector<Reading> r = {{kSensor, "temperature_c", kNow, 20}};
  CHECK(f.ingest->submit(r).accepted == 1);
  auto res = f.ingest->submit(r);
  CHECK(res.accepted == 0);
  CHECK(res.rejected[RejectReason::kDuplicate] == 1);
}

TEST_CASE("unknown but well-formed metrics are accepted for off-the-shelf sensors") {
  Fixture f;
  std::vector<Reading> r = {{kSensor, "uv_index", kNow, 3}};
  CHECK(f.ingest->submit(r).accepted == 1);
}

TEST_CASE("observers see accepted readings with their series and position") {
  Fixture f;
  std::vector<AcceptedReading> seen;
  f.ingest->on_readings([&](std::span<const AcceptedReading> a) { seen.assign(a.begin(), a.end()); });
  std::vector<Reading> r = {{kSensor, "temperature_c", kNow, 20}, {kSensor, "temperature_c", kNow, std::nan("")}};
  f.ingest->submit(r);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].series_id > 0);
  CHECK(seen[0].position_id.has_value());
}

TEST_CASE("a waveform is stored for the sensor's position and malformed ones are refused") {
  Fixture f;
  Waveform w;
  w.ts = kNow;
  w.sample_rate_hz = 25600;
  w.scale = 0.0005;
  w.samples = {1, 2, 3, 4};
  auto id = f.ingest->submit_waveform(kSensor, w);
  REQUIRE(id.ok());
  w.sample_rate_hz = 0;
  CHECK(f.ingest->submit_waveform(kSensor, w).status().code() == Status::Code::kInvalidArgument);
  CHECK(f.ingest->submit_waveform("11:22:33:44:55:66", w).status().code() == Status::Code::kNotFound);
}

TEST_CASE("a reading the store could not queue is not a duplicate when retried") {
  TempDir dir;
  ManualClock clock{kNow};
  MetricsRegistry metrics;
  StoreOptions o;
  o.path = dir.file("q.db");
  o.queue_max_rows = 1;  // a two-reading batch cannot be queued
  o.batch_max_delay_ms = 5;
  auto store = Store::open(o).value();
  auto site = store->upsert_site({0, "P", "UTC"});
  Asset a;
  a.site_id = *site;
  a.name = "A";
  auto pos = store->upsert_position({0, *store->upsert_asset(a), "DE", PositionType::kMotor});
  Sensor sn;
  sn.address = kSensor;
  sn.format = "bthome";
  sn.position_id = *pos;
  REQUIRE(store->upsert_sensor(sn).ok());
  Ingest ingest(*store, clock, metrics);
  std::vector<Reading> two = {{kSensor, "temperature_c", kNow - 2000, 20.0}, {kSensor, "temperature_c", kNow - 1000, 21.0}};
  auto first = ingest.submit(two);
  CHECK(first.accepted == 0);
  CHECK(first.rejected[RejectReason::kQueueFull] == 2);
  // Retried one at a time, both are taken: the failed batch did not mark them seen.
  CHECK(ingest.submit(std::span(two).subspan(0, 1)).accepted == 1);
  REQUIRE(store->flush().ok());
  CHECK(ingest.submit(std::span(two).subspan(1, 1)).accepted == 1);
}

TEST_CASE("the duplicate check holds across a restart and a commissioning change") {
  TempDir dir;
  ManualClock clock{kNow};
  MetricsRegistry metrics;
  StoreOptions o;
  o.path = dir.file("r.db");
  o.batch_max_delay_ms = 5;
  std::vector<Reading> r = {{kSensor, "temperature_c", kNow - 1000, 21.5}};
  {
    auto store = Store::open(o).value();
    auto site = store->upsert_site({0, "P", "UTC"});
    Asset a;
    a.site_id = *site;
    a.name = "A";
    auto pos = store->upsert_position({0, *store->upsert_asset(a), "DE", PositionType::kMotor});
    Sensor sn;
    sn.address = kSensor;
    sn.format = "bthome";
    sn.position_id = *pos;
    REQUIRE(store->upsert_sensor(sn).ok());
    Ingest ingest(*store, clock, metrics);
    CHECK(ingest.submit(r).accepted == 1);
    REQUIRE(store->flush().ok());
    ingest.invalidate_sensors();  // what commissioning does
    CHECK(ingest.submit(r).rejected[RejectReason::kDuplicate] == 1);
  }
  auto store = Store::open(o).value();
  Ingest ingest(*store, clock, metrics);
  CHECK(ingest.submit(r).rejected[RejectReason::kDuplicate] == 1);
}
