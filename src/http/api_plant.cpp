// SPDX-License-Identifier: Apache-2.0
#include "http/api_plant.h"

#include "http/api_internal.h"

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

void register_plant_api(Router& router, ApiContext& ctx, PlantApi plant) {
  router.add("GET", "/api/v1/plant", [&ctx, plant = std::move(plant)](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (plant.snapshot) return ok(plant.snapshot());
    json self = {{"id", plant.gateway_id}, {"name", plant.gateway_name}, {"online", true},
                 {"self", true},           {"url", plant.url},           {"assets", json::array()}};
    return ok({{"plant_id", nullptr}, {"gateway_id", plant.gateway_id}, {"gateways", json::array({self})}});
  });
}

}  // namespace vigil::http
