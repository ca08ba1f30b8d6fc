// SPDX-License-Identifier: Apache-2.0
//
// The signed sensor firmware image (".vgfw", notes/dfu-protocol.md "Image
// file"): a 64-byte little-endian header, the payload, and an Ed25519
// signature of the vendor key over header + payload.
//
//   parse_image       pure: bytes in → the header fields, or an error naming
//                     the cause (truncated, bad magic, bad sizes, CRC or
//                     SHA-256 mismatch, payload over the 96 KiB slot).
//                     Never reads past `bytes`; fuzzed (tests/fuzz/
//                     firmware_image_fuzz.cpp). Does not check the signature.
//   verify_signature  the Ed25519 signature against a PEM public key.
//   build_image       header + payload + signature with a PEM private key.
//   dfu_tag           the per-sensor AES-CMAC tag the gateway sends in START:
//                     AES-CMAC(key, "VGDFU1" || flags || header || payload).
//
// Thread-safety: every function is reentrant (OpenSSL EVP objects are local).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/dfu.h"
#include "vigil/status.h"

namespace vigil::firmware {

inline constexpr std::size_t kHeaderSize = 64;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kSlotSize = 96 * 1024;
inline constexpr std::size_t kMaxPayload = kSlotSize - kHeaderSize;
inline constexpr std::size_t kMaxImageFile = kHeaderSize + kMaxPayload + kSignatureSize;
inline constexpr std::uint32_t kBoardNrf52840 = 0x52840001;
inline constexpr std::uint32_t kBoardHost = 0x484F5354;  // "HOST"

// "nrf52840" | "host" for the known boards, else "0x%08x".
std::string board_name(std::uint32_t board_id);
// "nrf52840" | "host" | "0xHEX" → the id; kInvalidArgument otherwise.
Result<std::uint32_t> parse_board(const std::string& s);
bool known_board(std::uint32_t board_id);
// "1.4.0" ↔ major<<16 | minor<<8 | patch (each 0..255): the sensor's
// versions and the image's are one format (protocol/dfu.h).
inline Result<std::uint32_t> parse_version(const std::string& s) { return protocol::parse_firmware_version(s); }
inline std::string version_string(std::uint32_t v) { return protocol::firmware_version_string(v); }

struct ImageInfo {
  std::uint32_t board_id = 0;
  std::uint32_t version = 0;
  std::uint32_t payload_size = 0;
  std::uint32_t payload_crc32 = 0;
  std::array<std::uint8_t, 32> sha256{};
  std::string sha256_hex() const;
};

// kInvalidArgument naming the cause ("truncated: …", "not a vigil firmware
// image: bad magic", "payload of N bytes exceeds the 96 KiB slot", …).
Result<ImageInfo> parse_image(std::span<const std::uint8_t> bytes);

// kInvalidArgument "unsigned: …" when the signature bytes are missing or all
// zero, kPermissionDenied "wrong signature: …" when it does not verify,
// kInvalidArgument for a key that is not an Ed25519 public key. `bytes` must
// have passed parse_image.
Status verify_signature(std::span<const std::uint8_t> bytes, const std::string& public_key_pem);

// A complete image: header for (board, version, payload), signed with the
// Ed25519 private key in `private_key_pem`.
Result<std::vector<std::uint8_t>> build_image(std::uint32_t board_id, std::uint32_t version,
                                              std::span<const std::uint8_t> payload,
                                              const std::string& private_key_pem);

// A new Ed25519 key pair as PEM (PKCS#8 private, SubjectPublicKeyInfo public).
struct KeyPair {
  std::string private_pem, public_pem;
};
Result<KeyPair> generate_keypair();
// kInvalidArgument unless `pem` is an Ed25519 public key.
Status check_public_key(const std::string& pem);
// Reads and checks a PEM public key file (the vendor key of the
// configuration); errors name the file.
Result<std::string> read_public_key_file(const std::string& path);
// The public key PEM of a private key PEM.
Result<std::string> public_key_of(const std::string& private_key_pem);

// flags bit0 = force (downgrade or same version allowed).
inline constexpr std::uint8_t kFlagForce = 0x01;
// AES-CMAC (RFC 4493, OpenSSL EVP_MAC "CMAC" with AES-128-CBC) over
// "VGDFU1" || flags || bytes[0, 64 + payload_size). `image` must have passed
// parse_image; the key is the sensor's 16-byte AES-128 key.
Result<std::array<std::uint8_t, 16>> dfu_tag(std::span<const std::uint8_t> sensor_key, std::uint8_t flags,
                                             std::span<const std::uint8_t> image);

// CRC-32/IEEE (reflected, poly 0xEDB88320), as the sensor computes it.
std::uint32_t crc32(std::span<const std::uint8_t> data);

}  // namespace vigil::firmware
