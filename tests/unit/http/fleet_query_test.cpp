// SPDX-License-Identifier: Apache-2.0
// The fleet filter language (http/fleet_query.h) and the search and tag
// routes over it (api_catalog.cpp): PATCH {"tags"}, GET /api/v1/fleet/search.
#include <algorithm>
#include <catch2/catch.hpp>

#include "fixture.h"
#include "http/fleet_query.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;
using namespace vigil;
using namespace vigil::http;

namespace {

FleetQuery parse_ok(std::string_view q) {
  FleetQuery out;
  auto e = parse_fleet_query(q, out);
  INFO(q);
  REQUIRE_FALSE(e);
  return out;
}

std::string error_term(std::string_view q) {
  FleetQuery out;
  auto e = parse_fleet_query(q, out);
  INFO(q);
  REQUIRE(e);
  CHECK_FALSE(e->message.empty());
  return e->term;
}

constexpr TimestampMs kNow = 1'700'000'000'000;

}  // namespace

TEST_CASE("The filter language parses each field and operator") {
  auto q = parse_ok("battery<20  firmware<=1.3 no_data>2h criticality=A line!=2 AND area=north");
  REQUIRE(q.terms.size() == 6);
  CHECK(q.terms[0].field == FleetTerm::Field::kBattery);
  CHECK(q.terms[0].op == FleetTerm::Op::kLt);
  CHECK(q.terms[0].number == 20);
  CHECK(q.terms[1].field == FleetTerm::Field::kFirmware);
  CHECK(q.terms[1].op == FleetTerm::Op::kLe);
  CHECK(q.terms[1].version == std::vector<std::uint32_t>{1, 3});
  CHECK(q.terms[2].field == FleetTerm::Field::kNoData);
  CHECK(q.terms[2].duration_ms == 2 * 3600 * 1000);
  CHECK(q.terms[3].key == "criticality");
  CHECK(q.terms[3].value == "A");
  CHECK(q.terms[4].op == FleetTerm::Op::kNe);
  CHECK(q.terms[5].key == "area");
  CHECK(parse_ok("").terms.empty());
  CHECK(parse_ok("   ").terms.empty());
  CHECK(parse_ok("battery>=15%").terms[0].number == 15);
}

TEST_CASE("A malformed term is an error naming that term") {
  CHECK(error_term("battery<20 battery") == "battery");
  CHECK(error_term("battery<<20") == "battery<<20");
  CHECK(error_term("battery<abc") == "battery<abc");
  CHECK(error_term("battery<200") == "battery<200");
  CHECK(error_term("firmware<1.x") == "firmware<1.x");
  CHECK(error_term("firmware<1.2.3.4.5") == "firmware<1.2.3.4.5");
  CHECK(error_term("no_data>2") == "no_data>2");
  CHECK(error_term("no_data=2h") == "no_data=2h");
  CHECK(error_term("no_data>2y") == "no_data>2y");
  CHECK(error_term("line<2") == "line<2");
  CHECK(error_term("=A") == "=A");
  CHECK(error_term("line=") == "line=");
  CHECK(error_term("li ne=2 x!2") == "li");
  CHECK(error_term("x!2") == "x!2");
  CHECK(error_term("bad/key=1") == "bad/key=1");
  CHECK(error_term("k=" + std::string(65, 'v')).rfind("k=", 0) == 0);
}

TEST_CASE("The query is bounded in bytes and terms") {
  std::string many;
  for (int i = 0; i < 17; ++i) many += "k" + std::to_string(i) + "=1 ";
  CHECK(error_term(many) == "k16=1");
  FleetQuery out;
  auto e = parse_fleet_query(std::string(kMaxQueryBytes + 1, 'a'), out);
  REQUIRE(e);
  CHECK(e->message.find("512") != std::string::npos);
}

TEST_CASE("Versions compare numerically part by part") {
  CHECK(compare_versions(*parse_version("1.10"), *parse_version("1.9")) > 0);
  CHECK(compare_versions(*parse_version("1.3"), *parse_version("1.3.0")) == 0);
  CHECK(compare_versions(*parse_version("v1.2.9"), *parse_version("1.3")) < 0);
  CHECK_FALSE(parse_version(""));
  CHECK_FALSE(parse_version("1..2"));
  CHECK_FALSE(parse_version("1.2."));
  CHECK_FALSE(parse_version("1234567890"));
}

