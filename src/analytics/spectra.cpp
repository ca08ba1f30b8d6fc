// SPDX-License-Identifier: Apache-2.0
//
// Full-resolution spectra, velocity spectra, markers and the baseline
// spectrum (spectra.h).
#include "analytics/spectra.h"

#include "analytics/float_blob.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

namespace vigil::analytics {
namespace {
using detail::from_blob;
using detail::to_blob;


std::string harmonic_label(int order, const std::string& family) {
  if (family == "shaft") return std::to_string(order) + "×";
  return order == 1 ? family : std::to_string(order) + "×" + family;
}

}  // namespace

const char* const kBaselineSpectraSchema = R"sql(
CREATE TABLE baseline_spectra(
  position_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  df_hz REAL NOT NULL,
  count INTEGER NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  complete INTEGER NOT NULL DEFAULT 0,
  bins BLOB NOT NULL,
  PRIMARY KEY(position_id, kind));
)sql";

std::vector<float> accel_to_velocity(std::span<const float> accel_g, double df_hz, double f0_hz, double cut_hz,
                                     double offset) {
  std::vector<float> out(accel_g.size(), 0.0f);
  const double k_mm = kStandardGravity * 1000.0 / (2.0 * std::numbers::pi);  // mm/s per (g/Hz)
  for (std::size_t k = 0; k < accel_g.size(); ++k) {
    const double f = f0_hz + (static_cast<double>(k) + offset) * df_hz;
    if (!(f > 0) || f < cut_hz) continue;
    out[k] = static_cast<float>(static_cast<double>(accel_g[k]) * k_mm / f);
  }
  return out;
}

double velocity_cut_hz(double shaft_rpm) { return (shaft_rpm > 0 && shaft_rpm < 600) ? 2.0 : 10.0; }

void mark_resolvable(std::vector<SpectrumMarker>& markers, double df_hz) {
  std::sort(markers.begin(), markers.end(), [](const SpectrumMarker& a, const SpectrumMarker& b) {
    return a.hz < b.hz || (a.hz == b.hz && a.label < b.label);
  });
  for (std::size_t i = 0; i < markers.size(); ++i) {
    double gap = markers[i].hz;  // to 0 Hz
    if (i > 0) gap = std::min(gap, markers[i].hz - markers[i - 1].hz);
    if (i + 1 < markers.size()) gap = std::min(gap, markers[i + 1].hz - markers[i].hz);
    markers[i].gap_hz = std::max(0.0, gap);
    markers[i].resolved = df_hz > 0 && df_hz < markers[i].gap_hz / 2;
  }
}

std::vector<SpectrumMarker> defect_markers(const MachineInfo& m, const std::string& kind, double max_hz, double df_hz) {
  std::vector<SpectrumMarker> out;
  if (!(m.shaft_rpm > 0)) return out;
  const double fr = m.shaft_rpm / 60.0;
  const int shaft_n = kind == "envelope" ? 3 : kMaxShaftHarmonics;
  for (int n = 1; n <= shaft_n; ++n) out.push_back({harmonic_label(n, "shaft"), "shaft", n, n * fr, 0, false});
  if (m.bearing) {
    const auto b = dsp::bearing_frequencies(*m.bearing, fr);
    const std::pair<const char*, double> defects[] = {{"BPFO", b.bpfo}, {"BPFI", b.bpfi}, {"BSF", b.bsf}, {"FTF", b.ftf}};
    for (auto [name, f] : defects) {
      if (!(f > 0)) continue;
      const int orders = std::string(name) == "FTF" ? 1 : kMaxDefectHarmonics;
      for (int n = 1; n <= orders; ++n) out.push_back({harmonic_label(n, name), name, n, n * f, 0, false});
    }
  }
  // Neighbours count over the whole set, then the band is cut.
  mark_resolvable(out, df_hz);
  std::erase_if(out, [&](const SpectrumMarker& x) { return x.hz > max_hz; });
  return out;
}

Result<FullSpectrum> full_spectrum(const Waveform& w, const MachineInfo& m) {
  const int axes = std::max(1, w.axes);
  const std::size_t n = w.samples.size() / static_cast<std::size_t>(axes);
  if (n < 64) return Status::InvalidArgument("the waveform has fewer than 64 samples per axis");
  if (n > kMaxWaveformSamples) return Status::InvalidArgument("the waveform is too long to recompute on request");
  if (!(w.sample_rate_hz > 0)) return Status::InvalidArgument("the waveform has no sample rate");
  dsp::FeatureOptions fo;
  const EnvelopeBand band = envelope_band_for(m, w.sample_rate_hz);
  fo.envelope_lo_hz = band.lo_hz;
  fo.envelope_hi_hz = band.hi_hz;
  dsp::velocity_band_for_rpm(m.shaft_rpm, fo);
  fo.keep_spectra = true;
  fo.display_bins = static_cast<int>(n / 2 + 1);  // no reduction: one FFT bin per bin
  FullSpectrum out;
  out.waveform_id = w.id;
  out.position_id = w.position_id;
  out.ts = w.ts;
  out.sample_rate_hz = w.sample_rate_hz;
  out.samples = static_cast<int>(n);
  double best_vel = -1;
  std::vector<float> x(n);
  for (int a = 0; a < axes; ++a) {
    for (std::size_t i = 0; i < n; ++i)
      x[i] = static_cast<float>(w.samples[static_cast<std::size_t>(a) * n + i] * w.scale);
    auto fs = dsp::compute_features(x, w.sample_rate_hz, fo);
    const double vel = fs.get("velocity_rms_mm_s").value_or(0);
    if (vel > best_vel) {  // the axis with most velocity, as the pipeline stores
      best_vel = vel;
      out.axis = a;
      out.df_hz = fs.spectrum.df_hz;
      out.accel = std::move(fs.spectrum.bins);
      out.envelope = std::move(fs.envelope.bins);
    }
  }
  return out;
}

