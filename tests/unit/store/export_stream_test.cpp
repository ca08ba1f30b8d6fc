// SPDX-License-Identifier: Apache-2.0
//
// The streamed export's building blocks (vigil/store_tools.h): ExportEncoder
// produces, a part at a time, exactly the bytes the whole-body formatting
// produces (plain, or a gzip member whose every part decompresses as it
// arrives); ExportSnapshot counts exactly the rows it then reads, chunks
// straddling from/to included, and keeps its snapshot while the store writes.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <string>
#include <vector>

#include "vigil_test/temp_dir.h"
#include "vigil/store.h"
#include "vigil/store_tools.h"

using namespace vigil;

namespace {
constexpr TimestampMs kT0 = 1'700'000'000'000LL;
constexpr TimestampMs kMin = 60'000;

std::vector<ExportRow> sample_rows(int n) {
  std::vector<ExportRow> v;
  for (int i = 0; i < n; ++i) {
    ExportRow r;
    r.site = "Plant";
    r.asset = i % 2 ? "Pump, \"P-101\"" : "Fan";
    r.position = "DE";
    r.sensor = "AA:BB";
    r.metric = "temperature_c";
    r.unit = "°C";
    r.ts = kT0 + i * 1000;
    r.value = i * 0.25;
    v.push_back(r);
  }
  return v;
}

std::string whole_body(const std::vector<ExportRow>& rows, ExportFormat f) {
  std::string b = export_header(f);
  for (const auto& r : rows) append_export_row(b, r, f);
  return b;
}

// Inflates a gzip stream fed part by part; returns the text after each part.
struct Gunzip {
  z_stream z{};
  Gunzip() { REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK); }
  ~Gunzip() { inflateEnd(&z); }
  std::string feed(const std::string& in, int* rc_out = nullptr) {
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    char buf[16384];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      REQUIRE((rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR));
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0 || (z.avail_in > 0 && rc == Z_OK));
    if (rc_out) *rc_out = rc;
    return out;
  }
};

std::unique_ptr<Store> open_store(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.checkpoint_interval_s = 3600;  // checkpoints are explicit here
  o.batch_max_delay_ms = 5;
  static ManualClock near_data(kT0 + 40LL * 24 * 3600 * 1000);
  o.clock = &near_data;
  auto s = Store::open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

Id make_series(Store& s) {
  auto site = s.upsert_site({0, "Plant", "UTC"});
  REQUIRE(site.ok());
  Asset a;
  a.site_id = *site;
  a.name = "Pump";
  auto asset = s.upsert_asset(a);
  REQUIRE(asset.ok());
  auto pos = s.upsert_position({0, *asset, "DE", PositionType::kPump});
  REQUIRE(pos.ok());
  Sensor sn;
  sn.address = "AA:BB:CC:DD:EE:01";
  sn.format = "bthome";
  sn.position_id = *pos;
  auto sid = s.upsert_sensor(sn);
  REQUIRE(sid.ok());
  auto id = s.ensure_series(*sid, "temperature_c", "°C");
  REQUIRE(id.ok());
  return *id;
}

std::vector<SeriesPoint> ramp(Id series, int n, TimestampMs start, TimestampMs step = 10 * kMin) {
  std::vector<SeriesPoint> v;
  for (int i = 0; i < n; ++i) v.push_back({series, start + i * step, static_cast<double>(i)});
  return v;
}

std::int64_t rows_read(ExportSnapshot& snap, const ExportFilter& f) {
  std::int64_t n = 0;
  REQUIRE(snap.points(f, [&](const ExportRow&) {
                ++n;
                return Status::Ok();
              }).ok());
  return n;
}
}  // namespace

TEST_CASE("the encoder's parts concatenated are the whole export, header first, in several parts") {
  const auto rows = sample_rows(2000);
  for (ExportFormat f : {ExportFormat::kCsv, ExportFormat::kJsonLines}) {
    std::vector<std::string> parts;
    ExportEncoder enc(f, false, [&](std::string p) {
      parts.push_back(std::move(p));
      return Status::Ok();
    }, 4096);
    for (const auto& r : rows) REQUIRE(enc.add(r).ok());
    REQUIRE(enc.finish().ok());
    REQUIRE(parts.size() > 10);
    std::string joined;
    for (const auto& p : parts) {
      CHECK(p.size() < 4096 + 512);  // about part_bytes each
      joined += p;
    }
    CHECK(joined == whole_body(rows, f));
    CHECK(enc.rows() == 2000);
    CHECK(enc.bytes_out() == static_cast<std::int64_t>(joined.size()));
  }
}

