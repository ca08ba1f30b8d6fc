// SPDX-License-Identifier: Apache-2.0
//
// BTHome v2 object parsing (docs/protocol.md §2, shared/docs/bthome-v2.md).
// Pure functions over bytes: no state, no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "protocol/types.h"
#include "vigil/status.h"

namespace vigil::protocol::bthome {

// Device-info byte bits.
inline constexpr std::uint8_t kEncryptedBit = 0x01;
inline constexpr std::uint8_t kTriggerBit = 0x04;
inline constexpr std::uint8_t kVersionMask = 0xE0;
inline constexpr std::uint8_t kVersion2 = 0x40;

enum class Kind : std::uint8_t {
  kValue,       // number × factor → metric
  kBinary,      // uint8 0/1 → metric
  kPacketId,    // 0x00
  kTimestamp,   // 0x50
  kChannel,     // 0x60
  kButton,      // 0x3A
  kDimmer,      // 0x3C
  kText,        // 0x53 (length-prefixed)
  kRaw,         // 0x54 (length-prefixed)
  kDeviceType,  // 0xF0
  kFirmware4,   // 0xF1
  kFirmware3,   // 0xF2
};

struct ObjectDef {
  std::uint8_t id;
  Kind kind;
  std::uint8_t size;  // value bytes; 0 = length byte + bytes
  bool is_signed;
  std::int32_t num;   // factor = num / den (kept rational so 2506/100 prints 25.06)
  std::int32_t den;
  const char* metric;  // vigil metric for kValue/kBinary, else nullptr
};

// The definition of an object id, or nullptr if unknown.
const ObjectDef* find_object(std::uint8_t id);
// Every known definition (tests iterate it).
std::span<const ObjectDef> all_objects();

// Parses the object list of a (decrypted) BTHome v2 payload into `out`.
// Stops, without error, at the first unknown id (sets out.unknown_object_id).
// Returns InvalidArgument if an object runs past the end of `objects`.
Status parse_objects(Bytes objects, DecodedFrame& out);

}  // namespace vigil::protocol::bthome
