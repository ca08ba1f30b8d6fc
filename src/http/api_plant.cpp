// SPDX-License-Identifier: Apache-2.0
#include "http/api_plant.h"

#include "http/api_internal.h"

#include <spdlog/spdlog.h>

#include <memory>

namespace vigil::http {

using namespace detail;

namespace detail {
Response fleet_for_plant(ApiContext& ctx);  // api.cpp
}

Result<json> fleet_document(ApiContext& ctx) {
  Response r = detail::fleet_for_plant(ctx);
  if (r.status != 200) return Status::Unavailable("fleet: HTTP " + std::to_string(r.status) + ": " + r.body);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::Internal("fleet: unparsable document");
  return j;
}

namespace {
std::optional<Response> get_id(const json& j, const char* key, std::optional<Id>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || (it->is_number_unsigned() ? it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
                                                            : it->get<std::int64_t>() <= 0))
    return problem(422, "bad_field", std::string(key) + " must be a positive integer id");
  out = it->get<Id>();
  return std::nullopt;
}

Response commands_off() {
  return problem(409, "plant_commands_off",
                 "commands between gateways are off: set plant.id, uplink.enabled and plant.command_key_file");
}

Response send_problem(const Status& s) {
  if (s.code() == Status::Code::kInvalidArgument) return problem(422, "bad_field", s.message());
  if (s.code() == Status::Code::kUnavailable) return problem(503, "broker_unreachable", s.message());
  return from_status(s);
}

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}
}  // namespace

void register_plant_api(Router& router, ApiContext& ctx, PlantApi plant_in) {
  auto plant = std::make_shared<const PlantApi>(std::move(plant_in));

  // Ask another gateway (or this one) to apply a sensor lifecycle call.
  router.add("POST", "/api/v1/plant/commands", [&ctx, plant](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!plant->send_command) return commands_off();
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"gateway", "method", "path", "body"})) return *e;
    std::string gw, method = "POST", path;
    if (auto e = get_string(body, "gateway", gw, true)) return *e;
    if (auto e = get_string(body, "method", method, false)) return *e;
    if (auto e = get_string(body, "path", path, true)) return *e;
    json inner = body.contains("body") ? body["body"] : json();
    auto id = plant->send_command(gw, method, path, inner, who.name, nullptr);
    if (!id) return send_problem(id.status());
    auto c = plant->command(*id);
    return Response::json(202, json_text(c ? *c : json{{"id", *id}, {"state", "pending"}}));
  });

  router.add("GET", "/api/v1/plant/commands", [&ctx, plant](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    // Off: an empty list that says so (the page shows why), not an error.
    if (!plant->commands) return ok({{"enabled", false}, {"commands", json::array()}});
    return ok({{"enabled", true}, {"commands", plant->commands()}});
  });

  router.add("GET", "/api/v1/plant/commands/{id}", [&ctx, plant](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    // Off: no command was sent from here, so none by that id either.
    auto c = plant->command ? plant->command(req.params.at("id")) : std::nullopt;
    if (!c) return problem(404, "not_found", "no command " + req.params.at("id").substr(0, 64) + " sent from here");
    return ok(*c);
  });

  // Re-assign a sensor of this gateway to another gateway of the plant: its
  // address and key travel sealed to the other gateway, which commissions it
  // on one of its positions; only when that succeeded is the sensor
  // decommissioned here (its history stays here, where it was measured).
  router.add("POST", "/api/v1/sensors/{id}/reassign", [&ctx, plant](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = to_int(req.params.at("id"));
    if (!id || *id <= 0) return problem(400, "invalid_argument", "sensor id must be a positive integer");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"gateway", "position_id", "name"})) return *e;
    std::string gw;
    std::optional<Id> position;
    if (auto e = get_string(body, "gateway", gw, true)) return *e;
    if (auto e = get_id(body, "position_id", position)) return *e;
    if (gw == plant->gateway_id)
      return problem(422, "bad_field", "gateway: the sensor is on this gateway already (use /move)");
    struct Row {
      std::string address, format, name, key;
      bool decommissioned = false;
    };
    std::optional<Row> row;
    auto rs = ctx.store->read([&](sql::Db& db) -> Status {
      auto q = db.prepare("SELECT address, format, name, key, decommissioned_at IS NOT NULL FROM sensors WHERE id = ?");
      if (!q) return q.status();
      (*q)->bind(1, *id);
      auto r = (*q)->step();
      if (!r) return r.status();
      if (*r) {
        auto k = (*q)->blob(3);
        row = Row{(*q)->text(0), (*q)->text(1), (*q)->text(2), std::string(k.begin(), k.end()), (*q)->i64(4) != 0};
      }
      (*q)->reset();
      return Status::Ok();
    });
    if (!rs.ok()) return from_status(rs);
    if (!row) return problem(404, "not_found", "no sensor " + std::to_string(*id));
    if (!plant->send_command) return commands_off();
    if (row->decommissioned) return problem(409, "decommissioned", "sensor " + std::to_string(*id) + " is decommissioned here");
    json cmd = {{"address", row->address}, {"format", row->format}};
    std::string name = row->name;
    if (auto e = get_string(body, "name", name, false)) return *e;
    if (!name.empty()) cmd["name"] = name;
    if (!row->key.empty()) cmd["key"] = hex(row->key);
    if (position) cmd["position_id"] = *position;
    const Id sensor_id = *id;
    const std::string actor = who.name;
    ApiContext* c = &ctx;
    auto sent = plant->send_command(
        gw, "POST", "/api/v1/sensors", cmd, actor, [c, sensor_id, actor, gw](int status, const json& answer) {
          if (status < 200 || status >= 300) {
            spdlog::warn("plant: re-assigning sensor {} to {} failed ({}): it stays here", sensor_id, gw,
                         answer.dump().substr(0, 300));
            return;
          }
          auto st = c->store->decommission_sensor(sensor_id, actor);
          if (!st.ok()) spdlog::error("plant: sensor {} re-assigned to {} but not decommissioned here: {}", sensor_id, gw, st.ToString());
          (void)c->store->audit(actor, "sensor.reassigned", "sensor/" + std::to_string(sensor_id), "to gateway " + gw);
          if (c->ingest) c->ingest->invalidate_sensors();
          if (c->catalog_changed) c->catalog_changed();
        });
    if (!sent) return send_problem(sent.status());
    audit(ctx, who, "sensor.reassign", "sensor/" + std::to_string(sensor_id), "to gateway " + gw + " command " + *sent);
    auto st = plant->command(*sent);
    return Response::json(202, json_text(st ? *st : json{{"id", *sent}, {"state", "pending"}}));
  });

  router.add("GET", "/api/v1/plant", [&ctx, plant](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (plant->snapshot) {
      json j = plant->snapshot();
      j["commands"] = static_cast<bool>(plant->send_command);
      return ok(j);
    }
    json self = {{"id", plant->gateway_id}, {"name", plant->gateway_name}, {"online", true},
                 {"self", true},            {"url", plant->url},            {"assets", json::array()}};
    return ok({{"plant_id", nullptr}, {"gateway_id", plant->gateway_id}, {"gateways", json::array({self})},
               {"commands", false}});
  });
}

}  // namespace vigil::http
