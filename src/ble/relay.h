// SPDX-License-Identifier: Apache-2.0
//
// Relayed adverts: BLE advertisements that BLE-to-MQTT relays
// (OpenMQTTGateway, Theengs Gateway, vigil gateways of the same plant)
// publish as JSON, in the OpenMQTTGateway/Theengs shape (docs/plant.md):
//
//   {"id": "A4:C1:38:00:00:07", "rssi": -67,
//    "servicedatauuid": "0xfcd2", "servicedata": "4100a1b2…",
//    "manufacturerdata": "ffff5611…"}       // company id first, little endian
//
// Unknown fields (name, brand, decoded values, …) are ignored. A relayed
// advert becomes the DeviceProps a BlueZ PropertiesChanged would carry and
// enters the Scanner through the same road as the radio's adverts
// (Scanner::handle_relayed → FrameRouter → Decoder → Ingest), so keys,
// replay protection and de-duplication apply: a frame heard by the radio and
// by a relay, or by two relays, is stored once.
//
// Pure functions, thread-safe, no I/O.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ble/bluez_bus.h"
#include "vigil/status.h"

namespace vigil::ble {

inline constexpr std::size_t kMaxRelayJsonBytes = 4096;
inline constexpr std::size_t kMaxRelayPayloadBytes = 255;  // one extended advert's data

struct RelayedAdvert {
  std::string address;  // "AA:BB:CC:DD:EE:FF"
  DeviceProps props;    // address, rssi, service_data / manufacturer_data
  std::string via;      // "relay:<topic>"
  // When the relay says it heard the advert: the JSON's "time" (epoch
  // seconds or milliseconds, or ISO 8601 UTC "2026-12-02T10:00:00.123Z");
  // empty when absent or unreadable (latency then starts at receive time).
  std::optional<std::int64_t> published_ms;
  std::int64_t received_ms = 0;  // wall clock, set by the receiver
};

// Parses one relay message. Errors (kInvalidArgument) start with the reason
// used in vigil_ble_relay_rejected_total{reason}: oversized, malformed_json,
// bad_address, bad_hex, bad_uuid, bad_rssi, no_payload.
Result<RelayedAdvert> parse_relay_json(const std::string& payload, const std::string& topic);
// The reason word of a parse_relay_json error ("oversized", …).
std::string relay_reject_reason(const Status& s);

// The relay a message came from: its topic without a trailing device-address
// level ("home/OMG_1/BTtoMQTT/A4C138001901" → "home/OMG_1/BTtoMQTT"), so one
// relay is one source whatever sensor it heard.
std::string relay_source(const std::string& topic);

// Bounded relay rate: one token bucket per relay source (relay_source()),
// `rate_per_s` tokens a second, holding at most one second's worth (the
// burst). At most `max_sources` buckets: a full (idle) bucket is dropped to
// make room, since a fresh one is the same; when none is idle, new sources
// share one overflow bucket. Thread-safe; time is the caller's (ms).
class RelayRateLimiter {
 public:
  explicit RelayRateLimiter(double rate_per_s, std::size_t max_sources = 1024);
  // True when the message may pass (and takes its token).
  bool allow(const std::string& topic, std::int64_t now_ms);
  std::size_t sources() const;

 private:
  struct Bucket {
    double tokens;
    std::int64_t last_ms;
  };
  bool take(Bucket& b, std::int64_t now_ms);
  double rate_, burst_;
  std::size_t max_sources_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Bucket overflow_;
};

// Relay latency (publish → ingest) in fixed buckets, plus the recent
// samples' quantiles. Thread-safe.
class RelayLatency {
 public:
  static constexpr std::array<double, 10> kBucketsS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  static constexpr std::size_t kWindow = 1024;  // recent samples kept for quantiles
  // One relayed advert ingested at `ingested_ms` (negative latencies — clock
  // skew between relay and gateway — count as 0).
  void record(const RelayedAdvert& a, std::int64_t ingested_ms);
  void record_ms(std::int64_t latency_ms);
  // Cumulative count of samples <= kBucketsS[i]; index kBucketsS.size() = all.
  std::uint64_t bucket(std::size_t i) const;
  std::uint64_t count() const;
  std::uint64_t sum_ms() const;
  // q in [0,1] over the last kWindow samples, seconds; 0 with no samples.
  double quantile_s(double q) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBucketsS.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ms_{0};
  mutable std::mutex mu_;
  std::vector<std::int64_t> window_;
  std::size_t next_ = 0;
};

}  // namespace vigil::ble
