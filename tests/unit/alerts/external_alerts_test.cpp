// SPDX-License-Identifier: Apache-2.0
// The alert service as the only writer of the alerts table: outside
// conditions (sensor health) through raise(), every change told to the
// observers (how alerts reach the live stream and the uplink), closures with
// their feedback.
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <algorithm>
#include <tuple>

#include "alerts/alerts.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::alerts;

namespace {

struct Rig {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<Store> store;
  std::unique_ptr<AlertService> svc;
  std::vector<std::tuple<Id, std::string, std::string>> events;  // id, event, actor

  Rig() {
    StoreOptions o;
    o.path = dir.file("vigil.db");
    o.clock = &clock;
    auto s = Store::open(o);
    REQUIRE(s.ok());
    store = std::move(*s);
    auto a = AlertService::create(*store, clock);
    REQUIRE(a.ok());
    svc = std::move(*a);
    svc->on_event([this](const Alert& alert, const std::string& event, const std::string& actor) {
      events.emplace_back(alert.id, event, actor);
    });
  }
  ~Rig() {
    svc.reset();
    store.reset();
  }
};

ExternalAlert battery(const std::string& severity = "warning", const std::string& explanation = "18 %") {
  ExternalAlert e;
  e.asset_id = 3;
  e.position_id = 4;
  e.source = "sensor:AA:BB:CC:DD:EE:01";
  e.kind = "battery_low";
  e.model = kSensorHealthModel;
  e.severity = severity;
  e.title = "Sensor AA:BB:CC:DD:EE:01: battery low";
  e.explanation = explanation;
  return e;
}

analytics::StateChange change(HealthState s, TimestampMs ts) {
  analytics::StateChange c;
  c.position_id = 4;
  c.asset_id = 3;
  c.model = "vibrationISO";
  c.ts = ts;
  c.pointwise = c.persistent = s;
  c.explanation = "velocity 5.1 mm/s (zone C)";
  return c;
}

}  // namespace

TEST_CASE("a raised sensor condition opens one alert, updates it when seen again and escalates when it worsens",
          "[alerts][external]") {
  Rig r;
  auto first = r.svc->raise(battery());
  REQUIRE(first.ok());
  const Id id = *first;
  auto a = r.svc->get(id);
  REQUIRE(a.ok());
  CHECK(a->model == "sensorHealth");
  CHECK(a->status == "open");
  CHECK(a->severity == "warning");
  CHECK(a->asset_id == 3);
  CHECK(a->position_id == 4);
  CHECK(a->source == "sensor:AA:BB:CC:DD:EE:01");
  CHECK(a->kind == "battery_low");

  r.clock.advance(3'600'000);
  auto again = r.svc->raise(battery("warning", "12 %"));
  REQUIRE(again.ok());
  CHECK(*again == id);
  CHECK(r.svc->get(id)->explanation == "12 %");
  CHECK(r.svc->get(id)->updated_at == r.clock.now_ms());

  auto worse = r.svc->raise(battery("alarm", "3 %"));
  REQUIRE(worse.ok());
  CHECK(*worse == id);
  CHECK(r.svc->get(id)->severity == "alarm");
  // A milder report later does not lower it.
  REQUIRE(r.svc->raise(battery("warning", "4 %")).ok());
  CHECK(r.svc->get(id)->severity == "alarm");

  using E = std::tuple<Id, std::string, std::string>;
  const std::string src = "sensor:AA:BB:CC:DD:EE:01";
  CHECK(r.events == std::vector<E>{{id, "opened", src}, {id, "updated", src}, {id, "escalated", src},
                                   {id, "updated", src}});

  // Another condition of the same sensor and kind (its own title) is its own alert.
  ExternalAlert replay = battery();
  replay.kind = "spoofing";
  replay.title = "Sensor AA:BB:CC:DD:EE:01: replayed frames";
  ExternalAlert bad_mic = replay;
  bad_mic.title = "Sensor AA:BB:CC:DD:EE:01: frames failing authentication";
  auto ra = r.svc->raise(replay);
  auto rb = r.svc->raise(bad_mic);
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK(*ra != id);
  CHECK(*rb != *ra);

  // Opening is audited under the source; after a close, the condition opens a new alert.
  auto audit = r.store->audit_log(20);
  REQUIRE(audit.ok());
  CHECK(std::count_if(audit->begin(), audit->end(),
                      [&](const AuditEntry& e) { return e.action == "alert.open" && e.actor == src; }) == 3);
  REQUIRE(r.svc->close(id, {"OTHER", "WEAR", "REPLACE", "tech", "new battery"}).ok());
  auto reopened = r.svc->raise(battery());
  REQUIRE(reopened.ok());
  CHECK(*reopened != id);
}

