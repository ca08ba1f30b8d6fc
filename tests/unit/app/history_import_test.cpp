// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "analytics/detectors.h"
#include "app/history_import.h"
#include "app/store_options.h"
#include "app/time_arg.h"
#include "vigil/store.h"
#include "vigil_test/store_scalar.h"
#include "vigil_test/temp_dir.h"

using namespace vigil;
using namespace vigil::app;

TEST_CASE("a Monitron v2 measurement becomes points on its site, asset and position") {
  const std::string line =
      R"({"timestamp":"2025-03-01 10:00:00.250","version":"2.0","eventType":"measurement","eventPayload":)"
      R"({"siteName":"Hall 3","assetName":"P-7","positionName":"DE","sensor":{"physicalId":"S1"},"extra":1,)"
      R"("features":{"velocity":{"band10To1000Hz":{"totalVibration":{"rms":1.5}}},"temperature":40.5}}})";
  std::vector<ImportedPoint> pts;
  std::string err;
  REQUIRE(parse_monitron_line(line, pts, err) == LineKind::kPoints);
  REQUIRE(pts.size() == 2);
  CHECK(pts[0].site == "Hall 3");
  CHECK(pts[0].position == "DE");
  CHECK(pts[0].source == "S1");
  CHECK(pts[0].metric == "velocity_rms_mm_s");
  CHECK(pts[0].value == 1.5);
  CHECK(pts[0].ts == 1740823200250LL);
  CHECK(pts[1].metric == "temperature_c");
}

