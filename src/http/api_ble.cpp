// SPDX-License-Identifier: Apache-2.0
//
// REST routes of the BLE module, registered on the gateway's Router:
//
//   GET /api/v1/sensors/discovered     (route in api.cpp; filled here via
//                                       ApiContext::discovered_sensors)
//   GET /api/v1/sensors                (route in api.cpp; heard_via, RSSI,
//                                       frames_lost, loss_ratio via
//                                       ApiContext::sensors_heard)
//   GET /api/v1/sensors/{id}/health    one commissioned sensor's BLE health
//   GET /api/v1/ble/health             every commissioned sensor's health
//   /api/v1/health components["ble"]   scanner state (scanning, no_adapter,
//                                       adapter_off, bluez_unavailable, ...)
//
// http comes after ble in the module order, so the routes live here and
// reach the BLE module only through its public headers. Keys are never
// returned.
#include "ble/ble_service.h"
#include "http/api_internal.h"

namespace vigil::http {

using namespace detail;

void register_ble_api(Router& router, ApiContext& ctx, ble::BleService& svc) {
  using nlohmann::json;
  ctx.components["ble"] = [&svc] {
    json j = svc.scanner().status_json();
    j["events_dropped"] = svc.events_dropped();
    return j;
  };
  ctx.discovered_sensors = [&svc] {
    json arr = json::array();
    for (const auto& d : svc.scanner().discovered()) arr.push_back(ble::to_json(d));
    return arr;
  };
  ctx.sensors_heard = [&svc] {
    std::map<Id, json> out;
    for (const auto& h : svc.scanner().health_all()) {
      if (h.heard_via.empty() || !h.last_seen) continue;
      out[h.sensor_id] = {{"heard_via", h.heard_via},
                          {"rssi_dbm", h.rssi_dbm ? json(*h.rssi_dbm) : json(nullptr)},
                          {"heard_at", iso8601(h.last_seen)},
                          {"frames_lost", h.frames_lost},
                          {"loss_ratio", h.loss_ratio ? json(*h.loss_ratio) : json(nullptr)}};
    }
    return out;
  };
  router.add("GET", "/api/v1/sensors/{id}/health", [&ctx, &svc](const Request& req) {
    auto who = require(ctx, req, auth::Role::kViewer);
    if (auto* refused = std::get_if<Response>(&who)) return *refused;
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "bad_id", "sensor id must be an integer");
    if (auto h = svc.scanner().health(*id)) {
      json j = ble::to_json(*h);
      j["decommissioned"] = false;
      return ok(j);
    }
    auto stored = ble::persisted_health(*ctx.store, *id);
    if (!stored) return from_status(stored.status());
    const json& j = *stored;
    if (j.is_null()) return problem(404, "not_found", "no sensor " + std::to_string(*id));
    return ok(j);
  });
  router.add("GET", "/api/v1/ble/health", [&ctx, &svc](const Request& req) {
    auto who = require(ctx, req, auth::Role::kViewer);
    if (auto* refused = std::get_if<Response>(&who)) return *refused;
    json sensors = json::array();
    for (const auto& h : svc.scanner().health_all()) sensors.push_back(ble::to_json(h));
    json j = svc.scanner().status_json();
    j["events_dropped"] = svc.events_dropped();
    j["sensors"] = sensors;
    return ok(j);
  });
}

}  // namespace vigil::http
