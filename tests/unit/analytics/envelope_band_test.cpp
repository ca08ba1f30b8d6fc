// SPDX-License-Identifier: Apache-2.0
// A per-asset envelope (demodulation) band: how it is fitted to a sample
// rate, how it reaches the features, how a dataset manifest sets it, and how
// the gateway pipeline follows an asset whose band changes.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <numbers>
#include <nlohmann/json.hpp>

#include "vigil_test/temp_dir.h"
#include "analytics/dataset.h"
#include "analytics/pipeline.h"
#include "analytics/position.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::analytics;

namespace {
constexpr double kFs = 25600;
constexpr int kN = 8192;

MachineInfo with_band(double lo, double hi) {
  MachineInfo m;
  m.envelope_lo_hz = lo;
  m.envelope_hi_hz = hi;
  return m;
}

// A 2.2 kHz carrier (a housing resonance below the automatic band, which
// starts at fs/8 = 3.2 kHz) amplitude-modulated 50 % at 100 Hz: its envelope
// has RMS 0.5 · 0.5 / √2 g about its mean.
std::vector<float> ringing_housing() {
  std::vector<float> x(kN);
  for (int i = 0; i < kN; ++i) {
    const double t = i / kFs;
    x[static_cast<std::size_t>(i)] = static_cast<float>(0.5 * (1 + 0.5 * std::cos(2 * std::numbers::pi * 100 * t)) *
                                                        std::sin(2 * std::numbers::pi * 2200 * t));
  }
  return x;
}
constexpr double kRingingEnvelopeRms = 0.5 * 0.5 / std::numbers::sqrt2;

std::string manifest(const TempDir& d, const std::string& band_entry) {
  {
    std::ofstream b(d.file("s.i16"), std::ios::binary);
    const std::int16_t zero = 0;
    for (int k = 0; k < 64; ++k) b.write(reinterpret_cast<const char*>(&zero), 2);
  }
  std::ofstream m(d.file("manifest.json"));
  m << R"({"file":"s.i16","scale_g_per_count":0.001,"sample_rate_hz":25600,"samples_per_snapshot":64,)"
    << R"("channels":["a"],"timestamps":["2020-01-01T00:00:00"])" << band_entry << "}";
  return d.file("manifest.json");
}
}  // namespace

TEST_CASE("a machine without an envelope band is demodulated in the automatic band", "[analytics]") {
  auto b = envelope_band_for(MachineInfo{}, kFs);
  CHECK(b.lo_hz == 0);
  CHECK(b.hi_hz == 0);
  CHECK_FALSE(b.fell_back);
  auto fo = PositionAnalyzer(MachineInfo{}, AnalyticsOptions{}).feature_options(kFs);
  CHECK(fo.envelope_lo_hz == 0);
  CHECK(fo.envelope_hi_hz == 0);
}

TEST_CASE("an envelope band is kept below 0.45 of the sample rate, and one left empty falls back to automatic",
          "[analytics]") {
  auto kept = envelope_band_for(with_band(1500, 3500), kFs);
  CHECK(kept.lo_hz == 1500);
  CHECK(kept.hi_hz == 3500);
  CHECK_FALSE(kept.fell_back);

  auto clamped = envelope_band_for(with_band(5000, 20000), kFs);
  CHECK(clamped.lo_hz == 5000);
  CHECK(clamped.hi_hz == Approx(0.45 * kFs));
  CHECK_FALSE(clamped.fell_back);

  auto empty = envelope_band_for(with_band(12000, 20000), kFs);  // 0.45 · 25.6 kHz = 11.52 kHz
  CHECK(empty.fell_back);
  CHECK(empty.lo_hz == 0);
  CHECK(empty.hi_hz == 0);
}

