// SPDX-License-Identifier: Apache-2.0
//
// Persisted learned state: what every position has learned (baselines,
// learning progress, evidence and persistence windows, states) survives a
// restart, a power cut or an upgrade, and the next measurement is scored
// exactly as an uninterrupted gateway would have scored it. Format:
// docs/analytics.md, "Learned state". The gateway pipeline and `vigil
// backtest --state` use the same tables and code.
//
// Layout: a snapshot plus a journal per position (a "key": the position id
// in the gateway, the channel in a backtest).
//
//   learned_state    one row per key: format version, the snapshot (the
//                    PositionAnalyzer's to_state() and the pipeline's own
//                    flag, CBOR), the newest measurement row and journal
//                    entry it includes.
//   measurements     (the store's table) a vibration measurement's row is
//                    its own journal entry: its features, in the order the
//                    analyzer took them (features_json()), are exactly its
//                    input. So saving the state of a measurement writes no
//                    page beyond the measurement's own, except a snapshot
//                    now and then.
//   learned_journal  every other input since the snapshot: the readings of
//                    other metrics (and, in a backtest, which stores no
//                    measurement rows, every input), each with the newest
//                    measurement row it follows; written in the transaction
//                    of the job that scored them.
//
// Restoring decodes the snapshot and replays the journal, measurement rows
// and journal rows merged in the order the analyzer took them, through the
// same analyzer code, which is deterministic. A full snapshot replaces the
// journal every `snapshot_every` entries, whenever the analyzer changed
// other than by an input (feedback, re-learning, a new machine or class),
// when an input is older than the snapshot, and after a day, so the journal
// stays short and within the measurements' retention.
//
// A row that cannot be restored (not CBOR, a format this version does not
// read, a field missing or of the wrong type, a feature set this version
// would not build, a journal with a gap, a machine that changed while the
// gateway was stopped) is reported with its reason; that position learns
// again, and its next write replaces the row.
//
// Thread-safety: functions over a caller's connection; a PositionStateLog
// belongs to its position's worker.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analytics/position.h"
#include "vigil/sqlite.h"
#include "vigil/status.h"
#include "vigil/store.h"

