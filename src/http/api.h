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

#include "auth/auth.h"
#include "notify/notifier.h"
#include "http/events.h"
#include "http/http_types.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::ble {
class BleService;
}  // namespace vigil::ble
namespace vigil::alerts {
class AlertService;
struct Alert;
}  // namespace vigil::alerts

namespace vigil::rules {
class RulesEngine;
}  // namespace vigil::rules
namespace vigil::notify {
class Notifier;
}  // namespace vigil::notify

namespace vigil::http {

using Role = auth::Role;

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
  // allow. Absent = decided by `auth` below.
  std::function<std::optional<Response>(const Request&, Role)> authorize;

  // ---- auth (src/auth) ----
  // Users, sessions and tokens. Null = no authentication at all (unit tests
  // of plain handlers); every caller is then an anonymous admin.
  auth::AuthService* auth = nullptr;
  bool secure_cookies = false;  // TLS: cookies get the Secure attribute
  // Demo only: requests from a loopback address without credentials act as
  // a technician named "local" (see docs/security.md).
  bool loopback_technician = false;

  // ---- live updates ----
  EventHub* events = nullptr;

  // ---- alerts (src/alerts) ----
  // The alert lifecycle, the only writer of the alerts table: the alert
  // actions call it (absent: they answer 503). Alert events reach the live
  // stream through its observers (publish_alert), not through the handlers.
  alerts::AlertService* alerts = nullptr;
  // ---- rules and notifications (src/rules, src/notify; docs/notifications.md) ----
  // Null = the routes answer 503.
  rules::RulesEngine* rules = nullptr;
  // After a site, asset or position is created or changed (rules cache the
  // catalog: scopes, names, time zones).
  std::function<void()> catalog_changed;
  notify::Notifier* notifier = nullptr;
  // Channel validation needs the gateway's own address (no webhook to itself).
  notify::NotifierOptions notify_options;

  // ---- analytics hooks (wired by the gateway when present) ----
  // Spectra are read from the analytics' table (analytics::recent_spectra).
  // Per-model health of a position as JSON ({"state":…, "models":[…]}).
  std::function<std::optional<nlohmann::json>(Id position_id)> position_health;
  // A user asked a position to learn again (analytics::Pipeline::relearn;
  // POST /api/v1/positions/{id}/relearn). kUnavailable: busy, try again.
  // Absent: that route answers 503.
  std::function<Status(Id position_id)> relearn_position;
  // BLE devices heard but not commissioned (the BLE module), as JSON array.
  std::function<nlohmann::json()> discovered_sensors;
  // How each commissioned sensor was last heard (the BLE module): sensor id →
  // {"heard_via": "radio" | "relay:<topic>", "rssi_dbm", "heard_at", "frames_lost", "loss_ratio"}, for
  // the sensors heard since start. Absent: the list shows none of it.
  std::function<std::map<Id, nlohmann::json>()> sensors_heard;

  // ---- machine classes (analytics::MachineClasses, wired by the gateway) ----
  // Every ISO zone class scoring knows: built-in, configured and user.
  // Absent: /machine-classes answers 503 and asset classes are not checked;
  // without the put/delete hooks the classes are read-only (503 for writes).
  std::function<std::vector<MachineClass>()> machine_classes;
  // Adds or replaces a user class (kInvalidArgument: bad name or limits).
  std::function<Status(const std::string& name, const ZoneLimits& limits)> put_machine_class;
  // Removes a user class (kNotFound: unknown; kFailedPrecondition: built-in
  // or configured only, or still named by an asset).
  std::function<Status(const std::string& name)> delete_machine_class;
  // Asset data or class limits changed: the analytics drop what they cached
  // (Pipeline::invalidate_machines). Absent = nothing caches.
  std::function<void()> machines_changed;
};

// Registers every /api/v1 route and /metrics.
void register_api(Router& router, ApiContext& ctx);

// Adds the BLE module's routes (sensor health, discovered devices, the "ble"
// health component) backed by a running BleService, which must outlive the router.
void register_ble_api(Router& router, ApiContext& ctx, ble::BleService& svc);
// Pushes accepted readings to the EventHub as "reading" events (one per
// sensor and timestamp). Install with Ingest::on_readings.
void publish_readings(EventHub& hub, std::span<const AcceptedReading> readings);
// Pushes an alert change to the EventHub as an "alert" event (the alert as
// GET /api/v1/alerts/{id} shows it, without the names, plus "event").
// Install with AlertService::on_event.
void publish_alert(EventHub& hub, const alerts::Alert& alert, const std::string& event);
// The OpenAPI 3 document describing the routes register_api adds.
const nlohmann::json& openapi_document();

// "2026-11-23T16:24:00.000Z"
std::string iso8601(TimestampMs ts);

}  // namespace vigil::http