Result<std::optional<Waveform>> find_waveform(Store& store, Id position_id, std::optional<Id> waveform_id,
                                              TimestampMs at) {
  // The store decodes the stored (compressed) samples.
  if (waveform_id) return store.waveform(position_id, waveform_id, std::nullopt);
  return store.waveform(position_id, std::nullopt, at);
}

Result<std::optional<StoredSpectrum>> find_spectrum(Store& store, Id position_id, const std::string& kind,
                                                    std::optional<Id> measurement_id, TimestampMs at) {
  std::optional<StoredSpectrum> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = measurement_id
                 ? db.prepare("SELECT measurement_id, ts, df_hz, bins FROM spectra "
                              "WHERE measurement_id = ? AND kind = ? AND position_id = ?")
                 : db.prepare("SELECT measurement_id, ts, df_hz, bins FROM spectra "
                              "WHERE position_id = ? AND kind = ? AND ts <= ? ORDER BY ts DESC LIMIT 1");
    if (!q) return q.status();
    if (measurement_id) (*q)->bind(1, *measurement_id).bind(2, kind).bind(3, position_id);
    else (*q)->bind(1, position_id).bind(2, kind).bind(3, at);
    auto r = (*q)->step();
    if (!r) {
      (*q)->reset();
      return r.status();
    }
    if (*r) {
      StoredSpectrum s;
      s.measurement_id = (*q)->i64(0);
      s.position_id = position_id;
      s.ts = (*q)->i64(1);
      s.kind = kind;
      s.df_hz = (*q)->f64(2);
      s.bins = from_blob((*q)->blob(3));
      out = std::move(s);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status update_baseline_spectrum(sql::Db& db, Id position_id, const std::string& kind, TimestampMs ts, bool learning,
                                const dsp::ReducedSpectrum& s) {
  auto sel = db.prepare("SELECT df_hz, count, complete, bins FROM baseline_spectra WHERE position_id = ? AND kind = ?");
  if (!sel) return sel.status();
  (*sel)->bind(1, position_id).bind(2, kind);
  auto r = (*sel)->step();
  if (!r) {
    (*sel)->reset();
    return r.status();
  }
  const bool exists = *r;
  double df = 0;
  std::int64_t count = 0;
  bool complete = false;
  std::vector<float> mean;
  if (exists) {
    df = (*sel)->f64(0);
    count = (*sel)->i64(1);
    complete = (*sel)->i64(2) != 0;
    mean = from_blob((*sel)->blob(3));
  }
  (*sel)->reset();
  if (!learning) {
    if (!exists || complete) return Status::Ok();
    auto q = db.prepare("UPDATE baseline_spectra SET complete = 1 WHERE position_id = ? AND kind = ?");
    if (!q) return q.status();
    return (*q)->bind(1, position_id).bind(2, kind).run();
  }
  if (s.bins.empty() || !(s.df_hz > 0)) return Status::Ok();
  const bool restart = !exists || complete || mean.size() != s.bins.size() || std::abs(df - s.df_hz) > 1e-9 * s.df_hz;
  if (restart) {
    auto blob = to_blob(s.bins);
    auto q = db.prepare(
        "INSERT OR REPLACE INTO baseline_spectra(position_id, kind, df_hz, count, from_ts, to_ts, complete, bins) "
        "VALUES(?, ?, ?, 1, ?, ?, 0, ?)");
    if (!q) return q.status();
    return (*q)->bind(1, position_id).bind(2, kind).bind(3, s.df_hz).bind(4, ts).bind(5, ts)
        .bind_blob(6, blob.data(), blob.size()).run();
  }
  const double w = 1.0 / static_cast<double>(count + 1);  // running mean
  for (std::size_t k = 0; k < mean.size(); ++k)
    mean[k] = static_cast<float>(mean[k] + (static_cast<double>(s.bins[k]) - mean[k]) * w);
  auto blob = to_blob(mean);
  auto q = db.prepare("UPDATE baseline_spectra SET count = count + 1, to_ts = max(to_ts, ?), bins = ? "
                      "WHERE position_id = ? AND kind = ?");
  if (!q) return q.status();
  return (*q)->bind(1, ts).bind_blob(2, blob.data(), blob.size()).bind(3, position_id).bind(4, kind).run();
}

Result<std::optional<BaselineSpectrum>> baseline_spectrum(Store& store, Id position_id, const std::string& kind) {
  std::optional<BaselineSpectrum> out;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT df_hz, count, from_ts, to_ts, complete, bins FROM baseline_spectra "
                        "WHERE position_id = ? AND kind = ?");
    if (!q) return q.status();
    (*q)->bind(1, position_id).bind(2, kind);
    auto r = (*q)->step();
    if (!r) {
      (*q)->reset();
      return r.status();
    }
    if (*r) {
      BaselineSpectrum b;
      b.position_id = position_id;
      b.kind = kind;
      b.df_hz = (*q)->f64(0);
      b.count = static_cast<int>((*q)->i64(1));
      b.from_ts = (*q)->i64(2);
      b.to_ts = (*q)->i64(3);
      b.complete = (*q)->i64(4) != 0;
      b.bins = from_blob((*q)->blob(5));
      out = std::move(b);
    }
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

}  // namespace vigil::analytics
