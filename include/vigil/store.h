// SPDX-License-Identifier: Apache-2.0
//
// Store: vigil's one SQLite database (WAL mode).
//
// Layout. Time series are the bulk of the data and decide ingest speed, so
// they do not live in one indexed table. Points are appended to an unindexed
// `ingest_log` (as fast as SQLite appends go) and mirrored into a small
// in-memory head per series; a periodic checkpoint moves them into compressed
// `chunks` (≤256 points, keyed (series_id, t0)) in one transaction, then
// truncates the log. Retention rolls chunks past raw retention up into hourly
// roll-ups (count/min/max/sum, one `rollup_daily` row per series and day) as
// it drops them, so each point is stored once: in the log, a chunk or a
// roll-up. A range read is a few chunk rows plus the head. A crash loses
// nothing committed: on open the log is replayed into the heads.
//
// Writers. One writer connection. append() enqueues points for the batch
// writer thread (one transaction per batch); other writes (catalog,
// measurements, waveforms, write_txn) are synchronous on the same connection
// under the same lock. Readers use a pool of separate connections. With
// group_commit the data path's writes (points, waveforms, measurements,
// data_txn) share one open transaction, committed once per commit interval;
// any other write commits it first, so a catalog or module write is never
// held back behind it and never becomes visible before the data written
// ahead of it.
//
// Ownership. One process writes a live database: while a Store is open it
// holds an exclusive advisory lock (flock) on "<path>.lock", which records
// its pid and who it is ("vigil serve"). A second Store::open on the same
// path — from this or any other process — waits up to lock_wait_ms while the
// holder is a short-lived command and is refused at once when it is a server
// (kFailedPrecondition naming the holder). Store::owner() asks without
// opening, so admin commands can refuse with a clear message.
//
// Health. The first open writes "<path>.created"; a later open that finds the
// marker but not the database is refused (kFailedPrecondition) unless
// allow_new_database: a deleted database is never silently replaced by an
// empty one. PRAGMA quick_check runs at open and on a schedule on a reader
// connection (writes go on); the file's identity (st_dev/st_ino of the path
// against the file opened) is checked at every checkpoint, on a schedule and
// in health(). While the file is deleted or replaced the writer commits
// nothing (points stay queued, counted as write errors) rather than writing
// into a file nobody will see again.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
  int checkpoint_interval_s = 21600;  // see docs/storage.md "Writes and flash wear"
  int batch_max_rows = 20000;
  // The commit interval: the writer waits at most this long for more points
  // before it commits (with group_commit: the longest a data-path write stays
  // uncommitted).
  int batch_max_delay_ms = 1000;
  // Group commit (docs/storage.md "Writes and flash wear"): the data path's
  // writes (points, waveforms, measurements, data_txn) share one transaction
  // per commit interval instead of one each, which is most of the flash
  // writes of a busy plant. They are then visible to readers and durable at
  // the next commit (within batch_max_delay_ms, or at flush()), except that
  // points are readable from memory (latest, range) as soon as the writer
  // takes them (within 250 ms). Off here (a library user reads its own
  // writes at once); the gateway's storage.group_commit turns it on.
  bool group_commit = false;
  int queue_max_rows = 500000;
  int waveforms_per_position = 500;  // newest waveforms kept at full rate
  bool waveforms_keep_daily = true;  // and beyond them the first of each day (raw retention)
  int reader_connections = 4;
  // Flash wear (docs/storage.md "Writes and flash wear"): the page size of a
  // NEW database (an existing file keeps its own; 0 = SQLite's default) and
  // the WAL size at which SQLite copies it into the database (bytes): a
  // page changed many times between two copies is copied once, so a larger
  // WAL writes less (256 MiB: a quarter less than 4 MiB) at the cost of its
  // disk space and a longer WAL scan when the file is opened after a crash.
  int page_size = 1024;
  int wal_autocheckpoint_bytes = 256 * 1024 * 1024;
  // Sealed chunks (docs/storage.md "Chunks"): a checkpoint re-encodes a
  // series' newest small chunks as one chunk filling a whole overflow page
  // once they hold enough points (a fifth to a third fewer bytes a point).
  // Off only for a benchmark's same-run reference; databases written either
  // way are read the same.
  bool seal_chunks = true;
  const Clock* clock = nullptr;  // default SystemClock (retention cut-offs, clock check)

  // ---- ownership (see the header comment) ----
  std::string owner = "vigil";  // who holds the lock, as others are told ("vigil serve")
  bool server = false;          // a long-running owner: others refuse at once
  int lock_wait_ms = 10000;     // wait this long for a short-lived holder
  // Open even though "<path>.created" says a database existed here and it is
  // missing now (vigil serve --new-database): starts empty, removes stale
  // -wal/-shm files first.
  bool allow_new_database = false;

  // ---- health ----
  bool integrity_check_at_open = true;     // PRAGMA quick_check in open() (logged)
  int integrity_check_interval_s = 21600;  // and this often on a reader; 0 = only at open
  int file_check_interval_s = 30;          // file identity, besides checkpoints and health()
  // Chunks and roll-ups of an earlier format are converted in the
  // background, one short transaction of 256 rows this often (0 = never).
  int format_migration_interval_ms = 100;
  // health().clock_ok is false when the newest stored point is further than
  // this ahead of the clock (the clock went back).
  TimestampMs clock_tolerance_ms = 5 * 60 * 1000;
};

