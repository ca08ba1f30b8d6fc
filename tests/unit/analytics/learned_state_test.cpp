// SPDX-License-Identifier: Apache-2.0
// Persisted learned state (learned_state.h): every stateful analytics class
// round-trips exactly through to_state()/from_state(); a restored position
// scores on exactly as an uninterrupted one; what cannot be restored is
// refused with its reason; non-finite features never enter a baseline.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "vigil_test/temp_dir.h"
#include "analytics/detectors.h"
#include "analytics/learned_state.h"
#include "analytics/pipeline.h"
#include "analytics/position.h"
#include "vigil/metrics_registry.h"
#include "vigil/sqlite.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::analytics;
using nlohmann::json;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000;
constexpr TimestampMs kHour = 3600 * 1000;

// A machine's features with lognormal noise; `fault` grows the envelope.
struct Plant {
  std::mt19937 rng{7};
  std::normal_distribution<double> n{0, 0.05};
  std::vector<dsp::Feature> sample(double fault = 1) {
    auto j = [&](double v) { return v * std::exp(n(rng)); };
    return {{"velocity_rms_mm_s", j(1.2)}, {"accel_rms_g", j(0.09)}, {"accel_peak_g", j(0.4)},
            {"kurtosis", j(3.1)},          {"envelope_rms_g", j(0.01 * fault)}, {"env_bpfo_g", j(0.004 * fault)}};
  }
  double temperature(int i) { return 40 + 2 * std::sin(i * 0.3) + n(rng); }
};

AnalyticsOptions learn_options(int n = 12) {
  AnalyticsOptions o;
  o.learn_count = n;
  return o;
}

MachineInfo pump() {
  MachineInfo m;
  m.shaft_rpm = 1480;
  m.bearing = BearingGeometry{9, 7.94, 39.04, 0};
  return m;
}

// One input of a test series (a vibration measurement or a temperature).
JournalEntry input(Plant& p, int i) {
  const TimestampMs ts = kT0 + i * kHour;
  if (i % 3 == 2) return {JournalEntry::Kind::kMetric, ts, {{"temperature_c", p.temperature(i)}}};
  return {JournalEntry::Kind::kWaveform, ts, p.sample(i > 40 ? 1 + 0.1 * (i - 40) : 1)};
}

void same_assessment(const Assessment& a, const Assessment& b) {
  REQUIRE(a.models.size() == b.models.size());
  CHECK(a.state == b.state);
  CHECK(a.score == b.score);  // exact: same doubles
  CHECK(a.explanation == b.explanation);
  CHECK(a.running == b.running);
  for (std::size_t i = 0; i < a.models.size(); ++i) {
    CHECK(a.models[i].model == b.models[i].model);
    CHECK(a.models[i].pointwise == b.models[i].pointwise);
    CHECK(a.models[i].persistent == b.models[i].persistent);
    CHECK(a.models[i].score == b.models[i].score);
    CHECK(a.models[i].since == b.models[i].since);
  }
}

// Through the bytes the database keeps.
json cbor_round_trip(const json& j) { return decode_snapshot(encode_snapshot(j)).value(); }
}  // namespace

TEST_CASE("a position's learned state round-trips exactly, while learning and after", "[analytics][state]") {
  for (int cut : {5, 20, 60}) {
    Plant plant;
    PositionAnalyzer original(pump(), learn_options());
    for (int i = 0; i < cut; ++i) apply(original, input(plant, i));
    const json saved = original.to_state();

    PositionAnalyzer restored(pump(), learn_options());
    REQUIRE(restored.from_state(cbor_round_trip(saved)).ok());
    CHECK(restored.to_state() == saved);  // binary arrays compare byte for byte
    // ... and both score what comes next identically.
    for (int i = cut; i < cut + 40; ++i) {
      auto e = input(plant, i);
      same_assessment(apply(original, e), apply(restored, e));
    }
    CHECK(restored.to_state() == original.to_state());
  }
}

