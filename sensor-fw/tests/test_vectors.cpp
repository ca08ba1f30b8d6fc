// SPDX-License-Identifier: Apache-2.0
// The shared vectors (tests/vectors/*.json), also checked by the gateway.
#include <string.h>

#include "test.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/frames.h"
#include "vigil_fw/waveform_service.h"
#include "vigil_vectors.h"

using namespace vigil_fw;

namespace {
void mac_from(const char* s, std::uint8_t out[6]) {
  for (int i = 0; i < 6; ++i) {
    char h[3] = {s[i * 3], s[i * 3 + 1], 0};
    vtest::hex_to_bytes(h, &out[i], 1);
  }
}
}  // namespace

TEST("every frame vector is reproduced byte for byte as an advertisement") {
  SoftAes aes;
  for (const FrameVector& v : kFrameVectors) {
    std::uint8_t key[16], mac[6], pt[32];
    mac_from(v.mac, mac);
    const bool enc = v.key[0] != 0;
    if (enc) vtest::hex_to_bytes(v.key, key, 16);
    int n = vtest::hex_to_bytes(v.plaintext, pt, sizeof pt);
    REQUIRE(n > 0);
    Sealing s{&aes, enc ? key : nullptr, mac, v.counter};
    Advertisement adv;
    bool ok = strcmp(v.kind, "bthome") == 0 ? build_bthome_adv(pt, static_cast<std::size_t>(n), s, adv)
                                            : build_vigil_adv(pt, s, adv);
    CHECK(ok);
    if (!vtest::bytes_equal_hex(adv.bytes, adv.len, v.ad)) {
      vtest::test_write("  vector: ");
      vtest::test_write(v.name);
      vtest::test_write("\n");
      CHECK(false);
    }
  }
}

TEST("vigil frame fields pack to the vector plaintext") {
  for (const FrameVector& v : kFrameVectors) {
    if (strcmp(v.kind, "vigil") != 0) continue;
    VigilFeatures f;
    f.seq = v.seq;
    f.axis = v.axis;
    f.accel_rms_g = v.fields[0] / 1000.0f;
    f.velocity_rms_mm_s = v.fields[1] / 100.0f;
    f.accel_peak_g = v.fields[2] / 1000.0f;
    f.crest_factor = v.fields[3] / 100.0f;
    f.kurtosis = v.fields[4] / 100.0f;
    std::uint8_t p[kVigilPayloadSize];
    vigil_payload(f, p);
    CHECK(vtest::bytes_equal_hex(p, kVigilPayloadSize, v.plaintext));
  }
}

TEST("the sensor's BTHome objects match the vigil sensor vector") {
  BthomeReadings r;
  r.packet_id = 7;
  r.battery_pct = 87;
  r.temperature_c = 23.45f;
  r.battery_mv = 3581;
  r.accel_rms_m_s2 = 1.234f;
  std::uint8_t out[31];
  std::size_t n = bthome_objects(r, out, sizeof out);
  bool found = false;
  for (const FrameVector& v : kFrameVectors)
    if (strcmp(v.name, "vigil sensor bthome frame") == 0) {
      found = true;
      CHECK(vtest::bytes_equal_hex(out, n, v.plaintext));
    }
  CHECK(found);
}

TEST("the waveform service serves the vector's info and data") {
  static std::int16_t samples[24];
  std::uint8_t data[48];
  REQUIRE(vtest::hex_to_bytes(kWaveData, data, sizeof data) == 48);
  for (int i = 0; i < 24; ++i) samples[i] = static_cast<std::int16_t>(data[2 * i] | data[2 * i + 1] << 8);
  WaveformService ws;
  ws.publish(samples, 8, 3, kWaveRate, kWaveScale, kWaveSeq);
  std::uint8_t info[kWaveformInfoSize];
  REQUIRE(ws.read_info(info, sizeof info) == kWaveformInfoSize);
  CHECK(vtest::bytes_equal_hex(info, sizeof info, kWaveInfo));
  CHECK(crc32(data, 48) == kWaveCrc);
  // Stream in 10-byte chunks and compare.
  const std::uint8_t req[6] = {0, 0, 0, 0, 10, 0};
  CHECK(ws.write_request(req, 6));
  std::uint8_t got[48];
  std::size_t at = 0;
  for (int k = 0; k < 10 && at < 48; ++k) {
    std::uint8_t chunk[64];
    std::size_t n = ws.read_chunk(chunk, sizeof chunk);
    REQUIRE(n >= kChunkHeaderSize);
    CHECK((chunk[0] | chunk[1] << 8) == kWaveSeq);
    CHECK(chunk[2] == at);
    memcpy(&got[at], chunk + kChunkHeaderSize, n - kChunkHeaderSize);
    at += n - kChunkHeaderSize;
  }
  CHECK(at == 48);
  CHECK(memcmp(got, data, 48) == 0);
  const std::uint8_t bad[6] = {49, 0, 0, 0, 0, 0};
  CHECK(!ws.write_request(bad, 6));
}
