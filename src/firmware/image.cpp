// SPDX-License-Identifier: Apache-2.0
#include "firmware/image.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace vigil::firmware {
namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::string ssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<Pkey> read_key(const std::string& pem, bool is_private) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf: " + ssl_error());
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!k) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string("not a PEM ") + (is_private ? "private" : "public") + " key");
  }
  Pkey key(k);
  if (EVP_PKEY_id(k) != EVP_PKEY_ED25519)
    return Status::InvalidArgument(std::string("the ") + (is_private ? "private" : "public") +
                                   " key is not an Ed25519 key");
  return key;
}

Result<std::string> pem_of(EVP_PKEY* k, bool is_private) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  int ok = is_private ? PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr)
                      : PEM_write_bio_PUBKEY(bio.get(), k);
  if (ok != 1) return Status::Internal("PEM write: " + ssl_error());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (auto b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string board_name(std::uint32_t id) {
  if (id == kBoardNrf52840) return "nrf52840";
  if (id == kBoardHost) return "host";
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", id);
  return buf;
}

bool known_board(std::uint32_t id) { return id == kBoardNrf52840 || id == kBoardHost; }

Result<std::uint32_t> parse_board(const std::string& s) {
  if (s == "nrf52840") return kBoardNrf52840;
  if (s == "host") return kBoardHost;
  if (s.size() > 2 && s.size() <= 10 && (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0)) {
    std::uint32_t v = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
      char c = s[i];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return Status::InvalidArgument("board '" + s + "': not nrf52840, host or 0xHEX");
      v = (v << 4) | static_cast<std::uint32_t>(d);
    }
    return v;
  }
  return Status::InvalidArgument("board '" + s + "': not nrf52840, host or 0xHEX");
}

std::string ImageInfo::sha256_hex() const {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (auto b : sha256) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

Result<ImageInfo> parse_image(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize)
    return Status::InvalidArgument("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the 64-byte header");
  const std::uint8_t* h = bytes.data();
  if (h[0] != 'V' || h[1] != 'G' || h[2] != 'F' || h[3] != 'W')
    return Status::InvalidArgument("not a vigil firmware image: bad magic (expected \"VGFW\")");
  if (le16(h + 4) != 1) return Status::InvalidArgument("unsupported header_version " + std::to_string(le16(h + 4)) + " (expected 1)");
  if (le16(h + 6) != kHeaderSize)
    return Status::InvalidArgument("bad header_size " + std::to_string(le16(h + 6)) + " (expected 64)");
  ImageInfo info;
  info.board_id = le32(h + 8);
  info.version = le32(h + 12);
  info.payload_size = le32(h + 16);
  info.payload_crc32 = le32(h + 20);
  std::copy(h + 24, h + 56, info.sha256.begin());
  for (int i = 56; i < 64; ++i)
    if (h[i] != 0) return Status::InvalidArgument("reserved header bytes are not zero");
  if (info.payload_size == 0) return Status::InvalidArgument("empty payload");
  if (info.payload_size > kMaxPayload)
    return Status::InvalidArgument("too large: payload of " + std::to_string(info.payload_size) +
                                   " bytes exceeds the 96 KiB slot (at most " + std::to_string(kMaxPayload) + ")");
  const std::size_t want = kHeaderSize + info.payload_size + kSignatureSize;
  if (bytes.size() < kHeaderSize + info.payload_size)
    return Status::InvalidArgument("truncated: " + std::to_string(bytes.size()) + " bytes, the header announces " +
                                   std::to_string(want));
  if (bytes.size() < want)
    return Status::InvalidArgument("unsigned: the image ends without its 64-byte signature (" +
                                   std::to_string(bytes.size()) + " of " + std::to_string(want) + " bytes)");
  if (bytes.size() > want)
    return Status::InvalidArgument("trailing bytes: " + std::to_string(bytes.size()) + " bytes, the header announces " +
                                   std::to_string(want));
  auto payload = bytes.subspan(kHeaderSize, info.payload_size);
  if (crc32(payload) != info.payload_crc32) return Status::InvalidArgument("payload CRC-32 does not match the header");
  std::array<std::uint8_t, 32> digest{};
  unsigned int dlen = 0;
  if (EVP_Digest(payload.data(), payload.size(), digest.data(), &dlen, EVP_sha256(), nullptr) != 1 || dlen != 32)
    return Status::Internal("SHA-256: " + ssl_error());
  if (digest != info.sha256) return Status::InvalidArgument("payload SHA-256 does not match the header");
  return info;
}

