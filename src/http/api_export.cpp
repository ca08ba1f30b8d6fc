// SPDX-License-Identifier: Apache-2.0
//
// Owning your data over REST: exports of stored points (CSV or JSON Lines,
// gzip on request), the list and download of raw waveforms (WAV or CSV),
// and the storage report the settings page shows. Everything reads through
// read-only snapshots (vigil/store_tools.h); nothing here writes.
//
// An export is streamed (a chunked download, Response::StreamMode::kDownload):
// the handler opens ONE snapshot, counts exactly the points the body will
// hold (X-Vigil-Export-Points, also X-Vigil-Estimated-Points, for a progress
// bar) and hands the snapshot to the producer, which formats rows a part at
// a time (ExportEncoder, gzip flushed per part) and waits for the client to
// read (send_wait): memory stays at about a part plus the server's queue
// whatever the export's size. Bounds: at most kMaxExportPoints points (413)
// and kMaxConcurrentExports exports at a time (429 with Retry-After); a
// client that reads nothing for kClientStall is dropped. The storage report
// scans the file's pages, so it is cached for a minute.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>

#include <spdlog/spdlog.h>

#include "http/api_internal.h"
#include "vigil/store.h"
#include "vigil/store_tools.h"

namespace vigil::http::detail {
namespace {

constexpr std::int64_t kMaxExportPoints = 50'000'000;
constexpr int kMaxConcurrentExports = 2;
constexpr std::chrono::seconds kClientStall{30};
constexpr int kMaxWaveformList = 1000;

std::optional<Response> export_filter(const Request& req, ExportFilter& f, ExportFormat& fmt, bool& gzip) {
  for (auto [name, slot] : {std::pair<const char*, std::optional<Id>*>{"site", &f.site_id},
                            {"asset", &f.asset_id},
                            {"position", &f.position_id}}) {
    if (auto v = req.q(name)) {
      auto x = to_int(*v);
      if (!x || *x < 1) return problem(400, "invalid_argument", std::string(name) + " must be an id");
      *slot = *x;
    }
  }
  if (auto m = req.q("metric")) {
    if (m->size() > 100) return problem(400, "invalid_argument", "metric is too long");
    f.metric = *m;
  }
  TimestampMs from = kMinTimestampMs, to = kMaxTimestampMs;
  if (auto e = query_range(req, from, to)) return e;
  f.from = from;
  f.to = to;
  const std::string format = req.q("format").value_or("csv");
  if (format != "csv" && format != "jsonl") return problem(400, "invalid_argument", "format must be csv or jsonl");
  fmt = format == "csv" ? ExportFormat::kCsv : ExportFormat::kJsonLines;
  const std::string gz = req.q("gzip").value_or("0");
  if (gz != "0" && gz != "1") return problem(400, "invalid_argument", "gzip must be 0 or 1");
  gzip = gz == "1";
  return std::nullopt;
}

// RIFF/WAVE, 16-bit PCM, one channel per axis (interleaved).
std::string wav_of(const Waveform& w) {
  const auto axes = static_cast<std::size_t>(std::max(1, w.axes));
  const std::size_t n = w.samples.size() / axes;
  const auto rate = static_cast<std::uint32_t>(std::lround(std::max(1.0, w.sample_rate_hz)));
  std::string b;
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto u16 = [&](std::uint16_t v) {
    b.push_back(static_cast<char>(v & 0xff));
    b.push_back(static_cast<char>(v >> 8));
  };
  const auto data_bytes = static_cast<std::uint32_t>(n * axes * 2);
  b += "RIFF";
  u32(36 + data_bytes);
  b += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(static_cast<std::uint16_t>(axes));
  u32(rate);
  u32(rate * static_cast<std::uint32_t>(axes) * 2);
  u16(static_cast<std::uint16_t>(axes * 2));
  u16(16);
  b += "data";
  u32(data_bytes);
  b.reserve(b.size() + data_bytes);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t a = 0; a < axes; ++a) u16(static_cast<std::uint16_t>(w.samples[a * n + i]));
  return b;
}

std::string csv_of(const Waveform& w) {
  const auto axes = static_cast<std::size_t>(std::max(1, w.axes));
  const std::size_t n = w.samples.size() / axes;
  std::string b = "t_s";
  for (std::size_t a = 0; a < axes; ++a) b += ",axis" + std::to_string(a) + "_g";
  b += "\n";
  char buf[48];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(i) / w.sample_rate_hz);
    b += buf;
    for (std::size_t a = 0; a < axes; ++a) {
      std::snprintf(buf, sizeof buf, ",%.6g", w.samples[a * n + i] * w.scale);
      b += buf;
    }
    b += '\n';
  }
  return b;
}

