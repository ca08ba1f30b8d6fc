// SPDX-License-Identifier: Apache-2.0
//
// Uplink payloads (docs/uplink.md): JSON, one envelope for every message
//
//   {"schema": "vigil.uplink/1", "id": "<uuid v4>", "seq": 42, "type": "alert",
//    "gateway_id": "gw-1", "ts": "2026-…Z", "ts_ms": 1790000000000, "data": {…}}
//
// `id` is unique per message (de-duplication downstream; a resend after a
// lost PUBACK carries the same id and bytes); `seq` is the gateway's outbox
// order. Topics: <prefix>/{alert,state,summary,heartbeat,raw,reply}; commands
// come down on <prefix>/cmd/{ack,threshold,summary}.
//
// Thread-safety: pure functions, except build_summaries (reads the Store).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerts/alerts.h"
#include "analytics/pipeline.h"
#include "uplink/outbox.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

namespace vigil::uplink {

inline constexpr const char* kSchema = "vigil.uplink/1";

// "vigil/{gateway_id}" → "vigil/gw-1" (every occurrence; no trailing '/').
std::string expand_prefix(const std::string& pattern, const std::string& gateway_id);
// The topic of a kind: <prefix>/alert, …
std::string topic_for(const std::string& prefix, Kind k);

std::string envelope(Kind k, const std::string& msg_id, std::int64_t seq, const std::string& gateway_id,
                     TimestampMs ts, const nlohmann::json& data);
std::string iso8601_ms(TimestampMs ts);

// event: opened | escalated | acknowledged | muted | closed
nlohmann::json alert_data(const alerts::Alert& a, const std::string& event, const std::string& actor);
nlohmann::json state_data(const analytics::StateChange& c);
// Readings of one sensor at one timestamp (send_raw_readings).
nlohmann::json readings_data(std::span<const AcceptedReading> readings);
nlohmann::json waveform_data(const Waveform& w);

// One summary per position that has data or a state, for [from, to):
// min/max/mean/count of every metric series, the position's state and its
// sensor's health (last seen, battery, readings in the window).
Result<std::vector<nlohmann::json>> build_summaries(Store& store, const analytics::Pipeline* pipeline,
                                                    TimestampMs from, TimestampMs to,
                                                    std::optional<Id> only_position = std::nullopt);

// ---- commands down ----
struct Command {
  std::string name;    // ack | threshold | summary
  std::string id;      // the sender's command id (echoed in the reply)
  nlohmann::json args;  // validated payload
};
inline constexpr std::size_t kMaxCommandBytes = 4096;
// Accepts only <prefix>/cmd/<name> with a known name and a payload that
// matches that command exactly (docs/uplink.md); kInvalidArgument says why.
Result<Command> parse_command(const std::string& prefix, const std::string& topic, const std::string& payload);

}  // namespace vigil::uplink
