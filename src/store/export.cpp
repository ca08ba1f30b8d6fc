// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <zlib.h>

#include "core/text_escape.h"
#include "store/chunk_codec.h"
#include "vigil/sqlite.h"
#include "vigil/store_tools.h"

namespace vigil {
namespace {

// The series of the filter with their plant words. Positions come through
// the series' own position (history follows positions).
constexpr const char* kSeriesSql =
    "SELECT se.id AS id, coalesce(si.name, ''), coalesce(a.name, ''), coalesce(p.name, ''), coalesce(sn.address, ''), "
    "se.metric, se.unit FROM series se "
    "LEFT JOIN sensors sn ON sn.id = se.sensor_id "
    "LEFT JOIN positions p ON p.id = se.position_id "
    "LEFT JOIN assets a ON a.id = p.asset_id "
    "LEFT JOIN sites si ON si.id = a.site_id "
    "WHERE (?1 IS NULL OR si.id = ?1) AND (?2 IS NULL OR a.id = ?2) AND (?3 IS NULL OR p.id = ?3) "
    "AND (?4 = '' OR se.metric = ?4) ORDER BY si.name, a.name, p.name, se.metric, se.id";

// Chunks may start up to this long before `from` and still hold points in
// range (the store's chunks span at most 256 points; a day is generous and
// only costs reading a few more rows).
constexpr TimestampMs kChunkSlackMs = 400LL * 86'400'000;

TimestampMs slack_before(TimestampMs from) {
  return from < std::numeric_limits<TimestampMs>::min() + kChunkSlackMs ? std::numeric_limits<TimestampMs>::min()
                                                                        : from - kChunkSlackMs;
}

Result<std::unique_ptr<sql::Db>> open_snapshot(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no database at " + path);
  auto db = sql::Db::open(path, sql::Db::Mode::kReadOnly);
  if (!db) return db.status().Annotate(path);
  sqlite3_busy_timeout((*db)->raw(), 5000);
  VIGIL_RETURN_IF_ERROR((*db)->exec("BEGIN"));  // one snapshot for the whole export
  return db;
}

void bind_filter(sql::Stmt& q, const ExportFilter& f) {
  q.bind(1, f.site_id).bind(2, f.asset_id).bind(3, f.position_id).bind(4, f.metric);
}

}  // namespace

ExportSnapshot::ExportSnapshot(std::unique_ptr<sql::Db> db) : db_(std::move(db)) {}

ExportSnapshot::~ExportSnapshot() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Result<std::unique_ptr<ExportSnapshot>> ExportSnapshot::open(const std::string& db_path) {
  auto db = open_snapshot(db_path);
  if (!db) return db.status();
  return std::unique_ptr<ExportSnapshot>(new ExportSnapshot(std::move(*db)));
}

Result<ExportEstimate> ExportSnapshot::estimate(const ExportFilter& f) {
  auto q = db_->prepare(std::string("SELECT count(*), coalesce(sum((SELECT coalesce(sum(n), 0) FROM chunks c "
                                    "WHERE c.series_id = s.id AND c.t0 <= ?6 AND c.t1 >= ?5) + "
                                    "(SELECT count(*) FROM ingest_log l WHERE l.series_id = s.id AND l.ts BETWEEN ?5 AND ?6)), 0) "
                                    "FROM (") + kSeriesSql + ") AS s");
  if (!q) return q.status();
  bind_filter(**q, f);
  (*q)->bind(5, f.from).bind(6, f.to);
  auto row = (*q)->step();
  if (!row) return row.status();
  ExportEstimate e{(*q)->i64(0), (*q)->i64(1)};
  (*q)->reset();
  return e;
}

// The chunks points() reads (t0 within [slack_before(from), to]) that can
// hold a point in range (t1 >= from): the header's n counts a chunk wholly
// inside the range; the data of one that straddles a bound is decoded.
Result<std::int64_t> ExportSnapshot::count_points(const ExportFilter& f) {
  std::int64_t total = 0;
  {
    auto q = db_->prepare(std::string("SELECT c.n, CASE WHEN c.t0 >= ?5 AND c.t1 <= ?6 THEN NULL ELSE c.data END "
                                      "FROM chunks c JOIN (") +
                          kSeriesSql + ") AS s ON c.series_id = s.id WHERE c.t0 BETWEEN ?7 AND ?6 AND c.t1 >= ?5");
    if (!q) return q.status();
    bind_filter(**q, f);
    (*q)->bind(5, f.from).bind(6, f.to).bind(7, slack_before(f.from));
    std::vector<Point> tmp;
    for (;;) {
      auto r = (*q)->step();
      if (!r) return r.status();
      if (!*r) break;
      if ((*q)->is_null(1)) {
        total += (*q)->i64(0);
        continue;
      }
      tmp.clear();
      Status st = store_detail::decode_chunk((*q)->blob(1), tmp);
      if (!st.ok()) {
        (*q)->reset();
        return st.Annotate("export count");
      }
      for (const auto& p : tmp) total += p.ts >= f.from && p.ts <= f.to;
    }
    (*q)->reset();
  }
  auto l = db_->prepare(std::string("SELECT count(*) FROM ingest_log l JOIN (") + kSeriesSql +
                        ") AS s ON l.series_id = s.id WHERE l.ts BETWEEN ?5 AND ?6");
  if (!l) return l.status();
  bind_filter(**l, f);
  (*l)->bind(5, f.from).bind(6, f.to);
  auto r = (*l)->step();
  if (!r) return r.status();
  total += (*l)->i64(0);
  (*l)->reset();
  return total;
}

Status ExportSnapshot::points(const ExportFilter& f, const std::function<Status(const ExportRow&)>& sink) {
  sql::Db& db = *db_;
  std::vector<ExportRow> series;
  {
    auto q = db.prepare(kSeriesSql);
    if (!q) return q.status();
    bind_filter(**q, f);
    for (;;) {
      auto r = (*q)->step();
      if (!r) return r.status();
      if (!*r) break;
      ExportRow row;
      row.series_id = (*q)->i64(0);
      row.site = (*q)->text(1);
      row.asset = (*q)->text(2);
      row.position = (*q)->text(3);
      row.sensor = (*q)->text(4);
      row.metric = (*q)->text(5);
      row.unit = (*q)->text(6);
      series.push_back(std::move(row));
    }
    (*q)->reset();
  }
  std::vector<Point> pts, tmp;
  for (ExportRow& row : series) {
    pts.clear();
    auto c = db.prepare("SELECT data FROM chunks WHERE series_id = ? AND t0 BETWEEN ? AND ? ORDER BY t0");
    if (!c) return c.status();
    (*c)->bind(1, row.series_id).bind(2, slack_before(f.from)).bind(3, f.to);
    for (;;) {
      auto r = (*c)->step();
      if (!r) return r.status();
      if (!*r) break;
      tmp.clear();
      Status st = store_detail::decode_chunk((*c)->blob(0), tmp).Annotate("series " + std::to_string(row.series_id));
      if (!st.ok()) {
        (*c)->reset();
        return st;
      }
      for (const auto& p : tmp)
        if (p.ts >= f.from && p.ts <= f.to) pts.push_back(p);
    }
    (*c)->reset();
    auto l = db.prepare("SELECT ts, value FROM ingest_log WHERE series_id = ? AND ts BETWEEN ? AND ?");
    if (!l) return l.status();
    (*l)->bind(1, row.series_id).bind(2, f.from).bind(3, f.to);
    for (;;) {
      auto r = (*l)->step();
      if (!r) return r.status();
      if (!*r) break;
      pts.push_back({(*l)->i64(0), (*l)->f64(1)});
    }
    (*l)->reset();
    std::stable_sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.ts < b.ts; });
    for (const auto& p : pts) {
      row.ts = p.ts;
      row.value = p.value;
      VIGIL_RETURN_IF_ERROR(sink(row));
    }
  }
  return Status::Ok();
}

