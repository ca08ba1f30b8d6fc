// SPDX-License-Identifier: Apache-2.0
#include "auth/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

namespace vigil::auth {
namespace {

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

bool from_hex(const std::string& h, std::vector<unsigned char>& out) {
  if (h.size() % 2) return false;
  out.clear();
  for (std::size_t i = 0; i < h.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out.push_back(static_cast<unsigned char>(a * 16 + b));
  }
  return true;
}

bool scrypt(const std::string& pw, const std::vector<unsigned char>& salt, const ScryptParams& p,
            unsigned char* out, std::size_t out_len) {
  // maxmem: 128·r·N·p plus slack; OpenSSL refuses anything above it.
  std::uint64_t maxmem = 128 * p.r * p.n * p.p + (8u << 20);
  return EVP_PBE_scrypt(pw.data(), pw.size(), salt.data(), salt.size(), p.n, p.r, p.p, maxmem, out, out_len) == 1;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) std::abort();  // no entropy: never continue
  return to_hex(buf.data(), buf.size());
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return to_hex(md, n);
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> hash_password(const std::string& password, const ScryptParams& params) {
  std::vector<unsigned char> salt;
  from_hex(random_hex(16), salt);
  unsigned char out[32];
  if (!scrypt(password, salt, params, out, sizeof out)) return Status::Internal("scrypt failed");
  return "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" + std::to_string(params.p) +
         "$" + to_hex(salt.data(), salt.size()) + "$" + to_hex(out, sizeof out);
}

bool verify_password(const std::string& password, const std::string& encoded) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (true) {
    auto j = encoded.find('$', i);
    parts.push_back(encoded.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  ScryptParams p;
  try {
    p.n = std::stoull(parts[1]);
    p.r = std::stoull(parts[2]);
    p.p = std::stoull(parts[3]);
  } catch (...) {
    return false;
  }
  if (p.n < 2 || p.n > (1u << 22) || p.r == 0 || p.r > 32 || p.p == 0 || p.p > 16) return false;
  std::vector<unsigned char> salt, want;
  if (!from_hex(parts[4], salt) || !from_hex(parts[5], want) || want.empty() || want.size() > 64) return false;
  std::vector<unsigned char> got(want.size());
  if (!scrypt(password, salt, p, got.data(), got.size())) return false;
  return CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

}  // namespace vigil::auth
