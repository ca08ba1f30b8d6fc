// SPDX-License-Identifier: Apache-2.0
// The analyst's spectra (analytics/spectra.h): velocity from acceleration,
// marker resolvability at a bin width, full resolution from a stored
// waveform, the waveform nearest at or before a time, and the baseline
// spectrum of the learning period.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>

#include "vigil_test/temp_dir.h"
#include "analytics/pipeline.h"
#include "analytics/spectra.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr double kFs = 25600;
constexpr int kN = 8192;  // df = 3.125 Hz

Waveform sine(Id position, TimestampMs ts, double hz, double amp_g) {
  Waveform w;
  w.position_id = position;
  w.ts = ts;
  w.sample_rate_hz = kFs;
  w.scale = 4.0 / 32768;
  for (int i = 0; i < kN; ++i)
    w.samples.push_back(static_cast<std::int16_t>(
        std::lround(amp_g * std::sin(2 * std::numbers::pi * hz * i / kFs) / w.scale)));
  return w;
}

const SpectrumMarker* find(const std::vector<SpectrumMarker>& ms, const std::string& label) {
  for (auto& m : ms)
    if (m.label == label) return &m;
  return nullptr;
}
}  // namespace

TEST_CASE("velocity is acceleration over 2πf in mm/s, zero below the cut", "[analytics][spectra]") {
  const std::vector<float> a = {1.0f, 1.0f, 1.0f, 1.0f, 0.5f};
  // FFT bins at k·df: 0, 10, 20, 30, 40 Hz; cut at 15 Hz.
  auto v = accel_to_velocity(a, 10.0, 0.0, 15.0);
  REQUIRE(v.size() == a.size());
  CHECK(v[0] == 0.0f);  // DC
  CHECK(v[1] == 0.0f);  // 10 Hz is below the cut: 1/f must not explode
  CHECK(v[2] == Approx(9806.65 / (2 * std::numbers::pi * 20)).epsilon(1e-6));
  CHECK(v[3] == Approx(9806.65 / (2 * std::numbers::pi * 30)).epsilon(1e-6));
  CHECK(v[4] == Approx(0.5 * 9806.65 / (2 * std::numbers::pi * 40)).epsilon(1e-6));
  // Display (max-hold) bins are taken at their centre; a zoomed band starts at f0.
  auto c = accel_to_velocity(std::vector<float>{1.0f}, 10.0, 100.0, 0.0, 0.5);
  CHECK(c[0] == Approx(9806.65 / (2 * std::numbers::pi * 105)).epsilon(1e-6));
  CHECK(velocity_cut_hz(300) == 2.0);
  CHECK(velocity_cut_hz(1480) == 10.0);
  CHECK(velocity_cut_hz(0) == 10.0);
}

TEST_CASE("a marker is resolved only when the bin width is below half the gap to its neighbours",
          "[analytics][spectra]") {
  MachineInfo m;
  m.shaft_rpm = 1482;  // 24.7 Hz: the pump
  // 15.6 Hz display bins cannot tell 1× from 2× (gap 24.7 Hz, half 12.35).
  auto coarse = defect_markers(m, "accel", 1000, 15.6);
  REQUIRE(coarse.size() == kMaxShaftHarmonics);
  for (auto& mk : coarse) {
    CHECK_FALSE(mk.resolved);
    CHECK(mk.gap_hz == Approx(24.7).epsilon(1e-9));
  }
  // 3.125 Hz full-resolution bins can.
  auto fine = defect_markers(m, "accel", 1000, 3.125);
  for (auto& mk : fine) CHECK(mk.resolved);
  CHECK(find(fine, "2×")->hz == Approx(49.4));
  // The band cuts markers, not neighbours: 10× stays unresolved at 15.6 Hz
  // although 11× is not listed.
  auto cut = defect_markers(m, "accel", 60, 15.6);
  CHECK(cut.size() == 2);

  // Bearing defects among the harmonics: sorted, each with its nearest
  // neighbour; the envelope shows 1–3× of the shaft only.
  m.bearing = BearingGeometry{9, 7.94, 39.04, 0};
  auto all = defect_markers(m, "envelope", 2000, 1.0);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].hz <= all[i].hz);
  CHECK(find(all, "4×") == nullptr);
  REQUIRE(find(all, "BPFO") != nullptr);
  REQUIRE(find(all, "3×BPFO") != nullptr);
  REQUIRE(find(all, "FTF") != nullptr);
  CHECK(find(all, "2×FTF") == nullptr);
  const auto* ftf = find(all, "FTF");
  CHECK(ftf->gap_hz == Approx(std::min(ftf->hz, 24.7 - ftf->hz)));

  // Two markers at one frequency are never resolved.
  std::vector<SpectrumMarker> same = {{"A", "shaft", 1, 100, 0, false}, {"B", "BPFO", 1, 100, 0, false},
                                      {"C", "BPFI", 1, 300, 0, false}};
  mark_resolvable(same, 0.001);
  CHECK_FALSE(same[0].resolved);
  CHECK_FALSE(same[1].resolved);
  CHECK(same[2].resolved);
  CHECK(same[2].gap_hz == Approx(200));

  // No speed, no markers.
  CHECK(defect_markers(MachineInfo{}, "accel", 1000, 1).empty());
}

