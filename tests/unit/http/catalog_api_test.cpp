// SPDX-License-Identifier: Apache-2.0
// The fleet lifecycle over REST (api_catalog.cpp): renames in place, archive
// and purge with confirmation, sensor decommission, replace and move, the
// CSV import with its dry run, roles and 422s that name the field.
#include <catch2/catch.hpp>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;
using namespace vigil;

namespace {
const std::map<std::string, std::string> kCsv = {{"content-type", "text/csv"}};
}

TEST_CASE("PATCH renames an asset in place and the fleet shows the new name") {
  ApiFixture f;
  int catalog_changes = 0;
  f.ctx.catalog_changed = [&] { ++catalog_changes; };
  auto r = f.call("PATCH", "/api/v1/assets/" + std::to_string(f.asset), f.admin_token, R"({"name":"Pump P-101"})");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["id"] == f.asset);
  CHECK(ApiFixture::js(r)["name"] == "Pump P-101");
  CHECK(catalog_changes == 1);
  auto fleet = ApiFixture::js(f.call("GET", "/api/v1/fleet", f.admin_token));
  const auto& assets = fleet["sites"][0]["assets"];
  REQUIRE(assets.size() == 1);
  CHECK(assets[0]["id"] == f.asset);
  CHECK(assets[0]["name"] == "Pump P-101");
  // The old name is free again; a POST with it makes a second asset.
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/assets", f.admin_token)).size() == 1);
}

TEST_CASE("PATCH refuses bad input naming the field, and other roles") {
  ApiFixture f;
  const std::string path = "/api/v1/positions/" + std::to_string(f.position);
  auto empty = f.call("PATCH", path, f.admin_token, R"({"name":""})");
  CHECK(empty.status == 422);
  CHECK(ApiFixture::js(empty)["field"] == "name");
  auto typo = f.call("PATCH", path, f.admin_token, R"({"nmae":"x"})");
  CHECK(typo.status == 422);
  CHECK(ApiFixture::js(typo)["field"] == "nmae");
  CHECK(f.call("PATCH", path, f.tech_token, R"({"name":"x"})").status == 403);
  CHECK(f.call("PATCH", "/api/v1/positions/999", f.admin_token, R"({"name":"x"})").status == 404);
  // A sibling's name: 409, nothing renamed.
  auto other = ApiFixture::js(f.call("POST", "/api/v1/positions", f.admin_token,
                                     R"({"asset_id":)" + std::to_string(f.asset) + R"(,"name":"Motor NDE"})"));
  auto clash = f.call("PATCH", path, f.admin_token, R"({"name":"Motor NDE"})");
  CHECK(clash.status == 409);
  CHECK(ApiFixture::js(clash)["field"] == "name");
  CHECK(f.store->position(f.position).value().name == "Pump DE");
}

TEST_CASE("PATCH site_id moves an asset; an unknown site is a 422 on site_id") {
  ApiFixture f;
  Id south = f.store->upsert_site(Site{0, "South", "UTC"}).value();
  const std::string path = "/api/v1/assets/" + std::to_string(f.asset);
  auto bad = f.call("PATCH", path, f.admin_token, R"({"site_id":4242})");
  CHECK(bad.status == 422);
  CHECK(ApiFixture::js(bad)["field"] == "site_id");
  auto r = f.call("PATCH", path, f.admin_token, R"({"site_id":)" + std::to_string(south) + "}");
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["site_id"] == south);
}

