// SPDX-License-Identifier: Apache-2.0
//
// Plant commands: one gateway's dashboard asks another gateway of the plant
// to make a change only the owner may make — commission, move, replace,
// decommission or re-assign one of its sensors, or list what its radio hears
// (docs/plant.md, "Commands between gateways"). The owner applies it through
// its own REST handler (the same checks, audit and caches as a local admin),
// as actor "plant:<from gateway>:<user>"; the sender audits what it sent.
//
// Topics (under the plant root, not retained):
//   vigil/plant/<plant>/gateways/<to>/cmd      commands for gateway <to>
//   vigil/plant/<plant>/gateways/<from>/result results for the sender
//
// Envelope (JSON, at most kMaxPlantCommandBytes):
//   {"v": 1, "type": "vigil.plant.command" | "vigil.plant.result",
//    "plant_id", "from", "to", "id", "ts_ms", "sealed": hex(nonce | ciphertext | tag)}
// The sealed part is AES-256-GCM under the plant's command key (config
// plant.command_key_file, the same 32 bytes on every gateway) with the
// envelope's other fields as associated data, so the broker and anyone who
// may publish on it can neither read a sensor key in transit nor forge,
// alter or redirect a command. Commands are refused when older or newer
// than max_skew_ms against the receiver's clock or when their (from, id)
// was seen before (replays), when the route is not one of the few a plant
// may call (allowed_remote_route), or when they name another plant or
// gateway. Every refusal is counted in
// vigil_plant_commands_rejected_total{reason} and logged; nothing is applied.
//
// Thread-safety: PlantCommands' methods may be called from any thread (one
// internal mutex; publish and apply are called without it held).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vigil/metrics_registry.h"
#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil::uplink {

inline constexpr std::size_t kMaxPlantCommandBytes = 256 * 1024;      // one envelope (hex doubles the sealed part)
inline constexpr std::size_t kMaxPlantCommandBodyBytes = 16 * 1024;   // a request: method, path, body, actor
inline constexpr std::size_t kMaxPlantResultBodyBytes = 96 * 1024;    // an answer's body (larger: {"truncated"})
using PlantKey = std::array<std::uint8_t, 32>;

// vigil/plant/<plant>/gateways/<gw>/cmd and …/result
std::string plant_command_topic(const std::string& plant_id, const std::string& gateway_id);
std::string plant_result_topic(const std::string& plant_id, const std::string& gateway_id);

// The key file: 64 hex digits (whitespace around them ignored). Errors name
// the file; a key of all zeros is refused.
Result<PlantKey> read_plant_key(const std::string& path);

// A REST call carried to another gateway.
struct RemoteRequest {
  std::string method;  // "GET" | "POST" | "PATCH"
  std::string path;    // "/api/v1/sensors/12/move"
  nlohmann::json body; // object or null
};
// The routes another gateway of the plant may call: sensor lifecycle and
// what the radio hears. Everything else is refused before it is sealed and
// again after it is opened.
bool allowed_remote_route(const std::string& method, const std::string& path);

// AES-256-GCM seal/open with associated data (pure; nonce from the OS's CSPRNG).
Result<std::string> seal_hex(const PlantKey& key, const std::string& plain, const std::string& aad);
Result<std::string> open_hex(const PlantKey& key, const std::string& sealed_hex, const std::string& aad);

struct PlantCommandOptions {
  std::string plant_id, gateway_id;
  PlantKey key{};
  TimestampMs max_skew_ms = 5 * 60'000;     // clocks of a plant's gateways agree to within this
  TimestampMs answer_timeout_ms = 30'000;   // a command without a result by then is "no_answer"
  std::size_t max_kept = 256;               // commands this gateway sent, kept for the API
  std::size_t max_seen = 4096;              // (from, id) remembered against replays
};

class PlantCommands {
 public:
  // Publishes one message (not retained); Unavailable when the link is down.
  using Publish = std::function<Status(const std::string& topic, const std::string& payload)>;
  // Applies a request on this gateway as `actor`; returns (HTTP status, body).
  using Apply = std::function<std::pair<int, nlohmann::json>(const RemoteRequest&, const std::string& actor)>;
  // An audit row on this gateway (the sender's record of what it asked).
  using Audit = std::function<void(const std::string& actor, const std::string& action, const std::string& target,
                                   const std::string& detail)>;

  PlantCommands(PlantCommandOptions o, Publish publish, Apply apply, Audit audit,
                MetricsRegistry& metrics = MetricsRegistry::global());

  // Sends `req` to gateway `to` as `actor` (a user name) and returns the
  // command id. A command for this very gateway is applied at once.
  // InvalidArgument: route not allowed, body too large, bad gateway id;
  // Unavailable: the link to the broker is down.
  // `then` (optional) runs once with the answer's HTTP status and body when
  // it arrives (on the thread that delivers it, without locks held).
  using Then = std::function<void(int status, const nlohmann::json& body)>;
  Result<std::string> send(const std::string& to, const RemoteRequest& req, const std::string& actor,
                           TimestampMs now, Then then = {});
  // A message on our command or result topic (`now` = wall clock, ms).
  // Returns false when it was refused (counted; reason in `why`).
  bool on_message(const std::string& topic, const std::string& payload, TimestampMs now,
                  std::string* why = nullptr);

  // Commands this gateway sent, newest first: {"id", "to", "method", "path",
  // "actor", "sent_at", "state": "pending"|"applied"|"failed"|"no_answer",
  // "status", "result", "answered_at"}.
  nlohmann::json list(TimestampMs now) const;
  std::optional<nlohmann::json> get(const std::string& id, TimestampMs now) const;
  const PlantCommandOptions& options() const { return o_; }

 private:
  struct Sent {
    std::string id, to, actor;
    RemoteRequest req;
    TimestampMs sent_at = 0;
    std::optional<TimestampMs> answered_at;
    int status = 0;
    nlohmann::json result;
    Then then;
  };
  bool on_command(const nlohmann::json& env, TimestampMs now, std::string* why);
  bool on_result(const nlohmann::json& env, TimestampMs now, std::string* why);
  bool reject(const std::string& reason, const std::string& detail, std::string* why);
  bool remember(const std::string& from, const std::string& id, TimestampMs now);  // false = seen before
  void keep(Sent s);
  nlohmann::json render(const Sent& s, TimestampMs now) const;

  PlantCommandOptions o_;
  Publish publish_;
  Apply apply_;
  Audit audit_;
  MetricsRegistry& metrics_;
  Counter* sent_;
  Counter* applied_;
  mutable std::mutex mu_;
  std::deque<Sent> sent_list_;                       // newest at the back, ≤ max_kept
  std::map<std::string, TimestampMs> seen_;          // "from\nid" → ts_ms
  std::deque<std::pair<TimestampMs, std::string>> seen_order_;
  std::uint64_t seq_ = 0;
};

// The envelope's associated data (every field but "sealed"), canonical.
std::string plant_command_aad(const std::string& type, const std::string& plant_id, const std::string& from,
                              const std::string& to, const std::string& id, TimestampMs ts_ms);

}  // namespace vigil::uplink