TEST_CASE("a full-resolution spectrum is the FFT of the stored waveform, and its velocity a/(2πf)",
          "[analytics][spectra]") {
  auto w = sine(1, 1'700'000'000'000, 100.0, 1.5);  // bin 32 exactly
  auto full = full_spectrum(w, MachineInfo{});
  REQUIRE(full.ok());
  CHECK(full->df_hz == Approx(3.125));
  REQUIRE(full->accel.size() == kN / 2 + 1);  // no reduction
  CHECK(full->accel[32] == Approx(1.5).epsilon(0.01));
  CHECK(full->accel[40] < 0.01);
  auto v = accel_to_velocity(full->accel, full->df_hz, 0, 10);
  CHECK(v[32] == Approx(1.5 * 9806.65 / (2 * std::numbers::pi * 100)).epsilon(0.01));
  CHECK_FALSE(full->envelope.empty());

  Waveform tiny = w;
  tiny.samples.resize(10);
  CHECK(full_spectrum(tiny, MachineInfo{}).status().code() == Status::Code::kInvalidArgument);
  Waveform no_rate = w;
  no_rate.sample_rate_hz = 0;
  CHECK_FALSE(full_spectrum(no_rate, MachineInfo{}).ok());
}

TEST_CASE("find_waveform picks the newest at or before a time, only of the position", "[analytics][spectra]") {
  TempDir dir;
  StoreOptions so;
  so.path = dir.file("vigil.db");
  auto store = std::move(Store::open(so).value());
  const TimestampMs t0 = 1'700'000'000'000;
  std::vector<Id> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(store->put_waveform(sine(7, t0 + i * 3'600'000, 50.0 + i, 1)).value());
  const Id other = store->put_waveform(sine(8, t0 + 10, 80, 1)).value();

  auto at = find_waveform(*store, 7, std::nullopt, t0 + 3'600'000 + 5);
  REQUIRE(at.ok());
  REQUIRE(at->has_value());
  CHECK((*at)->id == ids[1]);
  CHECK((*at)->ts == t0 + 3'600'000);
  CHECK((*at)->samples.size() == static_cast<std::size_t>(kN));
  auto newest = find_waveform(*store, 7, std::nullopt, std::numeric_limits<TimestampMs>::max());
  CHECK((*newest)->id == ids[2]);
  CHECK_FALSE(find_waveform(*store, 7, std::nullopt, t0 - 1)->has_value());  // none that old
  CHECK((*find_waveform(*store, 7, ids[0], 0))->id == ids[0]);
  CHECK_FALSE(find_waveform(*store, 7, other, 0)->has_value());  // another position's
}

TEST_CASE("the baseline spectrum is the mean of the learning period, restarts when learning again",
          "[analytics][spectra]") {
  TempDir dir;
  StoreOptions so;
  so.path = dir.file("vigil.db");
  auto store = std::move(Store::open(so).value());
  REQUIRE(Pipeline::migrate(*store).ok());
  auto put = [&](TimestampMs ts, bool learning, std::vector<float> bins, double df = 12.5) {
    dsp::ReducedSpectrum s;
    s.df_hz = df;
    s.bins = std::move(bins);
    REQUIRE(store->write_txn([&](sql::Db& db) { return update_baseline_spectrum(db, 3, "accel", ts, learning, s); })
                .ok());
  };
  CHECK_FALSE(baseline_spectrum(*store, 3, "accel")->has_value());
  put(100, false, {9, 9});  // learned before any baseline was recorded: nothing
  CHECK_FALSE(baseline_spectrum(*store, 3, "accel")->has_value());
  put(200, true, {1, 2});
  put(300, true, {3, 4});
  put(400, true, {5, 9});
  auto b = baseline_spectrum(*store, 3, "accel");
  REQUIRE(b->has_value());
  CHECK((*b)->count == 3);
  CHECK((*b)->bins[0] == Approx(3));
  CHECK((*b)->bins[1] == Approx(5));
  CHECK((*b)->from_ts == 200);
  CHECK((*b)->to_ts == 400);
  CHECK_FALSE((*b)->complete);
  put(500, false, {100, 100});  // learned: frozen, the fault does not join it
  b = baseline_spectrum(*store, 3, "accel");
  CHECK((*b)->complete);
  CHECK((*b)->count == 3);
  CHECK((*b)->bins[1] == Approx(5));
  put(600, true, {7, 7});  // re-learning starts a new baseline
  b = baseline_spectrum(*store, 3, "accel");
  CHECK((*b)->count == 1);
  CHECK((*b)->from_ts == 600);
  CHECK_FALSE((*b)->complete);
  put(700, true, {1, 1, 1}, 6.25);  // another resolution: starts over too
  b = baseline_spectrum(*store, 3, "accel");
  CHECK((*b)->count == 1);
  CHECK((*b)->bins.size() == 3);
  CHECK_FALSE(baseline_spectrum(*store, 3, "envelope")->has_value());
}

TEST_CASE("the pipeline records the baseline spectrum while the vibration model learns", "[analytics][spectra]") {
  TempDir dir;
  StoreOptions so;
  so.path = dir.file("vigil.db");
  auto store = std::move(Store::open(so).value());
  const Id site = store->upsert_site(Site{0, "Plant", "UTC"}).value();
  Asset fan;
  fan.site_id = site;
  fan.name = "Fan";
  fan.shaft_rpm = 1482;
  const Id asset = store->upsert_asset(fan).value();
  const Id pos = store->upsert_position(Position{0, asset, "DE", PositionType::kFan}).value();
  auto p = Pipeline::create(*store, PipelineOptions{});
  REQUIRE(p.ok());
  TimestampMs t = 1'700'000'000'000;
  for (int i = 0; i < 3; ++i) {
    REQUIRE((*p)->submit_waveform(sine(pos, t += 3'600'000, 24.7, 0.5 + 0.01 * i)));
    (*p)->drain();
  }
  for (const char* kind : {"accel", "envelope"}) {
    auto b = baseline_spectrum(*store, pos, kind);
    REQUIRE(b.ok());
    REQUIRE(b->has_value());
    CHECK((*b)->count == 3);
    CHECK_FALSE((*b)->complete);
    CHECK((*b)->df_hz > 0);
  }
}