Result<ExportEstimate> estimate_export(const std::string& db_path, const ExportFilter& f) {
  auto snap = ExportSnapshot::open(db_path);
  if (!snap) return snap.status();
  return (*snap)->estimate(f);
}

Status export_points(const std::string& db_path, const ExportFilter& f,
                     const std::function<Status(const ExportRow&)>& sink) {
  auto snap = ExportSnapshot::open(db_path);
  if (!snap) return snap.status();
  return (*snap)->points(f, sink);
}

namespace {
std::string iso_ms(TimestampMs ts) {
  std::time_t secs = static_cast<std::time_t>(ts / 1000 - (ts % 1000 < 0 ? 1 : 0));
  const int ms = static_cast<int>(((ts % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}
void csv_field(std::string& out, const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}
std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}
}  // namespace

std::string gzip_compress(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

std::string export_header(ExportFormat f) {
  return f == ExportFormat::kCsv ? "timestamp,ts_ms,site,asset,position,sensor,metric,unit,value\n" : "";
}

void append_export_row(std::string& out, const ExportRow& r, ExportFormat f) {
  if (f == ExportFormat::kCsv) {
    out += iso_ms(r.ts);
    out += ',';
    out += std::to_string(r.ts);
    for (const std::string* v : {&r.site, &r.asset, &r.position, &r.sensor, &r.metric, &r.unit}) {
      out += ',';
      csv_field(out, *v);
    }
    out += ',';
    const std::string n = number(r.value);
    if (n != "null") out += n;
    out += '\n';
    return;
  }
  out += "{\"timestamp\":\"" + iso_ms(r.ts) + "\",\"ts_ms\":" + std::to_string(r.ts);
  const char* names[] = {"site", "asset", "position", "sensor", "metric", "unit"};
  const std::string* vals[] = {&r.site, &r.asset, &r.position, &r.sensor, &r.metric, &r.unit};
  for (int i = 0; i < 6; ++i) {
    out += ",\"";
    out += names[i];
    out += "\":";
    append_json_string(out, *vals[i]);
  }
  out += ",\"value\":" + number(r.value) + "}\n";
}

// ---- ExportEncoder ----

struct ExportEncoder::Deflate {
  z_stream z{};
  bool ok = false;
  Deflate() { ok = deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Deflate() {
    if (ok) deflateEnd(&z);
  }
  // Deflates `in` with `flush` (Z_SYNC_FLUSH or Z_FINISH) into a new string.
  Result<std::string> run(const std::string& in, int flush) {
    if (!ok) return Status::Internal("export: zlib deflateInit2 failed");
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      const std::size_t at = out.size();
      out.resize(at + std::max<std::size_t>(4096, in.size() / 2 + 64));
      z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
      z.avail_out = static_cast<uInt>(out.size() - at);
      const int rc = deflate(&z, flush);
      out.resize(out.size() - z.avail_out);
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) return Status::Internal("export: zlib deflate failed (" + std::to_string(rc) + ")");
      // Z_SYNC_FLUSH is complete once deflate left output space unused.
      if (flush != Z_FINISH && z.avail_in == 0 && z.avail_out > 0) break;
    }
    return out;
  }
};

ExportEncoder::ExportEncoder(ExportFormat format, bool gzip, Out out, std::size_t part_bytes)
    : format_(format), out_(std::move(out)), part_bytes_(std::max<std::size_t>(1, part_bytes)) {
  if (gzip) z_ = std::make_unique<Deflate>();
  buf_ = export_header(format);
}

ExportEncoder::~ExportEncoder() = default;

Status ExportEncoder::add(const ExportRow& row) {
  if (!failed_.ok()) return failed_;
  if (finished_) return Status::FailedPrecondition("export: a row after finish()");
  append_export_row(buf_, row, format_);
  ++rows_;
  return buf_.size() >= part_bytes_ ? flush(false) : Status::Ok();
}

Status ExportEncoder::finish() {
  if (!failed_.ok()) return failed_;
  if (finished_) return Status::Ok();
  finished_ = true;
  return flush(true);
}

Status ExportEncoder::flush(bool last) {
  std::string part;
  if (z_) {
    auto d = z_->run(buf_, last ? Z_FINISH : Z_SYNC_FLUSH);
    if (!d) return failed_ = d.status();
    part = std::move(*d);
  } else {
    part = std::move(buf_);
  }
  buf_.clear();
  if (part.empty()) return Status::Ok();
  bytes_out_ += static_cast<std::int64_t>(part.size());
  Status st = out_(std::move(part));
  if (!st.ok()) failed_ = st;
  return st;
}

}  // namespace vigil