TEST_CASE("from_state names the field that is missing, unknown or of the wrong type", "[analytics][state]") {
  Plant plant;
  PositionAnalyzer a(pump(), learn_options());
  for (int i = 0; i < 30; ++i) apply(a, input(plant, i));
  const json good = a.to_state();
  PositionAnalyzer fresh(pump(), learn_options());

  json missing = good;
  missing["vibration"]["model"]["baseline"].erase("samples");
  auto st = fresh.from_state(missing);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("vibration.model.baseline.samples: missing"));

  json unknown = good;
  unknown["vibration"]["model"]["colour"] = "blue";
  st = fresh.from_state(unknown);
  CHECK_THAT(st.message(), Catch::Contains("vibration.model.colour: unknown field"));

  json wrong = good;
  wrong["iso"]["persistence"]["window"] = "healthy";
  st = fresh.from_state(wrong);
  CHECK_THAT(st.message(), Catch::Contains("iso.persistence.window: expected array"));

  json bad_state = good;
  bad_state["vibration"]["model"]["last"]["persistent"] = "fine";
  st = fresh.from_state(bad_state);
  CHECK_THAT(st.message(), Catch::Contains("vibration.model.last.persistent: unknown health state 'fine'"));

  // Nothing of a refused state is taken.
  CHECK(fresh.to_state() == PositionAnalyzer(pump(), learn_options()).to_state());
}

TEST_CASE("a state with another feature set, or non-finite numbers, is refused", "[analytics][state]") {
  Plant plant;
  PositionAnalyzer a(pump(), learn_options());
  for (int i = 0; i < 30; ++i) apply(a, input(plant, i));
  const json good = a.to_state();
  PositionAnalyzer fresh(pump(), learn_options());

  json other_spec = good;
  other_spec["vibration"]["model"]["baseline"]["specs"][0]["min_scale"] = 0.5;
  auto st = fresh.from_state(other_spec);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("vibration.model.baseline.specs"));

  json fewer = good;
  fewer["vibration"]["features"].erase(0);
  CHECK_THAT(fresh.from_state(fewer).message(), Catch::Contains("specs"));

  json nan = good;
  auto& med = nan["vibration"]["model"]["baseline"]["median"].get_binary();
  const double q = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(med.data(), &q, 8);
  CHECK_THAT(fresh.from_state(nan).message(), Catch::Contains("vibration.model.baseline.median: value 0 is not finite"));
}

TEST_CASE("a state learned on another speed is refused; another machine class only moves the zones",
          "[analytics][state]") {
  Plant plant;
  PositionAnalyzer a(pump(), learn_options());
  for (int i = 0; i < 30; ++i) apply(a, input(plant, i));
  MachineInfo faster = pump();
  faster.shaft_rpm = 2960;
  PositionAnalyzer other(faster, learn_options());
  auto st = other.from_state(a.to_state());
  CHECK(st.code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(st.message(), Catch::Contains("machine: learned on 1480 rpm"));

  MachineInfo reclassed = pump();
  reclassed.machine_class = "iso10816_class3";
  PositionAnalyzer moved(reclassed, learn_options());
  REQUIRE(moved.from_state(a.to_state()).ok());
  CHECK(moved.machine().machine_class == "iso10816_class3");
  CHECK(moved.baseline_bands(3).size() == a.baseline_bands(3).size());
}

TEST_CASE("non-finite features never enter a baseline", "[analytics][state]") {
  Baseline b({{"velocity_rms_mm_s", true, 0.1}, {"kurtosis", true, 0.1}});
  auto st = b.add({1.0, std::numeric_limits<double>::quiet_NaN()});
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("kurtosis"));
  CHECK(b.add({std::numeric_limits<double>::infinity(), 3.0}).code() == Status::Code::kInvalidArgument);
  CHECK(b.samples() == 0);

  // A learning model skips such a measurement: it does not count towards learning.
  Plant plant;
  PositionAnalyzer pa(pump(), learn_options(12));
  for (int i = 0; i < 6; ++i) pa.assess_vibration(kT0 + i * kHour, plant.sample());
  auto poisoned = plant.sample();
  poisoned[3].value = std::numeric_limits<double>::quiet_NaN();  // kurtosis
  for (int i = 6; i < 12; ++i) pa.assess_vibration(kT0 + i * kHour, poisoned);
  const json s = pa.to_state();
  const auto& samples = s["vibration"]["model"]["baseline"]["samples"].get_binary();
  const std::size_t p = s["vibration"]["model"]["baseline"]["specs"].size();
  CHECK(samples.size() / 8 / p == 6);  // only the finite ones
  for (std::size_t i = 0; i < samples.size() / 8; ++i) {
    double v;
    std::memcpy(&v, samples.data() + i * 8, 8);
    CHECK(std::isfinite(v));
  }
  // Once learned, a non-finite feature is scored as if at its baseline.
  for (int i = 12; i < 40; ++i) pa.assess_vibration(kT0 + i * kHour, plant.sample());
  auto a = pa.assess_vibration(kT0 + 40 * kHour, poisoned);
  REQUIRE(a.score);
  CHECK(std::isfinite(*a.score));
  CHECK(pa.to_state() == cbor_round_trip(pa.to_state()));
}

