// SPDX-License-Identifier: Apache-2.0
//
// Store: vigil's one SQLite database (WAL mode).
//
// Layout. Time series are the bulk of the data and decide ingest speed, so
// they do not live in one indexed table. Points are appended to an unindexed
// `ingest_log` (as fast as SQLite appends go) and mirrored into a small
// in-memory head per series; a periodic checkpoint moves them into compressed
// `chunks` (≤256 points, keyed (series_id, t0)) and hourly roll-ups
// (count/min/max/sum, one `rollup_daily` row per series and day) in one
// transaction, then truncates the log. A range read
// is a few chunk rows plus the head. A crash loses nothing committed: on open
// the log is replayed into the heads.
//
// Writers. One writer connection. append() enqueues points for the batch
// writer thread (one transaction per batch); other writes (catalog,
// measurements, waveforms, write_txn) are synchronous on the same connection
// under the same lock. Readers use a pool of separate connections.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vigil/clock.h"
#include "vigil/model.h"
#include "vigil/sqlite.h"
#include "vigil/status.h"

namespace vigil {

struct StoreOptions {
  std::string path;                  // database file; its directory must exist
  int raw_retention_days = 365;
  int rollup_retention_days = 3650;
  int checkpoint_interval_s = 60;
  int batch_max_rows = 20000;
  int batch_max_delay_ms = 200;
  int queue_max_rows = 500000;
  int waveforms_per_position = 500;
  int reader_connections = 4;
  const Clock* clock = nullptr;  // default SystemClock (retention cut-offs)
};

struct SeriesPoint {
  Id series_id = 0;
  TimestampMs ts = 0;
  double value = 0;
};

struct StoreStats {
  std::uint64_t points_committed = 0;
  std::uint64_t batches_committed = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t write_errors = 0;
  std::size_t queued_points = 0;
  std::size_t log_points = 0;  // in ingest_log, awaiting checkpoint
  std::string last_error;
};

struct Measurement {
  Id id = 0;
  Id position_id = 0;
  TimestampMs ts = 0;
  std::string features_json = "{}";  // feature name → value
  std::optional<double> score;
  HealthState state = HealthState::kUnknown;
  std::string explanation;
  std::optional<Id> waveform_id;
};

struct AuditEntry {
  Id id = 0;
  TimestampMs ts = 0;
  std::string actor, action, target, detail;
};

class Store {
 public:
  // Opens (creating if needed) and migrates the database, replays the ingest
  // log and starts the writer thread. Errors: kIoError/kPermissionDenied for
  // an unwritable file or directory, kCorruption for a file that is not a
  // vigil database.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();  // flushes queued points, checkpoints, stops the writer

  // ---- catalog ----
  Result<Id> upsert_site(const Site& s);  // by name
  Result<Id> upsert_asset(const Asset& a);  // by (site_id, name)
  Result<Id> upsert_position(const Position& p);  // by (asset_id, name)
  Result<Id> upsert_sensor(const Sensor& s);  // by address
  Result<std::vector<Site>> sites();
  Result<std::vector<Asset>> assets(std::optional<Id> site_id = std::nullopt);
  Result<Asset> asset(Id id);
  Result<std::vector<Position>> positions(std::optional<Id> asset_id = std::nullopt);
  Result<std::vector<Sensor>> sensors();
  Result<std::optional<Sensor>> sensor_by_address(const std::string& address);
  // User machine classes (source kUser), by name. Checked with
  // check_machine_class() before they are written.
  Result<std::vector<MachineClass>> machine_classes();
  Status put_machine_class(const std::string& name, const ZoneLimits& limits);  // adds or replaces
  Result<bool> delete_machine_class(const std::string& name);  // false: none of that name

  // ---- time series ----
  // Returns the series id for (sensor, metric), creating it if needed.
  Result<Id> ensure_series(Id sensor_id, const std::string& metric, const std::string& unit);
  Result<std::vector<Series>> series(std::optional<Id> position_id = std::nullopt);
  // Enqueues points for the batch writer. kResourceExhausted when the queue
  // is full (the caller counts the rejection); nothing is dropped silently.
  Status append(std::span<const SeriesPoint> points);
  // Blocks until every point appended before the call is committed.
  Status flush();
  // Moves the ingest log into chunks and rollups now (normally periodic).
  Status checkpoint();
  std::optional<Point> latest(Id series_id) const;
  // Raw points in [from, to], ascending.
  Result<std::vector<Point>> range(Id series_id, TimestampMs from, TimestampMs to);
  // At most max_points buckets of min/max/mean covering [from, to]. Uses the
  // hourly roll-ups when buckets are an hour or wider.
  Result<std::vector<Bucket>> downsample(Id series_id, TimestampMs from, TimestampMs to,
                                         int max_points);
  // Deletes raw chunks and roll-ups past retention (also run at checkpoints).
  Status apply_retention();

  // ---- measurements, waveforms, audit ----
  Result<Id> put_waveform(const Waveform& w);
  Result<std::optional<Waveform>> latest_waveform(Id position_id);
  Result<Id> put_measurement(const Measurement& m);
  Result<std::vector<Measurement>> measurements(Id position_id, TimestampMs from, TimestampMs to,
                                                int limit = 1000);
  Status audit(const std::string& actor, const std::string& action, const std::string& target,
               const std::string& detail);
  Result<std::vector<AuditEntry>> audit_log(int limit = 100);

  // ---- extension points for modules that own their own tables ----
  // Applies `migrations` (SQL scripts) for `module` once each, in order.
  Status migrate(const std::string& module, const std::vector<std::string>& migrations);
  // Runs fn inside BEGIN IMMEDIATE…COMMIT on the writer connection.
  Status write_txn(const std::function<Status(sql::Db&)>& fn);
  // Runs fn on a pooled read connection (a consistent WAL snapshot if fn
  // opens a transaction).
  Status read(const std::function<Status(sql::Db&)>& fn);

  StoreStats stats() const;
  // A counter that moves after every write through this Store (committed
  // readings, catalog changes, measurements, write_txn, checkpoints), so a
  // reader can cache something built from the database and know when it may
  // be stale. Writes by other processes on the same file are not seen:
  // callers that cache must also bound the age.
  std::uint64_t generation() const;
  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