TEST_CASE("Matching: unknown values do not match comparisons, tags come from any level") {
  FleetSubject s;
  s.battery_pct = 15;
  s.firmware = "1.2.7";
  s.last_data = kNow - 3 * 3600 * 1000;
  s.tags = {{"line", "2"}, {"criticality", "A"}, {"area", "north"}};
  CHECK(fleet_matches(parse_ok("battery<20"), s, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("battery>=20"), s, kNow));
  CHECK(fleet_matches(parse_ok("firmware<1.3"), s, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("firmware>=1.3"), s, kNow));
  CHECK(fleet_matches(parse_ok("no_data>2h"), s, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("no_data<2h"), s, kNow));
  CHECK(fleet_matches(parse_ok("criticality=A line=2"), s, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("criticality=A line=3"), s, kNow));
  CHECK(fleet_matches(parse_ok("line!=3"), s, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("line!=2"), s, kNow));
  CHECK(fleet_matches(parse_ok(""), s, kNow));

  FleetSubject unknown;  // nothing known: never heard, no battery, no firmware
  CHECK_FALSE(fleet_matches(parse_ok("battery<100"), unknown, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("firmware<99"), unknown, kNow));
  CHECK(fleet_matches(parse_ok("no_data>1d"), unknown, kNow));
  CHECK_FALSE(fleet_matches(parse_ok("no_data<1d"), unknown, kNow));
  CHECK(fleet_matches(parse_ok("line!=2"), unknown, kNow));
}