TEST_CASE("a measurement's features JSON gives back exactly the analyzer's input", "[analytics][state]") {
  const std::vector<dsp::Feature> in = {{"velocity_rms_mm_s", 0.1 + 0.2},
                                        {"accel_rms_g", 1.0 / 3.0},
                                        {"kurtosis", std::numeric_limits<double>::quiet_NaN()},
                                        {"band_10_1000hz_g", 5e-324},
                                        {"crest_factor", 1e308}};
  auto out = features_from_json(features_json(in));
  REQUIRE(out.ok());
  REQUIRE(out->size() == in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    CHECK((*out)[i].name == in[i].name);  // in the analyzer's order, not sorted
    if (std::isnan(in[i].value)) CHECK(std::isnan((*out)[i].value));
    else CHECK((*out)[i].value == in[i].value);
  }
  CHECK_FALSE(features_from_json("[1, 2]").ok());
  CHECK_FALSE(features_from_json(R"({"a": "x"})").ok());
}

// ------------------------------------------------------------ journal
namespace {
std::unique_ptr<sql::Db> state_db(const TempDir& d) {
  auto db = std::move(sql::Db::open(d.file("state.db"), sql::Db::Mode::kReadWriteCreate).value());
  REQUIRE(db->exec(kLearnedStateSchema).ok());
  return db;
}

Status write(sql::Db& db, PositionStateLog& log, const PositionAnalyzer& a, const JournalEntry& e) {
  sql::Transaction t(db);
  VIGIL_RETURN_IF_ERROR(t.begin());
  VIGIL_RETURN_IF_ERROR(log.write(db, a, true, {&e, 1}));
  return t.commit();
}
}  // namespace

TEST_CASE("snapshot plus journal restore exactly the analyzer that wrote them", "[analytics][state]") {
  TempDir dir;
  auto db = state_db(dir);
  Plant plant;
  PositionAnalyzer live(pump(), learn_options());
  PositionStateLog log(3, /*snapshot_every=*/8);
  for (int i = 0; i < 45; ++i) {
    auto e = input(plant, i);
    apply(live, e);
    REQUIRE(write(*db, log, live, e).ok());
    if (i % 7 != 3) continue;
    auto saved = read_learned_state(*db, 3);
    REQUIRE(saved.ok());
    REQUIRE(saved->has_value());
    CHECK((*saved)->journal.size() <= 8);
    auto r = restore_position(**saved, pump(), learn_options());
    REQUIRE(r.ok());
    CHECK(r->analyzer->to_state() == live.to_state());
    CHECK(r->journal_seq == i + 1);
  }
}

