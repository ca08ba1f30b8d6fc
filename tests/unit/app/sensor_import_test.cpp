// SPDX-License-Identifier: Apache-2.0
// `vigil sensor import`: bad rows reported as FILE:LINE and nothing written,
// the dry run, the import, and the refusal while a gateway owns the database.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/sensor_import.h"
#include "vigil_test/temp_dir.h"
#include "vigil/store.h"

using namespace vigil;

namespace {

struct Rig {
  TempDir dir;
  Config config;
  Id position = 0;
  Rig() {
    config.storage.path = dir.file("v.db");
    StoreOptions o;
    o.path = config.storage.path;
    auto store = Store::open(o).value();
    Id site = store->upsert_site(Site{0, "North", "UTC"}).value();
    Asset a;
    a.site_id = site;
    a.name = "Pump 1";
    Id asset = store->upsert_asset(a).value();
    position = store->upsert_position(Position{0, asset, "Motor DE", PositionType::kMotor}).value();
  }
  std::string write(const std::string& text) {
    const std::string path = dir.file("sensors.csv");
    std::ofstream(path) << text;
    return path;
  }
  std::size_t sensors() {
    StoreOptions o;
    o.path = config.storage.path;
    return Store::open(o).value()->sensors().value().size();
  }
  int run(const std::string& file, bool dry_run, std::string& out, std::string& err, bool json = false) {
    std::ostringstream o, e;
    app::SensorImportOptions opt;
    opt.file = file;
    opt.dry_run = dry_run;
    opt.json = json;
    int rc = app::sensor_import(config, opt, o, e);
    out = o.str();
    err = e.str();
    return rc;
  }
};

}  // namespace

TEST_CASE("import with one bad row writes nothing and names the line") {
  Rig rig;
  const std::string file = rig.write("address,key,position\n"
                                     "AA:BB:CC:DD:EE:01,,North/Pump 1/Motor DE\n"
                                     "AA:BB:CC:DD:EE:02,,North/Pump 1/Motor NDE\n");
  std::string out, err;
  CHECK(rig.run(file, false, out, err) == 2);
  CHECK(err.find(file + ":3: no position 'North/Pump 1/Motor NDE'") != std::string::npos);
  CHECK(err.find("nothing was imported") != std::string::npos);
  CHECK(rig.sensors() == 0);
}

TEST_CASE("a malformed key is reported as FILE:LINE before the database is opened") {
  Rig rig;
  const std::string file = rig.write("address,key,position\nAA:BB:CC:DD:EE:01,xyz,1\n");
  std::string out, err;
  CHECK(rig.run(file, false, out, err) == 2);
  CHECK(err.find(file + ":2: key must be 32 hex digits") != std::string::npos);
  CHECK(rig.run(rig.dir.file("missing.csv"), false, out, err) == 2);
}

TEST_CASE("the dry run says what would change and writes nothing; the import then does it") {
  Rig rig;
  const std::string file = rig.write("address,key,position\n"
                                     "AA:BB:CC:DD:EE:01,00112233445566778899aabbccddeeff," +
                                     std::to_string(rig.position) + "\n" +
                                     "AA:BB:CC:DD:EE:02,,North/Pump 1/Motor DE\n");
  std::string out, err;
  REQUIRE(rig.run(file, true, out, err) == 0);
  CHECK(out.find(file + ":2: AA:BB:CC:DD:EE:01 on position " + std::to_string(rig.position) + ": new") !=
        std::string::npos);
  CHECK(out.find("dry run: 2 new, 0 recommissioned, 0 unchanged; nothing was written") != std::string::npos);
  CHECK(rig.sensors() == 0);
  REQUIRE(rig.run(file, false, out, err) == 0);
  CHECK(out.find("imported: 2 new") != std::string::npos);
  CHECK(rig.sensors() == 2);
  REQUIRE(rig.run(file, true, out, err, true) == 0);
  auto j = nlohmann::json::parse(out);
  CHECK(j["counts"]["unchanged"] == 2);
  CHECK(j["applied"] == false);
}

TEST_CASE("while a gateway owns the database the import refuses with exit 3 and points to the API") {
  Rig rig;
  StoreOptions o;
  o.path = rig.config.storage.path;
  o.owner = "vigil serve";
  o.server = true;
  auto served = Store::open(o).value();
  const std::string file = rig.write("address,key,position\nAA:BB:CC:DD:EE:01,,1\n");
  std::string out, err;
  CHECK(rig.run(file, false, out, err) == 3);
  CHECK(err.find("POST /api/v1/sensors/import") != std::string::npos);
}
