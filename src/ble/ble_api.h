// SPDX-License-Identifier: Apache-2.0
//
// REST routes of the BLE module, registered on the gateway's Router:
//
//   GET /api/v1/sensors/discovered     (route owned by http; filled here via
//                                       ApiContext::discovered_sensors)
//   GET /api/v1/sensors/{id}/health    one commissioned sensor's BLE health
//   GET /api/v1/ble/health             every commissioned sensor's health
//   /api/v1/health components["ble"]   scanner state (scanning, no_adapter,
//                                       adapter_off, bluez_unavailable, ...)
//
// Header-only on purpose: the http module comes after ble in the module
// order, so vigil_ble does not link it; only the gateway (which links both)
// includes this file. Keys are never returned.
#pragma once

#include <nlohmann/json.hpp>

#include "ble/ble_service.h"
#include "http/api.h"
#include "http/api_internal.h"

namespace vigil::ble {

inline nlohmann::json persisted_health(Store& store, Id sensor_id) {
  nlohmann::json j = nullptr;
  (void)store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare(
        "SELECT s.address, s.name, s.position_id, s.decommissioned_at, h.last_seen, h.rssi_dbm, h.battery_pct, "
        "h.adverts, h.frames_accepted, h.counter_resets, h.rejected_json, h.waveforms, h.last_waveform "
        "FROM sensors s LEFT JOIN ble_sensor_health h ON h.sensor_id = s.id WHERE s.id = ?");
    if (!q) return q.status();
    (*q)->bind(1, sensor_id);
    auto row = (*q)->step();
    if (!row) return row.status();
    if (*row) {
      auto& s = **q;
      auto rej = nlohmann::json::parse(s.is_null(10) ? std::string("{}") : s.text(10), nullptr, false);
      j = {{"sensor_id", sensor_id},
           {"address", s.text(0)},
           {"name", s.text(1)},
           {"position_id", s.is_null(2) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(2))},
           {"decommissioned", !s.is_null(3)},
           {"last_seen", s.is_null(4) || s.i64(4) == 0 ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(4)))},
           {"rssi_dbm", s.is_null(5) ? nlohmann::json(nullptr) : nlohmann::json(s.i64(5))},
           {"battery_pct", s.is_null(6) ? nlohmann::json(nullptr) : nlohmann::json(s.f64(6))},
           {"adverts", s.is_null(7) ? 0 : s.i64(7)},
           {"frames_accepted", s.is_null(8) ? 0 : s.i64(8)},
           {"counter_resets", s.is_null(9) ? 0 : s.i64(9)},
           {"frames_rejected", rej.is_object() ? rej : nlohmann::json::object()},
           {"waveforms", s.is_null(11) ? 0 : s.i64(11)},
           {"last_waveform", s.is_null(12) ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(s.i64(12)))}};
    }
    (*q)->reset();
    return Status::Ok();
  });
  return j;
}

inline void register_ble_api(http::Router& router, http::ApiContext& ctx, BleService& svc) {
  using nlohmann::json;
  ctx.components["ble"] = [&svc] {
    json j = svc.scanner().status_json();
    j["events_dropped"] = svc.events_dropped();
    return j;
  };
  ctx.discovered_sensors = [&svc] {
    json arr = json::array();
    for (const auto& d : svc.scanner().discovered()) arr.push_back(to_json(d));
    return arr;
  };
  router.add("GET", "/api/v1/sensors/{id}/health", [&ctx, &svc](const http::Request& req) {
    auto who = http::detail::require(ctx, req, auth::Role::kViewer);
    if (auto* refused = std::get_if<http::Response>(&who)) return *refused;
    auto id = http::detail::to_int(req.params.at("id"));
    if (!id) return http::problem(400, "bad_id", "sensor id must be an integer");
    if (auto h = svc.scanner().health(*id)) {
      json j = to_json(*h);
      j["decommissioned"] = false;
      return http::detail::ok(j);
    }
    json j = persisted_health(*ctx.store, *id);
    if (j.is_null()) return http::problem(404, "not_found", "no sensor " + std::to_string(*id));
    return http::detail::ok(j);
  });
  router.add("GET", "/api/v1/ble/health", [&ctx, &svc](const http::Request& req) {
    auto who = http::detail::require(ctx, req, auth::Role::kViewer);
    if (auto* refused = std::get_if<http::Response>(&who)) return *refused;
    json sensors = json::array();
    for (const auto& h : svc.scanner().health_all()) sensors.push_back(to_json(h));
    json j = svc.scanner().status_json();
    j["events_dropped"] = svc.events_dropped();
    j["sensors"] = sensors;
    return http::detail::ok(j);
  });
}

}  // namespace vigil::ble
