// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "http/http_types.h"

using namespace vigil::http;
using json = nlohmann::json;

namespace {
Request get(const std::string& path) {
  Request r;
  r.method = "GET";
  r.path = path;
  return r;
}
}  // namespace

TEST_CASE("a path that is not UTF-8 gets a 404 problem instead of a crash") {
  Router router;
  router.add("GET", "/api/v1/assets/{id}", [](const Request&) { return Response::json(200, "{}"); });
  // What url_decode makes of "/api/v1/%FF%FE": raw bytes that JSON cannot carry.
  auto r = router.dispatch(get(url_decode("/api/v1/%FF%FE")));
  CHECK(r.status == 404);
  auto j = json::parse(r.body);
  CHECK(j["code"] == "not_found");
  CHECK(j["detail"].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD
  auto m = router.dispatch([] { auto q = get("/api/v1/assets/\xC3"); q.method = "POST"; return q; }());
  CHECK(m.status == 405);
  CHECK(json::parse(m.body)["code"] == "method_not_allowed");
}

TEST_CASE("a throwing handler or fallback costs one request a 500 that does not echo the exception") {
  Router router;
  router.add("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("SELECT secret FROM t"); });
  router.set_fallback([](const Request&) -> Response { throw 42; });
  auto r = router.dispatch(get("/boom"));
  CHECK(r.status == 500);
  const std::string detail = json::parse(r.body)["detail"];
  CHECK(detail.find("SELECT") == std::string::npos);
  CHECK(detail.rfind("internal error (ref E", 0) == 0);
  auto f = router.dispatch(get("/index.html"));
  CHECK(f.status == 500);
  CHECK(json::parse(f.body)["code"] == "internal");
}

TEST_CASE("route parameters match one segment and HEAD is served by GET routes") {
  Router router;
  router.add("GET", "/api/v1/series/{id}", [](const Request& q) { return Response::json(200, q.params.at("id")); });
  CHECK(router.dispatch(get("/api/v1/series/17")).body == "17");
  CHECK(router.dispatch(get("/api/v1/series/17/extra")).status == 404);
  auto head = get("/api/v1/series/3");
  head.method = "HEAD";
  CHECK(router.dispatch(head).status == 200);
}

TEST_CASE("queries decode percent escapes and plus signs, and keep empty values") {
  auto q = parse_query("from=now-30d&name=a%20b+c&flag&&bad=%G1");
  CHECK(q.at("from") == "now-30d");
  CHECK(q.at("name") == "a b c");
  CHECK(q.at("flag").empty());
  CHECK(q.at("bad") == "%G1");
}
