// SPDX-License-Identifier: Apache-2.0
//
// GET /api/v1/plant (viewer): every gateway of this gateway's plant
// (docs/plant.md), this one first. The plant view itself lives in the
// uplink module (uplink/plant.h); http comes after it but is kept free of
// it: the gateway hands in a function returning PlantView::snapshot().
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/api.h"
#include "vigil/status.h"

namespace vigil::http {

struct PlantApi {
  // PlantView::snapshot(); empty = no plant configured (plant.id ""): the
  // answer then lists this gateway alone, with "plant_id": null.
  std::function<nlohmann::json()> snapshot;
  std::string gateway_id, gateway_name, url;
  // Commands to other gateways of the plant (uplink/plant_command.h); empty
  // = off (no plant.command_key_file): the routes answer 409.
  using Then = std::function<void(int status, const nlohmann::json& body)>;
  std::function<Result<std::string>(const std::string& to, const std::string& method, const std::string& path,
                                    const nlohmann::json& body, const std::string& actor, Then then)>
      send_command;
  std::function<nlohmann::json()> commands;                                    // newest first
  std::function<std::optional<nlohmann::json>(const std::string& id)> command;  // one, by id
};

// Routes: GET /api/v1/plant (viewer); POST/GET /api/v1/plant/commands,
// GET /api/v1/plant/commands/{id} and POST /api/v1/sensors/{id}/reassign
// (admin; docs/plant.md "Commands between gateways").
void register_plant_api(Router& router, ApiContext& ctx, PlantApi plant);

// The fleet document (GET /api/v1/fleet's body) this gateway reports to the
// plant; an error when the store cannot be read.
Result<nlohmann::json> fleet_document(ApiContext& ctx);

}  // namespace vigil::http
