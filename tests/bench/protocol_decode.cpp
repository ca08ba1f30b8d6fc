// SPDX-License-Identifier: Apache-2.0
//
// Decoder throughput: frames/s for plain and encrypted frames (BTHome and
// vigil frames, per-device replay state on), next to the floor: raw
// AES-128-CCM decryption of the same encrypted frames with OpenSSL EVP in
// the same run (key + nonce set-up and tag check per frame, no parsing).
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "protocol/decoder.h"

using namespace vigil::protocol;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kFrames = 200000;
constexpr int kRounds = 5;
const Key kKey{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
const Mac kMac{{0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x01}};

struct Frame {
  bool vigil;
  std::vector<std::uint8_t> data;  // without UUID / company id
};

double best_rate(const std::vector<Frame>& frames, bool with_key) {
  double best = 0;
  for (int r = 0; r < kRounds; ++r) {
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    if (with_key) dec.set_key(kMac, kKey);
    std::size_t ok = 0;
    auto t0 = Clock::now();
    for (const auto& f : frames) {
      auto res = f.vigil ? dec.decode_manufacturer_data(kVigilCompanyId, f.data, kMac, 0)
                         : dec.decode_service_data(kBthomeUuid, f.data, kMac, 0);
      ok += res.ok();
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (ok != frames.size()) std::fprintf(stderr, "warning: %zu of %zu frames rejected\n", frames.size() - ok, frames.size());
    best = std::max(best, static_cast<double>(frames.size()) / s);
  }
  return best;
}

// The floor: OpenSSL AES-128-CCM decrypt + tag check of the same frames.
double openssl_floor(const std::vector<Frame>& frames) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  double best = 0;
  std::uint8_t out[64];
  for (int r = 0; r < kRounds; ++r) {
    std::size_t ok = 0;
    auto t0 = Clock::now();
    for (const auto& f : frames) {
      // Header: BTHome 1 byte (device info); vigil 2 bytes (magic, control).
      const std::size_t hdr = f.vigil ? 2 : 1;
      const std::size_t ct_len = f.data.size() - hdr - 8;
      const std::uint8_t* ct = f.data.data() + hdr;
      const std::uint8_t* ctr = ct + ct_len;
      std::uint8_t nonce[13];
      std::memcpy(nonce, kMac.b.data(), 6);
      nonce[6] = f.vigil ? 0xFF : 0xD2;
      nonce[7] = f.vigil ? 0xFF : 0xFC;
      nonce[8] = f.data[hdr - 1];
      std::memcpy(nonce + 9, ctr, 4);
      int len = 0;
      EVP_DecryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 13, nullptr);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 4, const_cast<std::uint8_t*>(ctr + 4));
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, kKey.data(), nonce);
      EVP_DecryptUpdate(ctx, nullptr, &len, nullptr, static_cast<int>(ct_len));
      ok += EVP_DecryptUpdate(ctx, out, &len, ct, static_cast<int>(ct_len)) == 1;
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (ok != frames.size()) std::fprintf(stderr, "warning: OpenSSL rejected %zu frames\n", frames.size() - ok);
    best = std::max(best, static_cast<double>(frames.size()) / s);
  }
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  return best;
}
}  // namespace

int main() {
  // The vigil sensor's cycle: one BTHome frame then four vigil frames.
  const std::vector<std::uint8_t> objects{0x00, 0x07, 0x01, 0x57, 0x02, 0x29, 0x09, 0x0C, 0xFD, 0x0D, 0x51, 0xD2, 0x04};
  std::vector<Frame> enc, plain;
  enc.reserve(kFrames);
  plain.reserve(kFrames);
  for (int i = 0; i < kFrames; ++i) {
    const std::uint32_t counter = static_cast<std::uint32_t>(i + 1);
    if (i % 5 == 0) {
      auto f = encrypt_bthome(kKey, kMac, counter, objects);
      enc.push_back({false, {f.begin() + 2, f.end()}});
      std::vector<std::uint8_t> p{0x40};
      p.insert(p.end(), objects.begin(), objects.end());
      p[2] = static_cast<std::uint8_t>(i);  // packet id: consecutive frames differ
      plain.push_back({false, p});
    } else {
      vigil_frame::Features feat{.seq = static_cast<std::uint16_t>(i / 5), .axis = static_cast<std::uint8_t>(i % 5 - 1),
                                 .accel_rms_g = 0.5, .velocity_rms_mm_s = 2.3, .accel_peak_g = 1.7,
                                 .crest_factor = 3.4, .kurtosis = 3.1};
      auto payload = vigil_frame::encode_payload(feat);
      auto f = encrypt_vigil(kKey, kMac, counter, payload);
      enc.push_back({true, {f.begin() + 2, f.end()}});
      std::vector<std::uint8_t> p{kVigilMagic, 0x10};
      p.insert(p.end(), payload.begin(), payload.end());
      plain.push_back({true, p});
    }
  }
  const double plain_rate = best_rate(plain, false);
  const double enc_rate = best_rate(enc, true);
  const double floor_rate = openssl_floor(enc);
  std::printf("protocol decode benchmark: %d frames (1 BTHome : 4 vigil), best of %d rounds, 1 thread\n", kFrames,
              kRounds);
  std::printf("  %-46s %12.0f frames/s\n", "decode, plain frames", plain_rate);
  std::printf("  %-46s %12.0f frames/s\n", "decode, encrypted frames (AES-CCM + replay)", enc_rate);
  std::printf("  %-46s %12.0f frames/s\n", "reference: OpenSSL EVP AES-128-CCM decrypt only", floor_rate);
  std::printf("  encrypted decode = %.0f%% of the OpenSSL floor\n", 100.0 * enc_rate / floor_rate);
  return 0;
}
