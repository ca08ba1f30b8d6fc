// SPDX-License-Identifier: Apache-2.0
#include "vigil_fw/crypto.h"

#include <string.h>

namespace vigil_fw {
namespace {

const std::uint8_t kSbox[256] = {
    0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76, 0xca, 0x82,
    0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0, 0xb7, 0xfd, 0x93, 0x26,
    0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15, 0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96,
    0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75, 0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0,
    0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84, 0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb,
    0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf, 0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f,
    0x50, 0x3c, 0x9f, 0xa8, 0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff,
    0xf3, 0xd2, 0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
    0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb, 0xe0, 0x32,
    0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79, 0xe7, 0xc8, 0x37, 0x6d,
    0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08, 0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6,
    0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a, 0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e,
    0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e, 0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e,
    0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf, 0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f,
    0xb0, 0x54, 0xbb, 0x16};

inline std::uint8_t xtime(std::uint8_t x) { return static_cast<std::uint8_t>((x << 1) ^ ((x >> 7) * 0x1b)); }

}  // namespace

void aes128_encrypt(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]) {
  std::uint8_t rk[16];
  std::uint8_t s[16];
  memcpy(rk, key, 16);
  for (int i = 0; i < 16; ++i) s[i] = in[i] ^ rk[i];
  std::uint8_t rcon = 1;
  for (int round = 1; round <= 10; ++round) {
    // Next round key (on the fly: no expanded schedule in RAM).
    std::uint8_t t0 = kSbox[rk[13]] ^ rcon, t1 = kSbox[rk[14]], t2 = kSbox[rk[15]], t3 = kSbox[rk[12]];
    rcon = xtime(rcon);
    rk[0] ^= t0; rk[1] ^= t1; rk[2] ^= t2; rk[3] ^= t3;
    for (int i = 4; i < 16; ++i) rk[i] ^= rk[i - 4];
    // SubBytes + ShiftRows (state is column-major: s[col*4 + row]).
    std::uint8_t t[16];
    for (int c = 0; c < 4; ++c)
      for (int r = 0; r < 4; ++r) t[c * 4 + r] = kSbox[s[((c + r) & 3) * 4 + r]];
    if (round < 10) {  // MixColumns
      for (int c = 0; c < 4; ++c) {
        std::uint8_t* col = &t[c * 4];
        std::uint8_t a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3], all = a0 ^ a1 ^ a2 ^ a3;
        col[0] = a0 ^ all ^ xtime(a0 ^ a1);
        col[1] = a1 ^ all ^ xtime(a1 ^ a2);
        col[2] = a2 ^ all ^ xtime(a2 ^ a3);
        col[3] = a3 ^ all ^ xtime(a3 ^ a0);
      }
    }
    for (int i = 0; i < 16; ++i) s[i] = t[i] ^ rk[i];
  }
  memcpy(out, s, 16);
}

namespace {
// CCM (RFC 3610) with L = 2 (15 − 13-byte nonce), M = 4, no AAD.
bool ccm_core(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t nonce[kNonceSize],
              const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::uint8_t tag[kMicSize],
              bool decrypting) {
  if (len > 255) return false;
  std::uint8_t block[16], x[16], a[16], s[16];
  // Counter blocks A_i = flags(L-1) | nonce | i (big endian).
  a[0] = 0x01;
  memcpy(&a[1], nonce, kNonceSize);
  // CBC-MAC over B0 | payload.
  block[0] = static_cast<std::uint8_t>(((kMicSize - 2) / 2) << 3 | 0x01);
  memcpy(&block[1], nonce, kNonceSize);
  block[14] = 0;
  block[15] = static_cast<std::uint8_t>(len);
  if (!aes.encrypt_block(key, block, x)) return false;
  for (std::size_t off = 0, i = 1; off < len; off += 16, ++i) {
    const std::size_t n = len - off < 16 ? len - off : 16;
    a[14] = static_cast<std::uint8_t>(i >> 8);
    a[15] = static_cast<std::uint8_t>(i);
    if (!aes.encrypt_block(key, a, s)) return false;
    std::uint8_t p[16] = {0};
    for (std::size_t k = 0; k < n; ++k) {
      std::uint8_t c = in[off + k];
      p[k] = decrypting ? static_cast<std::uint8_t>(c ^ s[k]) : c;
      out[off + k] = static_cast<std::uint8_t>(c ^ s[k]);
    }
    for (int k = 0; k < 16; ++k) x[k] ^= p[k];
    if (!aes.encrypt_block(key, x, x)) return false;
  }
  a[14] = a[15] = 0;
  if (!aes.encrypt_block(key, a, s)) return false;
  for (std::size_t k = 0; k < kMicSize; ++k) tag[k] = x[k] ^ s[k];
  return true;
}
}  // namespace

