// SPDX-License-Identifier: Apache-2.0
//
// Outbox: the uplink's store-and-forward queue, a table in vigil's SQLite
// database (module "uplink"). Every message is committed here before it is
// published and removed only after its PUBACK, so it survives broker outages,
// restarts and kill -9.
//
//   uplink_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, msg_id, kind, topic,
//                 payload, bytes, created_at)
//
// seq is the send order (strictly increasing, never reused). The table is
// bounded by max_bytes (config uplink.outbox_max_mb; `bytes` = payload +
// topic + a fixed row overhead). When a new message does not fit, the oldest
// evictable messages go first, in this order of kinds: heartbeat, raw,
// summary, state. Alerts and command replies are never evicted and always
// accepted (they may take the table past the cap). A droppable message that
// still does not fit is itself dropped. Every drop is counted per kind in
// vigil_uplink_dropped_total{kind=…}. A new heartbeat supersedes queued ones
// (a stale "I am alive" is worth nothing), which is not counted as a drop.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::uplink {

enum class Kind { kAlert, kState, kSummary, kHeartbeat, kRaw, kReply };
const char* to_string(Kind k);
std::optional<Kind> kind_from_string(std::string_view s);
// Never evicted: alerts and command replies.
bool evictable(Kind k);

struct OutboxRow {
  std::int64_t seq = 0;
  std::string msg_id;
  Kind kind = Kind::kSummary;
  std::string topic;
  std::string payload;
  TimestampMs created_at = 0;
};

struct PushResult {
  std::int64_t seq = 0;   // 0 when the message itself was dropped
  std::string msg_id;
  int evicted = 0;        // older messages evicted to make room
};

class Outbox {
 public:
  static constexpr std::size_t kRowOverhead = 64;
  static Status migrate(Store& store);
  // Applies the migrations and loads the current size.
  static Result<std::unique_ptr<Outbox>> open(Store& store, std::size_t max_bytes,
                                              MetricsRegistry& metrics = MetricsRegistry::global());

  // Commits one message. `make_payload(seq, msg_id)` renders the payload once
  // the sequence number is known (it is stored and resent byte for byte).
  Result<PushResult> push(Kind kind, const std::string& topic,
                          const std::function<std::string(std::int64_t seq, const std::string& msg_id)>& make_payload,
                          TimestampMs now);
  // Up to `n` oldest messages with seq > after_seq.
  Result<std::vector<OutboxRow>> peek(std::int64_t after_seq, int n);
  // Removes a delivered message (no-op if already gone).
  Status remove(std::int64_t seq);

  std::size_t rows() const;
  std::size_t bytes() const;
  std::size_t max_bytes() const { return max_bytes_; }
  std::uint64_t dropped(Kind k) const;
  std::map<std::string, std::uint64_t> dropped_by_kind() const;

 private:
  Outbox(Store& store, std::size_t max_bytes, MetricsRegistry& metrics);
  Status evict_for(sql::Db& db, std::size_t need, Kind incoming, int& evicted, bool& fits);
  void count_drop(Kind k, std::uint64_t n);

  Store& store_;
  std::size_t max_bytes_;
  MetricsRegistry& metrics_;
  mutable std::mutex mu_;  // serialises push/remove and the size bookkeeping
  std::size_t rows_ = 0, bytes_ = 0;
  std::map<Kind, Counter*> dropped_;
  std::map<Kind, std::uint64_t> pending_drops_;  // evictions of the transaction under way
};

// A random RFC 4122 version 4 UUID ("0b6f…-4…-[89ab]…").
std::string uuid_v4();

}  // namespace vigil::uplink
