// SPDX-License-Identifier: Apache-2.0
// One abnormality per position and model family, titles in plant words, and
// close-outs that re-learn only the models the action affects (issue 16).
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <tuple>

#include "alerts/alerts.h"
#include "alerts/codes.h"
#include "analytics/pipeline.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::alerts;

namespace {

struct Plant {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<Store> store;
  std::unique_ptr<AlertService> svc;
  Id asset = 0, position = 0;
  // What the analytics would say about the position's models now.
  std::vector<analytics::ModelHealth> states;
  // Feedback the closures sent: (model, kind).
  std::vector<std::pair<std::string, analytics::Feedback>> feedback;

  Plant() {
    StoreOptions o;
    o.path = dir.file("vigil.db");
    o.clock = &clock;
    store = Store::open(o).value();
    Id site = *store->upsert_site({0, "plant", "UTC"});
    Asset a;
    a.site_id = site;
    a.name = "P-101 pump";
    asset = *store->upsert_asset(a);
    position = *store->upsert_position({0, asset, "drive end", PositionType::kPump});
    svc = AlertService::create(*store, clock).value();
    svc->set_model_states([this](Id) -> Result<std::vector<analytics::ModelHealth>> { return states; });
    svc->set_feedback([this](Id, const std::string& m, analytics::Feedback k, TimestampMs) {
      feedback.emplace_back(m, k);
    });
  }
  void model(const std::string& name, HealthState s) {
    for (auto& h : states)
      if (h.model == name) {
        h.persistent = h.pointwise = s;
        return;
      }
    analytics::ModelHealth h;
    h.model = name;
    h.persistent = h.pointwise = s;
    states.push_back(h);
  }
  analytics::StateChange change(const char* model, HealthState s, TimestampMs ts, double value,
                                const std::string& explanation) {
    analytics::StateChange c;
    c.position_id = position;
    c.asset_id = asset;
    c.model = model;
    c.ts = ts;
    c.pointwise = c.persistent = s;
    if (std::string(model) == "vibrationISO") c.score = value;
    else c.z = value;
    c.explanation = explanation;
    c.measurement_id = ts;
    return c;
  }
  Id open(const char* model, HealthState s, TimestampMs ts, double value, const std::string& explanation) {
    auto r = svc->on_state_change(change(model, s, ts, value, explanation));
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    return **r;
  }
  std::vector<Alert> active() {
    AlertFilter f;
    f.status = "active";
    return *svc->list(f);
  }
};

const char* kMl = "BPFO envelope band 6.2× baseline, velocity RMS 1.4× baseline";
const char* kIso = "velocity RMS 4.20 mm/s, zone C (iso10816_class2)";
const char* kTemp = "temperature_c 71.5 vs expected 55.2 (+6.1σ)";

}  // namespace

TEST_CASE("five state changes on one position make one alert", "[alerts][family]") {
  Plant p;
  const Id id = p.open("vibrationISO", HealthState::kWarning, 1000, 4.2, kIso);
  CHECK(p.open("vibrationML", HealthState::kWarning, 2000, 6.0, kMl) == id);
  CHECK(p.open("vibrationISO", HealthState::kWarning, 86'400'000, 4.4, kIso) == id);  // a day later: same alert
  CHECK(p.open("vibrationML", HealthState::kAlarm, 86'500'000, 9.9, kMl) == id);
  CHECK(p.open("vibrationISO", HealthState::kAlarm, 86'600'000, 7.3, "velocity RMS 7.30 mm/s, zone D (x)") == id);

  auto active = p.active();
  REQUIRE(active.size() == 1);
  const Alert& a = active.front();
  CHECK(a.model == "vibrationISO");  // the model that opened it
  CHECK(a.family() == "vibration");
  CHECK(a.severity == "alarm");
  CHECK(a.flagged_by == std::vector<std::string>{"vibrationISO", "vibrationML"});
  // The value follows the opening model: velocity from 4.2 to 7.3 mm/s.
  CHECK(a.value_kind == "velocity_mm_s");
  CHECK(a.opening_value == Approx(4.2));
  CHECK(a.current_value == Approx(7.3));
  CHECK(a.updated_at == 86'600'000);
  CHECK(a.explanation == "velocity RMS 7.30 mm/s, zone D (x)");
  CHECK(a.title == "P-101 pump, drive end: vibration 7.30 mm/s, ISO zone D (damage likely)");
  // The journal shows one opening and one escalation, not five alerts.
  auto evs = p.svc->events_of(id);
  REQUIRE(evs.ok());
  REQUIRE(evs->size() == 2);
  CHECK((*evs)[0].event == "opened");
  CHECK((*evs)[1].event == "escalated");

  // Temperature is another family on the same position: its own alert.
  const Id t = p.open("temperatureML", HealthState::kWarning, 86'700'000, 6.1, kTemp);
  CHECK(t != id);
  CHECK(p.active().size() == 2);
}