TEST_CASE("a saved state that cannot be restored says why", "[analytics][state]") {
  TempDir dir;
  auto db = state_db(dir);
  Plant plant;
  PositionAnalyzer live(pump(), learn_options());
  PositionStateLog log(1, 8);
  for (int i = 0; i < 12; ++i) {
    auto e = input(plant, i);
    apply(live, e);
    REQUIRE(write(*db, log, live, e).ok());
  }
  auto saved = std::move(read_learned_state(*db, 1).value().value());
  REQUIRE(!saved.journal.empty());

  SavedState newer = saved;
  newer.format = kLearnedStateFormat + 1;
  auto r = restore_position(newer, pump(), learn_options());
  CHECK(r.status().code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(r.status().message(), Catch::Contains("format 2 is not one this vigil reads"));

  SavedState garbage = saved;
  garbage.state = {0xff, 0x00, 0x13};
  CHECK_THAT(restore_position(garbage, pump(), learn_options()).status().message(),
             Catch::Contains("state: not a CBOR document"));
  garbage.state = {3, 0, 0, 0, 0xff, 0xff, 0xff};
  CHECK_THAT(restore_position(garbage, pump(), learn_options()).status().message(),
             Catch::Contains("state: not a CBOR document"));
  SavedState cut = saved;
  cut.state.resize(cut.state.size() - 8);  // the byte arrays end early
  CHECK_THAT(restore_position(cut, pump(), learn_options()).status().message(), Catch::Contains("end early"));

  SavedState gap = saved;
  gap.journal.erase(gap.journal.begin());
  if (!gap.journal.empty())
    CHECK_THAT(restore_position(gap, pump(), learn_options()).status().message(), Catch::Contains("is missing"));

  SavedState foreign = saved;
  foreign.state = encode_snapshot(json{{"analyzer", json::object()}, {"has_waveform", true}});
  CHECK_THAT(restore_position(foreign, pump(), learn_options()).status().message(),
             Catch::Contains("state.analyzer.machine: missing"));

  SavedState no_snapshot = saved;
  no_snapshot.state.clear();
  CHECK_THAT(restore_position(no_snapshot, pump(), learn_options()).status().message(),
             Catch::Contains("without a snapshot"));
}

// ------------------------------------------------------------ pipeline
namespace {
struct Plantroom {
  TempDir dir;
  std::unique_ptr<Store> store;
  Id position = 0;
  explicit Plantroom() { open(); }
  void open() {
    StoreOptions so;
    so.path = dir.file("vigil.db");
    store = std::move(Store::open(so).value());
    if (position) return;
    const Id site = store->upsert_site(Site{0, "Plant", "UTC"}).value();
    Asset a;
    a.site_id = site;
    a.name = "Pump";
    a.shaft_rpm = 1480;
    const Id asset = store->upsert_asset(a).value();
    position = store->upsert_position(Position{0, asset, "DE", PositionType::kPump}).value();
  }
  std::unique_ptr<Pipeline> pipeline(MetricsRegistry& metrics) {
    PipelineOptions po;
    po.analytics = learn_options(12);
    auto p = Pipeline::create(*store, po, SystemClock::instance(), metrics);
    REQUIRE(p.ok());
    return std::move(*p);
  }
  // Readings of a sensor frame (vibration features and a temperature).
  void feed(Pipeline& p, Plant& plant, int i) {
    std::vector<AcceptedReading> rs;
    const TimestampMs ts = kT0 + i * kHour;
    for (auto& f : plant.sample(i > 70 ? 1 + 0.2 * (i - 70) : 1))
      rs.push_back({Reading{"sim:1", f.name, ts, f.value}, 1, 1, position});
    rs.push_back({Reading{"sim:1", "temperature_c", ts, plant.temperature(i)}, 1, 2, position});
    REQUIRE(p.submit_readings(rs));
    p.drain();
  }
  std::vector<Measurement> measurements() { return store->measurements(position, 0, kT0 + 1000 * kHour, 1000).value(); }
};

void same_health(const ScopeHealth& a, const ScopeHealth& b) {
  CHECK(a.state == b.state);
  REQUIRE(a.models.size() == b.models.size());
  for (std::size_t i = 0; i < a.models.size(); ++i) {
    CHECK(a.models[i].model == b.models[i].model);
    CHECK(a.models[i].pointwise == b.models[i].pointwise);
    CHECK(a.models[i].persistent == b.models[i].persistent);
    CHECK(a.models[i].ts == b.models[i].ts);
  }
  REQUIRE(a.baseline.size() == b.baseline.size());
  for (std::size_t i = 0; i < a.baseline.size(); ++i) {
    CHECK(a.baseline[i].metric == b.baseline[i].metric);
    CHECK(a.baseline[i].median == b.baseline[i].median);
    CHECK(a.baseline[i].lo == b.baseline[i].lo);
    CHECK(a.baseline[i].hi == b.baseline[i].hi);
  }
}
}  // namespace

TEST_CASE("a gateway restarted in the middle scores exactly as one that ran through", "[analytics][state]") {
  constexpr int kTotal = 100;
  Plantroom through;
  {
    MetricsRegistry m;
    auto p = through.pipeline(m);
    Plant plant;
    for (int i = 0; i < kTotal; ++i) through.feed(*p, plant, i);
  }
  for (int cut : {6, 70}) {  // journal only; a snapshot (every 64) and journal
    Plantroom restarted;
    Plant plant;
    std::optional<ScopeHealth> before;
    {
      MetricsRegistry m;
      auto p = restarted.pipeline(m);
      for (int i = 0; i < cut; ++i) restarted.feed(*p, plant, i);
      before = p->position_health(restarted.position).value();
    }
    restarted.store.reset();  // the process ends
    restarted.open();
    MetricsRegistry m;
    auto p = restarted.pipeline(m);
    // Right after the restart it reads as before it...
    same_health(p->position_health(restarted.position).value(), *before);
    CHECK(m.counter_value("vigil_analytics_state_rejected_total") == 0);
    // ... and then scores as the one that never stopped.
    for (int i = cut; i < kTotal; ++i) restarted.feed(*p, plant, i);
    auto a = through.measurements(), b = restarted.measurements();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].ts == b[i].ts);
      CHECK(a[i].score == b[i].score);
      CHECK(a[i].state == b[i].state);
      CHECK(a[i].explanation == b[i].explanation);
    }
  }
}