// Who holds a database's lock (Store::owner).
struct DbOwner {
  long pid = 0;
  std::string label;    // StoreOptions::owner of the holder ("vigil serve")
  bool server = false;  // StoreOptions::server of the holder
};

// What /api/v1/health reports about the database (Store::health).
struct StoreHealth {
  enum class Integrity { kUnchecked, kOk, kFailed };
  enum class File { kOk, kDeleted, kReplaced };
  Integrity integrity = Integrity::kUnchecked;  // the newest quick_check
  TimestampMs integrity_checked_at = 0;         // wall clock ms; 0 = never
  int integrity_problems = 0;                   // rows quick_check reported (at most 20)
  File file = File::kOk;                        // the path still names the file opened
  // The newest batch commit or checkpoint failed and none has succeeded
  // since; disk_full when it failed for lack of space.
  bool writes_failing = false;
  bool disk_full = false;
  std::size_t queued_points = 0;
  std::optional<TimestampMs> newest_ts;  // newest stored point of any series
  TimestampMs clock_now = 0;             // the store's clock when asked
  TimestampMs clock_behind_ms = 0;       // newest_ts - clock_now when positive
  bool clock_ok = true;                  // clock_behind_ms <= clock_tolerance_ms
};
const char* to_string(StoreHealth::Integrity i);  // "unchecked" | "ok" | "failed"
const char* to_string(StoreHealth::File f);       // "ok" | "deleted" | "replaced"

struct SeriesPoint {
  Id series_id = 0;
  TimestampMs ts = 0;
  double value = 0;
};

