// SPDX-License-Identifier: Apache-2.0
// Alert lifecycle against a real SQLite file, and the pipeline end to end.
#include <catch2/catch.hpp>

#include "vigil_test/open_store.h"
#include "vigil_test/temp_dir.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "alerts/alerts.h"
#include "analytics/pipeline.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::alerts;

namespace {
using vigil_test::open_store;

analytics::StateChange change(Id pos, const char* model, HealthState s, TimestampMs ts) {
  analytics::StateChange c;
  c.position_id = pos;
  c.asset_id = 1;
  c.model = model;
  c.ts = ts;
  c.pointwise = c.persistent = s;
  c.explanation = "BPFO envelope band 6.2× baseline";
  c.measurement_id = 77;
  return c;
}
}  // namespace

TEST_CASE("an alert is opened, escalated, acknowledged, muted and closed, and it persists", "[alerts]") {
  TempDir db;
  ManualClock clock(1'700'000'000'000);
  Id id = 0;
  {
    auto store = open_store(db.file("vigil.db"), clock);
    auto service = AlertService::create(*store, clock);
    REQUIRE(service.ok());
    AlertService& svc = **service;
    auto r = svc.on_state_change(change(5, "vibrationML", HealthState::kWarning, 1000));
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    id = **r;
    // The same model staying bad does not open a second alert: it refreshes this one.
    auto again = svc.on_state_change(change(5, "vibrationML", HealthState::kWarning, 2000));
    REQUIRE(again.ok());
    REQUIRE(again->has_value());
    CHECK(**again == id);
    // Escalation to alarm updates the alert in place.
    auto esc = svc.on_state_change(change(5, "vibrationML", HealthState::kAlarm, 3000));
    REQUIRE(esc.ok());
    CHECK(**esc == id);
    // Healthy needs no alert.
    CHECK_FALSE(svc.on_state_change(change(5, "vibrationML", HealthState::kHealthy, 4000))->has_value());

    auto a = svc.get(id);
    REQUIRE(a.ok());
    CHECK(a->severity == "alarm");
    CHECK(a->status == "open");
    CHECK(a->measurement_id == 77);
    CHECK(a->explanation == "BPFO envelope band 6.2× baseline");

    REQUIRE(svc.acknowledge(id, "tech").ok());
    CHECK(svc.get(id)->status == "acknowledged");
    REQUIRE(svc.mute(id, "tech").ok());
    CHECK(svc.get(id)->status == "muted");

    Closure bad{"BROKEN", "WEAR", "REPLACE", "tech", ""};
    CHECK(svc.close(id, bad).code() == Status::Code::kInvalidArgument);
    Closure ok{"LUBRICATION", "WEAR", "LUBRICATE", "tech", "greased"};
    REQUIRE(svc.close(id, ok).ok());
    CHECK(svc.close(id, ok).code() == Status::Code::kFailedPrecondition);  // already closed
    CHECK(svc.acknowledge(id, "tech").code() == Status::Code::kFailedPrecondition);
    CHECK(svc.get(9999).status().code() == Status::Code::kNotFound);

    // After closing, a new problem opens a new alert.
    auto next = svc.on_state_change(change(5, "vibrationML", HealthState::kWarning, 5000));
    REQUIRE(next->has_value());
    CHECK(**next != id);
  }
  // Reopen the file: everything is still there.
  auto store = open_store(db.file("vigil.db"), clock);
  auto service = AlertService::create(*store, clock);
  REQUIRE(service.ok());
  AlertService& svc = **service;
  auto a = svc.get(id);
  REQUIRE(a.ok());
  CHECK(a->status == "closed");
  CHECK(a->failure_mode == "LUBRICATION");
  CHECK(a->failure_cause == "WEAR");
  CHECK(a->action_taken == "LUBRICATE");
  CHECK(a->closed_by == "tech");
  AlertFilter active;
  active.status = "active";
  CHECK(svc.list(active)->size() == 1);
  AlertFilter closed;
  closed.status = "closed";
  closed.position_id = 5;
  CHECK(svc.list(closed)->size() == 1);
  auto audit = store->audit_log(50);
  REQUIRE(audit.ok());
  CHECK(audit->size() >= 5);
}