TEST_CASE("DELETE archives by default and purges only with the name as confirmation") {
  ApiFixture f;
  const std::string path = "/api/v1/positions/" + std::to_string(f.position);
  auto archived = f.call("DELETE", path, f.admin_token);
  REQUIRE(archived.status == 200);
  CHECK(ApiFixture::js(archived)["archived"] == true);
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/positions", f.admin_token)).empty());
  // History stays readable.
  CHECK(f.call("GET", "/api/v1/series/" + std::to_string(f.series), f.admin_token).status == 200);
  CHECK(ApiFixture::js(f.call("GET", path + "/series", f.admin_token)).size() == 1);

  auto no_confirm = f.call("DELETE", path + "?mode=purge", f.admin_token);
  CHECK(no_confirm.status == 422);
  CHECK(ApiFixture::js(no_confirm)["field"] == "confirm");
  auto wrong = f.call("DELETE", path + "?mode=purge&confirm=Pump%20NDE", f.admin_token);
  CHECK(wrong.status == 422);
  CHECK(f.call("DELETE", path + "?mode=shred", f.admin_token).status == 422);
  auto purged = f.call("DELETE", path + "?mode=purge&confirm=Pump%20DE", f.admin_token);
  REQUIRE(purged.status == 200);
  CHECK(ApiFixture::js(purged)["purged"] == true);
  CHECK(f.call("GET", "/api/v1/series/" + std::to_string(f.series), f.admin_token).status == 404);
  CHECK(f.call("GET", path + "/series", f.admin_token).status == 404);
}

