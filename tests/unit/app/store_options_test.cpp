// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "app/store_options.h"

using namespace vigil;

TEST_CASE("every process takes the storage section's options, not the library's defaults") {
  StorageConfig s;
  s.path = "/data/v.db";
  s.raw_retention_days = 730;
  s.rollup_retention_days = 5000;
  s.checkpoint_interval_s = 600;
  s.batch_max_rows = 1234;
  s.batch_max_delay_ms = 4500;
  s.group_commit = false;
  s.wal_autocheckpoint_mb = 16;
  s.queue_max_rows = 70000;
  s.waveforms_per_position = 9;
  s.waveforms_keep_daily = false;
  s.page_size = 4096;
  s.integrity_check_interval_h = 2;
  s.clock_tolerance_s = 60;
  const StoreOptions so = app::store_options(s);
  CHECK(so.path == "/data/v.db");
  CHECK(so.raw_retention_days == 730);
  CHECK(so.rollup_retention_days == 5000);
  CHECK(so.checkpoint_interval_s == 600);
  CHECK(so.batch_max_rows == 1234);
  CHECK(so.batch_max_delay_ms == 4500);
  CHECK_FALSE(so.group_commit);
  CHECK(so.wal_autocheckpoint_bytes == 16 * 1024 * 1024);
  CHECK(so.queue_max_rows == 70000);
  CHECK(so.waveforms_per_position == 9);
  CHECK_FALSE(so.waveforms_keep_daily);
  CHECK(so.page_size == 4096);
  CHECK(so.integrity_check_interval_s == 2 * 3600);
  CHECK(so.clock_tolerance_ms == 60'000);
}

TEST_CASE("the shipped defaults map to the store's flash policy") {
  const StoreOptions so = app::store_options(StorageConfig{});
  CHECK(so.batch_max_delay_ms == 30000);
  CHECK(so.wal_autocheckpoint_bytes == 256 * 1024 * 1024);
  CHECK(so.page_size == 1024);
  CHECK(so.group_commit);
}
