// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/frames.h"

#include <string.h>

#include "vigil_fw/crypto.h"

namespace vigil_fw {
namespace {

std::uint32_t quantize(float v, float scale, std::uint32_t max) {
  float x = v * scale + 0.5f;
  if (!(x >= 0.0f)) return 0;  // negative or NaN
  if (x >= static_cast<float>(max)) return max;
  return static_cast<std::uint32_t>(x);
}

std::int32_t quantize_signed(float v, float scale, std::int32_t lo, std::int32_t hi) {
  float x = v * scale;
  x = x < 0 ? x - 0.5f : x + 0.5f;
  if (!(x == x)) return 0;
  if (x <= static_cast<float>(lo)) return lo;
  if (x >= static_cast<float>(hi)) return hi;
  return static_cast<std::int32_t>(x);
}

void flags(Writer& w) {
  w.u8(0x02);
  w.u8(0x01);
  w.u8(0x06);  // LE General Discoverable, BR/EDR not supported
}

// nonce = MAC ‖ id16 (LE) ‖ header byte ‖ counter (LE)
void nonce(const Sealing& s, std::uint16_t id16, std::uint8_t header, std::uint8_t out[kNonceSize]) {
  memcpy(out, s.mac, 6);
  out[6] = static_cast<std::uint8_t>(id16);
  out[7] = static_cast<std::uint8_t>(id16 >> 8);
  out[8] = header;
  for (int i = 0; i < 4; ++i) out[9 + i] = static_cast<std::uint8_t>(s.counter >> (8 * i));
}

// Appends body (encrypted when sealing) + counter + MIC at buf[at..].
bool seal_into(const Sealing& s, std::uint16_t id16, std::uint8_t header, const std::uint8_t* body, std::size_t len,
               Advertisement& out, std::size_t at) {
  if (!s.key) {
    if (at + len > kMaxAdvLen) return false;
    memcpy(&out.bytes[at], body, len);
    out.len = at + len;
    return true;
  }
  if (at + len + 4 + kMicSize > kMaxAdvLen) return false;
  std::uint8_t n[kNonceSize];
  nonce(s, id16, header, n);
  std::uint8_t mic[kMicSize];
  if (!ccm_encrypt(*s.aes, s.key, n, body, len, &out.bytes[at], mic)) return false;
  at += len;
  for (int i = 0; i < 4; ++i) out.bytes[at++] = static_cast<std::uint8_t>(s.counter >> (8 * i));
  memcpy(&out.bytes[at], mic, kMicSize);
  out.len = at + kMicSize;
  return true;
}

}  // namespace

std::size_t bthome_objects(const BthomeReadings& r, std::uint8_t* out, std::size_t cap) {
  Writer w(out, cap);
  w.u8(0x00);
  w.u8(r.packet_id);
  w.u8(0x01);
  w.u8(r.battery_pct > 100 ? 100 : r.battery_pct);
  w.u8(0x02);
  w.u16(static_cast<std::uint32_t>(quantize_signed(r.temperature_c, 100.0f, -32768, 32767)));
  w.u8(0x0C);
  w.u16(r.battery_mv);
  w.u8(0x51);
  w.u16(quantize(r.accel_rms_m_s2, 1000.0f, 0xFFFF));
  return w.ok() ? w.size() : 0;
}

void vigil_payload(const VigilFeatures& f, std::uint8_t out[kVigilPayloadSize]) {
  Writer w(out, kVigilPayloadSize);
  w.u16(f.seq);
  w.u8(f.axis);
  w.u16(quantize(f.accel_rms_g, 1000.0f, 0xFFFF));
  w.u16(quantize(f.velocity_rms_mm_s, 100.0f, 0xFFFF));
  w.u16(quantize(f.accel_peak_g, 1000.0f, 0xFFFF));
  w.u16(quantize(f.crest_factor, 100.0f, 0xFFFF));
  w.u16(quantize(f.kurtosis, 100.0f, 0xFFFF));
}

bool build_bthome_adv(const std::uint8_t* objects, std::size_t len, const Sealing& s, Advertisement& out) {
  const std::uint8_t info = s.key ? 0x41 : 0x40;
  Writer w(out.bytes, kMaxAdvLen);
  flags(w);
  const std::size_t body = 1 + 2 + 1 + len + (s.key ? 4 + kMicSize : 0);  // type + uuid + info + ...
  w.u8(static_cast<std::uint32_t>(body));
  w.u8(0x16);
  w.u16(kBthomeUuid);
  w.u8(info);
  if (!w.ok()) return false;
  return seal_into(s, kBthomeUuid, info, objects, len, out, w.size());
}

bool build_vigil_adv(const std::uint8_t payload[kVigilPayloadSize], const Sealing& s, Advertisement& out) {
  const std::uint8_t ctrl = static_cast<std::uint8_t>(kVigilVersion << 4 | (s.key ? 1 : 0));
  Writer w(out.bytes, kMaxAdvLen);
  flags(w);
  const std::size_t body = 1 + 2 + 1 + 1 + kVigilPayloadSize + (s.key ? 4 + kMicSize : 0);
  w.u8(static_cast<std::uint32_t>(body));
  w.u8(0xFF);
  w.u16(VIGIL_FW_COMPANY_ID);
  w.u8(kVigilMagic);
  w.u8(ctrl);
  if (!w.ok()) return false;
  return seal_into(s, VIGIL_FW_COMPANY_ID, ctrl, payload, kVigilPayloadSize, out, w.size());
}

}  // namespace vigil_fw
