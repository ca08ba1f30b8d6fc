// SPDX-License-Identifier: Apache-2.0
//
// AES-128 (software, for the host port and tests), AES-128-CCM with a 13-byte
// nonce, 4-byte MIC and no associated data (BTHome v2), and CRC-32 (IEEE).
// No heap, no state beyond the arguments; reentrant.
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

// CRC-32/IEEE (zlib's crc32): pass the previous result to continue.
std::uint32_t crc32(const std::uint8_t* data, std::size_t len, std::uint32_t crc = 0);

}  // namespace vigil_fw
