// SPDX-License-Identifier: Apache-2.0
//
// The fleet filter language (GET /api/v1/fleet/search?q=…): terms separated
// by spaces, all of which must hold (AND).
//
//   battery<20          the sensor's latest battery_pct (unknown: no match)
//   firmware<1.3        the firmware version it last advertised, compared
//                       numerically part by part (unknown: no match)
//   no_data>2h          nothing from it for longer than 2 h (never: matches);
//                       no_data<2h: heard within 2 h. Units s, m, h, d.
//   criticality=A       a tag on the sensor, its position or its asset
//   line!=2             no such tag on any of them
//
// Operators: < <= > >= = != (tags: = and != only). Bounded: at most
// kMaxQueryBytes of text and kMaxTerms terms; a bad term is an error naming
// it. The language is pure functions, no I/O; FleetCatalog below is what the
// route reads from the Store, cached across requests.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/model.h"
#include "vigil/status.h"

namespace vigil {
class Store;
}

namespace vigil::http {

inline constexpr std::size_t kMaxQueryBytes = 512;
inline constexpr std::size_t kMaxTerms = 16;

struct FleetTerm {
  enum class Field { kBattery, kFirmware, kNoData, kTag };
  enum class Op { kLt, kLe, kGt, kGe, kEq, kNe };
  Field field = Field::kTag;
  Op op = Op::kEq;
  std::string text;                 // the term as written (for messages)
  std::string key;                  // tag key
  std::string value;                // tag value
  double number = 0;                // battery %
  std::vector<std::uint32_t> version;  // firmware
  TimestampMs duration_ms = 0;      // no_data
};

struct FleetQuery {
  std::vector<FleetTerm> terms;  // empty: everything matches
};

// The error when a term is malformed (term = the term as written).
struct FleetQueryError {
  std::string term;
  std::string message;
};

// nullopt error on success.
std::optional<FleetQueryError> parse_fleet_query(std::string_view q, FleetQuery& out);

// "1.3.0" → {1, 3, 0}; nullopt when not 1..4 dot-separated numbers (≤ 9 digits each).
std::optional<std::vector<std::uint32_t>> parse_version(std::string_view v);
// <0, 0, >0; missing parts count as 0 (1.3 == 1.3.0).
int compare_versions(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b);

// What one sensor offers the query.
struct FleetSubject {
  std::optional<double> battery_pct;
  std::optional<std::string> firmware;
  std::optional<TimestampMs> last_data;
  std::vector<std::pair<std::string, std::string>> tags;  // its own, its position's and its asset's
};

bool fleet_matches(const FleetQuery& q, const FleetSubject& s, TimestampMs now);

// ---- what the search reads (GET /api/v1/fleet/search, issue 18) ----
//
// The catalog side of every sensor the search lists (not decommissioned, on
// a live position or none), flattened once so a search is a scan of memory:
// the catalog reads and the joins are done per catalog change, not per
// request. Readings (battery_pct, last data) are not in it: the route reads
// them per request from the Store's in-memory latest points (`series`).
struct FleetEntry {
  Id id = 0;
  std::string address, name;
  std::optional<Id> position_id, asset_id;
  std::string position, asset;  // names ("" when none)
  std::optional<std::string> firmware;
  // The sensor's own tags, then its position's, then its asset's (the order
  // the answer's `tags` object prefers a key in).
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<Id> series;          // every series of the sensor (last data)
  std::vector<Id> battery_series;  // those of metric battery_pct
};
// The answer's catalog members of a sensor as JSON object members without
// the braces ("id":…,"address":…,"name":…,"position_id":…,"position":…,
// "asset_id":…,"asset":…,"firmware":…,"tags":{…}; a tag key's first
// occurrence wins); the route appends battery_pct and last_data. Written
// directly, not through a json object: a search may list 10,000 sensors.
std::string fleet_answer_members(const FleetEntry& e);
struct FleetCatalog {
  std::vector<FleetEntry> sensors;  // in Store::sensors() order
};
// Five plain scans (live assets, live positions, sensors in service, every
// tag, every series: only the columns the search needs) on one reader
// connection in one read transaction, so the catalog is one snapshot; the
// joins are done in memory on id-indexed arrays. The same entries as the
// Store API reads (sensors, positions, assets, all_tags, sensor_firmware,
// series) joined, in the same order. size_hint: the sensors expected, only
// to reserve (capped at kMaxFleetSizeHint; the cache passes the last
// catalog's size); 0: none.
inline constexpr std::size_t kMaxFleetSizeHint = 1'000'000;
Result<std::shared_ptr<const FleetCatalog>> load_fleet_catalog(Store& store, std::size_t size_hint = 0);

// One FleetCatalog per catalog generation (Store::catalog_generation(): it
// moves after every write to the catalog, not with readings), so an answer
// never misses a catalog change made before the request, while the stream of
// readings does not force a reload; loaded by one request at a time, shared
// by all. A reload writes into the stale catalog when no request holds it
// any more (reusing its memory), else into a new one. Thread-safe.
class FleetCatalogCache {
 public:
  Result<std::shared_ptr<const FleetCatalog>> get(Store& store);

 private:
  std::mutex load_mu_;  // one loader at a time
  std::mutex mu_;       // guards the two below
  // Handed out as const; mutable here so a reload can reuse it once no
  // request holds it (get()).
  std::shared_ptr<FleetCatalog> catalog_;
  std::uint64_t generation_ = 0;
};

}  // namespace vigil::http