namespace vigil::analytics {

// The learned-state format this version writes and reads. Bump it when a
// to_state() changes shape, and add a step to migrate_learned_state() (or
// let older rows re-learn, which is logged with the reason).
inline constexpr int kLearnedStateFormat = 1;

// DDL of the two tables (one script), applied as an analytics migration in
// the gateway's database and directly in a backtest state file.
extern const char* const kLearnedStateSchema;

// One input an analyzer took.
struct JournalEntry {
  enum class Kind {
    kWaveform,  // features of a waveform (assess_vibration; the position has waveforms)
    kFrame,     // vibration features of a sensor frame (assess_vibration)
    kMetric,    // one value of another metric (assess_metric): features = {{metric, value}}
  };
  Kind kind = Kind::kWaveform;
  TimestampMs ts = 0;
  std::vector<dsp::Feature> features;
};
const char* to_string(JournalEntry::Kind k);  // "waveform" | "frame" | "metric"

// Feeds one entry to an analyzer exactly as the pipeline and backtest do.
Assessment apply(PositionAnalyzer& analyzer, const JournalEntry& e);

// A measurement's features as the measurements table keeps them: a JSON
// object in the order the analyzer took them (round-trip exact doubles; a
// non-finite value is null), and back (null → NaN). The measurement row is
// so the journal entry of its vibration measurement.
std::string features_json(const std::vector<dsp::Feature>& features);
Result<std::vector<dsp::Feature>> features_from_json(const std::string& text);

// A position's row and journal as stored (undecoded).
struct SavedState {
  struct Row {  // learned_journal
    std::int64_t seq = 0;
    Id after_measurement = 0;  // follows this measurement row (0: none)
    TimestampMs ts = 0;
    std::string kind;
    std::optional<std::string> names;  // null: those of the entry of its kind before
    std::vector<std::uint8_t> values;
  };
  Id key = 0;
  int format = 0;
  TimestampMs ts = 0;             // newest input the snapshot includes
  std::int64_t journal_seq = 0;   // newest journal entry it includes
  Id measurement_id = 0;          // newest measurement row it includes
  std::vector<std::uint8_t> state;  // CBOR
  std::vector<Row> journal;         // seq ascending
  // The position's measurement rows after measurement_id (ts >= ts), id
  // ascending: the caller that has the store reads them (see
  // measurements_after()); a backtest has none.
  std::vector<Measurement> measurements;
};

// Every saved position (start-up), or one.
Result<std::vector<SavedState>> read_learned_state(sql::Db& db);
Result<std::optional<SavedState>> read_learned_state(sql::Db& db, Id key);
// The measurement rows of `s` (see SavedState::measurements).
Status measurements_after(Store& store, SavedState& s);

// A position brought back: the analyzer (built for `machine` and
// `options`), the pipeline's flag, and where its journal stands.
struct RestoredPosition {
  std::unique_ptr<PositionAnalyzer> analyzer;
  bool has_waveform = false;
  std::int64_t journal_seq = 0;  // newest journal sequence number
  Id measurement_id = 0;         // newest measurement row taken
  TimestampMs snapshot_ts = 0, latest_ts = 0;
  int journal_entries = 0;       // inputs after the snapshot (rows of both kinds)
};
// Decodes the snapshot onto a new analyzer and replays the journal.
// kInvalidArgument / kFailedPrecondition with the reason when the row
// cannot be restored (see the header comment).
Result<RestoredPosition> restore_position(const SavedState& saved, const MachineInfo& machine,
                                          const AnalyticsOptions& options);

// The snapshot document of a position.
nlohmann::json position_snapshot(const PositionAnalyzer& analyzer, bool has_waveform);
// The snapshot as stored (learned_state.state): the 4-byte little-endian
// length of a CBOR document, the document, and the byte arrays it holds
// (float64/int64 little-endian), moved out of line so they are copied, not
// parsed: in the document each is an empty byte string tagged (CBOR tag)
// with its length, and they follow in document order (depth first, object
// members in key order).
std::vector<std::uint8_t> encode_snapshot(nlohmann::json doc);
Result<nlohmann::json> decode_snapshot(std::span<const std::uint8_t> bytes);

// Writes one position's state: journal entries, or a snapshot when one is
// due. Call write() inside the write transaction that stores what the
// inputs produced, after the analyzer took them: `entries` (journaled)
// and then, when `measurement` is given, the vibration measurement stored
// in that row (its own journal entry). When that transaction fails, call
// invalidate(): the next write is then a snapshot, so the stored state
// catches up with the analyzer.
class PositionStateLog {
 public:
  static constexpr int kSnapshotEvery = 128;
  static constexpr TimestampMs kSnapshotAge = 24LL * 3600 * 1000;
  // `measurement_rows`: the key is a position of a database with a
  // measurements table, whose rows are journal entries (the gateway).
  explicit PositionStateLog(Id key = 0, int snapshot_every = kSnapshotEvery, bool measurement_rows = false)
      : key_(key), every_(snapshot_every), measurement_rows_(measurement_rows) {}
  Id key() const { return key_; }

  Status write(sql::Db& db, const PositionAnalyzer& analyzer, bool has_waveform,
               std::span<const JournalEntry> entries, std::optional<std::pair<Id, TimestampMs>> measurement = {});
  // Writes a snapshot now (after feedback or re-learning changed the analyzer).
  Status write_snapshot(sql::Db& db, const PositionAnalyzer& analyzer, bool has_waveform);
  void invalidate() { snapshot_due_ = true; }
  // Continue a restored position's journal.
  void resume(const RestoredPosition& r) {
    seq_ = r.journal_seq;
    measurement_ = r.measurement_id;
    entries_ = r.journal_entries;
    snapshot_ts_ = r.snapshot_ts;
    latest_ts_ = r.latest_ts;
    snapshot_due_ = false;
  }

 private:
  Id key_;
  int every_;
  bool measurement_rows_;
  bool snapshot_due_ = true;  // no row yet, or the analyzer changed outside the journal
  std::int64_t seq_ = 0;      // newest journal entry
  Id measurement_ = 0;        // newest measurement row
  int entries_ = 0;           // inputs since the snapshot
  TimestampMs snapshot_ts_ = 0, latest_ts_ = 0;
  // Per kind, the feature names of the newest entry since the snapshot: an
  // entry with the same names as the one of its kind before stores none.
  std::array<std::optional<std::vector<std::string>>, 3> names_;
};

// Forgets a key's saved state (re-learning from nothing).
Status delete_learned_state(sql::Db& db, Id key);

}  // namespace vigil::analytics