TEST_CASE("the features demodulate the machine's envelope band, where the housing rings", "[analytics]") {
  auto x = ringing_housing();
  auto automatic = PositionAnalyzer(MachineInfo{}, AnalyticsOptions{}).feature_options(kFs);
  auto fa = dsp::compute_features(x, kFs, automatic);
  CHECK(fa.envelope_lo_hz == Approx(kFs / 8));
  CHECK(*fa.get("envelope_rms_g") < 0.1 * kRingingEnvelopeRms);

  auto banded = PositionAnalyzer(with_band(1500, 3500), AnalyticsOptions{}).feature_options(kFs);
  auto fb = dsp::compute_features(x, kFs, banded);
  CHECK(fb.envelope_lo_hz == 1500);
  CHECK(fb.envelope_hi_hz == 3500);
  CHECK(*fb.get("envelope_rms_g") == Approx(kRingingEnvelopeRms).epsilon(0.03));
}

TEST_CASE("a dataset manifest sets the envelope band with envelope_band_hz, and refuses a bad one",
          "[analytics]") {
  TempDir d;
  auto ds = WaveformDataset::open(manifest(d, R"(,"envelope_band_hz":[1500,3500])"));
  REQUIRE(ds.ok());
  CHECK(ds->machine().envelope_lo_hz == 1500);
  CHECK(ds->machine().envelope_hi_hz == 3500);

  auto none = WaveformDataset::open(manifest(d, R"(,"envelope_band_hz":null)"));
  REQUIRE(none.ok());
  CHECK(none->machine().envelope_lo_hz == 0);
  CHECK(none->machine().envelope_hi_hz == 0);

  auto reversed = WaveformDataset::open(manifest(d, R"(,"envelope_band_hz":[3500,1500])"));
  REQUIRE_FALSE(reversed.ok());
  CHECK(reversed.status().message().find("100 <= lo < hi <= 50000") != std::string::npos);
  auto scalar = WaveformDataset::open(manifest(d, R"(,"envelope_band_hz":2200)"));
  REQUIRE_FALSE(scalar.ok());
  CHECK(scalar.status().message().find("envelope_band_hz must be [lo, hi]") != std::string::npos);
}

TEST_CASE("the pipeline demodulates an asset's new envelope band after invalidate_machines", "[analytics]") {
  TempDir dir;
  StoreOptions so;
  so.path = dir.file("vigil.db");
  auto store = std::move(Store::open(so).value());
  const Id site = store->upsert_site(Site{0, "Plant", "UTC"}).value();
  Asset fan;
  fan.site_id = site;
  fan.name = "Fan";
  fan.shaft_rpm = 980;
  const Id asset = store->upsert_asset(fan).value();
  const Id pos = store->upsert_position(Position{0, asset, "DE", PositionType::kFan}).value();
  auto p = Pipeline::create(*store, PipelineOptions{});
  REQUIRE(p.ok());

  const auto x = ringing_housing();
  TimestampMs t = 1'700'000'000'000;
  auto envelope_rms = [&] {
    Waveform w;
    w.position_id = pos;
    w.ts = t += 600'000;
    w.sample_rate_hz = kFs;
    w.scale = 1.0 / 16384;
    for (float v : x) w.samples.push_back(static_cast<std::int16_t>(std::lround(v * 16384)));
    REQUIRE((*p)->submit_waveform(w));
    (*p)->drain();
    auto ms = store->measurements(pos, w.ts, w.ts, 1);
    REQUIRE(ms.ok());
    REQUIRE(ms->size() == 1);
    return nlohmann::json::parse(ms->front().features_json).at("envelope_rms_g").get<double>();
  };
  CHECK(envelope_rms() < 0.1 * kRingingEnvelopeRms);  // 2.2 kHz is below the automatic band

  fan.envelope_lo_hz = 1500;
  fan.envelope_hi_hz = 3500;
  REQUIRE(store->upsert_asset(fan).ok());
  CHECK(envelope_rms() < 0.1 * kRingingEnvelopeRms);  // not told yet: the old band holds
  (*p)->invalidate_machines();
  CHECK(envelope_rms() == Approx(kRingingEnvelopeRms).epsilon(0.03));
  // The features changed meaning, so the position learns again.
  auto h = (*p)->position_health(pos);
  REQUIRE(h.ok());
  for (auto& m : h->models)
    if (m.model == kVibrationMl) CHECK(m.persistent == HealthState::kInitializing);
}
