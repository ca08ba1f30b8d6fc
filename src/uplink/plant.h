// SPDX-License-Identifier: Apache-2.0
//
// The plant view: gateways with the same plant id on the same broker (the
// uplink's) see each other (docs/plant.md). No central process and no shared
// database: each gateway publishes one retained, versioned "reported" state
// document, QoS 1, on
//
//   vigil/plant/<plant_id>/gateways/<gateway_id>/state
//
// and sets a retained last will {"v":1, "online": false, …} on the same topic,
// so the broker marks it offline within 1.5 × keep-alive when it vanishes.
// Every gateway subscribes to vigil/plant/<plant_id>/gateways/+/state and
// keeps the newest document of each gateway in a bounded map (PlantView);
// retained messages rebuild that map after a restart of any gateway or of
// the broker.
//
// Bad input is counted (vigil_plant_messages_dropped_total{reason}) and
// dropped, never kept: oversized or malformed JSON, a wrong schema version,
// a document naming another plant or another gateway than its topic, more
// gateways than max_gateways.
//
// Thread-safety: PlantView's methods may be called from any thread (one
// internal mutex). Pure functions are thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "vigil/metrics_registry.h"
#include "vigil/model.h"

namespace vigil::uplink {

inline constexpr int kPlantSchemaVersion = 1;
inline constexpr std::size_t kMaxPlantDocBytes = 64 * 1024;  // one gateway's state document

// vigil/plant/<plant>
std::string plant_root(const std::string& plant_id);
// vigil/plant/<plant>/gateways/<gw>/state
std::string plant_state_topic(const std::string& plant_id, const std::string& gateway_id);
// vigil/plant/<plant>/gateways/+/state
std::string plant_state_filter(const std::string& plant_id);
// The retained last will: the gateway is offline (and nothing else is known).
std::string plant_will_payload(const std::string& plant_id, const std::string& gateway_id);

// MQTT topic-filter matching (+ one level, # the rest, including the parent).
bool topic_matches(const std::string& filter, const std::string& topic);

// This gateway as the plant sees it.
struct GatewayInfo {
  std::string plant_id, gateway_id, name, version, url;
  int state_interval_s = 60;
};
// The "reported" state document (docs/plant.md), from the fleet JSON
// (GET /api/v1/fleet's shape: sites[].assets[].positions[]), compacted:
//   {"v": 1, "type": "vigil.plant.state", "plant_id", "gateway_id", "name",
//    "version", "url", "online": true, "ts", "ts_ms", "state_interval_s",
//    "assets": [{"id", "name", "site", "state", "triage_state",
//                "open_alerts", "last_seen",
//                "positions": [{"id", "name", "state", "triage_state",
//                               "active_alerts", "last_seen"}]}],
//    "open_alerts", "last_measurement", "truncated"}
// Assets are dropped from the end (worst first, so the healthiest go) until
// the document fits max_bytes; "truncated" says so.
// `alerts` (optional): this gateway's active alerts, each {"id", "asset_id",
// "position_id", "severity", "status", "title", "opened_at"}; the document
// carries the kMaxPlantAlerts worst (alarms first, then newest) as
// "alerts", so every dashboard of the plant lists them — and, being part
// of the retained document, they survive any restart.
inline constexpr std::size_t kMaxPlantAlerts = 50;
std::string plant_state_document(const GatewayInfo& self, const nlohmann::json& fleet, TimestampMs now,
                                 std::size_t max_bytes = kMaxPlantDocBytes,
                                 const nlohmann::json& alerts = nlohmann::json::array());

struct PlantOptions {
  std::string plant_id;    // non-empty
  std::string gateway_id;  // this gateway
  std::size_t max_gateways = 256;
  std::size_t max_doc_bytes = kMaxPlantDocBytes;
};

class PlantView {
 public:
  explicit PlantView(PlantOptions o, MetricsRegistry& metrics = MetricsRegistry::global());

  // One message on a plant state topic (`now` = wall clock, ms). Returns
  // true when it was kept; false when dropped (counted, reason in `why`).
  bool on_message(const std::string& topic, const std::string& payload, TimestampMs now,
                  std::string* why = nullptr);
  // This gateway's own current document (what it publishes).
  void set_self(nlohmann::json doc, TimestampMs now);

  // {"plant_id", "gateway_id" (this one), "gateways": [...]} — every gateway
  // (this one first, online), each {"id", "name", "online", "stale",
  // "last_seen", "url", "version", "assets", "open_alerts",
  // "last_measurement", "self"}. With `now` (wall ms), a gateway whose last
  // document is older than 3 of its state intervals + 30 s reads offline
  // and "stale" (its will may not have reached us, e.g. while our own link
  // was down).
  nlohmann::json snapshot(TimestampMs now = 0) const;
  std::size_t size() const;
  const PlantOptions& options() const { return o_; }
  std::uint64_t dropped(const std::string& reason) const;

 private:
  struct Entry {
    nlohmann::json doc;          // the newest full document (kept when a will follows)
    bool online = false;
    TimestampMs last_seen = 0;   // when a document (or the will) arrived
    int interval_s = 60;         // the gateway's state_interval_s
  };
  void drop(const std::string& reason, std::string* why);
  PlantOptions o_;
  MetricsRegistry& metrics_;
  Counter* accepted_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> gateways_;  // other gateways, by id
  nlohmann::json self_ = nlohmann::json::object();
  TimestampMs self_ts_ = 0;
};

}  // namespace vigil::uplink
