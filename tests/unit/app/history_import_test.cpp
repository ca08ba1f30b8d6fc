// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "app/history_import.h"
#include "app/time_arg.h"

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