TEST_CASE("an external alert without source, kind, model or title, or with an unknown severity, is refused",
          "[alerts][external]") {
  Rig r;
  auto bad = [&](auto edit) {
    ExternalAlert e = battery();
    edit(e);
    return r.svc->raise(e).status().code();
  };
  CHECK(bad([](ExternalAlert& e) { e.source.clear(); }) == Status::Code::kInvalidArgument);
  CHECK(bad([](ExternalAlert& e) { e.kind.clear(); }) == Status::Code::kInvalidArgument);
  CHECK(bad([](ExternalAlert& e) { e.model.clear(); }) == Status::Code::kInvalidArgument);
  CHECK(bad([](ExternalAlert& e) { e.title.clear(); }) == Status::Code::kInvalidArgument);
  CHECK(bad([](ExternalAlert& e) { e.severity = "critical"; }) == Status::Code::kInvalidArgument);
  AlertFilter all;
  CHECK(r.svc->list(all)->empty());
  CHECK(r.events.empty());
}

TEST_CASE("every lifecycle change is told to the observers once, in order, with who made it", "[alerts][events]") {
  Rig r;
  auto opened = r.svc->on_state_change(change(HealthState::kWarning, 1000));
  REQUIRE(opened.ok());
  REQUIRE(opened->has_value());
  const Id id = **opened;
  REQUIRE(r.svc->on_state_change(change(HealthState::kWarning, 2000)).ok());  // the family seen again: "updated"
  REQUIRE(r.svc->on_state_change(change(HealthState::kAlarm, 3000)).ok());
  REQUIRE(r.svc->acknowledge(id, "tech", "on it").ok());
  REQUIRE(r.svc->mute(id, "tech").ok());
  REQUIRE(r.svc->unmute(id, "tech").ok());
  CHECK(r.svc->get(id)->status == "open");
  // Unmuting what is not muted is refused and tells nobody.
  CHECK(r.svc->unmute(id, "tech").code() == Status::Code::kFailedPrecondition);
  REQUIRE(r.svc->close(id, {"MISALIGNMENT", "MAINTENANCE", "ADJUST", "tech", "aligned"}).ok());
  // A closed alert takes no more actions; an unknown one is not found.
  CHECK(r.svc->acknowledge(id, "tech").code() == Status::Code::kFailedPrecondition);
  CHECK(r.svc->mute(id, "tech").code() == Status::Code::kFailedPrecondition);
  CHECK(r.svc->close(id, {"MISALIGNMENT", "MAINTENANCE", "ADJUST", "tech", ""}).code() ==
        Status::Code::kFailedPrecondition);
  CHECK(r.svc->acknowledge(999, "tech").code() == Status::Code::kNotFound);
  CHECK(r.svc->unmute(999, "tech").code() == Status::Code::kNotFound);
  CHECK(r.svc->close(999, {"MISALIGNMENT", "MAINTENANCE", "ADJUST", "tech", ""}).code() == Status::Code::kNotFound);

  using E = std::tuple<Id, std::string, std::string>;
  CHECK(r.events == std::vector<E>{{id, "opened", "analytics"},
                                   {id, "updated", "analytics"},
                                   {id, "escalated", "analytics"},
                                   {id, "acknowledged", "tech"},
                                   {id, "muted", "tech"},
                                   {id, "unmuted", "tech"},
                                   {id, "closed", "tech"}});
  auto audit = r.store->audit_log(20);
  REQUIRE(audit.ok());
  bool noted = false;
  for (const auto& e : *audit) noted = noted || (e.action == "alert.acknowledge" && e.detail == "on it");
  CHECK(noted);
}

