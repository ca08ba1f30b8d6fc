// SPDX-License-Identifier: Apache-2.0
//
// Decoder: turns one BLE advertisement payload (BTHome v2 service data or a
// vigil frame in manufacturer data) from one address into a DecodedFrame, with
// per-device keys and per-device replay/downgrade state. Formats:
// docs/protocol.md.
//
// What it checks, in order, for each frame:
//   1. framing (length, version, reserved bits)         → truncated, bad_header
//   2. encrypted frames: a key for the address, the MIC → no_key, bad_mic
//   3. a device that has a key never sends plain       → downgrade
//   4. the counter increases per device (shared by BTHome and vigil frames);
//      the same counter again is a duplicate, a smaller one a replay
//      (unless DecoderOptions::allow_counter_reset says otherwise);
//      a plain frame identical to that device's previous one is a duplicate
//                                                      → replay, duplicate
// State (last counter) is only updated after the MIC verified, so forged
// frames cannot advance it. Every rejection increments
// vigil_protocol_rejected_total{reason="..."} in the registry given at
// construction and is returned as a non-ok Status whose message starts with
// the reason name; pass a Reject* to get the typed reason.
//
// Usage (BLE scanner):
//   Decoder dec;                       // or Decoder(&registry)
//   dec.set_key(mac, key);             // from commissioning
//   auto r = dec.decode_service_data(uuid16, bytes, mac, now);   // ServiceData
//   auto r = dec.decode_manufacturer_data(company, bytes, mac, now);
//   if (r) ingest.submit(r->readings()); else if (why != Reject::kDuplicate) log
//
// Thread-safety: all methods may be called from any thread (one internal
// mutex). Ownership: the Decoder copies keys; input spans are only read during
// the call; the returned frame owns its data. No I/O.
#pragma once

#include <map>
#include <mutex>
#include <optional>

#include "protocol/ccm.h"
#include "protocol/types.h"
#include "vigil/metrics_registry.h"
#include "vigil/status.h"

namespace vigil::protocol {

struct DecoderOptions {
  // Accept a counter that went backwards if it is below this value while the
  // last accepted one is not (a sensor whose persistent storage was wiped
  // restarts at 0). Frames an attacker recorded in that first window can then
  // be replayed once, so this is off by default (0).
  // Accepted resets are flagged in DecodedFrame::counter_reset and counted in
  // vigil_protocol_counter_resets_total so an operator sees them.
  std::uint32_t allow_counter_reset_below = 0;
};

// What the decoder knows about one address.
struct DeviceState {
  bool has_key = false;
  std::optional<std::uint32_t> last_counter;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
};

class Decoder {
 public:
  explicit Decoder(MetricsRegistry* metrics = &MetricsRegistry::global(), DecoderOptions options = {});
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Keys (from commissioning). A device with a key must encrypt.
  void set_key(const Mac& address, const Key& key);
  void remove_key(const Mac& address);
  // Forgets replay state for an address (operator accepted a counter reset).
  void reset_counter(const Mac& address);
  std::optional<DeviceState> device(const Mac& address) const;

  // BlueZ Device1.ServiceData: `data` starts at the device-info byte (UUID not
  // included). Only kBthomeUuid is understood.
  Result<DecodedFrame> decode_service_data(std::uint16_t uuid16, Bytes data, const Mac& address,
                                           TimestampMs now, Reject* why = nullptr);
  // BlueZ Device1.ManufacturerData: `data` excludes the company id.
  Result<DecodedFrame> decode_manufacturer_data(std::uint16_t company_id, Bytes data, const Mac& address,
                                                TimestampMs now, Reject* why = nullptr);
  // Raw advertising data (AD structures: len, type, data...), e.g. from HCI or
  // the virtual sensor; decodes the first BTHome or vigil structure.
  Result<DecodedFrame> decode_advertising_data(Bytes ad, const Mac& address, TimestampMs now,
                                               Reject* why = nullptr);
  // Auto-detects: AD structures, "D2 FC ..." (service data with UUID),
  // "FF FF 56 ..." (manufacturer data with company id). For the CLI and tools.
  Result<DecodedFrame> decode_any(Bytes data, const Mac& address, TimestampMs now, Reject* why = nullptr);

 private:
  struct Device {
    std::optional<Key> key;
    std::optional<std::uint32_t> last_counter;
    std::vector<std::uint8_t> last_frame;  // for duplicate detection
    std::uint64_t accepted = 0, rejected = 0;
  };
  Status reject(Reject r, const std::string& detail, Device* dev, Reject* why);
  Result<DecodedFrame> decode_bthome_locked(Bytes data, const Mac& address, TimestampMs now, Reject* why);
  Result<DecodedFrame> decode_vigil_locked(Bytes data, const Mac& address, TimestampMs now, Reject* why);
  // Checks counter ordering / duplicates and records the frame on success.
  Status accept_locked(Device& dev, Bytes frame, std::optional<std::uint32_t> counter, DecodedFrame& f,
                       Reject* why);

  MetricsRegistry* metrics_;
  DecoderOptions options_;
  mutable std::mutex mu_;
  std::map<Mac, Device> devices_;
  CcmCipher cipher_;
  std::map<int, Counter*> reject_counters_;
  Counter* accepted_counter_;
  Counter* reset_counter_;
};

// Frame layouts shared with the encoder side (tests, tools, simulator).
namespace vigil_frame {
inline constexpr std::size_t kPayloadSize = 13;  // version 1 plaintext
enum Axis : std::uint8_t { kTotal = 0, kX = 1, kY = 2, kZ = 3 };
struct Features {
  std::uint16_t seq = 0;
  std::uint8_t axis = kTotal;
  double accel_rms_g = 0, velocity_rms_mm_s = 0, accel_peak_g = 0, crest_factor = 0, kurtosis = 0;
};
// Parses a version-1 plaintext payload.
std::optional<Features> parse_payload(Bytes p);
// Encodes (saturating) a version-1 plaintext payload.
std::array<std::uint8_t, kPayloadSize> encode_payload(const Features& f);
}  // namespace vigil_frame

// Builds an encrypted frame (for tests, tools and the simulator):
// BTHome service data with UUID ("d2fc41...") from plain objects, or vigil
// manufacturer data with company id ("ffff5611...") from a plaintext payload.
std::vector<std::uint8_t> encrypt_bthome(const Key& key, const Mac& mac, std::uint32_t counter, Bytes objects,
                                         bool trigger_based = false);
std::vector<std::uint8_t> encrypt_vigil(const Key& key, const Mac& mac, std::uint32_t counter, Bytes payload);

}  // namespace vigil::protocol
