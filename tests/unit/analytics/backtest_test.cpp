// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "vigil_test/temp_dir.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "analytics/backtest.h"
#include "analytics/dataset.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("timestamps parse as ISO 8601 or epoch seconds", "[analytics]") {
  CHECK(*parse_timestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(*parse_timestamp("2004-02-12T10:32:39") == 1076581959000);
  CHECK(*parse_timestamp("2004-02-12 10:32:39.5") == 1076581959500);
  CHECK(*parse_timestamp("2004-02-12T11:32:39+01:00") == 1076581959000);
  CHECK(*parse_timestamp("1076581959") == 1076581959000);
  CHECK(*parse_timestamp("1076581959.25") == 1076581959250);
  CHECK_FALSE(parse_timestamp("yesterday").ok());
  CHECK_FALSE(parse_timestamp("2004-13-01").ok());
}

TEST_CASE("timestamps with negative fields, bad zones or absurd epochs are rejected", "[analytics]") {
  CHECK_FALSE(parse_timestamp("2004-02-12T-1:30").ok());
  CHECK_FALSE(parse_timestamp("2004-02-12T10:-5").ok());
  CHECK_FALSE(parse_timestamp("2004-02-12T10:30+-5:00").ok());
  CHECK_FALSE(parse_timestamp("2004-02-12T10:30+01:75").ok());
  CHECK_FALSE(parse_timestamp("1e300").ok());
  CHECK_FALSE(parse_timestamp("99999999999999999999").ok());
  CHECK(parse_timestamp("-86400").value() == -86400000);
}

TEST_CASE("a CSV stream parses with a header, comments, quotes and empty cells", "[analytics]") {
  std::istringstream in("# exported\ntime,\"temp, C\",rpm\n2024-01-01T00:00:00Z,21.5,\n1704067800,\"22\",1480\n");
  auto r = parse_csv_series(in, "mem.csv");
  REQUIRE(r.ok());
  CHECK(r->columns == std::vector<std::string>{"temp, C", "rpm"});
  REQUIRE(r->rows.size() == 2);
  CHECK_FALSE(r->rows[0][1].has_value());
  CHECK(*r->rows[1][0] == 22.0);
  CHECK(r->ts[1] == 1704067800000);
}

TEST_CASE("a CSV stream names the line of its first error", "[analytics]") {
  std::istringstream ragged("1,2,3\n2,4\n");
  auto r = parse_csv_series(ragged, "mem.csv");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("mem.csv:2: expected 3 fields, got 2") != std::string::npos);
  std::istringstream nan("1,abc\n");
  CHECK(parse_csv_series(nan, "mem.csv").status().message().find("mem.csv:1: not a number") != std::string::npos);
  std::istringstream empty("# nothing\n\n");
  CHECK_FALSE(parse_csv_series(empty, "mem.csv").ok());
}

TEST_CASE("a CSV backtest writes timestamp,score,state first and finds a step", "[analytics]") {
  TempDir t;
  {
    std::ofstream f(t.file("in.csv"));
    f << "timestamp,temperature_c\n";
    for (int i = 0; i < 100; ++i) f << 1'700'000'000 + i * 3600 << "," << (i < 80 ? 40.0 + (i % 3) * 0.3 : 60.0) << "\n";
  }
  BacktestOptions o;
  o.csv = t.file("in.csv");
  o.out = t.file("out.csv");
  o.learn = 40;
  std::ostringstream out, err;
  REQUIRE(run_backtest(o, out, err) == 0);
  auto text = slurp(o.out);
  CHECK(text.rfind("timestamp,score,state", 0) == 0);
  CHECK(text.find("initializing") != std::string::npos);
  CHECK(text.find("healthy") != std::string::npos);
  CHECK(text.find("alarm") != std::string::npos);
  CHECK(out.str().find("warning=80") != std::string::npos);  // a 40 σ step is news at once
  CHECK(out.str().find("alarm=8") != std::string::npos);     // ... and an alarm within a few rows
}

TEST_CASE("a waveform backtest reads the dataset format and writes index,timestamp,channel,score,state",
          "[analytics]") {
  TempDir t;
  const int snaps = 30, ch = 2, n = 1024;
  {
    std::ofstream m(t.file("manifest.json"));
    m << R"({"file":"s.i16","scale_g_per_count":0.001,"sample_rate_hz":10000,"samples_per_snapshot":1024,)"
      << R"("channels":["a","b"],"snapshot_interval_s":3600,"timestamps":[)";
    for (int i = 0; i < snaps; ++i) m << (i ? "," : "") << "\"2020-01-0" << 1 + i / 24 << "T" << (i % 24 < 10 ? "0" : "") << i % 24 << ":00:00\"";
    m << "]}";
    std::ofstream b(t.file("s.i16"), std::ios::binary);
    for (int i = 0; i < snaps; ++i)
      for (int c = 0; c < ch; ++c)
        for (int k = 0; k < n; ++k) {
          double amp = (i == snaps - 1) ? 0.0 : 300 * (1 + 0.01 * (k % 7));
          auto v = static_cast<std::int16_t>(amp * std::sin(k * 0.3 + c) + (k * 7919 % 13) - 6);
          b.write(reinterpret_cast<const char*>(&v), 2);
        }
  }
  BacktestOptions o;
  o.waveforms = t.file("manifest.json");
  o.out = t.file("out.csv");
  o.learn = 10;
  std::ostringstream out, err;
  REQUIRE(run_backtest(o, out, err) == 0);
  auto text = slurp(o.out);
  CHECK(text.rfind("index,timestamp,channel,score,state", 0) == 0);
  CHECK(text.find("29,2020-01-02T05:00:00,b,,not_running") != std::string::npos);
}

TEST_CASE("backtest errors are one clear line", "[analytics]") {
  TempDir t;
  std::ostringstream out, err;
  BacktestOptions o;
  o.waveforms = t.file("missing.json");
  o.out = t.file("o.csv");
  CHECK(run_backtest(o, out, err) == 2);
  CHECK(err.str().find("cannot open manifest") != std::string::npos);
  {
    std::ofstream f(t.file("bad.csv"));
    f << "timestamp,value\n2020-01-01T00:00:00,1\n2020-01-01T01:00:00,abc\n";
  }
  BacktestOptions c;
  c.csv = t.file("bad.csv");
  c.out = t.file("o.csv");
  std::ostringstream err2;
  CHECK(run_backtest(c, out, err2) == 2);
  CHECK(err2.str().find("bad.csv:3: not a number") != std::string::npos);
  BacktestOptions none;
  std::ostringstream err3;
  CHECK(run_backtest(none, out, err3) == 2);
}