TEST_CASE("Tags are set with PATCH on sensors, assets and positions and read back") {
  ApiFixture f;
  auto r = f.call("PATCH", "/api/v1/assets/" + std::to_string(f.asset), f.admin_token,
                  R"({"tags":{"line":"2","criticality":"A"}})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["tags"] == json{{"line", "2"}, {"criticality", "A"}});
  CHECK(ApiFixture::js(r)["name"] == "Pump P-1");  // a tags-only PATCH renames nothing
  r = f.call("PATCH", "/api/v1/positions/" + std::to_string(f.position), f.admin_token,
             R"({"name":"Pump DE2","tags":{"area":"north"}})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["tags"] == json{{"area", "north"}});
  CHECK(ApiFixture::js(r)["name"] == "Pump DE2");
  r = f.call("PATCH", "/api/v1/sensors/" + std::to_string(f.sensor), f.admin_token, R"({"tags":{"batch":"2026-11"}})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["tags"] == json{{"batch", "2026-11"}});
  CHECK(f.store->tags(TagKind::kSensor, f.sensor).value() == Tags{{"batch", "2026-11"}});
  // Replaced, not merged; {} clears.
  r = f.call("PATCH", "/api/v1/sensors/" + std::to_string(f.sensor), f.admin_token, R"({"tags":{}})");
  REQUIRE(r.status == 200);
  CHECK(f.store->tags(TagKind::kSensor, f.sensor).value().empty());
  auto audit = f.store->audit_log(10).value();
  CHECK(std::any_of(audit.begin(), audit.end(), [](const AuditEntry& e) { return e.action == "asset.tags"; }));
}

TEST_CASE("Bad tags are refused naming the field, nothing is written") {
  ApiFixture f;
  const std::string path = "/api/v1/sensors/" + std::to_string(f.sensor);
  auto check_bad = [&](const std::string& body) {
    auto r = f.call("PATCH", path, f.admin_token, body);
    INFO(body);
    CHECK(r.status == 422);
    CHECK(ApiFixture::js(r)["field"] == "tags");
  };
  check_bad(R"({"tags":"line=2"})");
  check_bad(R"({"tags":{"line":2}})");
  check_bad(R"({"tags":{"bad key":"x"}})");
  check_bad(R"({"tags":{"k":""}})");
  check_bad(R"({"tags":{"k":")" + std::string(65, 'v') + R"("}})");
  json many = json::object();
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  check_bad(json{{"tags", many}}.dump());
  CHECK(f.call("PATCH", path, f.admin_token, R"({"name":"x"})").status == 422);
  CHECK(f.call("PATCH", path, f.tech_token, R"({"tags":{"a":"b"}})").status == 403);
  CHECK(f.call("PATCH", "/api/v1/sensors/9999", f.admin_token, R"({"tags":{"a":"b"}})").status == 404);
  CHECK(f.store->tags(TagKind::kSensor, f.sensor).value().empty());
  // Sites take no tags.
  auto site = f.call("PATCH", "/api/v1/sites/" + std::to_string(f.site), f.admin_token, R"({"tags":{"a":"b"}})");
  CHECK(site.status == 422);
  CHECK(ApiFixture::js(site)["field"] == "tags");
}

TEST_CASE("The fleet search filters by tags, battery, firmware and silence; bad terms are a 400 naming them") {
  ApiFixture f;
  // A second sensor on another asset, with a low battery and old firmware.
  Asset a;
  a.site_id = f.site;
  a.name = "Fan F-2";
  Id fan = f.store->upsert_asset(a).value();
  Id fan_pos = f.store->upsert_position(Position{0, fan, "Fan DE", PositionType::kFan}).value();
  Sensor s;
  s.address = "AA:BB:CC:DD:EE:02";
  s.format = "bthome";
  s.position_id = fan_pos;
  s.commissioned_at = f.clock.now_ms();
  Id fan_sensor = f.store->upsert_sensor(s).value();
  f.ingest->submit(std::vector<Reading>{{s.address, "battery_pct", f.clock.now_ms(), 12}});
  REQUIRE(f.store->flush().ok());
  REQUIRE(f.store->set_sensor_firmware(s.address, "1.2.0").ok());
  REQUIRE(f.store->set_tags(TagKind::kAsset, fan, {{"criticality", "A"}, {"line", "2"}}, "t").ok());
  REQUIRE(f.store->set_tags(TagKind::kAsset, f.asset, {{"criticality", "B"}, {"line", "2"}}, "t").ok());

  auto ids = [&](const std::string& q) {
    auto r = f.call("GET", "/api/v1/fleet/search?q=" + q, f.viewer_token);
    INFO(q << " → " << r.body.substr(0, 600));
    REQUIRE(r.status == 200);
    std::vector<Id> out;
    const json body = ApiFixture::js(r);
    for (const auto& x : body["sensors"]) out.push_back(x["id"].get<Id>());
    return out;
  };
  CHECK(ids("").size() == 2);
  CHECK(ids("criticality%3DA%20line%3D2") == std::vector<Id>{fan_sensor});
  CHECK(ids("line%3D2").size() == 2);
  CHECK(ids("battery%3C20") == std::vector<Id>{fan_sensor});
  CHECK(ids("firmware%3C1.3") == std::vector<Id>{fan_sensor});
  CHECK(ids("no_data%3E2h").empty());
  f.clock.advance(3 * 3600 * 1000);
  CHECK(ids("no_data%3E2h").size() == 2);
  auto one = ApiFixture::js(f.call("GET", "/api/v1/fleet/search?q=battery%3C20", f.viewer_token));
  CHECK(one["count"] == 1);
  CHECK(one["sensors"][0]["asset"] == "Fan F-2");
  CHECK(one["sensors"][0]["firmware"] == "1.2.0");
  CHECK(one["sensors"][0]["battery_pct"] == 12);
  CHECK(one["sensors"][0]["tags"]["criticality"] == "A");

  auto bad = f.call("GET", "/api/v1/fleet/search?q=battery%3C20%20line%3C%3C2", f.viewer_token);
  CHECK(bad.status == 400);
  CHECK(ApiFixture::js(bad)["term"] == "line<<2");
  CHECK(ApiFixture::js(bad)["field"] == "q");
  CHECK(f.call("GET", "/api/v1/fleet/search?limit=0", f.viewer_token).status == 400);
  auto limited = ApiFixture::js(f.call("GET", "/api/v1/fleet/search?limit=1", f.viewer_token));
  CHECK(limited["sensors"].size() == 1);
  CHECK(limited["count"] == 2);
  CHECK(limited["truncated"] == true);
  // Decommissioned sensors are left out.
  REQUIRE(f.store->decommission_sensor(fan_sensor, "t").ok());
  CHECK(ids("battery%3C20").empty());
}

namespace {

// The catalog as the Store's own reads give it (the six reads and their
// joins the search used before it read with its own SQL): what
// load_fleet_catalog must equal, row for row.
FleetCatalog catalog_from_store_api(Store& store) {
  auto sensors = store.sensors().value();
  auto positions = store.positions().value();
  auto assets = store.assets().value();
  auto series = store.series().value();
  auto tags = store.all_tags().value();
  auto firmware = store.sensor_firmware().value();
  FleetCatalog out;
  for (const auto& s : sensors) {
    if (s.decommissioned_at) continue;
    FleetEntry e;
    e.id = s.id;
    e.address = s.address;
    e.name = s.name;
    if (s.position_id) {
      auto p = std::find_if(positions.begin(), positions.end(), [&](const Position& x) { return x.id == *s.position_id; });
      if (p == positions.end()) continue;  // an archived position: not listed
      e.position_id = p->id;
      e.position = p->name;
      auto a = std::find_if(assets.begin(), assets.end(), [&](const Asset& x) { return x.id == p->asset_id; });
      if (a != assets.end()) {
        e.asset_id = a->id;
        e.asset = a->name;
      }
    }
    if (auto f = firmware.find(s.id); f != firmware.end()) e.firmware = f->second;
    for (auto [kind, id] : {std::pair{TagKind::kSensor, std::optional<Id>(e.id)}, std::pair{TagKind::kPosition, e.position_id},
                            std::pair{TagKind::kAsset, e.asset_id}}) {
      for (const auto& t : tags)
        if (id && t.kind == kind && t.id == *id) e.tags.emplace_back(t.key, t.value);
    }
    for (const auto& se : series) {
      if (se.sensor_id != e.id) continue;
      e.series.push_back(se.id);
      if (se.metric == "battery_pct") e.battery_series.push_back(se.id);
    }
    out.sensors.push_back(std::move(e));
  }
  return out;
}

void check_same_catalog(const FleetCatalog& got, const FleetCatalog& want) {
  REQUIRE(got.sensors.size() == want.sensors.size());
  for (std::size_t i = 0; i < want.sensors.size(); ++i) {
    const FleetEntry& g = got.sensors[i];
    const FleetEntry& w = want.sensors[i];
    INFO("sensor " << w.id << " " << w.address);
    CHECK(g.id == w.id);
    CHECK(fleet_answer_members(g) == fleet_answer_members(w));  // address, names, ids, firmware, tags
    CHECK(g.tags == w.tags);                                    // every level's, in order
    CHECK(g.series == w.series);
    CHECK(g.battery_series == w.battery_series);
  }
}

}  // namespace

TEST_CASE("The catalog the search loads equals the Store's own reads joined, edge cases included") {
  ApiFixture f;
  auto& st = *f.store;
  // A second asset with two positions: one sensor moves between them (its
  // old series stays, retired, and still counts as its data), one sits on a
  // position that is then archived (and so is decommissioned: not listed).
  Asset fan;
  fan.site_id = f.site;
  fan.name = "Fan F-2";
  const Id fan_id = st.upsert_asset(fan).value();
  const Id fan_de = st.upsert_position(Position{0, fan_id, "Fan DE", PositionType::kFan}).value();
  const Id fan_nde = st.upsert_position(Position{0, fan_id, "Fan NDE", PositionType::kFan}).value();
  const Id gone = st.upsert_position(Position{0, fan_id, "Old", PositionType::kFan}).value();
  auto sensor_on = [&](const std::string& address, std::optional<Id> position) {
    Sensor s;
    s.address = address;
    s.name = "s " + address.substr(address.size() - 2);
    s.format = "bthome";
    s.position_id = position;
    s.commissioned_at = f.clock.now_ms();
    return st.upsert_sensor(s).value();
  };
  const Id mover = sensor_on("AA:BB:CC:DD:EE:02", fan_de);
  const Id spare = sensor_on("AA:BB:CC:DD:EE:03", std::nullopt);  // unassigned: listed, no position
  const Id retired = sensor_on("AA:BB:CC:DD:EE:04", gone);
  const Id decommissioned = sensor_on("AA:BB:CC:DD:EE:05", fan_nde);
  REQUIRE(st.ensure_series(mover, "battery_pct", "%").ok());
  REQUIRE(st.ensure_series(mover, "velocity_rms_mm_s", "mm/s").ok());
  REQUIRE(st.move_sensor(mover, fan_nde, "t").ok());
  REQUIRE(st.ensure_series(mover, "battery_pct", "%").ok());  // a new one at the new position
  REQUIRE(st.ensure_series(spare, "battery_pct", "%").ok());
  REQUIRE(st.set_tags(TagKind::kPosition, gone, {{"side", "x"}}, "t").ok());
  REQUIRE(st.archive(CatalogKind::kPosition, gone, "t").ok());  // its sensor is decommissioned
  REQUIRE(st.decommission_sensor(decommissioned, "t").ok());
  // Tags on every level, the same key on several (the sensor's comes first).
  REQUIRE(st.set_tags(TagKind::kAsset, fan_id, {{"line", "2"}, {"criticality", "A"}}, "t").ok());
  REQUIRE(st.set_tags(TagKind::kPosition, fan_nde, {{"side", "nde"}, {"line", "3"}}, "t").ok());
  REQUIRE(st.set_tags(TagKind::kSensor, mover, {{"line", "9"}, {"batch", "7"}}, "t").ok());
  REQUIRE(st.set_tags(TagKind::kSensor, spare, {{"batch", "8"}}, "t").ok());
  REQUIRE(st.set_sensor_firmware("AA:BB:CC:DD:EE:02", "1.2.0").ok());
  REQUIRE(st.set_sensor_firmware("AA:BB:CC:DD:EE:03", "1.4.1").ok());

  const auto got = load_fleet_catalog(st).value();
  const FleetCatalog want = catalog_from_store_api(st);
  check_same_catalog(*got, want);
  // What the cases above are meant to exercise really is in the data.
  std::vector<Id> listed;
  for (const auto& e : got->sensors) listed.push_back(e.id);
  CHECK(listed == std::vector<Id>{f.sensor, mover, spare});
  const FleetEntry& m = got->sensors[1];
  CHECK(m.series.size() == 3);  // the retired battery series, velocity, the new battery series
  CHECK(m.battery_series.size() == 2);
  CHECK(m.tags.size() == 6);
  CHECK(m.tags.front() == std::pair<std::string, std::string>{"batch", "7"});
  CHECK_FALSE(got->sensors[2].position_id);
  CHECK(std::find(listed.begin(), listed.end(), retired) == listed.end());

  // A size hint changes nothing but the reservation.
  check_same_catalog(*load_fleet_catalog(st, 3).value(), want);
  check_same_catalog(*load_fleet_catalog(st, 1'000'000'000).value(), want);
}

TEST_CASE("The catalog cache answers with every catalog write made before the request, not reloading for readings") {
  ApiFixture f;
  FleetCatalogCache cache;
  auto first = cache.get(*f.store).value();
  REQUIRE(first->sensors.size() == 1);
  CHECK_FALSE(first->sensors[0].firmware);
  // Readings of a known series leave the catalog as it was: the same one answers.
  f.ingest->submit(std::vector<Reading>{{"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", f.clock.now_ms(), 2.0}});
  REQUIRE(f.store->flush().ok());
  CHECK(cache.get(*f.store).value() == first);
  // A catalog write: the next answer has it.
  REQUIRE(f.store->set_sensor_firmware("AA:BB:CC:DD:EE:01", "1.3.0").ok());
  auto second = cache.get(*f.store).value();
  CHECK(second != first);
  CHECK(second->sensors[0].firmware == std::optional<std::string>("1.3.0"));
  REQUIRE(f.store->set_tags(TagKind::kSensor, f.sensor, {{"batch", "1"}}, "t").ok());
  auto third = cache.get(*f.store).value();
  CHECK(third->sensors[0].tags == std::vector<std::pair<std::string, std::string>>{{"batch", "1"}});
  REQUIRE(f.store->decommission_sensor(f.sensor, "t").ok());
  CHECK(cache.get(*f.store).value()->sensors.empty());
}

TEST_CASE("A reload into the catalog no request holds any more keeps nothing of what it held") {
  ApiFixture f;
  auto& st = *f.store;
  // Two sensors: the first with a position, tags, firmware and a series;
  // the second unassigned and bare. After the reload the first is gone, so
  // the second lands in the entry that held the first.
  Sensor s;
  s.address = "AA:BB:CC:DD:EE:02";
  s.format = "bthome";
  s.commissioned_at = f.clock.now_ms();
  const Id bare = st.upsert_sensor(s).value();
  REQUIRE(st.set_tags(TagKind::kSensor, f.sensor, {{"batch", "1"}}, "t").ok());
  REQUIRE(st.set_tags(TagKind::kAsset, f.asset, {{"line", "2"}}, "t").ok());
  REQUIRE(st.set_sensor_firmware("AA:BB:CC:DD:EE:01", "1.3.0").ok());
  FleetCatalogCache cache;
  const FleetCatalog* before = nullptr;
  {
    auto c = cache.get(st).value();
    REQUIRE(c->sensors.size() == 2);
    CHECK(c->sensors[0].tags.size() == 2);
    before = c.get();
  }  // no request holds it now: the next load writes into it
  REQUIRE(st.decommission_sensor(f.sensor, "t").ok());
  auto c = cache.get(st).value();
  CHECK(c.get() == before);  // reused, not a new one
  check_same_catalog(*c, catalog_from_store_api(st));
  REQUIRE(c->sensors.size() == 1);
  const FleetEntry& e = c->sensors[0];
  CHECK(e.id == bare);
  CHECK_FALSE(e.position_id);
  CHECK(e.position.empty());
  CHECK_FALSE(e.asset_id);
  CHECK_FALSE(e.firmware);
  CHECK(e.tags.empty());
  CHECK(e.series.empty());
  // While a request holds the catalog, a reload leaves it alone.
  REQUIRE(st.set_sensor_firmware("AA:BB:CC:DD:EE:02", "1.0.0").ok());
  auto next = cache.get(st).value();
  CHECK(next != c);
  CHECK_FALSE(c->sensors[0].firmware);
  CHECK(next->sensors[0].firmware == std::optional<std::string>("1.0.0"));
}