TEST_CASE("a refresh of the family tells observers 'updated' and never lowers the severity", "[alerts][family]") {
  Plant p;
  std::vector<std::string> seen;
  p.svc->on_event([&](const Alert&, const std::string& e, const std::string&) { seen.push_back(e); });
  const Id id = p.open("vibrationML", HealthState::kAlarm, 1000, 11, kMl);
  p.open("vibrationML", HealthState::kWarning, 2000, 6, kMl);
  CHECK(p.svc->get(id)->severity == "alarm");
  CHECK(seen == std::vector<std::string>{"opened", "updated"});
}

TEST_CASE("analytics alerts are titled in plant words, never 'vibrationML on position 2'", "[alerts][title]") {
  Plant p;
  const Id id = p.open("vibrationML", HealthState::kWarning, 1000, 6.0, kMl);
  CHECK(p.svc->get(id)->title ==
        "P-101 pump, drive end: vibration above its learned normal (bearing outer-race pattern rising)");
  CHECK(plant_words("temperatureML", kTemp) == "temperature above its learned normal (71.5 °C, expected 55.2 °C)");
  CHECK(plant_words("vibrationML", "kurtosis -1.2 vs baseline") ==
        "vibration above its learned normal (impacting (kurtosis) falling)");
  CHECK(plant_words("metric:pressure_bar", "") == "pressure_bar outside its learned normal");
}

TEST_CASE("the action and the alert's family decide which models re-learn", "[alerts][closeout]") {
  const std::vector<std::string> pos = {"vibrationISO", "vibrationML", "temperatureML", "metric:current_a"};
  using V = std::vector<std::string>;
  for (const char* act : {"LUBRICATE", "CLEAN", "ADJUST"}) {
    CHECK(models_to_relearn(act, "temperature", pos) == V{"temperatureML"});
    CHECK(models_to_relearn(act, "vibration", pos) == V{"vibrationML"});
    CHECK(models_to_relearn(act, "metric:current_a", pos) == V{"metric:current_a"});
    CHECK(models_to_relearn(act, "sensorHealth", pos).empty());
  }
  for (const char* act : {"REPLACE", "OVERHAUL", "MODIFY"})
    CHECK(models_to_relearn(act, "temperature", pos) == V{"vibrationML", "temperatureML", "metric:current_a"});
  CHECK(models_to_relearn("NO_ACTION", "vibration", pos).empty());
  CHECK(models_to_relearn("OTHER", "vibration", pos).empty());
  CHECK(alert_family("vibrationISO") == "vibration");
  CHECK(alert_family("temperatureML") == "temperature");
  CHECK(alert_family("sensorHealth") == "sensorHealth");
}

