// SPDX-License-Identifier: Apache-2.0
// The .vgfw image: layout, signature, refusals naming the cause, and the
// per-sensor AES-CMAC tag of notes/dfu-protocol.md.
#include <openssl/evp.h>

#include "fw_test_util.h"

using namespace vigil;
using namespace vigil::firmware;
using namespace vigil::firmware::test;

namespace {

// RFC 4493 AES-CMAC written out from the RFC (AES-128-ECB for the block
// cipher), independent of EVP_MAC, to check dfu_tag against.
std::array<std::uint8_t, 16> aes_block(const std::vector<std::uint8_t>& key, const std::array<std::uint8_t, 16>& in) {
  std::array<std::uint8_t, 16> out{};
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  REQUIRE(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), nullptr, key.data(), nullptr) == 1);
  EVP_CIPHER_CTX_set_padding(c, 0);
  REQUIRE(EVP_EncryptUpdate(c, out.data(), &n, in.data(), 16) == 1);
  EVP_CIPHER_CTX_free(c);
  return out;
}
std::array<std::uint8_t, 16> dbl(std::array<std::uint8_t, 16> b) {
  const bool msb = b[0] & 0x80;
  for (int i = 0; i < 15; ++i) b[i] = static_cast<std::uint8_t>((b[i] << 1) | (b[i + 1] >> 7));
  b[15] = static_cast<std::uint8_t>(b[15] << 1);
  if (msb) b[15] ^= 0x87;
  return b;
}
std::array<std::uint8_t, 16> rfc4493(const std::vector<std::uint8_t>& key, const std::vector<std::uint8_t>& m) {
  auto k1 = dbl(aes_block(key, {}));
  auto k2 = dbl(k1);
  const std::size_t n = m.empty() ? 1 : (m.size() + 15) / 16;
  const bool complete = !m.empty() && m.size() % 16 == 0;
  std::array<std::uint8_t, 16> x{}, last{};
  for (std::size_t i = 0; i < 16; ++i) {
    std::size_t j = (n - 1) * 16 + i;
    last[i] = j < m.size() ? m[j] : (j == m.size() ? 0x80 : 0);
    last[i] ^= complete ? k1[i] : k2[i];
  }
  for (std::size_t b = 0; b + 1 < n; ++b) {
    for (int i = 0; i < 16; ++i) x[i] ^= m[b * 16 + i];
    x = aes_block(key, x);
  }
  for (int i = 0; i < 16; ++i) x[i] ^= last[i];
  return aes_block(key, x);
}
std::vector<std::uint8_t> unhex(const std::string& h) {
  std::vector<std::uint8_t> v;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) v.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return v;
}

}  // namespace

TEST_CASE("a signed image has the agreed header and verifies against the vendor key", "[firmware]") {
  auto img = signed_image(kBoardNrf52840, "1.4.0", 1000);
  REQUIRE(img.size() == 64 + 1000 + 64);
  CHECK(std::string(img.begin(), img.begin() + 4) == "VGFW");
  CHECK(img[4] == 1);
  CHECK(img[6] == 64);
  CHECK(img[8] == 0x01);   // board 0x52840001, little-endian
  CHECK(img[11] == 0x52);
  CHECK(img[12] == 0);     // version 1.4.0 = 0x010400
  CHECK(img[13] == 4);
  CHECK(img[14] == 1);
  auto info = parse_image(img);
  REQUIRE(info.ok());
  CHECK(info->board_id == kBoardNrf52840);
  CHECK(version_string(info->version) == "1.4.0");
  CHECK(info->payload_size == 1000);
  CHECK(info->payload_crc32 == crc32(app_bytes(1000)));
  CHECK(verify_signature(img, vendor_key().public_pem).ok());
}

TEST_CASE("an image signed by another key is refused as a wrong signature", "[firmware]") {
  auto other = generate_keypair();
  REQUIRE(other.ok());
  auto img = signed_image(kBoardHost, "1.0.0", 100, other->private_pem);
  auto s = verify_signature(img, vendor_key().public_pem);
  CHECK(s.code() == Status::Code::kPermissionDenied);
  CHECK_THAT(s.message(), Catch::Contains("wrong signature"));
}

TEST_CASE("a changed payload byte fails the checksum before the signature", "[firmware]") {
  auto img = signed_image(kBoardHost, "1.0.0", 100);
  img[70] ^= 1;
  auto info = parse_image(img);
  REQUIRE_FALSE(info.ok());
  CHECK_THAT(info.status().message(), Catch::Contains("CRC-32"));
}

