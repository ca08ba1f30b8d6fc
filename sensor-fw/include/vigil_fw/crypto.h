// SPDX-License-Identifier: Apache-2.0
//
// AES-128 (software, for the host port and tests), AES-128-CCM with a 13-byte
// nonce, 4-byte MIC and no associated data (BTHome v2), AES-CMAC (RFC 4493,
// incremental, for firmware-image tags) and CRC-32 (IEEE).
// No heap; the free functions keep no state beyond their arguments
// (reentrant); a Cmac object holds one MAC computation in 50 bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vigil_fw/hal.h"

namespace vigil_fw {

// FIPS-197 AES-128 encryption of one block.
void aes128_encrypt(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]);

class SoftAes final : public BlockCipher {
 public:
  bool encrypt_block(const std::uint8_t key[16], const std::uint8_t in[16], std::uint8_t out[16]) override {
    aes128_encrypt(key, in, out);
    return true;
  }
};

constexpr std::size_t kNonceSize = 13;
constexpr std::size_t kMicSize = 4;

// Encrypts len bytes of `pt` into `ct` (may alias) and writes the MIC.
// REQUIRES: len ≤ 255 (frames are far shorter).
bool ccm_encrypt(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t nonce[kNonceSize],
                 const std::uint8_t* pt, std::size_t len, std::uint8_t* ct, std::uint8_t mic[kMicSize]);
// Decrypts and verifies (tests, tools). False on a bad MIC.
bool ccm_decrypt(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t nonce[kNonceSize],
                 const std::uint8_t* ct, std::size_t len, const std::uint8_t mic[kMicSize], std::uint8_t* pt);

// AES-CMAC (RFC 4493) computed incrementally, so a 96 KB image can be MACed
// while it streams from flash: init(), update() any number of times with any
// lengths, final(). No heap. A cipher failure (ECB peripheral error) makes
// every later call return false; final() then writes no tag.
constexpr std::size_t kCmacSize = 16;
class Cmac {
 public:
  bool init(BlockCipher& aes, const std::uint8_t key[16]);
  bool update(const std::uint8_t* data, std::size_t len);
  bool final(std::uint8_t tag[kCmacSize]);

 private:
  BlockCipher* aes_ = nullptr;
  const std::uint8_t* key_ = nullptr;  // borrowed: must outlive the computation
  std::uint8_t x_[16] = {0};    // CBC state
  std::uint8_t buf_[16] = {0};  // pending block: the last one gets K1/K2, so it waits
  std::uint8_t n_ = 0;          // bytes in buf_
  bool ok_ = false;
};
// One-shot AES-CMAC of a buffer.
bool aes_cmac(BlockCipher& aes, const std::uint8_t key[16], const std::uint8_t* data, std::size_t len,
              std::uint8_t tag[kCmacSize]);
// Constant-time comparison (tags): true if the n bytes are equal.
bool equal_ct(const std::uint8_t* a, const std::uint8_t* b, std::size_t n);

// CRC-32/IEEE (zlib's crc32): pass the previous result to continue.
std::uint32_t crc32(const std::uint8_t* data, std::size_t len, std::uint32_t crc = 0);

}  // namespace vigil_fw
