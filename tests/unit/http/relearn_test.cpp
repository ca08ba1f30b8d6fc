// SPDX-License-Identifier: Apache-2.0
// POST /api/v1/positions/{id}/relearn with the real analytics pipeline wired
// into the API context as the gateway wires it: technicians and admins may,
// viewers may not, unknown positions are 404, the action is audited, and the
// position's learned baseline is gone afterwards.
#include <catch2/catch.hpp>

#include "analytics/pipeline.h"
#include "fixture.h"

using vigil::test::ApiFixture;
using namespace vigil;

namespace {
struct RelearnFixture : ApiFixture {
  MetricsRegistry metrics;
  std::unique_ptr<analytics::Pipeline> pipeline;
  RelearnFixture() {
    analytics::PipelineOptions po;
    po.analytics.learn_count = 12;
    pipeline = analytics::Pipeline::create(*store, po, clock, metrics).value();
    ctx.relearn_position = [this](Id id) { return pipeline->relearn(id); };
    // A learned position: 40 sensor frames.
    for (int i = 0; i < 40; ++i) {
      const TimestampMs ts = clock.now_ms() + i * 600'000LL;
      std::vector<AcceptedReading> rs = {
          {Reading{"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", ts, 1.0 + 0.01 * (i % 5)}, sensor, series, position},
          {Reading{"AA:BB:CC:DD:EE:01", "accel_rms_g", ts, 0.08 + 0.001 * (i % 3)}, sensor, series, position}};
      REQUIRE(pipeline->submit_readings(rs));
    }
    pipeline->drain();
  }
};
}  // namespace

TEST_CASE("a technician asks a position to learn again; it is audited and its baseline is forgotten") {
  RelearnFixture f;
  REQUIRE_FALSE(f.pipeline->position_health(f.position)->baseline.empty());
  const std::string path = "/api/v1/positions/" + std::to_string(f.position) + "/relearn";
  CHECK(f.call("POST", path).status == 401);
  CHECK(f.call("POST", path, f.viewer_token).status == 403);
  CHECK(f.call("POST", "/api/v1/positions/999999/relearn", f.tech_token).status == 404);
  CHECK(f.call("POST", "/api/v1/positions/x/relearn", f.tech_token).status == 400);
  auto r = f.call("POST", path, f.tech_token);
  REQUIRE(r.status == 202);
  CHECK(ApiFixture::js(r) == nlohmann::json{{"position_id", f.position}, {"state", "initializing"}});
  f.pipeline->drain();
  auto h = f.pipeline->position_health(f.position).value();
  CHECK(h.baseline.empty());
  for (auto& m : h.models)
    if (m.model == analytics::kVibrationMl) CHECK(m.persistent == HealthState::kInitializing);
  auto audit = f.store->audit_log(10).value();
  bool found = false;
  for (auto& e : audit) found |= e.action == "position.relearn" && e.target == "position/" + std::to_string(f.position);
  CHECK(found);
  CHECK(f.call("POST", path, f.admin_token).status == 202);
}

TEST_CASE("without the analytics the relearn route answers 503") {
  ApiFixture f;
  CHECK(f.call("POST", "/api/v1/positions/" + std::to_string(f.position) + "/relearn", f.tech_token).status == 503);
}
