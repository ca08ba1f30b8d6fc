// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/positions/{id}/spectra for the analyst (api_spectra.cpp): the
// velocity of a display spectrum at its bins' centres, a zoom band, full
// resolution from a stored waveform, markers resolved by bin width, and the
// refusals that name their field.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numbers>

#include "fixture.h"

using vigil::test::ApiFixture;
using json = nlohmann::json;

namespace {
std::vector<std::uint8_t> blob_of(const std::vector<float>& v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u >> (8 * k));
  }
  return b;
}
const json* marker(const json& s, const std::string& label) {
  for (auto& m : s["markers"])
    if (m["label"] == label) return &m;
  return nullptr;
}
}  // namespace

TEST_CASE("spectra for the analyst: velocity, zoom, full resolution, markers and refusals") {
  ApiFixture f;
  const vigil::TimestampMs t0 = f.clock.now_ms() - 3'600'000;
  constexpr double kDf = 15.625;
  std::vector<float> bins(64, 0.01f);
  bins[2] = 0.5f;
  REQUIRE(f.store
              ->write_txn([&](vigil::sql::Db& db) -> vigil::Status {
                auto q = db.prepare(
                    "INSERT INTO spectra(measurement_id, position_id, ts, kind, df_hz, bins) VALUES(?, ?, ?, ?, ?, ?)");
                if (!q) return q.status();
                auto blob = blob_of(bins);
                return (*q)->bind(1, static_cast<std::int64_t>(7)).bind(2, f.position).bind(3, t0).bind(4, "accel")
                    .bind(5, kDf).bind_blob(6, blob.data(), blob.size()).run();
              })
              .ok());
  const std::string base = "/api/v1/positions/" + std::to_string(f.position) + "/spectra";

  // Velocity of display (max-hold) bins, taken at the bins' centres; 0 below 10 Hz.
  auto v = ApiFixture::js(f.call("GET", base + "?kind=velocity", f.viewer_token));
  REQUIRE(v.size() == 1);
  CHECK(v[0]["unit"] == "mm/s");
  CHECK(v[0]["resolution"] == "display");
  CHECK(v[0]["cut_hz"] == 10.0);
  CHECK(v[0]["bins"][0] == 0.0);  // centre 7.8 Hz: below the cut
  CHECK(v[0]["bins"][2].get<double>() ==
        Approx(0.5 * 9806.65 / (2 * std::numbers::pi * 2.5 * kDf)).epsilon(1e-5));
  // 1480 rpm: 1× at 24.7 Hz cannot be resolved by 15.6 Hz bins (gap to 0 Hz and 2×: 24.7 Hz).
  CHECK(v[0]["shaft_hz"].get<double>() == Approx(1480.0 / 60));
  REQUIRE(marker(v[0], "1×") != nullptr);
  CHECK((*marker(v[0], "1×"))["resolved"] == false);
  CHECK((*marker(v[0], "1×"))["amplitude"].is_null());

  // A zoom band of display bins, and at= picking it (no waveform kept: display).
  auto z = ApiFixture::js(f.call("GET", base + "?at=" + std::to_string(t0 + 5) + "&from_hz=100&to_hz=200", f.viewer_token));
  REQUIRE(z.size() == 1);
  CHECK(z[0]["resolution"] == "display");
  CHECK(z[0]["measurement_id"] == 7);
  CHECK(z[0]["f0_hz"] == 6 * kDf);
  CHECK(z[0]["bins"].size() == 7);
  CHECK(ApiFixture::js(f.call("GET", base + "?at=" + std::to_string(t0 - 1), f.viewer_token)).empty());

  // A stored waveform: full resolution, where 3.125 Hz bins resolve 1×.
  vigil::Waveform w;
  w.position_id = f.position;
  w.ts = t0 + 1000;
  w.sample_rate_hz = 25600;
  w.scale = 1.0 / 8192;
  for (int i = 0; i < 8192; ++i)
    w.samples.push_back(static_cast<std::int16_t>(std::lround(8192 * std::sin(2 * std::numbers::pi * 100.0 * i / 25600))));
  const auto wid = f.store->put_waveform(w);
  REQUIRE(wid.ok());
  auto full = ApiFixture::js(f.call("GET", base + "?resolution=full&to_hz=500", f.viewer_token));
  REQUIRE(full.size() == 1);
  CHECK(full[0]["resolution"] == "full");
  CHECK(full[0]["waveform_id"] == *wid);
  CHECK(full[0]["df_hz"] == 3.125);
  CHECK(full[0]["bins"].size() == 161);  // 0..500 Hz
  CHECK(full[0]["bins"][32].get<double>() == Approx(1.0).epsilon(0.01));  // 1 g at 100 Hz
  CHECK((*marker(full[0], "1×"))["resolved"] == true);
  auto reduced = ApiFixture::js(f.call("GET", base + "?resolution=full&max_bins=16", f.viewer_token));
  CHECK(reduced[0]["reduced"] == true);
  CHECK(reduced[0]["bins"].size() <= 16);

  // Refusals name their field.
  auto r = f.call("GET", base + "?limit=3&at=1", f.viewer_token);
  CHECK(r.status == 422);
  CHECK(ApiFixture::js(r)["field"] == "limit");
  r = f.call("GET", base + "?from_hz=300&to_hz=200", f.viewer_token);
  CHECK(r.status == 422);
  CHECK(ApiFixture::js(r)["field"] == "to_hz");
  r = f.call("GET", base + "?kind=power", f.viewer_token);
  CHECK(r.status == 400);
  CHECK(ApiFixture::js(r)["field"] == "kind");
  // No baseline recorded yet: none.
  CHECK(ApiFixture::js(f.call("GET", base + "?baseline=1", f.viewer_token)).empty());
}