struct StoreStats {
  std::uint64_t points_committed = 0;
  std::uint64_t batches_committed = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t write_errors = 0;  // failed batch commits and checkpoints since open
  std::uint64_t group_commits = 0;      // group commits (StoreOptions::group_commit)
  // Waveforms, measurements and data_txn writes whose group was rolled back
  // by a failed commit (a full disk): accepted, then lost. Points of such a
  // group are logged again and are never lost.
  std::uint64_t group_writes_lost = 0;
  std::size_t queued_points = 0;
  std::size_t log_points = 0;  // in ingest_log, awaiting checkpoint
  // The current write failure: empty once a later batch commit (and
  // checkpoint) succeeded. write_errors keeps counting past ones.
  std::string last_error;
  bool disk_full = false;  // last_error is a full disk (or file size limit)
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

// The levels of the plant hierarchy the lifecycle operations work on.
enum class CatalogKind { kSite, kAsset, kPosition };
const char* to_string(CatalogKind k);  // "site" | "asset" | "position"

// One row of a bulk sensor import (Store::import_sensors), already parsed:
// the address normalised, the key decoded.
struct SensorImportRow {
  int line = 0;                                   // in the source file, for messages
  std::string address;                            // "AA:BB:CC:DD:EE:FF"
  std::optional<std::vector<std::uint8_t>> key;   // nullopt: an unencrypted sensor
  std::string position;                           // a position id, or "Site/Asset/Position"
  std::string name;                               // optional
  std::string format;                             // "" = bthome for a new sensor, kept for a known one
};
struct SensorImportOutcome {
  int line = 0;
  std::string address;
  Id position_id = 0;
  std::string action;  // "new" | "recommissioned" | "unchanged"
  std::optional<Id> sensor_id;  // known sensors, and new ones once applied
};
struct SensorImportError {
  int line = 0;
  std::string field;  // "address" | "key" | "position" | …
  std::string message;
};
struct SensorImportResult {
  std::vector<SensorImportOutcome> rows;
  std::vector<SensorImportError> errors;  // any: nothing was written
  bool applied = false;
};

// Tags (key=value: line=2, area=north, criticality=A) on sensors, assets and
// positions (core schema v6, table catalog_tags). Bounded: at most kMaxTags
// per row; keys 1..64 bytes of [A-Za-z0-9_.-], values 1..64 printable bytes.
enum class TagKind { kSensor, kAsset, kPosition };
const char* to_string(TagKind k);  // "sensor" | "asset" | "position"
using Tags = std::map<std::string, std::string>;
inline constexpr std::size_t kMaxTags = 32;
inline constexpr std::size_t kMaxTagBytes = 64;
// kInvalidArgument naming the first bad tag (or the count).
Status check_tags(const Tags& tags);
bool valid_tag_key(std::string_view key);
struct TagRow {
  TagKind kind = TagKind::kSensor;
  Id id = 0;
  std::string key, value;
};

class Store {
 public:
  // Takes the lock, opens (creating if needed) and migrates the database,
  // runs quick_check, replays the ingest log and starts the writer thread.
  // Errors: kIoError/kPermissionDenied for an unwritable file or directory,
  // kCorruption for a file that is not a vigil database, kFailedPrecondition
  // when another process owns the database or a database that existed is
  // missing (see the header comment).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  // Who holds the lock of the database at `path` now; nullopt when nobody.
  static std::optional<DbOwner> owner(const std::string& path);
  ~Store();  // flushes queued points, checkpoints, stops the writer

  // ---- catalog ----
  Result<Id> upsert_site(const Site& s);  // by name
  Result<Id> upsert_asset(const Asset& a);  // by (site_id, name)
  Result<Id> upsert_position(const Position& p);  // by (asset_id, name)
  // By address. On another position than before, the sensor's current
  // series are retired there (history follows positions; see below).
  Result<Id> upsert_sensor(const Sensor& s);
  // Commissions (or re-commissions) a sensor with its AES key (nullopt: an
  // unencrypted sensor) in one transaction: the sensor row, its key, the
  // retirement of its series on a position it leaves and the end of any
  // decommissioning become visible together, so no reader sees the sensor
  // without its key.
  Result<Id> commission_sensor(const Sensor& s, const std::optional<std::vector<std::uint8_t>>& key);
  Result<std::vector<Site>> sites();
  Result<std::vector<Asset>> assets(std::optional<Id> site_id = std::nullopt);
  Result<Asset> asset(Id id);
  Result<std::vector<Position>> positions(std::optional<Id> asset_id = std::nullopt);
  Result<std::vector<Sensor>> sensors();
  Result<std::optional<Sensor>> sensor_by_address(const std::string& address);
  // One row by id, archived or not (kNotFound when there is none).
  Result<Site> site(Id id);
  Result<Position> position(Id id);
  Result<Sensor> sensor(Id id);

