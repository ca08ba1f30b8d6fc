// SPDX-License-Identifier: Apache-2.0
#include "app/store_options.h"

namespace vigil::app {

StoreOptions store_options(const StorageConfig& s) {
  StoreOptions so;
  so.path = s.path;
  so.raw_retention_days = s.raw_retention_days;
  so.rollup_retention_days = s.rollup_retention_days;
  so.checkpoint_interval_s = s.checkpoint_interval_s;
  so.batch_max_rows = s.batch_max_rows;
  so.batch_max_delay_ms = s.batch_max_delay_ms;
  so.group_commit = s.group_commit;
  so.wal_autocheckpoint_bytes = s.wal_autocheckpoint_mb * 1024 * 1024;
  so.queue_max_rows = s.queue_max_rows;
  so.waveforms_per_position = s.waveforms_per_position;
  so.waveforms_keep_daily = s.waveforms_keep_daily;
  so.page_size = s.page_size;
  so.integrity_check_interval_s = s.integrity_check_interval_h * 3600;
  so.clock_tolerance_ms = s.clock_tolerance_s * 1000LL;
  return so;
}

}  // namespace vigil::app
