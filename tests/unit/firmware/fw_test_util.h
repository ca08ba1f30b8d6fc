// SPDX-License-Identifier: Apache-2.0
// Helpers of the firmware unit tests: a vendor key pair, signed images, and
// a fake DFU transport that plays the sensor's side of notes/dfu-protocol.md
// (START resumes a partial transfer of the same header+tag; VERIFY checks
// CRC-32 and the AES-CMAC tag with the sensor's own key). FakeDfu is used
// from one thread at a time (the test's, or the engine worker's).
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "firmware/dfu_transport.h"
#include "firmware/image.h"

namespace vigil::firmware::test {

inline const KeyPair& vendor_key() {
  static const KeyPair k = [] {
    auto r = generate_keypair();
    REQUIRE(r.ok());
    return *r;
  }();
  return k;
}

inline std::vector<std::uint8_t> app_bytes(std::size_t n, std::uint8_t seed = 1) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 31);
  return v;
}

inline std::vector<std::uint8_t> signed_image(std::uint32_t board, const char* version, std::size_t payload = 1000,
                                              const std::string& key = vendor_key().private_pem) {
  auto v = parse_version(version);
  REQUIRE(v.ok());
  auto img = build_image(board, *v, app_bytes(payload), key);
  REQUIRE(img.ok());
  return *img;
}

struct FakeSensor {
  std::vector<std::uint8_t> key;
  std::uint32_t running = 0x010300;
  std::vector<std::uint8_t> staged_header_tag;  // header(64) || tag(16) of the staged transfer
  std::vector<std::uint8_t> staged;             // header + payload received so far
  std::size_t drop_at = 0;                      // > 0: the link drops once this many payload bytes are in
  bool corrupt = false;                         // the radio flips a payload byte
  bool revert = false;                          // the new image does not confirm its self-test
  std::size_t bytes_written = 0;                // every payload byte the gateway wrote, over all attempts
  int starts = 0;
};

class FakeDfu final : public DfuTransport {
 public:
  std::map<std::int64_t, FakeSensor> sensors;

  Result<DfuOutcome> update(const SensorTarget& t, const DfuImage& img, const std::array<std::uint8_t, 16>& tag,
                            const DfuProgress& progress) override {
    auto it = sensors.find(t.sensor_id);
    if (it == sensors.end()) return Status::Unavailable("sensor " + t.address + " not in range");
    FakeSensor& s = it->second;
    ++s.starts;
    std::vector<std::uint8_t> ht(img.bytes.begin(), img.bytes.begin() + kHeaderSize);
    ht.insert(ht.end(), tag.begin(), tag.end());
    if (ht != s.staged_header_tag) {  // a new image: erase the slot
      s.staged_header_tag = ht;
      s.staged.assign(img.bytes.begin(), img.bytes.begin() + kHeaderSize);
    }
    // No Catch assertions here: update() may run on the engine's thread.
    auto info = parse_image(img.bytes);
    if (!info.ok()) return info.status();
    const std::size_t total = kHeaderSize + info->payload_size;
    while (s.staged.size() < total) {
      if (s.drop_at && s.staged.size() - kHeaderSize >= s.drop_at) {
        s.drop_at = 0;
        return Status::Unavailable("connection lost");
      }
      std::size_t n = std::min<std::size_t>(240, total - s.staged.size());
      auto from = img.bytes.begin() + static_cast<std::ptrdiff_t>(s.staged.size());
      s.staged.insert(s.staged.end(), from, from + static_cast<std::ptrdiff_t>(n));
      s.bytes_written += n;
      progress(DfuPhase::kTransferring, s.staged.size() - kHeaderSize);
    }
    if (s.corrupt) s.staged[kHeaderSize + 7] ^= 0x40;
    progress(DfuPhase::kVerifying, info->payload_size);
    std::span<const std::uint8_t> payload(s.staged.data() + kHeaderSize, info->payload_size);
    if (crc32(payload) != info->payload_crc32) return DfuOutcome{DfuOutcome::Kind::kRejected, "crc_mismatch"};
    auto want = dfu_tag(s.key, img.flags, s.staged);
    if (!want.ok()) return want.status();
    if (*want != tag) return DfuOutcome{DfuOutcome::Kind::kRejected, "bad_tag"};
    progress(DfuPhase::kTestBoot, info->payload_size);
    if (s.revert) return DfuOutcome{DfuOutcome::Kind::kReverted, "reverted"};
    s.running = img.version;
    return DfuOutcome{DfuOutcome::Kind::kConfirmed, ""};
  }
};

}  // namespace vigil::firmware::test