TEST_CASE("other Monitron events are skipped and broken lines say why") {
  std::vector<ImportedPoint> pts;
  std::string err;
  CHECK(parse_monitron_line(R"({"version":"2.0","eventType":"gatewayConnected","eventPayload":{}})", pts, err) ==
        LineKind::kOtherEvent);
  CHECK(parse_monitron_line(R"({"eventType":"measurement","eventPa)", pts, err) == LineKind::kBad);
  CHECK(err.rfind("not JSON", 0) == 0);
  CHECK(parse_monitron_line(R"({"eventType":"measurement","eventPayload":{"siteName":"S"}})", pts, err) == LineKind::kBad);
  CHECK(err.find("names") != std::string::npos);
  CHECK(pts.empty());
}

TEST_CASE("times as files and users write them") {
  CHECK(parse_time_arg("1700000000000") == 1700000000000LL);
  CHECK(parse_time_arg("2026-11-01") == 1793491200000LL);
  CHECK(parse_time_arg("2026-11-01T10:00:00Z") == 1793527200000LL);
  CHECK(parse_time_arg("2026-11-01T11:00:00+01:00") == 1793527200000LL);
  CHECK_FALSE(parse_time_arg("2026-11-01T11:00:00+1:0"));  // never reads past the end
  CHECK_FALSE(parse_time_arg("yesterday"));
  CHECK_FALSE(parse_time_arg("99999999999999999999999"));
  CHECK(parse_import_time("2026-11-01 10:00:00.5") == 1793527200500LL);
}

// ---- Monitron's model states → the position's health history (issue 17) ----

namespace {

std::string monitron_v2(const std::string& ts, const std::string& models) {
  return R"({"timestamp":")" + ts + R"(","version":"2.0","eventType":"measurement","eventPayload":)"
         R"({"siteName":"Hall 3","assetName":"P-7","positionName":"DE","sensor":{"physicalId":"S1"},)"
         R"("features":{"velocity":{"band10To1000Hz":{"totalVibration":{"rms":1.5}}},"temperature":40.5},)"
         R"("models":)" + models + "}}";
}

struct ImportRig {
  TempDir dir;
  Config config;
  ImportRig() { config.storage.path = dir.file("v.db"); }
  std::string write(const std::vector<std::string>& lines) {
    const std::string path = dir.file("export.jsonl");
    std::ofstream f(path);
    for (const auto& l : lines) f << l << "\n";
    return path;
  }
  int run(const std::string& file, bool dry_run, std::string& out, std::string& err) {
    std::ostringstream o, e;
    ImportOptions opt;
    opt.file = file;
    opt.format = "monitron";
    opt.dry_run = dry_run;
    const int rc = import_command(config, opt, o, e);
    out = o.str();
    err = e.str();
    return rc;
  }
  // health_states rows as "scope:model:pointwise/persistent@ts", in time order.
  std::vector<std::string> states() {
    StoreOptions so;
    so.path = config.storage.path;
    auto store = Store::open(so).value();
    std::vector<std::string> rows;
    REQUIRE(store->read([&](sql::Db& db) -> Status {
                   // The table is the analytics' (Pipeline::migrate): absent until an import writes states.
                   auto t = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'health_states'");
                   if (!t) return t.status();
                   auto has = (*t)->step();
                   if (!has) return has.status();
                   const bool exists = *has && (*t)->i64(0) > 0;
                   (*t)->reset();
                   if (!exists) return Status::Ok();
                   auto q = db.prepare("SELECT scope, model, pointwise, persistent, ts FROM health_states "
                                       "ORDER BY model, ts, id");
                   if (!q) return q.status();
                   while (true) {
                     auto row = (*q)->step();
                     if (!row) return row.status();
                     if (!*row) break;
                     rows.push_back((*q)->text(0) + ":" + (*q)->text(1) + ":" + (*q)->text(2) + "/" + (*q)->text(3) +
                                    "@" + std::to_string((*q)->i64(4)));
                   }
                   (*q)->reset();
                   return Status::Ok();
                 }).ok());
    return rows;
  }
};

}  // namespace

TEST_CASE("a Monitron measurement's model states are mapped to vigil's models and states") {
  const std::string line = monitron_v2(
      "2025-03-01 10:00:00.000",
      R"({"temperatureML":{"persistentClassificationOutput":"HEALTHY","pointwiseClassificationOutput":"WARNING"},)"
      R"("vibrationISO":{"isoClass":"CLASS1","mutedThreshold":null,"persistentClassificationOutput":"ALARM",)"
      R"("pointwiseClassificationOutput":"ALARM"},"vibrationML":{"pointwiseClassificationOutput":"Warning"},)"
      R"("acousticML":{"persistentClassificationOutput":"HEALTHY"}})");
  MonitronMeasurement m;
  std::string err;
  REQUIRE(parse_monitron_line(line, m, err) == LineKind::kPoints);
  CHECK(m.points.size() == 2);
  CHECK(m.unknown_models == 1);  // acousticML: no counterpart in vigil
  REQUIRE(m.states.size() == 3);
  std::map<std::string, std::pair<HealthState, HealthState>> by_model;
  for (const auto& s : m.states) {
    CHECK(s.site == "Hall 3");
    CHECK(s.position == "DE");
    CHECK(s.ts == 1740823200000LL);
    by_model[s.model] = {s.pointwise, s.persistent};
  }
  CHECK(by_model.at(analytics::kTemperatureMl) == std::pair{HealthState::kWarning, HealthState::kHealthy});
  CHECK(by_model.at(analytics::kVibrationIso) == std::pair{HealthState::kAlarm, HealthState::kAlarm});
  // Only one output given: it stands for both.
  CHECK(by_model.at(analytics::kVibrationMl) == std::pair{HealthState::kWarning, HealthState::kWarning});

  // v1: the models next to the measurement.
  const std::string v1 =
      R"({"timestamp":"2025-03-01 10:00:00","siteDisplayName":"S","assetDisplayName":"A",)"
      R"("sensorPositionDisplayName":"P","measurement":{"features":{"temperature":30}},)"
      R"("models":{"vibrationISO":{"persistentClassificationOutput":"WARNING"}}})";
  REQUIRE(parse_monitron_line(v1, m, err) == LineKind::kPoints);
  REQUIRE(m.states.size() == 1);
  CHECK(m.states[0].model == "vibrationISO");
  CHECK(m.states[0].persistent == HealthState::kWarning);
}

TEST_CASE("a model state Monitron does not document is a bad line naming the model and the value") {
  MonitronMeasurement m;
  std::string err;
  CHECK(parse_monitron_line(monitron_v2("2025-03-01 10:00:00", R"({"vibrationML":{"persistentClassificationOutput":"BROKEN"}})"),
                            m, err) == LineKind::kBad);
  CHECK(err.find("vibrationML") != std::string::npos);
  CHECK(err.find("BROKEN") != std::string::npos);
  CHECK(m.points.empty());
  CHECK(m.states.empty());
  CHECK(parse_monitron_line(monitron_v2("2025-03-01 10:00:00", R"({"vibrationML":{"pointwiseClassificationOutput":3}})"),
                            m, err) == LineKind::kBad);
  CHECK(parse_monitron_line(monitron_v2("2025-03-01 10:00:00", R"(["vibrationML"])"), m, err) == LineKind::kBad);

  // Through the command: FILE:LINE, exit 2, nothing written.
  ImportRig rig;
  const std::string file = rig.write(
      {monitron_v2("2025-03-01 10:00:00", R"({"vibrationML":{"persistentClassificationOutput":"HEALTHY"}})"),
       monitron_v2("2025-03-02 10:00:00", R"({"vibrationML":{"persistentClassificationOutput":"BROKEN"}})")});
  std::string out, e;
  CHECK(rig.run(file, false, out, e) == 2);
  CHECK(e.find(file + ":2: models.vibrationML.persistentClassificationOutput") != std::string::npos);
  CHECK(e.find("nothing was imported") != std::string::npos);
}

TEST_CASE("imported model states become health history: changes only, once, and the dry run counts them") {
  ImportRig rig;
  auto temp = [](const char* pointwise, const char* persistent) {
    return std::string(R"({"temperatureML":{"pointwiseClassificationOutput":")") + pointwise +
           R"(","persistentClassificationOutput":")" + persistent + R"("},"acousticML":{}})";
  };
  // Recent days (older raw points go at the checkpoint, and with them what
  // tells a second import that its points are stored), as epoch ms, which
  // the import also reads. Out of order on purpose: the history is kept in
  // time order.
  const TimestampMs day0 = (SystemClock::instance().now_ms() / 86'400'000 - 10) * 86'400'000;
  auto day = [&](int d) { return std::to_string(day0 + d * 86'400'000LL); };
  const std::string file = rig.write({
      monitron_v2(day(1), temp("HEALTHY", "HEALTHY")),
      monitron_v2(day(2), temp("HEALTHY", "HEALTHY")),   // no change: no row
      monitron_v2(day(3), temp("WARNING", "HEALTHY")),
      monitron_v2(day(5), temp("HEALTHY", "HEALTHY")),
      monitron_v2(day(4), temp("ALARM", "WARNING")),
  });
  std::string out, err;
  REQUIRE(rig.run(file, true, out, err) == 0);
  INFO(out << err);
  CHECK(out.find("10 points would be imported") != std::string::npos);
  // File order: H/H, H/H (same), W/H, H/H, A/W → 4 changes of 5 states.
  CHECK(out.find("4 model state changes would be imported (of 5 model states; 5 results of unknown models skipped)") !=
        std::string::npos);
  CHECK(rig.states().empty());  // the dry run writes nothing (not even the table's rows)

  REQUIRE(rig.run(file, false, out, err) == 0);
  // Time order: H/H (day 1), H/H (day 2, same), W/H (3), A/W (4), H/H (5) → 4 rows.
  CHECK(out.find("; 4 model states (1 unchanged or already stored, skipped)") != std::string::npos);
  CHECK(out.find("5 results of unknown models skipped") != std::string::npos);
  const std::vector<std::string> want = {
      "position:temperatureML:healthy/healthy@" + day(1), "position:temperatureML:warning/healthy@" + day(3),
      "position:temperatureML:alarm/warning@" + day(4), "position:temperatureML:healthy/healthy@" + day(5)};
  CHECK(rig.states() == want);

  // Again: nothing new (points nor states).
  REQUIRE(rig.run(file, false, out, err) == 0);
  INFO(out);
  CHECK(out.find("imported 0 points") != std::string::npos);
  CHECK(out.find("; 0 model states (5 unchanged or already stored, skipped)") != std::string::npos);
  CHECK(rig.states() == want);
}