TEST_CASE("learning progress survives a restart", "[analytics][state]") {
  auto learning = [](const ScopeHealth& h) {
    for (auto& model : h.models)
      if (model.model == kVibrationMl) return model.persistent == HealthState::kInitializing;
    return true;
  };
  // When does an uninterrupted gateway leave learning?
  int learned_at = -1;
  {
    Plantroom through;
    MetricsRegistry m;
    auto p = through.pipeline(m);
    Plant plant;
    for (int i = 0; i < 60 && learned_at < 0; ++i) {
      through.feed(*p, plant, i);
      if (!learning(p->position_health(through.position).value())) learned_at = i;
    }
  }
  REQUIRE(learned_at > 4);
  // Restarted two measurements before that, it leaves learning at the same
  // measurement (a gateway that forgot would start its learning again).
  Plantroom room;
  Plant plant;
  {
    MetricsRegistry m;
    auto p = room.pipeline(m);
    for (int i = 0; i < learned_at - 1; ++i) room.feed(*p, plant, i);
    CHECK(learning(p->position_health(room.position).value()));
  }
  room.store.reset();
  room.open();
  MetricsRegistry m;
  auto p = room.pipeline(m);
  room.feed(*p, plant, learned_at - 1);
  CHECK(learning(p->position_health(room.position).value()));
  room.feed(*p, plant, learned_at);
  CHECK_FALSE(learning(p->position_health(room.position).value()));
  CHECK_FALSE(p->position_health(room.position).value().baseline.empty());
}

TEST_CASE("a corrupt saved state is counted, that position learns again, and the pipeline starts",
          "[analytics][state]") {
  Plantroom room;
  Plant plant;
  {
    MetricsRegistry m;
    auto p = room.pipeline(m);
    for (int i = 0; i < 30; ++i) room.feed(*p, plant, i);
  }
  REQUIRE(room.store->write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE learned_state SET state = x'deadbeef' WHERE position_id = ?");
    if (!q) return q.status();
    return (*q)->bind(1, room.position).run();
  }).ok());
  room.store.reset();
  room.open();
  MetricsRegistry m;
  auto p = room.pipeline(m);
  CHECK(m.counter_value("vigil_analytics_state_rejected_total") == 1);
  CHECK(p->position_health(room.position).value().models.empty());
  // It learns again from its next measurement, and that replaces the bad row.
  for (int i = 30; i < 33; ++i) room.feed(*p, plant, i);
  const auto health = p->position_health(room.position);  // (a range-for over .value() of a temporary dangles)
  REQUIRE(health.ok());
  for (auto& model : health->models)
    if (model.model == kVibrationMl) CHECK(model.persistent == HealthState::kInitializing);
  MachineInfo machine;
  machine.shaft_rpm = 1480;
  CHECK(room.store->read([&](sql::Db& db) -> Status {
    auto saved = read_learned_state(db, room.position);
    if (!saved) return saved.status();
    if (!saved->has_value()) return Status::NotFound("no saved state");
    VIGIL_RETURN_IF_ERROR(measurements_after(*room.store, **saved));
    auto r = restore_position(**saved, machine, learn_options(12));
    return r ? Status::Ok() : r.status();
  }).ok());
}

TEST_CASE("re-learning on request forgets the baseline, reads initializing, and stays so after a restart",
          "[analytics][state]") {
  Plantroom room;
  Plant plant;
  {
    MetricsRegistry m;
    auto p = room.pipeline(m);
    for (int i = 0; i < 30; ++i) room.feed(*p, plant, i);
    REQUIRE_FALSE(p->position_health(room.position).value().baseline.empty());
    REQUIRE(p->relearn(room.position).ok());
    p->drain();
    auto h = p->position_health(room.position).value();
    CHECK(h.baseline.empty());
    for (auto& model : h.models)
      if (model.model != kVibrationIso) CHECK(model.persistent == HealthState::kInitializing);
  }
  room.store.reset();
  room.open();
  MetricsRegistry m;
  auto p = room.pipeline(m);
  auto h = p->position_health(room.position).value();
  CHECK(h.baseline.empty());
  for (auto& model : h.models)
    if (model.model != kVibrationIso) CHECK(model.persistent == HealthState::kInitializing);
}
