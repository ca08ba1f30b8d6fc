// SPDX-License-Identifier: Apache-2.0
//
// GET /api/v1/export as a handler (no sockets): it answers a download stream
// whose headers give the exact point count and the file name, whose producer
// writes exactly what export_points() reads and then finish()es, stops when
// the client is gone, and which is refused beyond two at a time.
#include <catch2/catch.hpp>

#include "fixture.h"
#include "vigil/store_tools.h"

using namespace vigil;
using vigil::test::ApiFixture;

namespace {

// What the server's sink would have sent; `accept` false: the client is gone.
struct FakeSink : http::StreamSink {
  std::string body;
  int sends = 0;
  bool finished = false;
  bool accept = true;
  bool send(std::string bytes) override { return send_wait(std::move(bytes), std::chrono::seconds(1)); }
  bool send_wait(std::string bytes, std::chrono::milliseconds) override {
    ++sends;
    if (!accept) return false;
    body += bytes;
    return true;
  }
  bool open() const override { return accept; }
  void finish(std::string) override { finished = true; }
};

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

std::string cli_body(ApiFixture& f, const ExportFilter& filter) {
  std::string b = export_header(ExportFormat::kCsv);
  REQUIRE(export_points(f.store->path(), filter, [&](const ExportRow& r) {
            append_export_row(b, r, ExportFormat::kCsv);
            return Status::Ok();
          }).ok());
  return b;
}

}  // namespace

TEST_CASE("an export is a download stream with its exact count, written whole by its producer") {
  ApiFixture f;
  const std::string q = "/api/v1/export?asset=" + std::to_string(f.asset);
  auto r = f.call("GET", q, f.viewer_token);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_stream);
  CHECK(r.stream_mode == http::Response::StreamMode::kDownload);
  CHECK(r.content_type == "text/csv; charset=utf-8");
  CHECK(header(r, "Content-Disposition") ==
        "attachment; filename=\"vigil-export-asset" + std::to_string(f.asset) + ".csv\"");
  ExportFilter filter;
  filter.asset_id = f.asset;
  const std::string want = cli_body(f, filter);
  const auto lines = std::count(want.begin(), want.end(), '\n');
  REQUIRE(lines > 1);
  CHECK(header(r, "X-Vigil-Export-Points") == std::to_string(lines - 1));
  CHECK(header(r, "X-Vigil-Estimated-Points") == std::to_string(lines - 1));

  auto sink = std::make_shared<FakeSink>();
  r.on_stream(sink);
  CHECK(sink->finished);
  CHECK(sink->body == want);
}

TEST_CASE("a producer whose client is gone stops without finishing") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/export?format=jsonl", f.viewer_token);
  REQUIRE(r.status == 200);
  auto sink = std::make_shared<FakeSink>();
  sink->accept = false;
  r.on_stream(sink);
  CHECK(sink->sends == 1);  // the first part failed; nothing more was tried
  CHECK_FALSE(sink->finished);
}

TEST_CASE("gzip: the stream is one gzip member") {
  ApiFixture f;
  auto r = f.call("GET", "/api/v1/export?gzip=1", f.viewer_token);
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/gzip");
  CHECK(header(r, "Content-Disposition") == "attachment; filename=\"vigil-export.csv.gz\"");
  auto sink = std::make_shared<FakeSink>();
  r.on_stream(sink);
  REQUIRE(sink->finished);
  REQUIRE(sink->body.size() > 18);
  CHECK(static_cast<unsigned char>(sink->body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(sink->body[1]) == 0x8b);
}

TEST_CASE("at most two exports run at a time; a finished or dropped one frees its slot") {
  ApiFixture f;
  auto a = f.call("GET", "/api/v1/export", f.viewer_token);
  auto b = f.call("GET", "/api/v1/export", f.viewer_token);
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 200);
  auto c = f.call("GET", "/api/v1/export", f.viewer_token);
  CHECK(c.status == 429);
  CHECK(ApiFixture::js(c)["code"] == "too_many_exports");
  CHECK(header(c, "Retry-After") == "10");
  // the estimate is no export: it still answers
  CHECK(f.call("GET", "/api/v1/export/estimate", f.viewer_token).status == 200);
  a.on_stream(std::make_shared<FakeSink>());
  a = http::Response();  // the server drops the response once its producer is done
  CHECK(f.call("GET", "/api/v1/export", f.viewer_token).status == 200);  // (and drops it at once)
  b = http::Response();
  auto d = f.call("GET", "/api/v1/export", f.viewer_token);
  auto e = f.call("GET", "/api/v1/export", f.viewer_token);
  CHECK(d.status == 200);
  CHECK(e.status == 200);
}

TEST_CASE("bad export parameters keep their 400 and 404 answers, and no slot is taken") {
  ApiFixture f;
  for (const char* bad : {"?format=xml", "?asset=x", "?from=10&to=5", "?gzip=yes", "?site=0"}) {
    auto r = f.call("GET", std::string("/api/v1/export") + bad, f.viewer_token);
    CHECK(r.status == 400);
    CHECK(ApiFixture::js(r)["code"] == "invalid_argument");
  }
  CHECK(f.call("GET", "/api/v1/export?asset=99999", f.viewer_token).status == 404);
  CHECK(f.call("GET", "/api/v1/export").status == 401);
  auto a = f.call("GET", "/api/v1/export", f.viewer_token);
  auto b = f.call("GET", "/api/v1/export", f.viewer_token);
  CHECK(a.status == 200);
  CHECK(b.status == 200);
}
