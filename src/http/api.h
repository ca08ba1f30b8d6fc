// SPDX-License-Identifier: Apache-2.0
//
// The REST API v1 handlers (JSON) and /metrics. Pure: they read the Store and
// registry passed in the context and return Responses; no sockets.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "http/http_types.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::http {

enum class Role { kViewer = 0, kTechnician = 1, kAdmin = 2 };

struct ApiContext {
  Store* store = nullptr;
  Ingest* ingest = nullptr;
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
  std::string gateway_id;
  std::string gateway_name;
  TimestampMs started_at = 0;
  bool demo = false;
  // Extra health components ("ble", "uplink", …): name → status JSON.
  std::map<std::string, std::function<nlohmann::json()>> components;
  // Current health state of a position / asset (analytics). Default: unknown.
  std::function<std::string(Id position_id)> position_state;
  // Authorisation hook: returns a Response (401/403) to refuse, or nullopt to
  // allow. Absent = every request allowed (no auth module wired).
  std::function<std::optional<Response>(const Request&, Role)> authorize;
};

// Registers /api/v1/{health,sites,assets,positions,series,sensors} and /metrics.
void register_api(Router& router, ApiContext& ctx);

// "2026-11-23T16:24:00.000Z"
std::string iso8601(TimestampMs ts);

}  // namespace vigil::http
