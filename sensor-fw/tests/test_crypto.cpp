// SPDX-License-Identifier: Apache-2.0
#include "test.h"
#include "vigil_fw/crypto.h"
#include "vigil_vectors.h"

using namespace vigil_fw;

TEST("AES-128 matches the FIPS-197 appendix C.1 vector") {
  std::uint8_t key[16], pt[16], ct[16];
  vtest::hex_to_bytes("000102030405060708090a0b0c0d0e0f", key, 16);
  vtest::hex_to_bytes("00112233445566778899aabbccddeeff", pt, 16);
  aes128_encrypt(key, pt, ct);
  CHECK(vtest::bytes_equal_hex(ct, 16, "69c4e0d86a7b0430d8cdb78070b4c55a"));
}

TEST("CCM encrypts the BTHome spec example to its ciphertext and MIC") {
  std::uint8_t key[16], nonce[13], pt[6], ct[6], mic[4], back[6];
  vtest::hex_to_bytes("231d39c1d7cc1ab1aee224cd096db932", key, 16);
  vtest::hex_to_bytes("5448e68f80a5d2fc4133221100", nonce, 13);
  vtest::hex_to_bytes("02ca0903bf13", pt, 6);
  SoftAes aes;
  REQUIRE(ccm_encrypt(aes, key, nonce, pt, 6, ct, mic));
  CHECK(vtest::bytes_equal_hex(ct, 6, "e445f3c9962b"));
  CHECK(vtest::bytes_equal_hex(mic, 4, "6c7c4519"));
  CHECK(ccm_decrypt(aes, key, nonce, ct, 6, mic, back));
  CHECK(vtest::bytes_equal_hex(back, 6, "02ca0903bf13"));
  mic[0] ^= 1;
  CHECK(!ccm_decrypt(aes, key, nonce, ct, 6, mic, back));
}

TEST("CRC-32 gives the standard check value") {
  const std::uint8_t s[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  CHECK(crc32(s, 9) == 0xCBF43926u);
  CHECK(crc32(s, 9) == kCrcCheck);
  CHECK(crc32(s + 4, 5, crc32(s, 4)) == 0xCBF43926u);
}

namespace {
// RFC 4493 §4: key and the 64-byte message whose prefixes are examples 1-4.
const char* const kCmacKey = "2b7e151628aed2a6abf7158809cf4f3c";
const char* const kCmacMsg =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
}  // namespace

TEST("AES-CMAC gives the four RFC 4493 example tags") {
  std::uint8_t key[16], msg[64], tag[16];
  vtest::hex_to_bytes(kCmacKey, key, 16);
  vtest::hex_to_bytes(kCmacMsg, msg, 64);
  SoftAes aes;
  const struct { std::size_t len; const char* tag; } ex[] = {
      {0, "bb1d6929e95937287fa37d129b756746"},
      {16, "070a16b46b4d4144f79bdd9dd04a287c"},
      {40, "dfa66747de9ae63030ca32611497c827"},
      {64, "51f0bebf7e3b9d92fc49741779363cfe"},
  };
  for (const auto& e : ex) {
    REQUIRE(aes_cmac(aes, key, msg, e.len, tag));
    CHECK(vtest::bytes_equal_hex(tag, 16, e.tag));
  }
}

TEST("AES-CMAC fed in pieces of every size equals the one-shot tag") {
  std::uint8_t key[16], msg[64], tag[16];
  vtest::hex_to_bytes(kCmacKey, key, 16);
  vtest::hex_to_bytes(kCmacMsg, msg, 64);
  SoftAes aes;
  for (std::size_t piece = 1; piece <= 33; ++piece) {
    Cmac c;
    REQUIRE(c.init(aes, key));
    for (std::size_t off = 0; off < 64; off += piece) REQUIRE(c.update(msg + off, 64 - off < piece ? 64 - off : piece));
    REQUIRE(c.final(tag));
    CHECK(vtest::bytes_equal_hex(tag, 16, "51f0bebf7e3b9d92fc49741779363cfe"));
  }
}

TEST("AES-CMAC fails cleanly when the block cipher fails") {
  struct BrokenAes final : BlockCipher {
    bool encrypt_block(const std::uint8_t*, const std::uint8_t*, std::uint8_t*) override { return false; }
  } broken;
  std::uint8_t key[16] = {0}, msg[40] = {0}, tag[16];
  CHECK(!aes_cmac(broken, key, msg, sizeof msg, tag));
}