TEST_CASE("a closure keeps its feedback and the models that flagged it; unknown values are refused",
          "[alerts][closure]") {
  Rig r;
  const Id id = **r.svc->on_state_change(change(HealthState::kWarning, 1000));
  Closure c{"NO_ISSUE", "OPERATION", "NO_ACTION", "tech", "new duty point"};
  c.feedback = "sometimes";
  CHECK(r.svc->close(id, c).code() == Status::Code::kInvalidArgument);
  c.feedback = "false_alarm";
  c.models = {"vibrationML", "gutFeeling"};
  CHECK(r.svc->close(id, c).code() == Status::Code::kInvalidArgument);
  CHECK(r.svc->get(id)->status == "open");
  c.models = {"vibrationML"};
  REQUIRE(r.svc->close(id, c).ok());
  auto a = r.svc->get(id);
  REQUIRE(a.ok());
  CHECK(a->status == "closed");
  CHECK(a->notes == "new duty point");
  CHECK(a->feedback == "false_alarm");
  CHECK(a->models == std::vector<std::string>{"vibrationML"});
  CHECK(a->closed_by == "tech");
  CHECK(feedback_values() == std::vector<std::string>{"confirmed", "false_alarm", "unsure"});
}

TEST_CASE("every lifecycle change is journaled once, in order, with its actor", "[alerts][events]") {
  TempDir dir;
  ManualClock clock(1'700'000'000'000);
  StoreOptions o;
  o.path = dir.file("vigil.db");
  o.clock = &clock;
  auto store = Store::open(o);
  REQUIRE(store.ok());
  auto svc = AlertService::create(**store, clock);
  REQUIRE(svc.ok());
  auto& s = **svc;
  REQUIRE(*s.last_event_id() == 0);
  ExternalAlert e;
  e.source = "sensor:AA:BB:CC:DD:EE:FF";
  e.kind = "silent";
  e.model = kSensorHealthModel;
  e.severity = "warning";
  e.title = "Sensor silent";
  auto id = s.raise(e);
  REQUIRE(id.ok());
  REQUIRE(s.raise(e).ok());  // seen again: an update, not a journal entry
  e.severity = "alarm";
  REQUIRE(s.raise(e).ok());  // a rise in severity is
  clock.advance(1000);
  REQUIRE(s.acknowledge(*id, "ana", "planned for Tuesday").ok());
  Closure c;
  c.failure_mode = "NO_ISSUE";
  c.failure_cause = "OTHER";
  c.action_taken = "NO_ACTION";
  c.actor = "ben";
  REQUIRE(s.close(*id, c).ok());

  auto all = s.events_after(0, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  std::vector<std::string> kinds;
  for (const auto& ev : *all) kinds.push_back(ev.event);
  CHECK(kinds == std::vector<std::string>{"opened", "escalated", "acknowledged", "closed"});
  CHECK((*all)[2].actor == "ana");
  CHECK((*all)[2].note == "planned for Tuesday");
  CHECK((*all)[3].actor == "ben");
  CHECK((*all)[1].severity == "alarm");
  // A consumer after the second event sees only the rest; the timeline is per alert.
  auto rest = s.events_after((*all)[1].id, 100);
  REQUIRE(rest.ok());
  CHECK(rest->size() == 2);
  CHECK(s.events_of(*id)->size() == 4);
  CHECK(*s.last_event_id() == (*all)[3].id);
  CHECK_FALSE(s.events_after(0, 0).ok());
}
