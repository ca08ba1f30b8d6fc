// SPDX-License-Identifier: Apache-2.0
//
// Analytics actions a user takes on a position. The analytics keep what each
// position learned across restarts; re-learning happens only when asked:
//
//   POST /api/v1/positions/{id}/relearn   technician or admin, audited
//
// every learned model of the position forgets its baseline and learns again
// from its next measurement (after an overhaul the maintenance close-out of
// an alert does the same, and a change of the asset's speed, bearing or
// envelope band does it by itself). 202: queued to the position's analytics
// worker; 503 when the analytics are off or busy. Reaches the analytics
// through ctx.relearn_position.
#include "http/api_internal.h"

namespace vigil::http::detail {

void register_analytics(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/positions/{id}/relearn", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kTechnician);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    if (!ctx.relearn_position) return problem(503, "unavailable", "the analytics are not running on this gateway");
    auto st = ctx.relearn_position(*id);
    if (st.code() == Status::Code::kUnavailable) return problem(503, "busy", st.message());
    if (!st.ok()) return from_status(st);
    audit(ctx, who, "position.relearn", "position/" + std::to_string(*id), "");
    return Response::json(202, json_text({{"position_id", *id}, {"state", "initializing"}}));
  });
}

}  // namespace vigil::http::detail
