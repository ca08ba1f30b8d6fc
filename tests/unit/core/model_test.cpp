// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cmath>

#include "vigil/metrics_registry.h"
#include "vigil/model.h"
#include "vigil/status.h"

using namespace vigil;

TEST_CASE("health states round-trip through their lower-case names") {
  for (auto s : {HealthState::kUnknown, HealthState::kInitializing, HealthState::kHealthy, HealthState::kWarning,
                 HealthState::kAlarm, HealthState::kNotRunning}) {
    REQUIRE(health_state_from_string(to_string(s)) == s);
  }
  CHECK(std::string(to_string(HealthState::kNotRunning)) == "not_running");
  CHECK_FALSE(health_state_from_string("Alarm").has_value());
}

TEST_CASE("alarm outranks warning outranks healthy") {
  CHECK(severity(HealthState::kAlarm) > severity(HealthState::kWarning));
  CHECK(severity(HealthState::kWarning) > severity(HealthState::kHealthy));
  CHECK(severity(HealthState::kHealthy) > severity(HealthState::kUnknown));
}

TEST_CASE("a status keeps its code and gains context when annotated") {
  Status s = Status::IoError("disk full").Annotate("store");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == Status::Code::kIoError);
  CHECK(s.message() == "store: disk full");
  CHECK(s.ToString() == "io_error: store: disk full");
  CHECK(Status::Ok().Annotate("x").ok());
}

TEST_CASE("a result holds either a value or an error") {
  Result<int> good = 4;
  Result<int> bad = Status::NotFound("nope");
  CHECK(good.ok());
  CHECK(*good == 4);
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kNotFound);
}

TEST_CASE("counters render in Prometheus text format with labels") {
  MetricsRegistry r;
  r.counter("x_total", "things", "reason=\"a\"")->inc(3);
  r.counter("x_total", "things", "reason=\"b\"")->inc();
  r.gauge("y", "a gauge", [] { return 2.5; });
  auto text = r.render_prometheus();
  CHECK(text.find("# TYPE x_total counter") != std::string::npos);
  CHECK(text.find("x_total{reason=\"a\"} 3") != std::string::npos);
  CHECK(text.find("x_total{reason=\"b\"} 1") != std::string::npos);
  CHECK(text.find("y 2.5") != std::string::npos);
  CHECK(r.counter_value("x_total", "reason=\"a\"") == 3);
}

TEST_CASE("a machine class is a name of [A-Za-z0-9._-] with ascending limits up to 1000 mm/s") {
  CHECK(check_machine_class("fan_line-3.b", {1, 2, 3}).ok());
  CHECK(check_machine_class(std::string(64, 'a'), {1, 2, 1000}).ok());
  CHECK_FALSE(check_machine_class("", {1, 2, 3}).ok());
  CHECK_FALSE(check_machine_class(std::string(65, 'a'), {1, 2, 3}).ok());
  CHECK_FALSE(check_machine_class("fan line", {1, 2, 3}).ok());
  CHECK_FALSE(check_machine_class("fan/3", {1, 2, 3}).ok());
  CHECK(check_machine_class("fan", {0, 2, 3}).message().find("0 < ab < bc < cd") != std::string::npos);
  CHECK_FALSE(check_machine_class("fan", {2, 2, 3}).ok());
  CHECK_FALSE(check_machine_class("fan", {1, 3, 2}).ok());
  CHECK(check_machine_class("fan", {1, 2, 1001}).message().find("at most 1000 mm/s") != std::string::npos);
  CHECK_FALSE(check_machine_class("fan", {1, 2, std::nan("")}).ok());
}

TEST_CASE("an envelope band is automatic (both 0) or 100 <= lo < hi <= 50000 Hz") {
  CHECK(check_envelope_band(0, 0).ok());
  CHECK(check_envelope_band(1500, 3500).ok());
  CHECK(check_envelope_band(100, 50000).ok());
  CHECK(check_envelope_band(99, 3500).message().find("100 <= lo < hi <= 50000") != std::string::npos);
  CHECK_FALSE(check_envelope_band(3500, 1500).ok());
  CHECK_FALSE(check_envelope_band(2000, 2000).ok());
  CHECK_FALSE(check_envelope_band(1500, 50001).ok());
  CHECK_FALSE(check_envelope_band(0, 3500).ok());
  CHECK_FALSE(check_envelope_band(1500, std::nan("")).ok());
}

TEST_CASE("machine class sources have lower-case names") {
  CHECK(std::string(to_string(ClassSource::kBuiltin)) == "builtin");
  CHECK(std::string(to_string(ClassSource::kConfig)) == "config");
  CHECK(std::string(to_string(ClassSource::kUser)) == "user");
}