// An export naming a site, asset or position that does not exist is a 404,
// not an empty file.
std::optional<Response> filter_exists(ApiContext& ctx, const ExportFilter& f) {
  if (f.site_id)
    if (auto e = require_exists(ctx, "site", *f.site_id)) return e;
  if (f.asset_id)
    if (auto e = require_exists(ctx, "asset", *f.asset_id)) return e;
  if (f.position_id)
    if (auto e = require_exists(ctx, "position", *f.position_id)) return e;
  return std::nullopt;
}

Response attachment(Response r, const std::string& filename) {
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  return r;
}

}  // namespace

void register_export(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/export/estimate", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    ExportFilter f;
    ExportFormat fmt;
    bool gzip;
    if (auto e = export_filter(req, f, fmt, gzip)) return *e;
    if (auto e = filter_exists(ctx, f)) return *e;
    auto est = estimate_export(ctx.store->path(), f);
    if (!est) return from_status(est.status());
    return ok({{"series", est->series}, {"points", est->points}, {"limit", kMaxExportPoints}});
  });

  // Exports running now; a slot is taken before the snapshot is opened and
  // given back when the producer is done (or the response is dropped).
  struct Slots {
    std::atomic<int> running{0};
  };
  struct Slot {
    std::shared_ptr<Slots> slots;
    ~Slot() { slots->running.fetch_sub(1); }
  };
  auto slots = std::make_shared<Slots>();
  router.add("GET", "/api/v1/export", [&ctx, slots](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    ExportFilter f;
    ExportFormat fmt;
    bool gzip;
    if (auto e = export_filter(req, f, fmt, gzip)) return *e;
    if (auto e = filter_exists(ctx, f)) return *e;
    if (slots->running.fetch_add(1) >= kMaxConcurrentExports) {
      slots->running.fetch_sub(1);
      Response busy = problem(429, "too_many_exports",
                              std::to_string(kMaxConcurrentExports) +
                                  " exports are running already: wait for one to finish, then retry");
      busy.headers.emplace_back("Retry-After", "10");
      return busy;
    }
    std::shared_ptr<Slot> slot(new Slot{slots});
    auto opened = ExportSnapshot::open(ctx.store->path());
    if (!opened) return from_status(opened.status());
    std::shared_ptr<ExportSnapshot> snap = std::move(*opened);
    auto counted = snap->count_points(f);
    if (!counted) return from_status(counted.status());
    const std::int64_t total = *counted;
    if (total > kMaxExportPoints)
      return problem(413, "too_large",
                     "the export holds " + std::to_string(total) + " points, more than " +
                         std::to_string(kMaxExportPoints) + " per request: narrow from/to or use `vigil export`");
    const std::string ext = fmt == ExportFormat::kCsv ? "csv" : "jsonl";
    std::string name = "vigil-export";
    if (f.site_id) name += "-site" + std::to_string(*f.site_id);
    if (f.asset_id) name += "-asset" + std::to_string(*f.asset_id);
    if (f.position_id) name += "-position" + std::to_string(*f.position_id);
    name += "." + ext + (gzip ? ".gz" : "");
    Response r;
    r.status = 200;
    r.content_type = gzip ? "application/gzip"
                          : fmt == ExportFormat::kCsv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    r = attachment(std::move(r), name);
    r.headers.emplace_back("X-Vigil-Export-Points", std::to_string(total));
    r.headers.emplace_back("X-Vigil-Estimated-Points", std::to_string(total));
    r.is_stream = true;
    r.stream_mode = Response::StreamMode::kDownload;
    std::string filter;
    for (const auto& [k, v] : req.query) filter += (filter.empty() ? "" : "&") + k + "=" + v.substr(0, 100);
    // Runs on a worker thread for the whole download (server.cpp).
    r.on_stream = [&ctx, snap, slot, f, fmt, gzip, total, who = auth::Principal(who),
                   filter = std::move(filter)](std::shared_ptr<StreamSink> sink) {
      ExportEncoder enc(fmt, gzip, [&sink](std::string part) {
        return sink->send_wait(std::move(part), kClientStall) ? Status::Ok()
                                                              : Status::Unavailable("the client went away");
      });
      Status st = snap->points(f, [&](const ExportRow& row) {
        if (enc.rows() >= total) return Status::Internal("the snapshot grew past its count");
        return enc.add(row);
      });
      if (st.ok()) st = enc.finish();
      if (st.ok()) {
        sink->finish();
        audit(ctx, who, "data.export", filter, std::to_string(enc.rows()) + " points");
      } else {
        // Releasing the sink without finish() cuts the download short.
        spdlog::debug("http: export ({}) stopped after {} of {} points: {}", filter, enc.rows(), total, st.message());
        audit(ctx, who, "data.export", filter,
              "stopped after " + std::to_string(enc.rows()) + " of " + std::to_string(total) + " points: " + st.message());
      }
    };
    return r;
  });

  // The stored raw waveforms of a position, newest first (without samples).
  router.add("GET", "/api/v1/positions/{id}/waveforms", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be a number");
    if (auto e = require_exists(ctx, "position", *id)) return *e;
    std::int64_t limit = 100;
    if (auto e = query_int(req, "limit", 1, kMaxWaveformList, limit)) return *e;
    json arr = json::array();
    Status st = ctx.store->read([&](sql::Db& db) -> Status {
      auto q = db.prepare(
          "SELECT id, ts, sample_rate_hz, axes, coalesce(n_samples, length(samples) / 2) FROM waveforms "
          "WHERE position_id = ? ORDER BY ts DESC LIMIT ?");
      if (!q) return q.status();
      (*q)->bind(1, *id).bind(2, limit);
      for (;;) {
        auto r = (*q)->step();
        if (!r) return r.status();
        if (!*r) break;
        const std::int64_t axes = std::max<std::int64_t>(1, (*q)->i64(3));
        arr.push_back({{"id", (*q)->i64(0)},
                       {"ts", iso8601((*q)->i64(1))},
                       {"ts_ms", (*q)->i64(1)},
                       {"sample_rate_hz", (*q)->f64(2)},
                       {"axes", axes},
                       {"samples_per_axis", (*q)->i64(4) / axes}});
      }
      (*q)->reset();
      return Status::Ok();
    });
    if (!st.ok()) return from_status(st);
    return ok(arr);
  });

  // One waveform as WAV (16-bit PCM, the counts as recorded) or CSV (g).
  router.add("GET", "/api/v1/positions/{id}/waveforms/{wid}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be a number");
    if (auto e = require_exists(ctx, "position", *id)) return *e;
    auto wid = to_int(req.params.at("wid"));
    if (!wid) return problem(400, "invalid_argument", "waveform id must be a number");
    const std::string format = req.q("format").value_or("wav");
    if (format != "wav" && format != "csv") return problem(400, "invalid_argument", "format must be wav or csv");
    auto w = ctx.store->waveform(*id, *wid, std::nullopt);
    if (!w) return from_status(w.status());
    if (!*w) return problem(404, "not_found", "position " + std::to_string(*id) + " has no waveform " + std::to_string(*wid));
    const std::string name = "vigil-position" + std::to_string(*id) + "-waveform" + std::to_string(*wid);
    if (format == "wav") return attachment(Response::text(200, wav_of(**w), "audio/wav"), name + ".wav");
    return attachment(Response::text(200, csv_of(**w), "text/csv; charset=utf-8"), name + ".csv");
  });

  // The storage report (`vigil storage report`), cached for a minute.
  struct Cache {
    std::mutex mu;
    std::chrono::steady_clock::time_point at{};
    std::optional<json> report;
  };
  auto cache = std::make_shared<Cache>();
  router.add("GET", "/api/v1/storage", [&ctx, cache](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    std::lock_guard lk(cache->mu);
    const auto now = std::chrono::steady_clock::now();
    if (!cache->report || now - cache->at > std::chrono::minutes(1)) {
      auto r = storage_report(ctx.store->path());
      if (!r) return from_status(r.status());
      auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
      cache->report = json{{"points", r->points},
                           {"bytes_per_point", r->bytes_per_point},
                           {"waveforms", r->waveforms},
                           {"bytes_per_waveform", r->bytes_per_waveform},
                           {"waveform_raw_bytes", r->waveform_raw_bytes},
                           {"waveform_bytes", r->waveform_bytes},
                           {"db_file_bytes", r->db_file_bytes},
                           {"wal_file_bytes", r->wal_file_bytes},
                           {"disk_total_bytes", r->disk_total_bytes},
                           {"disk_free_bytes", r->disk_free_bytes},
                           {"growth_bytes_per_day", r->growth_bytes_per_day},
                           {"days_until_full", opt(r->days_until_full)},
                           {"oldest_ts", r->oldest_ts ? json(iso8601(*r->oldest_ts)) : json(nullptr)},
                           {"newest_ts", r->newest_ts ? json(iso8601(*r->newest_ts)) : json(nullptr)}};
      cache->at = now;
    }
    return ok(*cache->report);
  });
}

}  // namespace vigil::http::detail
