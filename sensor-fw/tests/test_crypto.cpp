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