bool ccm_encrypt(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t nonce[kNonceSize],
                 const std::uint8_t* pt, std::size_t len, std::uint8_t* ct, std::uint8_t mic[kMicSize]) {
  return ccm_core(aes, key, nonce, pt, len, ct, mic, false);
}

bool ccm_decrypt(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t nonce[kNonceSize],
                 const std::uint8_t* ct, std::size_t len, const std::uint8_t mic[kMicSize], std::uint8_t* pt) {
  std::uint8_t tag[kMicSize];
  if (!ccm_core(aes, key, nonce, ct, len, pt, tag, true)) return false;
  std::uint8_t diff = 0;
  for (std::size_t k = 0; k < kMicSize; ++k) diff |= static_cast<std::uint8_t>(tag[k] ^ mic[k]);
  return diff == 0;
}

namespace {
// RFC 4493 §2.3 subkey doubling in GF(2^128): shift left, xor Rb = 0x87.
void dbl(std::uint8_t b[16]) {
  const std::uint8_t carry = b[0] >> 7;
  for (int i = 0; i < 15; ++i) b[i] = static_cast<std::uint8_t>(b[i] << 1 | b[i + 1] >> 7);
  b[15] = static_cast<std::uint8_t>(b[15] << 1 ^ (carry ? 0x87 : 0));
}
}  // namespace

bool Cmac::init(BlockCipher& aes, const std::uint8_t key[16]) {
  aes_ = &aes;
  key_ = key;
  memset(x_, 0, sizeof x_);
  n_ = 0;
  ok_ = true;
  return true;
}

bool Cmac::update(const std::uint8_t* data, std::size_t len) {
  if (!ok_) return false;
  while (len > 0) {
    if (n_ == 16) {  // more data follows, so the buffered block is not the last
      for (int i = 0; i < 16; ++i) x_[i] ^= buf_[i];
      if (!aes_->encrypt_block(key_, x_, x_)) return ok_ = false;
      n_ = 0;
    }
    const std::size_t k = len < static_cast<std::size_t>(16 - n_) ? len : static_cast<std::size_t>(16 - n_);
    memcpy(buf_ + n_, data, k);
    n_ = static_cast<std::uint8_t>(n_ + k);
    data += k;
    len -= k;
  }
  return true;
}

bool Cmac::final(std::uint8_t tag[kCmacSize]) {
  if (!ok_) return false;
  ok_ = false;  // one final per init
  std::uint8_t k[16] = {0};
  if (!aes_->encrypt_block(key_, k, k)) return false;  // L = AES(K, 0)
  dbl(k);                                               // K1
  if (n_ < 16) {                                        // incomplete (or empty) last block: pad, K2
    dbl(k);
    buf_[n_] = 0x80;
    for (int i = n_ + 1; i < 16; ++i) buf_[i] = 0;
  }
  for (int i = 0; i < 16; ++i) x_[i] ^= static_cast<std::uint8_t>(buf_[i] ^ k[i]);
  const bool ok = aes_->encrypt_block(key_, x_, tag);
  memset(k, 0, sizeof k);
  return ok;
}

bool aes_cmac(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t* data, std::size_t len,
              std::uint8_t tag[kCmacSize]) {
  Cmac c;
  return c.init(aes, key) && c.update(data, len) && c.final(tag);
}

bool equal_ct(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  std::uint8_t d = 0;
  for (std::size_t i = 0; i < n; ++i) d |= static_cast<std::uint8_t>(a[i] ^ b[i]);
  return d == 0;
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t len, std::uint32_t crc) {
  crc = ~crc;
  for (std::size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace vigil_fw