TEST_CASE("an image without its signature is refused as unsigned, a short one as truncated", "[firmware]") {
  auto img = signed_image(kBoardHost, "1.0.0", 100);
  std::vector<std::uint8_t> unsigned_img(img.begin(), img.end() - 64);
  CHECK_THAT(parse_image(unsigned_img).status().message(), Catch::StartsWith("unsigned"));
  std::vector<std::uint8_t> zero_sig = img;
  std::fill(zero_sig.end() - 64, zero_sig.end(), 0);
  CHECK_THAT(verify_signature(zero_sig, vendor_key().public_pem).message(), Catch::StartsWith("unsigned"));
  std::vector<std::uint8_t> cut(img.begin(), img.begin() + 100);
  CHECK_THAT(parse_image(cut).status().message(), Catch::StartsWith("truncated"));
  std::vector<std::uint8_t> tiny(img.begin(), img.begin() + 10);
  CHECK_THAT(parse_image(tiny).status().message(), Catch::StartsWith("truncated"));
}

TEST_CASE("a payload larger than the 96 KiB slot is neither signed nor accepted", "[firmware]") {
  auto big = build_image(kBoardHost, 0x010000, app_bytes(kMaxPayload + 1), vendor_key().private_pem);
  REQUIRE_FALSE(big.ok());
  CHECK_THAT(big.status().message(), Catch::Contains("too large"));
  auto img = signed_image(kBoardHost, "1.0.0", 100);
  img[16] = 0xFF, img[17] = 0xFF, img[18] = 0x01;  // payload_size 0x1FFFF
  CHECK_THAT(parse_image(img).status().message(), Catch::Contains("too large"));
  auto fits = build_image(kBoardHost, 0x010000, app_bytes(kMaxPayload), vendor_key().private_pem);
  CHECK(fits.ok());
}

TEST_CASE("boards and versions read as the command line writes them", "[firmware]") {
  CHECK(*parse_board("nrf52840") == kBoardNrf52840);
  CHECK(*parse_board("host") == kBoardHost);
  CHECK(*parse_board("0x1234ABCD") == 0x1234ABCDu);
  CHECK_FALSE(parse_board("esp32").ok());
  CHECK(board_name(0x1234ABCD) == "0x1234abcd");
  CHECK(*parse_version("1.4.0") == 0x010400u);
  CHECK_FALSE(parse_version("1.4").ok());
  CHECK_FALSE(parse_version("1.256.0").ok());
  CHECK_FALSE(parse_version("1.4.0-rc1").ok());
}

TEST_CASE("the reference AES-CMAC of the test matches RFC 4493's vectors", "[firmware]") {
  auto key = unhex("2b7e151628aed2a6abf7158809cf4f3c");
  CHECK(rfc4493(key, {}) == std::array<std::uint8_t, 16>{0xbb, 0x1d, 0x69, 0x29, 0xe9, 0x59, 0x37, 0x28, 0x7f, 0xa3,
                                                         0x7d, 0x12, 0x9b, 0x75, 0x67, 0x46});
  CHECK(rfc4493(key, unhex("6bc1bee22e409f96e93d7e117393172a")) ==
        std::array<std::uint8_t, 16>{0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44, 0xf7, 0x9b, 0xdd, 0x9d, 0xd0,
                                     0x4a, 0x28, 0x7c});
}

TEST_CASE("the per-sensor tag is AES-CMAC over VGDFU1, the flags, the header and the payload", "[firmware]") {
  auto img = signed_image(kBoardNrf52840, "1.4.0", 333);
  auto key = unhex("000102030405060708090a0b0c0d0e0f");
  for (std::uint8_t flags : {std::uint8_t{0}, kFlagForce}) {
    std::vector<std::uint8_t> m = {'V', 'G', 'D', 'F', 'U', '1', flags};
    m.insert(m.end(), img.begin(), img.end() - 64);  // the signature is not covered
    auto tag = dfu_tag(key, flags, img);
    REQUIRE(tag.ok());
    CHECK(*tag == rfc4493(key, m));
  }
  CHECK(*dfu_tag(key, 0, img) != *dfu_tag(unhex("0f0e0d0c0b0a09080706050403020100"), 0, img));
  CHECK_FALSE(dfu_tag(std::vector<std::uint8_t>(15), 0, img).ok());
}