Status verify_signature(std::span<const std::uint8_t> bytes, const std::string& public_key_pem) {
  auto info = parse_image(bytes);
  if (!info) return info.status();
  const std::size_t signed_len = kHeaderSize + info->payload_size;
  auto sig = bytes.subspan(signed_len, kSignatureSize);
  bool all_zero = true;
  for (auto b : sig) all_zero = all_zero && b == 0;
  if (all_zero) return Status::InvalidArgument("unsigned: the signature is empty (all zero)");
  auto key = read_key(public_key_pem, false);
  if (!key) return key.status();
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1)
    return Status::Internal("EVP_DigestVerifyInit: " + ssl_error());
  int r = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), bytes.data(), signed_len);
  ERR_clear_error();
  if (r != 1) return Status::PermissionDenied("wrong signature: not signed by the configured vendor key");
  return Status::Ok();
}

Result<std::vector<std::uint8_t>> build_image(std::uint32_t board_id, std::uint32_t version,
                                              std::span<const std::uint8_t> payload,
                                              const std::string& private_key_pem) {
  if (payload.empty()) return Status::InvalidArgument("the application image is empty");
  if (payload.size() > kMaxPayload)
    return Status::InvalidArgument("too large: the application image has " + std::to_string(payload.size()) +
                                   " bytes; the 96 KiB slot holds at most " + std::to_string(kMaxPayload));
  auto key = read_key(private_key_pem, true);
  if (!key) return key.status();
  std::vector<std::uint8_t> out(kHeaderSize + payload.size() + kSignatureSize, 0);
  std::uint8_t* h = out.data();
  h[0] = 'V', h[1] = 'G', h[2] = 'F', h[3] = 'W';
  put16(h + 4, 1);
  put16(h + 6, kHeaderSize);
  put32(h + 8, board_id);
  put32(h + 12, version);
  put32(h + 16, static_cast<std::uint32_t>(payload.size()));
  put32(h + 20, crc32(payload));
  unsigned int dlen = 0;
  if (EVP_Digest(payload.data(), payload.size(), h + 24, &dlen, EVP_sha256(), nullptr) != 1)
    return Status::Internal("SHA-256: " + ssl_error());
  std::copy(payload.begin(), payload.end(), out.begin() + kHeaderSize);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t siglen = kSignatureSize;
  const std::size_t signed_len = kHeaderSize + payload.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1 ||
      EVP_DigestSign(ctx.get(), out.data() + signed_len, &siglen, out.data(), signed_len) != 1 ||
      siglen != kSignatureSize)
    return Status::Internal("Ed25519 sign: " + ssl_error());
  return out;
}

Result<KeyPair> generate_keypair() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) return Status::Internal("Ed25519 keygen: " + ssl_error());
  Pkey k(raw);
  auto priv = pem_of(k.get(), true);
  if (!priv) return priv.status();
  auto pub = pem_of(k.get(), false);
  if (!pub) return pub.status();
  return KeyPair{*priv, *pub};
}

Status check_public_key(const std::string& pem) {
  auto key = read_key(pem, false);
  return key ? Status::Ok() : key.status();
}

Result<std::string> read_public_key_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string pem(16 * 1024, '\0');  // a PEM public key is a few hundred bytes
  pem.resize(std::fread(pem.data(), 1, pem.size(), f));
  std::fclose(f);
  auto s = check_public_key(pem);
  if (!s.ok()) return s.Annotate(path);
  return pem;
}

Result<std::string> public_key_of(const std::string& private_key_pem) {
  auto key = read_key(private_key_pem, true);
  if (!key) return key.status();
  return pem_of(key->get(), false);
}

Result<std::array<std::uint8_t, 16>> dfu_tag(std::span<const std::uint8_t> sensor_key, std::uint8_t flags,
                                             std::span<const std::uint8_t> image) {
  if (sensor_key.size() != 16) return Status::InvalidArgument("the sensor key must be 16 bytes (AES-128)");
  if (image.size() < kHeaderSize) return Status::InvalidArgument("truncated image");
  const std::size_t len = kHeaderSize + le32(image.data() + 16);
  if (len > image.size()) return Status::InvalidArgument("truncated image");
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
  if (!mac) return Status::Internal("EVP_MAC_fetch CMAC: " + ssl_error());
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  std::array<std::uint8_t, 16> tag{};
  char cipher[] = "AES-128-CBC";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0), OSSL_PARAM_construct_end()};
  static const std::uint8_t kDomain[6] = {'V', 'G', 'D', 'F', 'U', '1'};
  std::size_t out = 0;
  bool ok = ctx && EVP_MAC_init(ctx, sensor_key.data(), sensor_key.size(), params) == 1 &&
            EVP_MAC_update(ctx, kDomain, sizeof kDomain) == 1 && EVP_MAC_update(ctx, &flags, 1) == 1 &&
            EVP_MAC_update(ctx, image.data(), len) == 1 && EVP_MAC_final(ctx, tag.data(), &out, tag.size()) == 1 &&
            out == 16;
  std::string err = ok ? "" : ssl_error();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) return Status::Internal("AES-CMAC: " + err);
  return tag;
}

}  // namespace vigil::firmware