TEST_CASE("an import keeps history the configured raw retention keeps, past the library's default year") {
  ImportRig rig;
  rig.config.storage.raw_retention_days = 1000;
  auto days_ago = [](int days) {
    const std::time_t t = std::time(nullptr) - static_cast<std::time_t>(days) * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S.000", &tm);
    return std::string(buf);
  };
  const std::string models = R"({"vibrationISO":{"persistentClassificationOutput":"HEALTHY"}})";
  std::string out, err;
  REQUIRE(rig.run(rig.write({monitron_v2(days_ago(600), models), monitron_v2(days_ago(1), models)}), false, out,
                  err) == 0);
  // The import's own checkpoint ran retention: with the configured 1,000
  // days both measurements' points (2 metrics each) are still raw points.
  auto store = Store::open(app::store_options(rig.config.storage)).value();
  CHECK(vigil_test::scalar(*store, "SELECT coalesce(sum(n), 0) FROM chunks") +
            vigil_test::scalar(*store, "SELECT count(*) FROM ingest_log") ==
        4);
  CHECK(err.find("older than storage.raw_retention_days") == std::string::npos);

  // With a shorter retention the old measurement is kept as roll-ups only,
  // and the import says so.
  store.reset();
  ImportRig shorter;
  shorter.config.storage.raw_retention_days = 365;
  REQUIRE(shorter.run(shorter.write({monitron_v2(days_ago(600), models), monitron_v2(days_ago(1), models)}), false,
                      out, err) == 0);
  CHECK(err.find("older than storage.raw_retention_days (365 days): the import's checkpoint kept them as hourly "
                 "roll-ups") != std::string::npos);
  auto kept = Store::open(app::store_options(shorter.config.storage)).value();
  CHECK(vigil_test::scalar(*kept, "SELECT coalesce(sum(n), 0) FROM chunks") +
            vigil_test::scalar(*kept, "SELECT count(*) FROM ingest_log") ==
        2);
  CHECK(vigil_test::scalar(*kept, "SELECT count(*) FROM rollup_daily") == 2);
}
