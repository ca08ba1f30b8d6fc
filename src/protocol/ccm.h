// SPDX-License-Identifier: Apache-2.0
//
// AES-128-CCM with a 13-byte nonce, 4-byte MIC and no associated data, as
// BTHome v2 and vigil frames use it, on OpenSSL EVP.
//
// Thread-safety: a CcmCipher owns an EVP context; use one per thread. The free
// functions create a context per call (simple, slower).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "protocol/types.h"

namespace vigil::protocol {

using Nonce = std::array<std::uint8_t, 13>;
inline constexpr std::size_t kMicSize = 4;

class CcmCipher {
 public:
  CcmCipher();
  ~CcmCipher();
  CcmCipher(const CcmCipher&) = delete;
  CcmCipher& operator=(const CcmCipher&) = delete;

  // Decrypts `ct` into `out` (same size) and checks `mic`. False on a bad MIC
  // (out is then unspecified). REQUIRES: out.size() == ct.size().
  bool decrypt(const Key& key, const Nonce& nonce, Bytes ct, Bytes mic, std::span<std::uint8_t> out);
  // Encrypts `pt` into `out` (same size) and writes the 4-byte MIC.
  bool encrypt(const Key& key, const Nonce& nonce, Bytes pt, std::span<std::uint8_t> out,
               std::span<std::uint8_t, kMicSize> mic);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::protocol
