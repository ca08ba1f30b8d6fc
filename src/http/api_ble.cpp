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
//   GET /api/v1/sensors/{id}/config    desired and reported configuration
//   PUT /api/v1/sensors/{id}/config    a new desired configuration (admin):
//                                       applied over GATT at the sensor's
//                                       next connection window (sensor_config.h)
//   /api/v1/health components["ble"]   scanner state (scanning, no_adapter,
//                                       adapter_off, bluez_unavailable, ...)
//
// http comes after ble in the module order, so the routes live here and
// reach the BLE module only through its public headers. Keys are never
// returned.
#include "ble/ble_service.h"
#include "ble/sensor_config.h"
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
  router.add("GET", "/api/v1/sensors/{id}/config", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, auth::Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id || *id <= 0) return problem(404, "not_found", "no sensor " + req.params.at("id").substr(0, 64));
    auto s = ctx.store->sensor(*id);
    if (!s) return from_status(s.status());
    auto rec = ble::load_sensor_config(*ctx.store, *id);
    if (!rec) return from_status(rec.status());
    if (!*rec) return ok(json{{"sensor_id", *id}, {"state", nullptr}, {"desired", nullptr}, {"reported", nullptr}});
    return ok(ble::to_json(**rec));
  });
  router.add("PUT", "/api/v1/sensors/{id}/config", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, auth::Role::kAdmin);
    auto id = to_int(req.params.at("id"));
    if (!id || *id <= 0) return problem(404, "not_found", "no sensor " + req.params.at("id").substr(0, 64));
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"measurement_interval_s", "waveform_interval_min", "tx_power_dbm"})) return *e;
    auto s = ctx.store->sensor(*id);
    if (!s) return from_status(s.status());
    if (s->decommissioned_at) return problem(409, "decommissioned", "sensor " + std::to_string(*id) + " is decommissioned");
    if (s->address.rfind("sim:", 0) == 0)
      return problem(409, "not_configurable", "a simulated sensor has no configuration service");
    // Fields left out keep their desired (or default) value.
    auto prev = ble::load_sensor_config(*ctx.store, *id);
    if (!prev) return from_status(prev.status());
    protocol::SensorConfig c = *prev ? (*prev)->desired : protocol::SensorConfig{};
    auto field = [&](const char* key, auto& out, long long lo, long long hi) -> std::optional<Response> {
      auto it = body.find(key);
      if (it == body.end()) return std::nullopt;
      if (!it->is_number_integer() || it->get<long long>() < lo || it->get<long long>() > hi ||
          (it->is_number_unsigned() && it->get<unsigned long long>() > static_cast<unsigned long long>(hi)))
        return field_problem(key, std::string(key) + " must be an integer " + std::to_string(lo) + ".." +
                                      std::to_string(hi));
      out = static_cast<std::remove_reference_t<decltype(out)>>(it->get<long long>());
      return std::nullopt;
    };
    if (auto e = field("measurement_interval_s", c.measurement_interval_s, protocol::kMinMeasurementIntervalS,
                       protocol::kMaxMeasurementIntervalS))
      return *e;
    if (auto e = field("waveform_interval_min", c.waveform_interval_min, protocol::kMinWaveformIntervalMin,
                       protocol::kMaxWaveformIntervalMin))
      return *e;
    if (auto e = field("tx_power_dbm", c.tx_power_dbm, -20, 4)) return *e;
    if (auto v = protocol::validate_sensor_config(c); !v.ok()) {
      const std::string& m = v.message();
      const char* f = m.rfind("tx_power_dbm", 0) == 0 ? "tx_power_dbm" : "waveform_interval_min";
      return field_problem(f, m);
    }
    auto rec = ble::set_desired_config(*ctx.store, *id, s->address, c, who.name, ctx.clock->now_ms());
    if (!rec) return from_status(rec.status());
    Response r = ok(ble::to_json(*rec));
    r.status = 202;
    return r;
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