TEST_CASE("a decommissioned sensor's readings are rejected and counted") {
  ApiFixture f;
  auto r = f.call("POST", "/api/v1/sensors/" + std::to_string(f.sensor) + "/decommission", f.admin_token);
  REQUIRE(r.status == 200);
  CHECK(ApiFixture::js(r)["decommissioned"] == true);
  f.clock.advance(60'000);
  auto res = f.ingest->submit(std::vector<Reading>{{"AA:BB:CC:DD:EE:01", "velocity_rms_mm_s", f.clock.now_ms(), 9.9}});
  CHECK(res.accepted == 0);
  CHECK(res.rejected_total() == 1);
  CHECK(res.rejected.count(RejectReason::kDecommissioned) == 1);
  CHECK(f.call("POST", "/api/v1/sensors/999/decommission", f.admin_token).status == 404);
}

TEST_CASE("replace puts a new sensor on the position; move leaves the past behind") {
  ApiFixture f;
  const std::string base = "/api/v1/sensors/" + std::to_string(f.sensor);
  auto bad = f.call("POST", base + "/replace", f.admin_token, R"({"address":"nope"})");
  CHECK(bad.status == 422);
  CHECK(ApiFixture::js(bad)["field"] == "address");
  auto badkey = f.call("POST", base + "/replace", f.admin_token, R"({"address":"AA:BB:CC:DD:EE:02","key":"12"})");
  CHECK(ApiFixture::js(badkey)["field"] == "key");
  auto r = f.call("POST", base + "/replace", f.admin_token,
                  R"({"address":"aa:bb:cc:dd:ee:02","key":"00112233445566778899aabbccddeeff"})");
  REQUIRE(r.status == 200);
  auto j = ApiFixture::js(r);
  CHECK(j["old"]["decommissioned"] == true);
  CHECK(j["new"]["address"] == "AA:BB:CC:DD:EE:02");
  CHECK(j["new"]["position_id"] == f.position);
  const Id fresh = j["new"]["id"].get<Id>();

  Id other = f.store->upsert_position(Position{0, f.asset, "Pump NDE", PositionType::kPump}).value();
  auto missing = f.call("POST", "/api/v1/sensors/" + std::to_string(fresh) + "/move", f.admin_token,
                        R"({"position_id":777})");
  CHECK(missing.status == 422);
  CHECK(ApiFixture::js(missing)["field"] == "position_id");
  auto moved = f.call("POST", "/api/v1/sensors/" + std::to_string(fresh) + "/move", f.admin_token,
                      R"({"position_id":)" + std::to_string(other) + "}");
  REQUIRE(moved.status == 200);
  CHECK(ApiFixture::js(moved)["position_id"] == other);
  f.clock.advance(60'000);
  auto res = f.ingest->submit(std::vector<Reading>{{"AA:BB:CC:DD:EE:02", "velocity_rms_mm_s", f.clock.now_ms(), 3.0}});
  CHECK(res.accepted == 1);
  REQUIRE(f.store->flush().ok());
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/positions/" + std::to_string(other) + "/series", f.admin_token)).size() == 1);
  // The first position keeps only the old sensor's series.
  auto at_first = ApiFixture::js(f.call("GET", "/api/v1/positions/" + std::to_string(f.position) + "/series", f.admin_token));
  REQUIRE(at_first.size() == 1);
  CHECK(at_first[0]["id"] == f.series);
}

TEST_CASE("the CSV import: dry run, bad rows by line, then the real thing") {
  ApiFixture f;
  const std::string csv = "address,key,position\n"
                          "AA:BB:CC:DD:EE:10,00112233445566778899aabbccddeeff," + std::to_string(f.position) + "\n"
                          "AA:BB:CC:DD:EE:11,,Plant/Pump P-1/Pump DE\n";
  auto dry = f.call("POST", "/api/v1/sensors/import?dry_run=1", f.admin_token, csv, kCsv);
  REQUIRE(dry.status == 200);
  auto d = ApiFixture::js(dry);
  CHECK(d["dry_run"] == true);
  CHECK(d["applied"] == false);
  CHECK(d["counts"]["new"] == 2);
  CHECK(f.store->sensors().value().size() == 1);

  auto bad = f.call("POST", "/api/v1/sensors/import", f.admin_token,
                    csv + "AA:BB:CC:DD:EE:12,zz,1\nAA:BB:CC:DD:EE:13,,Plant/Nope/X\n", kCsv);
  REQUIRE(bad.status == 422);
  auto b = ApiFixture::js(bad);
  CHECK(b["code"] == "bad_rows");
  REQUIRE(b["errors"].size() == 1);  // the parse stops at the file's own errors
  CHECK(b["errors"][0]["line"] == 4);
  CHECK(b["errors"][0]["field"] == "key");
  auto bad_pos = ApiFixture::js(f.call("POST", "/api/v1/sensors/import", f.admin_token,
                                       csv + "AA:BB:CC:DD:EE:13,,Plant/Nope/X\n", kCsv));
  REQUIRE(bad_pos["errors"].size() == 1);
  CHECK(bad_pos["errors"][0]["line"] == 4);
  CHECK(bad_pos["errors"][0]["field"] == "position");
  CHECK(f.store->sensors().value().size() == 1);

  auto real = f.call("POST", "/api/v1/sensors/import", f.admin_token, csv, kCsv);
  REQUIRE(real.status == 200);
  CHECK(ApiFixture::js(real)["applied"] == true);
  CHECK(f.store->sensors().value().size() == 3);
  CHECK(f.call("POST", "/api/v1/sensors/import", f.admin_token, csv).status == 415);  // JSON content type
  CHECK(f.call("POST", "/api/v1/sensors/import", f.tech_token, csv, kCsv).status == 403);
}

TEST_CASE("GET /assets/{id} carries the asset's tags and each position's") {
  ApiFixture f;
  const Id nde = f.store->upsert_position(Position{0, f.asset, "Motor NDE", PositionType::kMotor}).value();
  REQUIRE(f.store->set_tags(TagKind::kAsset, f.asset, {{"criticality", "A"}, {"line", "2"}}, "test").ok());
  REQUIRE(f.store->set_tags(TagKind::kPosition, f.position, {{"side", "drive"}}, "test").ok());
  // A sensor's tags are the sensor's, not the asset view's.
  REQUIRE(f.store->set_tags(TagKind::kSensor, f.sensor, {{"batch", "7"}}, "test").ok());
  auto r = f.call("GET", "/api/v1/assets/" + std::to_string(f.asset), f.viewer_token);
  REQUIRE(r.status == 200);
  const json j = ApiFixture::js(r);
  CHECK(j["tags"] == json({{"criticality", "A"}, {"line", "2"}}));
  REQUIRE(j["positions"].size() == 2);
  for (const auto& p : j["positions"]) {
    INFO(p.dump());
    if (p["id"] == f.position) CHECK(p["tags"] == json({{"side", "drive"}}));
    else if (p["id"] == nde) CHECK(p["tags"] == json::object());  // none: {}, not absent
    else FAIL("unexpected position");
  }
  // Changed tags show at the next read.
  REQUIRE(f.store->set_tags(TagKind::kAsset, f.asset, {}, "test").ok());
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/assets/" + std::to_string(f.asset), f.viewer_token))["tags"] ==
        json::object());
}
