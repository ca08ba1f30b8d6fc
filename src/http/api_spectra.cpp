// SPDX-License-Identifier: Apache-2.0
//
// A position's spectra, as a vibration analyst reads them:
//
//   GET /api/v1/positions/{id}/spectra   viewer
//
// Without selection parameters: the newest `limit` (1..200) stored display
// spectra (≤ 1024 max-hold bins each), newest first — the dashboard's
// spectrum and waterfall. With `at`, `measurement_id`, `waveform_id`,
// `from_hz`/`to_hz` or `resolution=full`: one spectrum at full resolution,
// recomputed from the stored raw waveform (nearest at or before `at`), or
// the stored display spectrum when that waveform is no longer kept
// (`resolution` says which). `kind=velocity` is the acceleration spectrum
// integrated to mm/s (a/(2πf), zero below `cut_hz`); `baseline=1` is the mean
// spectrum of the position's learning period. Every spectrum carries its bin
// width, the shaft speed and the shaft/bearing markers with their
// resolvability at that bin width (analytics/spectra.h). Bounded: ≤ 200
// spectra, ≤ max_bins (≤ 16384) bins each (a wider band is max-hold reduced
// and says so).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "analytics/pipeline.h"
#include "analytics/spectra.h"
#include "http/api_internal.h"

namespace vigil::http::detail {
namespace {

constexpr std::int64_t kMaxSpectra = 200;
constexpr std::int64_t kMaxBins = 16384;
constexpr std::int64_t kDefaultMaxBins = 8192;

Response field_problem(int status, const std::string& field, const std::string& detail) {
  json j = {{"type", "about:blank"},
            {"title", status == 422 ? "Unprocessable Content" : "Bad Request"},
            {"status", status},
            {"code", status == 422 ? "bad_field" : "invalid_argument"},
            {"detail", detail},
            {"field", field}};
  return Response::text(status, json_text(j), "application/problem+json");
}

std::optional<Response> query_double(const Request& req, const char* name, double lo, double hi,
                                     std::optional<double>& out) {
  auto v = req.q(name);
  if (!v) return std::nullopt;
  double x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || p != v->data() + v->size() || !std::isfinite(x) || x < lo || x > hi) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s must be a number of Hz in %g..%g", name, lo, hi);
    return field_problem(400, name, buf);
  }
  out = x;
  return std::nullopt;
}

std::optional<Response> query_id(const Request& req, const char* name, std::optional<std::int64_t>& out) {
  auto v = req.q(name);
  if (!v) return std::nullopt;
  auto x = to_int(*v);
  if (!x || *x < 1) return field_problem(400, name, std::string(name) + " must be a positive integer");
  out = *x;
  return std::nullopt;
}

// What was asked, validated.
struct Params {
  std::string kind;         // accel | velocity | envelope
  std::string source_kind;  // the stored kind: accel (also for velocity) | envelope
  std::int64_t limit = 1;
  bool limit_given = false;
  bool single = false;      // one selected spectrum (full resolution when the waveform is kept)
  bool baseline = false;
  bool display_only = false;  // resolution=display
  std::optional<std::int64_t> at, measurement_id, waveform_id;
  std::optional<double> from_hz, to_hz, cut_hz;
  std::int64_t max_bins = kDefaultMaxBins;
};

// One spectrum before shaping: amplitude bins in g.
struct Source {
  std::optional<Id> measurement_id, waveform_id;
  TimestampMs ts = 0;
  std::string resolution;  // "full" | "display"
  double df = 0;
  double offset = 0;       // 0: FFT bins at k·df; 0.5: max-hold bins covering [k·df, (k+1)·df)
  std::vector<float> bins;
  json extra = json::object();  // baseline period, sample rate…
};

analytics::MachineInfo machine_of(const Asset& a) {
  analytics::MachineInfo m;
  m.machine_class = a.machine_class;
  m.shaft_rpm = a.shaft_rpm;
  m.bearing = a.bearing;
  m.envelope_lo_hz = a.envelope_lo_hz;
  m.envelope_hi_hz = a.envelope_hi_hz;
  return m;
}

double round6(double v) { return std::round(v * 1e6) / 1e6; }

