// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "http/response_cache.h"

using namespace vigil::http;
using namespace std::chrono_literals;

namespace {
struct FakeSteady {
  std::chrono::steady_clock::time_point t{std::chrono::seconds(1000)};
  ResponseCache::SteadyNow fn() {
    return [this] { return t; };
  }
};
Response body(const std::string& b, int status = 200) { return Response::json(status, b); }
}  // namespace

TEST_CASE("a cached response is served until the generation moves", "[http]") {
  FakeSteady clk;
  ResponseCache c(1000ms, clk.fn());
  int built = 0;
  auto build = [&] { return body("v" + std::to_string(++built)); };
  CHECK(c.get(7, build).body == "v1");
  CHECK(c.get(7, build).body == "v1");
  CHECK(c.get(7, build).body == "v1");
  CHECK(c.get(8, build).body == "v2");
  CHECK(c.hits() == 2);
  CHECK(c.builds() == 2);
}

TEST_CASE("a cached response is rebuilt once it is older than the maximum age", "[http]") {
  FakeSteady clk;
  ResponseCache c(1000ms, clk.fn());
  int built = 0;
  auto build = [&] { return body("v" + std::to_string(++built)); };
  CHECK(c.get(1, build).body == "v1");
  clk.t += 999ms;
  CHECK(c.get(1, build).body == "v1");
  clk.t += 1ms;
  CHECK(c.get(1, build).body == "v2");
}

TEST_CASE("errors are never cached", "[http]") {
  FakeSteady clk;
  ResponseCache c(1000ms, clk.fn());
  int built = 0;
  CHECK(c.get(1, [&] { ++built; return body("{}", 500); }).status == 500);
  CHECK(c.get(1, [&] { ++built; return body("ok"); }).body == "ok");
  CHECK(built == 2);
}

TEST_CASE("concurrent misses build the response once", "[http]") {
  ResponseCache c(10s);
  std::atomic<int> built{0};
  std::vector<std::thread> ts;
  std::atomic<int> same{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      auto r = c.get(3, [&] {
        ++built;
        std::this_thread::sleep_for(20ms);
        return body("fleet");
      });
      if (r.body == "fleet") ++same;
    });
  for (auto& t : ts) t.join();
  CHECK(built == 1);
  CHECK(same == 8);
}