TEST_CASE("lubricating on a temperature alert re-learns only the temperature model", "[alerts][closeout]") {
  Plant p;
  // The bearing fault is still growing: vibrationML in alarm.
  p.model("vibrationISO", HealthState::kWarning);
  p.model("vibrationML", HealthState::kAlarm);
  p.model("temperatureML", HealthState::kHealthy);  // cooled down after greasing
  p.open("vibrationML", HealthState::kAlarm, 1000, 9.9, kMl);
  const Id temp = p.open("temperatureML", HealthState::kAlarm, 2000, 11, kTemp);

  auto plan = p.svc->closeout_plan(temp, "LUBRICATION", "LUBRICATE");
  REQUIRE(plan.ok());
  REQUIRE(plan->relearn.size() == 1);
  CHECK(plan->relearn[0].model == "temperatureML");
  CHECK(plan->relearn[0].state == "healthy");
  CHECK_FALSE(plan->needs_confirmation);

  REQUIRE(p.svc->close(temp, {"LUBRICATION", "WEAR", "LUBRICATE", "tech", "greased"}).ok());
  REQUIRE(p.feedback.size() == 1);
  CHECK(p.feedback[0].first == "temperatureML");
  CHECK(p.feedback[0].second == analytics::Feedback::kRebaseline);
  // The vibration alert stays open.
  CHECK(p.active().size() == 1);
}

TEST_CASE("closing with a re-learn of an alarming model needs confirmation", "[alerts][closeout]") {
  Plant p;
  p.model("vibrationISO", HealthState::kWarning);
  p.model("vibrationML", HealthState::kAlarm);
  p.model("temperatureML", HealthState::kHealthy);
  const Id temp = p.open("temperatureML", HealthState::kWarning, 2000, 6, kTemp);

  // REPLACE re-learns every learned model, vibrationML among them, which is in alarm.
  auto plan = p.svc->closeout_plan(temp, "", "REPLACE");
  REQUIRE(plan.ok());
  CHECK(plan->needs_confirmation);
  REQUIRE(plan->relearn.size() == 2);
  CHECK(plan->relearn[0].model == "vibrationML");
  CHECK(plan->relearn[0].state == "alarm");

  Closure c{"OTHER", "WEAR", "REPLACE", "tech", "new motor"};
  auto st = p.svc->close(temp, c);
  CHECK(st.code() == Status::Code::kFailedPrecondition);
  CHECK(st.message().find("vibrationML (alarm)") != std::string::npos);
  CHECK(p.svc->get(temp)->status == "open");  // nothing changed
  CHECK(p.feedback.empty());

  c.confirm_relearn = true;
  REQUIRE(p.svc->close(temp, c).ok());
  CHECK(p.svc->get(temp)->status == "closed");
  REQUIRE(p.feedback.size() == 2);
  CHECK(p.feedback[0].first == "vibrationML");
  CHECK(p.feedback[1].first == "temperatureML");
}

TEST_CASE("NO_ISSUE absorbs the learned models that flagged the alert and re-learns none", "[alerts][closeout]") {
  Plant p;
  p.model("vibrationML", HealthState::kAlarm);
  const Id id = p.open("vibrationISO", HealthState::kWarning, 1000, 4.2, kIso);
  p.open("vibrationML", HealthState::kAlarm, 2000, 10.5, kMl);
  auto plan = p.svc->closeout_plan(id, "NO_ISSUE", "NO_ACTION");
  REQUIRE(plan.ok());
  CHECK(plan->relearn.empty());
  CHECK(plan->absorb == std::vector<std::string>{"vibrationML"});
  CHECK_FALSE(plan->needs_confirmation);
  REQUIRE(p.svc->close(id, {"NO_ISSUE", "OPERATION", "NO_ACTION", "tech", "new duty point"}).ok());
  REQUIRE(p.feedback.size() == 1);
  CHECK(p.feedback[0] == std::make_pair(std::string("vibrationML"), analytics::Feedback::kAbsorb));
  CHECK(p.svc->closeout_plan(id, "", "FIX_IT").status().code() == Status::Code::kInvalidArgument);
}