// Velocity, band, reduction, markers: the JSON of one spectrum, or a 422.
std::variant<Response, json> shape(const Source& s, const Params& p, const analytics::MachineInfo& m) {
  std::vector<float> bins = s.bins;
  const double cut = p.cut_hz.value_or(analytics::velocity_cut_hz(m.shaft_rpm));
  if (p.kind == "velocity") bins = analytics::accel_to_velocity(bins, s.df, 0.0, cut, s.offset);
  const std::int64_t n = static_cast<std::int64_t>(bins.size());
  const double top_hz = static_cast<double>(n) * s.df;
  std::int64_t k0 = 0, k1 = n - 1;
  if (n > 0 && s.df > 0) {
    if (p.from_hz) {
      if (*p.from_hz >= top_hz) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "from_hz %g is above this spectrum's top frequency (%g Hz)", *p.from_hz, top_hz);
        return field_problem(422, "from_hz", buf);
      }
      k0 = static_cast<std::int64_t>(s.offset > 0 ? std::floor(*p.from_hz / s.df) : std::ceil(*p.from_hz / s.df - 1e-9));
    }
    if (p.to_hz) {
      k1 = static_cast<std::int64_t>(s.offset > 0 ? std::ceil(*p.to_hz / s.df) - 1 : std::floor(*p.to_hz / s.df + 1e-9));
      k1 = std::min(k1, n - 1);
    }
    k0 = std::clamp<std::int64_t>(k0, 0, n - 1);
    if (k1 < k0) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "the band %g–%g Hz holds no bin at this spectrum's resolution (%g Hz)",
                    p.from_hz.value_or(0), p.to_hz.value_or(top_hz), s.df);
      return field_problem(422, "to_hz", buf);
    }
  }
  std::vector<float> out;
  double df = s.df;
  double f0 = static_cast<double>(k0) * s.df;
  bool reduced = false;
  if (n > 0) {
    const std::int64_t count = k1 - k0 + 1;
    if (count > p.max_bins) {
      std::vector<double> band(bins.begin() + k0, bins.begin() + k1 + 1);
      auto r = dsp::reduce_max_hold(band, s.df, static_cast<int>(p.max_bins));
      out = std::move(r.bins);
      df = r.df_hz;
      reduced = true;
    } else {
      out.assign(bins.begin() + k0, bins.begin() + k1 + 1);
    }
  }
  // Markers, resolvable at the bin width shown.
  const double hi_hz = f0 + static_cast<double>(out.size()) * df;
  const bool grouped = reduced || s.offset > 0;  // bins cover [f0 + i·df, f0 + (i+1)·df)
  json markers = json::array();
  for (const auto& mk : analytics::defect_markers(m, p.kind, hi_hz, df)) {
    if (mk.hz < f0 || out.empty()) continue;
    const double pos = (mk.hz - f0) / df;
    const auto i = static_cast<std::int64_t>(grouped ? std::floor(pos) : std::round(pos));
    json amp = nullptr;
    if (mk.resolved && i >= 0 && i < static_cast<std::int64_t>(out.size())) {
      float a = 0;
      for (std::int64_t j = std::max<std::int64_t>(0, i - 1);
           j <= std::min<std::int64_t>(static_cast<std::int64_t>(out.size()) - 1, i + 1); ++j)
        a = std::max(a, out[static_cast<std::size_t>(j)]);
      amp = round6(a);
    }
    markers.push_back({{"label", mk.label},
                       {"family", mk.family},
                       {"order", mk.order},
                       {"hz", round6(mk.hz)},
                       {"gap_hz", round6(mk.gap_hz)},
                       {"resolved", mk.resolved},
                       {"amplitude", amp}});
  }
  json jb = json::array();
  for (float b : out) jb.push_back(round6(static_cast<double>(b)));
  json j = {{"measurement_id", s.measurement_id ? json(*s.measurement_id) : json(nullptr)},
            {"waveform_id", s.waveform_id ? json(*s.waveform_id) : json(nullptr)},
            {"ts", s.ts},
            {"time", iso8601(s.ts)},
            {"kind", p.kind},
            {"unit", p.kind == "velocity" ? "mm/s" : "g"},
            {"amplitude", "peak"},
            {"resolution", s.resolution},
            {"baseline", p.baseline},
            {"df_hz", df},
            {"resolution_hz", s.df},
            {"f0_hz", round6(f0)},
            {"reduced", reduced},
            {"bins", jb},
            {"shaft_rpm", m.shaft_rpm > 0 ? json(m.shaft_rpm) : json(nullptr)},
            {"shaft_hz", m.shaft_rpm > 0 ? json(round6(m.shaft_rpm / 60.0)) : json(nullptr)},
            {"markers", markers}};
  if (p.kind == "velocity") j["cut_hz"] = cut;
  for (auto& [k, v] : s.extra.items()) j[k] = v;
  return j;
}

