// SPDX-License-Identifier: Apache-2.0
//
// Value types of the over-the-air protocol decoder: addresses, keys, the
// decoded frame and the typed rejection reasons. Plain values; copy freely.
// The on-air formats are specified in docs/protocol.md.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/clock.h"
#include "vigil/model.h"

namespace vigil::protocol {

using Bytes = std::span<const std::uint8_t>;

// 16-bit service data UUID of BTHome (on air as D2 FC).
inline constexpr std::uint16_t kBthomeUuid = 0xFCD2;
// Manufacturer-data company id carrying vigil frames (docs/protocol.md §3),
// followed by the magic byte kVigilMagic.
inline constexpr std::uint16_t kVigilCompanyId = 0xFFFF;
inline constexpr std::uint8_t kVigilMagic = 0x56;  // 'V'
inline constexpr std::uint8_t kVigilFrameVersion = 1;

// A BLE device address in printed order: "54:48:E6:8F:80:A5" is {0x54, ..., 0xA5}.
struct Mac {
  std::array<std::uint8_t, 6> b{};
  // Accepts "AA:BB:CC:DD:EE:FF", "aa-bb-...", or 12 hex digits.
  static std::optional<Mac> parse(std::string_view s);
  std::string to_string() const;  // upper case with colons
  auto operator<=>(const Mac&) const = default;
};

using Key = std::array<std::uint8_t, 16>;  // AES-128
std::optional<Key> parse_key(std::string_view hex);

// Hex helpers. parse_hex accepts spaces, ':' '-' separators and a leading 0x.
std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view s);
std::string to_hex(Bytes b);

// Why a frame was not accepted. Each is counted in
// vigil_protocol_rejected_total{reason="<to_string(r)>"}.
enum class Reject {
  kTruncated,       // frame or an object ends early
  kBadHeader,       // unsupported version, reserved bits, bad magic
  kUnknownFormat,   // not BTHome v2 and not a vigil frame
  kNoKey,           // encrypted, but no key known for this address
  kBadMic,          // authentication failed (wrong key, tampered, wrong MAC)
  kReplay,          // counter not greater than the last accepted one
  kDuplicate,       // the same frame again (same counter, or same plain bytes)
  kDowngrade,       // plain frame from a device that has a key
};
const char* to_string(Reject r);

enum class Format { kBthome, kVigil };
const char* to_string(Format f);

// One measured value, named by vigil metric (src/ingest/quantity_catalog.cpp).
// Repeated BTHome objects get an instance suffix: "temperature_c", then
// "temperature_c.2"; vigil per-axis values end in ".x" ".y" ".z".
struct Value {
  std::string metric;
  double value = 0;
  std::uint8_t object_id = 0;  // BTHome object id; 0 for vigil-frame values
};

// BTHome events: button ("press", "double_press", ...) and dimmer.
struct Event {
  std::string type;  // "button" or "dimmer"
  std::string name;  // "press", "long_press", "rotate_left", "none", ...
  int steps = 0;     // dimmer steps
  int instance = 1;  // 1 for the first object of this id, 2 for the next...
};

struct DecodedFrame {
  Format format = Format::kBthome;
  Mac address;
  TimestampMs received_at = 0;
  bool encrypted = false;
  bool trigger_based = false;             // BTHome device-info bit 2
  bool counter_reset = false;             // accepted under allow_counter_reset
  std::optional<std::uint32_t> counter;   // encrypted frames
  std::optional<std::uint8_t> packet_id;  // BTHome 0x00
  std::vector<Value> values;
  std::vector<Event> events;
  std::vector<std::string> texts;                 // BTHome 0x53
  std::vector<std::vector<std::uint8_t>> raw;     // BTHome 0x54
  std::optional<std::uint16_t> device_type;       // 0xF0
  std::optional<std::string> firmware_version;    // 0xF1 / 0xF2, "a.b.c[.d]"
  std::optional<std::uint32_t> device_timestamp;  // 0x50, UTC epoch seconds
  std::optional<std::uint8_t> channel;            // 0x60
  std::optional<std::uint8_t> unknown_object_id;  // parsing stopped here
  // vigil frames
  std::optional<std::uint16_t> measurement_seq;
  std::optional<char> axis;  // 'x' 'y' 'z', or 't' for the total vector

  // One Reading per value: source = address string, ts = received_at.
  std::vector<Reading> readings() const;
};

}  // namespace vigil::protocol
