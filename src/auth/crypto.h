// SPDX-License-Identifier: Apache-2.0
//
// The few cryptographic primitives vigil's auth needs, over OpenSSL:
// random tokens, SHA-256, scrypt password hashes, constant-time compare.
//
// Password hash format (self-describing, so parameters can grow later):
//   scrypt$N$r$p$<salt hex>$<hash hex>
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "vigil/status.h"

namespace vigil::auth {

struct ScryptParams {
  std::uint64_t n = 1 << 15;  // CPU/memory cost: 32 MiB with r=8, ~0.1 s on a gateway
  std::uint64_t r = 8;
  std::uint64_t p = 1;
};

// `bytes` random bytes from the OpenSSL CSPRNG as lower-case hex.
std::string random_hex(std::size_t bytes);
std::string sha256_hex(const std::string& data);
bool constant_time_equal(const std::string& a, const std::string& b);

Result<std::string> hash_password(const std::string& password, const ScryptParams& params = {});
// False for a wrong password or a malformed/unknown hash.
bool verify_password(const std::string& password, const std::string& encoded);

}  // namespace vigil::auth