TEST_CASE("close-out codes are the Monitron strings", "[alerts]") {
  CHECK(failure_modes().size() == 14);
  CHECK(is_one_of(failure_modes(), "TRANSMITTED_FAULT"));
  CHECK(failure_causes().size() == 9);
  CHECK(actions_taken().size() == 8);
  CHECK(model_names() == std::vector<std::string>{"vibrationISO", "vibrationML", "temperatureML"});
  CHECK(is_maintenance_action("REPLACE"));
  CHECK_FALSE(is_maintenance_action("NO_ACTION"));
}

TEST_CASE("the pipeline scores waveforms from ingest, stores spectra and states, and alerts open and absorb",
          "[alerts]") {
  TempDir db;
  ManualClock clock(1'700'000'000'000);
  auto store = open_store(db.file("vigil.db"), clock);
  auto site = store->upsert_site({0, "plant", "UTC"});
  Asset asset;
  asset.site_id = *site;
  asset.name = "pump 1";
  asset.shaft_rpm = 1500;
  asset.bearing = BearingGeometry{9, 7.9, 39.0, 0};
  auto aid = store->upsert_asset(asset);
  REQUIRE(aid.ok());
  auto pid = store->upsert_position({0, *aid, "DE", PositionType::kBearing});
  REQUIRE(pid.ok());
  Sensor sn;
  sn.address = "sim:de";
  sn.format = "sim";
  sn.position_id = *pid;
  sn.commissioned_at = clock.now_ms();
  REQUIRE(store->upsert_sensor(sn).ok());
  Ingest ingest(*store, clock);

  analytics::PipelineOptions po;
  po.analytics.learning_hours = 12;
  auto pipe = analytics::Pipeline::create(*store, po, clock);
  REQUIRE(pipe.ok());
  auto service = AlertService::create(*store, clock);
  REQUIRE(service.ok());
  AlertService& svc = **service;
  svc.attach(**pipe);
  (*pipe)->attach(ingest);

  std::mt19937 rng(9);
  std::normal_distribution<double> n(0, 1);
  auto submit = [&](double amp) {
    Waveform w;
    w.ts = clock.now_ms();
    w.sample_rate_hz = 10240;
    w.scale = 0.001;
    w.samples.resize(4096);
    for (std::size_t i = 0; i < w.samples.size(); ++i)
      w.samples[i] = static_cast<std::int16_t>(amp * std::sin(2 * 3.14159265 * 25 * static_cast<double>(i) / 10240) +
                                               30 * n(rng));
    REQUIRE(ingest.submit_waveform("sim:de", w).ok());
    clock.advance(600 * 1000);  // a measurement every 10 minutes
  };
  // 0.02 g at 25 Hz ≈ 0.9 mm/s: ISO zone A. 16 h of measurements: learning
  // (12 h planned) ends once the baseline has converged.
  for (int i = 0; i < 96; ++i) submit(20);
  (*pipe)->drain();
  auto h = (*pipe)->position_health(*pid);
  REQUIRE(h.ok());
  CHECK(h->state == HealthState::kHealthy);
  for (auto& m : h->models) {
    INFO(m.model << ": " << m.learning);
    CHECK(m.learning.empty());
  }
  auto spec = analytics::latest_spectrum(*store, *pid, "envelope");
  REQUIRE(spec.ok());
  REQUIRE(spec->has_value());
  CHECK((*spec)->bins.size() <= 1024);
  auto ms = store->measurements(*pid, 0, clock.now_ms());
  REQUIRE(ms.ok());
  CHECK(ms->size() == 96);
  CHECK(ms->front().features_json.find("env_bpfo_g") != std::string::npos);
  CHECK(analytics::spectra_of_measurement(*store, ms->front().id)->size() == 2);

  const TimestampMs change_at = clock.now_ms();
  // 10× the 1× running-speed line: warning after three measurements of
  // evidence, alarm after six.
  for (int i = 0; i < 6; ++i) submit(200);
  (*pipe)->drain();
  AlertFilter f;
  f.status = "active";
  auto alerts = svc.list(f);
  REQUIRE(alerts.ok());
  REQUIRE(!alerts->empty());
  // One vibration alert, whichever of vibrationISO and vibrationML opened it.
  const Alert* ml = nullptr;
  int vibration = 0;
  for (auto& a : *alerts)
    if (a.family() == "vibration") {
      ml = &a;
      ++vibration;
    }
  REQUIRE(ml != nullptr);
  CHECK(vibration == 1);
  CHECK(std::find(ml->flagged_by.begin(), ml->flagged_by.end(), "vibrationML") != ml->flagged_by.end());
  CHECK(ml->title.rfind("pump 1, DE: vibration", 0) == 0);
  CHECK(ml->severity == "alarm");
  CHECK(ml->measurement_id.has_value());
  CHECK_FALSE(ml->explanation.empty());
  CHECK(ml->opened_at >= change_at);
  CHECK((*pipe)->asset_health(*aid)->state == HealthState::kAlarm);

  // NO_ISSUE: the new level is normal from now on.
  REQUIRE(svc.close(ml->id, {"NO_ISSUE", "OPERATION", "NO_ACTION", "tech", "new duty point"}).ok());
  for (int i = 0; i < 4; ++i) submit(200);
  (*pipe)->drain();
  auto st = (*pipe)->position_health(*pid);
  bool ml_ok = false;
  for (auto& m : st->models)
    if (m.model == "vibrationML") ml_ok = m.persistent == HealthState::kHealthy;
  CHECK(ml_ok);
  // health_states rows were written for the position and the asset.
  int rows = 0;
  REQUIRE(store->read([&](sql::Db& d) -> Status {
    auto q = d.prepare("SELECT count(*) FROM health_states WHERE scope = 'asset'");
    if (!q) return q.status();
    auto r = (*q)->step();
    if (!r) return r.status();
    rows = static_cast<int>((*q)->i64(0));
    (*q)->reset();
    return Status::Ok();
  }).ok());
  CHECK(rows > 0);
}