std::variant<Response, Params> parse(const Request& req) {
  Params p;
  p.kind = req.q("kind").value_or("accel");
  if (p.kind != "accel" && p.kind != "envelope" && p.kind != "velocity")
    return field_problem(400, "kind", "kind must be accel, velocity or envelope");
  p.source_kind = p.kind == "envelope" ? "envelope" : "accel";
  if (auto v = req.q("limit")) {
    auto x = to_int(*v);
    if (!x || *x < 1 || *x > kMaxSpectra) return field_problem(400, "limit", "limit must be 1..200");
    p.limit = *x;
    p.limit_given = true;
  }
  if (auto v = req.q("max_bins")) {
    auto x = to_int(*v);
    if (!x || *x < 16 || *x > kMaxBins) return field_problem(400, "max_bins", "max_bins must be 16..16384");
    p.max_bins = *x;
  }
  if (auto v = req.q("at")) {
    auto x = to_int(*v);
    if (!x) return field_problem(400, "at", "at must be epoch milliseconds");
    p.at = clamp_timestamp(*x);
  }
  if (auto bad = query_id(req, "measurement_id", p.measurement_id)) return *bad;
  if (auto bad = query_id(req, "waveform_id", p.waveform_id)) return *bad;
  if (auto bad = query_double(req, "from_hz", 0, 1e6, p.from_hz)) return *bad;
  if (auto bad = query_double(req, "to_hz", 0, 1e6, p.to_hz)) return *bad;
  if (auto bad = query_double(req, "cut_hz", 0, 1000, p.cut_hz)) return *bad;
  if (p.from_hz && p.to_hz && *p.to_hz <= *p.from_hz)
    return field_problem(422, "to_hz", "to_hz must be above from_hz");
  if (p.cut_hz && p.kind != "velocity") return field_problem(422, "cut_hz", "cut_hz applies to kind=velocity only");
  if (auto v = req.q("baseline")) {
    if (*v != "0" && *v != "1" && *v != "true" && *v != "false")
      return field_problem(400, "baseline", "baseline must be 1 or 0");
    p.baseline = *v == "1" || *v == "true";
  }
  std::string resolution = req.q("resolution").value_or("");
  if (!resolution.empty() && resolution != "full" && resolution != "display")
    return field_problem(400, "resolution", "resolution must be full or display");
  p.display_only = resolution == "display";
  if ((p.measurement_id ? 1 : 0) + (p.waveform_id ? 1 : 0) + (p.at ? 1 : 0) > 1)
    return field_problem(422, "at", "give one of at, measurement_id and waveform_id");
  if (p.baseline && (p.at || p.measurement_id || p.waveform_id))
    return field_problem(422, "baseline", "the baseline spectrum is one spectrum: at, measurement_id and waveform_id do not apply");
  p.single = p.baseline || p.at || p.measurement_id || p.waveform_id || p.from_hz || p.to_hz || resolution == "full" ||
             (resolution == "display" && !p.limit_given);
  if (p.single && p.limit > 1)
    return field_problem(422, "limit", "a selected or full-resolution spectrum is one per request: limit must be 1");
  return p;
}