TEST_CASE("an empty export is its header (CSV) or nothing (JSON Lines)") {
  std::string got;
  ExportEncoder csv(ExportFormat::kCsv, false, [&](std::string p) {
    got += p;
    return Status::Ok();
  });
  REQUIRE(csv.finish().ok());
  CHECK(got == export_header(ExportFormat::kCsv));
  got.clear();
  ExportEncoder jl(ExportFormat::kJsonLines, false, [&](std::string p) {
    got += p;
    return Status::Ok();
  });
  REQUIRE(jl.finish().ok());
  CHECK(got.empty());
}

TEST_CASE("gzip parts form one member; each part decompresses as soon as it arrives") {
  const auto rows = sample_rows(3000);
  std::vector<std::string> parts;
  ExportEncoder enc(ExportFormat::kCsv, true, [&](std::string p) {
    parts.push_back(std::move(p));
    return Status::Ok();
  }, 8192);
  for (const auto& r : rows) REQUIRE(enc.add(r).ok());
  REQUIRE(enc.finish().ok());
  REQUIRE(parts.size() > 3);
  REQUIRE(static_cast<unsigned char>(parts[0][0]) == 0x1f);  // gzip magic
  REQUIRE(static_cast<unsigned char>(parts[0][1]) == 0x8b);
  Gunzip gz;
  std::string text;
  int rc = Z_OK;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string got = gz.feed(parts[i], &rc);
    // Z_SYNC_FLUSH: a part ends on a row boundary once decompressed.
    if (i + 1 < parts.size()) {
      REQUIRE(!got.empty());
      CHECK(got.back() == '\n');
    }
    text += got;
  }
  CHECK(rc == Z_STREAM_END);
  CHECK(text == whole_body(rows, ExportFormat::kCsv));
}

TEST_CASE("an error from the output stops the encoder and is returned from then on") {
  int calls = 0;
  ExportEncoder enc(ExportFormat::kCsv, false, [&](std::string) {
    ++calls;
    return Status::Unavailable("the client went away");
  }, 100);
  Status st;
  for (const auto& r : sample_rows(100)) {
    st = enc.add(r);
    if (!st.ok()) break;
  }
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK(enc.finish().code() == Status::Code::kUnavailable);
  CHECK(calls == 1);
}

TEST_CASE("the snapshot counts exactly the rows it reads, chunks straddling from/to included") {
  TempDir dir;
  const std::string path = dir.file("v.db");
  auto s = open_store(path);
  const Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 1000, kT0)).ok());  // 1000 points, 10 min apart
  REQUIRE(s->flush().ok());
  REQUIRE(s->checkpoint().ok());  // into chunks
  REQUIRE(s->append(ramp(id, 7, kT0 + 1000 * 10 * kMin)).ok());
  REQUIRE(s->flush().ok());  // these stay in the ingest log

  auto snap = ExportSnapshot::open(path);
  REQUIRE(snap.ok());
  ExportFilter all;
  auto n = (*snap)->count_points(all);
  REQUIRE(n.ok());
  CHECK(*n == 1007);
  CHECK(rows_read(**snap, all) == 1007);

  // Bounds in the middle of chunks: the estimate counts whole chunks, the
  // count decodes the straddling ones.
  ExportFilter mid;
  mid.from = kT0 + 123 * 10 * kMin + 1;
  mid.to = kT0 + 1003 * 10 * kMin;
  auto m = (*snap)->count_points(mid);
  REQUIRE(m.ok());
  CHECK(*m == 1003 - 124 + 1);
  CHECK(rows_read(**snap, mid) == *m);
  auto est = (*snap)->estimate(mid);
  REQUIRE(est.ok());
  CHECK(est->points >= *m);

  ExportFilter none;
  none.metric = "no_such_metric";
  CHECK(*(*snap)->count_points(none) == 0);
}

TEST_CASE("the snapshot does not see points written after it was opened") {
  TempDir dir;
  const std::string path = dir.file("v.db");
  auto s = open_store(path);
  const Id id = make_series(*s);
  REQUIRE(s->append(ramp(id, 300, kT0)).ok());
  REQUIRE(s->flush().ok());
  REQUIRE(s->checkpoint().ok());
  auto snap = ExportSnapshot::open(path);
  REQUIRE(snap.ok());
  ExportFilter all;
  const auto before = *(*snap)->count_points(all);
  REQUIRE(s->append(ramp(id, 50, kT0 + 300 * 10 * kMin)).ok());
  REQUIRE(s->flush().ok());
  REQUIRE(s->checkpoint().ok());
  CHECK(*(*snap)->count_points(all) == before);
  CHECK(rows_read(**snap, all) == before);
  auto fresh = ExportSnapshot::open(path);
  REQUIRE(fresh.ok());
  CHECK(*(*fresh)->count_points(all) == before + 50);
}