  // ---- catalog lifecycle ----
  // Each is one transaction on the writer with its audit row (actor, action
  // "<kind>.<verb>"). Archived sites, assets and positions are hidden from
  // sites(), assets() and positions() (lists, fleet, rules, analytics) but
  // keep their rows, series and measurements: asset(id), position(id) and
  // series reads still answer. upsert_* of an archived row's name brings it
  // back. History follows positions, not sensors: series are keyed by
  // (sensor, position, metric); when a sensor leaves a position its series
  // there are retired (they keep that position) and ensure_series opens new
  // ones at the next reading.
  //
  // Renames in place (same id). kAlreadyExists when a sibling (archived or
  // not) has the name; kNotFound for an unknown id.
  Status rename(CatalogKind kind, Id id, const std::string& name, const std::string& actor);
  // Archives the row and everything under it; sensors on archived positions
  // are decommissioned. Archiving an archived row is a no-op.
  Status archive(CatalogKind kind, Id id, const std::string& actor);
  Result<bool> archived(CatalogKind kind, Id id);
  // Deletes an archived row and everything under it: positions, their series
  // (chunks, roll-ups, unflushed points), measurements and waveforms; sensors
  // that were on them stay, decommissioned and unassigned. Tables other
  // modules own (alerts, health states) are cleaned by their purge hooks.
  // REQUIRES: confirm_name == the row's name (kFailedPrecondition otherwise)
  // and the row archived first (kFailedPrecondition), so no sensor writes
  // into what is being deleted — callers that cache sensors (Ingest)
  // invalidate between archive() and purge().
  Status purge(CatalogKind kind, Id id, const std::string& confirm_name, const std::string& actor);
  // What a purge deletes, for the modules whose tables refer to it.
  struct PurgedScope {
    std::vector<Id> positions;
    std::vector<Id> assets;  // purged assets (a site's, or the one asset)
  };
  // A module's own rows that refer to purged positions or assets (alerts,
  // health states, learned state, spectra): purge() calls every hook inside
  // its transaction, after its own deletes, so the history goes as one; a
  // hook's error rolls the whole purge back. The hook runs the module's own
  // statements on `db` (one owner per table: the store never writes them).
  // Call at wiring time, from any thread; hooks live as long as the store.
  using PurgeHook = std::function<Status(sql::Db& db, const PurgedScope& scope)>;
  void add_purge_hook(std::string module, PurgeHook hook);
  // Moves an asset (with its positions and history) to another site.
  // kAlreadyExists when that site has an asset of the same name.
  Status move_asset(Id asset_id, Id site_id, const std::string& actor);
  // Ends a sensor's service: its readings are rejected from now on (Ingest
  // counts them as "decommissioned"); its rows and history stay.
  Status decommission_sensor(Id sensor_id, const std::string& actor);
  // Puts another sensor (address, key) on the old one's position: the old one
  // is decommissioned and unassigned, the position keeps all its history.
  // Returns the new sensor's id (an existing row when the address is known).
  Result<Id> replace_sensor(Id old_sensor_id, const std::string& address,
                            const std::optional<std::vector<std::uint8_t>>& key, const std::string& actor);
  // Assigns a sensor to another position; its past stays with the old one.
  Status move_sensor(Id sensor_id, Id position_id, const std::string& actor);
  // Validates rows (positions exist and are not archived, no duplicate
  // addresses) and, unless dry_run or any row is bad, commissions them all
  // in one transaction. A known sensor on another position moves (as
  // move_sensor). Each outcome says new, recommissioned or unchanged.
  Result<SensorImportResult> import_sensors(const std::vector<SensorImportRow>& rows, bool dry_run,
                                            const std::string& actor);
  // Replaces the row's tags (check_tags first; an empty map clears them), one
  // transaction with its audit row ("<kind>.tags"). kNotFound for an unknown
  // id. Purging a row deletes its tags.
  Status set_tags(TagKind kind, Id id, const Tags& tags, const std::string& actor);
  Result<Tags> tags(TagKind kind, Id id);
  // Every tag of every row (at most kMaxTags per row), for the fleet search.
  Result<std::vector<TagRow>> all_tags();
  // The firmware version a sensor last advertised ("1.3.0"); written only
  // when it changes. kNotFound for an unknown address.
  Status set_sensor_firmware(const std::string& address, const std::string& version);
  // sensor id → last advertised firmware version (sensors that sent one).
  Result<std::map<Id, std::string>> sensor_firmware();
  // User machine classes (source kUser), by name. Checked with
  // check_machine_class() before they are written.
  Result<std::vector<MachineClass>> machine_classes();
  // The user machine classes stored in the database at `path`, read through
  // a read-only connection without taking the store's lock, so it works
  // while a gateway owns that database (`vigil backtest --config`). An empty
  // list when the file or the table does not exist (yet).
  static Result<std::vector<MachineClass>> machine_classes_at(const std::string& path);
  Status put_machine_class(const std::string& name, const ZoneLimits& limits);  // adds or replaces
  Result<bool> delete_machine_class(const std::string& name);  // false: none of that name