TEST_CASE("purging a position takes its alerts and their timelines along, and only its own", "[alerts]") {
  TempDir db;
  ManualClock clock(1'700'000'000'000);
  auto store = open_store(db.file("vigil.db"), clock);
  auto service = AlertService::create(*store, clock);
  REQUIRE(service.ok());
  AlertService& svc = **service;
  Id site = store->upsert_site(Site{0, "North", "UTC"}).value();
  Asset a;
  a.site_id = site;
  a.name = "Pump 1";
  Id asset = store->upsert_asset(a).value();
  Id de = store->upsert_position(Position{0, asset, "Motor DE", PositionType::kMotor}).value();
  Id nde = store->upsert_position(Position{0, asset, "Motor NDE", PositionType::kMotor}).value();
  auto on_de = svc.on_state_change(change(de, "vibrationML", HealthState::kAlarm, 1000));
  auto on_nde = svc.on_state_change(change(nde, "vibrationML", HealthState::kWarning, 1000));
  REQUIRE(on_de.ok());
  REQUIRE(on_nde.ok());
  REQUIRE(on_de->has_value());
  REQUIRE(on_nde->has_value());
  REQUIRE(svc.acknowledge(**on_de, "tech").ok());

  REQUIRE(store->archive(CatalogKind::kPosition, de, "admin").ok());
  REQUIRE(store->purge(CatalogKind::kPosition, de, "Motor DE", "admin").ok());
  CHECK(svc.get(**on_de).status().code() == Status::Code::kNotFound);
  CHECK(svc.get(**on_nde).ok());
  std::int64_t events = -1;
  REQUIRE(store->read([&](sql::Db& d) -> Status {
                 auto q = d.prepare("SELECT count(*) FROM alert_events WHERE alert_id = ?");
                 if (!q) return q.status();
                 (*q)->bind(1, **on_de);
                 auto row = (*q)->step();
                 if (!row) return row.status();
                 events = (*q)->i64(0);
                 (*q)->reset();
                 return Status::Ok();
               })
              .ok());
  CHECK(events == 0);
}