// The one spectrum a single request selects, or nullopt (none stored).
std::variant<Response, std::optional<Source>> select(ApiContext& ctx, Id position_id, const Params& p,
                                                     const analytics::MachineInfo& m) {
  if (p.baseline) {
    auto b = analytics::baseline_spectrum(*ctx.store, position_id, p.source_kind);
    if (!b) return from_status(b.status());
    if (!*b) return std::optional<Source>();
    Source s;
    s.ts = (*b)->to_ts;
    s.resolution = "display";
    s.df = (*b)->df_hz;
    s.offset = 0.5;
    s.bins = std::move((*b)->bins);
    s.extra = {{"baseline_count", (*b)->count},
               {"baseline_from", iso8601((*b)->from_ts)},
               {"baseline_to", iso8601((*b)->to_ts)},
               {"baseline_complete", (*b)->complete}};
    return std::optional<Source>(std::move(s));
  }
  TimestampMs at = p.at.value_or(std::numeric_limits<TimestampMs>::max());
  std::optional<analytics::StoredSpectrum> shown;
  if (p.measurement_id) {
    auto sp = analytics::find_spectrum(*ctx.store, position_id, p.source_kind, *p.measurement_id, 0);
    if (!sp) return from_status(sp.status());
    if (!*sp)
      return problem(404, "not_found", "measurement " + std::to_string(*p.measurement_id) +
                                            " has no stored spectrum at this position");
    shown = std::move(*sp);
    at = shown->ts;
  }
  std::optional<Waveform> wf;
  if (!p.display_only) {
    auto w = analytics::find_waveform(*ctx.store, position_id,
                                      p.waveform_id ? std::optional<Id>(*p.waveform_id) : std::nullopt, at);
    if (!w) return from_status(w.status());
    if (p.waveform_id && !*w)
      return problem(404, "not_found", "waveform " + std::to_string(*p.waveform_id) + " is not kept for this position");
    if (*w && (!p.measurement_id || (*w)->ts == at)) wf = std::move(*w);
  } else if (p.waveform_id) {
    return field_problem(422, "waveform_id", "a waveform is shown at full resolution: drop resolution=display");
  }
  if (!shown) {
    // The newest stored at or before `at`: the waveform's, at full
    // resolution, unless a newer display spectrum outlived its waveform.
    auto sp = analytics::find_spectrum(*ctx.store, position_id, p.source_kind, std::nullopt,
                                       p.waveform_id && wf ? wf->ts : at);
    if (!sp) return from_status(sp.status());
    if (*sp && wf && (*sp)->ts > wf->ts && !p.waveform_id) wf.reset();
    if (*sp && (!wf || (*sp)->ts == wf->ts)) shown = std::move(*sp);
  }
  if (wf) {
    auto full = analytics::full_spectrum(*wf, m);
    if (!full) return from_status(full.status());
    Source s;
    s.waveform_id = wf->id;
    if (shown) s.measurement_id = shown->measurement_id;
    s.ts = wf->ts;
    s.resolution = "full";
    s.df = full->df_hz;
    s.offset = 0;
    s.bins = p.source_kind == "envelope" ? std::move(full->envelope) : std::move(full->accel);
    s.extra = {{"sample_rate_hz", full->sample_rate_hz}, {"samples", full->samples}};
    return std::optional<Source>(std::move(s));
  }
  if (!shown) return std::optional<Source>();
  Source s;
  s.measurement_id = shown->measurement_id;
  s.ts = shown->ts;
  s.resolution = "display";
  s.df = shown->df_hz;
  s.offset = 0.5;
  s.bins = std::move(shown->bins);
  return std::optional<Source>(std::move(s));
}

}  // namespace

void register_spectra(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/positions/{id}/spectra", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = to_int(req.params.at("id"));
    if (!id) return problem(400, "invalid_argument", "position id must be an integer");
    auto parsed = parse(req);
    if (auto* bad = std::get_if<Response>(&parsed)) return *bad;
    const Params& p = std::get<Params>(parsed);
    if (auto missing = require_exists(ctx, "position", *id)) return *missing;
    analytics::MachineInfo machine;
    auto positions = ctx.store->positions();
    if (!positions) return from_status(positions.status());
    for (const auto& pos : *positions) {
      if (pos.id != *id) continue;
      auto a = ctx.store->asset(pos.asset_id);
      if (a) machine = machine_of(*a);
    }
    std::vector<Source> sources;
    if (p.single) {
      auto sel = select(ctx, *id, p, machine);
      if (auto* bad = std::get_if<Response>(&sel)) return *bad;
      if (auto& s = std::get<std::optional<Source>>(sel)) sources.push_back(std::move(*s));
    } else {
      auto sp = analytics::recent_spectra(*ctx.store, *id, p.source_kind, static_cast<int>(p.limit));
      if (!sp) return from_status(sp.status());
      for (auto& st : *sp) {
        Source s;
        s.measurement_id = st.measurement_id;
        s.ts = st.ts;
        s.resolution = "display";
        s.df = st.df_hz;
        s.offset = 0.5;
        s.bins = std::move(st.bins);
        sources.push_back(std::move(s));
      }
    }
    json arr = json::array();
    for (const auto& s : sources) {
      auto j = shape(s, p, machine);
      if (auto* bad = std::get_if<Response>(&j)) return *bad;
      arr.push_back(std::move(std::get<json>(j)));
    }
    return ok(arr);
  });
}

}  // namespace vigil::http::detail