  // ---- time series ----
  // Returns the series id for (sensor, metric), creating it if needed.
  Result<Id> ensure_series(Id sensor_id, const std::string& metric, const std::string& unit);
  Result<std::vector<Series>> series(std::optional<Id> position_id = std::nullopt);
  // Enqueues points for the batch writer. kResourceExhausted when the queue
  // is full (the caller counts the rejection); nothing is dropped silently.
  Status append(std::span<const SeriesPoint> points);
  // Blocks until every point appended before the call is committed, and
  // commits every data-path write made before it (group_commit).
  Status flush();
  // Moves the ingest log into chunks now (normally periodic).
  Status checkpoint();
  std::optional<Point> latest(Id series_id) const;
  // Raw points in [from, to], ascending.
  Result<std::vector<Point>> range(Id series_id, TimestampMs from, TimestampMs to);
  // At most max_points buckets of min/max/mean covering [from, to]. Buckets
  // an hour or wider add the hourly roll-ups (points past raw retention) to
  // the chunks' and heads' points, read in one snapshot.
  Result<std::vector<Bucket>> downsample(Id series_id, TimestampMs from, TimestampMs to,
                                         int max_points);
  // Rolls raw chunks past raw retention up and deletes them; deletes
  // roll-ups past theirs (also run at checkpoints, at most hourly).
  Status apply_retention();

  // ---- measurements, waveforms, audit ----
  // put_waveform and put_measurement are data-path writes (see data_txn).
  Result<Id> put_waveform(const Waveform& w);
  Result<std::optional<Waveform>> latest_waveform(Id position_id);
  // The position's stored waveform with this id, or else its newest at or
  // before `at_or_before` (both nullopt: the newest). Decoded (stored
  // compressed, store/waveform_codec.h); kCorruption for a damaged blob.
  Result<std::optional<Waveform>> waveform(Id position_id, std::optional<Id> waveform_id,
                                           std::optional<TimestampMs> at_or_before);
  Result<Id> put_measurement(const Measurement& m);
  // The same row written on `db` inside write_txn, so a module commits it
  // together with rows of its own (the analytics' learned state).
  static Result<Id> put_measurement(sql::Db& db, const Measurement& m);
  Result<std::vector<Measurement>> measurements(Id position_id, TimestampMs from, TimestampMs to,
                                                int limit = 1000);
  Status audit(const std::string& actor, const std::string& action, const std::string& target,
               const std::string& detail);
  // The same row written on `db` inside write_txn, atomic with the change it
  // records (auth: a user deleted and its audit row commit together).
  static Status audit(sql::Db& db, TimestampMs ts, const std::string& actor, const std::string& action,
                      const std::string& target, const std::string& detail);
  Result<std::vector<AuditEntry>> audit_log(int limit = 100);

  // ---- extension points for modules that own their own tables ----
  // Applies `migrations` (SQL scripts) for `module` once each, in order.
  Status migrate(const std::string& module, const std::vector<std::string>& migrations);
  // Runs fn inside BEGIN IMMEDIATE…COMMIT on the writer connection: durable
  // and visible to readers when it returns.
  Status write_txn(const std::function<Status(sql::Db&)>& fn);
  // For the data path's own rows (analytics results, health snapshots): fn
  // is atomic (a savepoint) and, with StoreOptions::group_commit, joins the
  // open group transaction — visible and durable at the next group commit,
  // lost with it if that commit fails (counted in group_writes_lost).
  // Without group_commit the same as write_txn.
  Status data_txn(const std::function<Status(sql::Db&)>& fn);
  // Runs fn on a pooled read connection (a consistent WAL snapshot if fn
  // opens a transaction).
  Status read(const std::function<Status(sql::Db&)>& fn);

  StoreStats stats() const;
  // Integrity, file identity (checked now: one stat()), write state, clock.
  StoreHealth health() const;
  // Runs PRAGMA quick_check now on a reader connection and records the
  // result in health(). kCorruption when it finds problems.
  Status check_integrity();
  // A counter that moves after every write through this Store (committed
  // readings, catalog changes, measurements, write_txn, checkpoints), so a
  // reader can cache something built from the database and know when it may
  // be stale. Writes by other processes on the same file are not seen:
  // callers that cache must also bound the age.
  std::uint64_t generation() const;
  // Moves only with writes to the catalog (sites, assets, positions,
  // sensors, series, tags, firmware, machine classes) — not with readings,
  // waveforms, measurements or other modules' write_txn.
  std::uint64_t catalog_generation() const;
  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
