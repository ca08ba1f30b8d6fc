// SPDX-License-Identifier: Apache-2.0
#include "protocol/bthome.h"

#include <array>
#include <cstdio>
#include <map>
#include <string>

namespace vigil::protocol::bthome {
namespace {

constexpr ObjectDef V(std::uint8_t id, std::uint8_t size, bool s, std::int32_t num, std::int32_t den,
                      const char* metric) {
  return {id, Kind::kValue, size, s, num, den, metric};
}
constexpr ObjectDef B(std::uint8_t id, const char* metric) {
  return {id, Kind::kBinary, 1, false, 1, 1, metric};
}
constexpr ObjectDef M(std::uint8_t id, Kind k, std::uint8_t size) {
  return {id, k, size, false, 1, 1, nullptr};
}

// Sorted by id. Metric names are vigil's (src/ingest/quantity_catalog.cpp).
constexpr std::array kObjects{
    M(0x00, Kind::kPacketId, 1),
    V(0x01, 1, false, 1, 1, "battery_pct"),
    V(0x02, 2, true, 1, 100, "temperature_c"),
    V(0x03, 2, false, 1, 100, "humidity_pct"),
    V(0x04, 3, false, 1, 100, "pressure_hpa"),
    V(0x05, 3, false, 1, 100, "illuminance_lux"),
    V(0x06, 2, false, 1, 100, "mass_kg"),
    V(0x07, 2, false, 1, 100, "mass_lb"),
    V(0x08, 2, true, 1, 100, "dewpoint_c"),
    V(0x09, 1, false, 1, 1, "count"),
    V(0x0A, 3, false, 1, 1000, "energy_kwh"),
    V(0x0B, 3, false, 1, 100, "power_w"),
    V(0x0C, 2, false, 1, 1000, "voltage_v"),
    V(0x0D, 2, false, 1, 1, "pm25_ug_m3"),
    V(0x0E, 2, false, 1, 1, "pm10_ug_m3"),
    B(0x0F, "binary"),
    B(0x10, "power_on"),
    B(0x11, "opening"),
    V(0x12, 2, false, 1, 1, "co2_ppm"),
    V(0x13, 2, false, 1, 1, "tvoc_ug_m3"),
    V(0x14, 2, false, 1, 100, "moisture_pct"),
    B(0x15, "battery_low"),
    B(0x16, "charging"),
    B(0x17, "co_detected"),
    B(0x18, "cold"),
    B(0x19, "connectivity"),
    B(0x1A, "door_open"),
    B(0x1B, "garage_door_open"),
    B(0x1C, "gas_detected"),
    B(0x1D, "heat"),
    B(0x1E, "light"),
    B(0x1F, "unlocked"),
    B(0x20, "moisture_detected"),
    B(0x21, "motion"),
    B(0x22, "moving"),
    B(0x23, "occupancy"),
    B(0x24, "plug"),
    B(0x25, "presence"),
    B(0x26, "problem"),
    B(0x27, "running"),
    B(0x28, "safety"),
    B(0x29, "smoke"),
    B(0x2A, "sound"),
    B(0x2B, "tamper"),
    B(0x2C, "vibration"),
    B(0x2D, "window_open"),
    V(0x2E, 1, false, 1, 1, "humidity_pct"),
    V(0x2F, 1, false, 1, 1, "moisture_pct"),
    M(0x3A, Kind::kButton, 1),
    M(0x3C, Kind::kDimmer, 2),
    V(0x3D, 2, false, 1, 1, "count"),
    V(0x3E, 4, false, 1, 1, "count"),
    V(0x3F, 2, true, 1, 10, "rotation_deg"),
    V(0x40, 2, false, 1, 1000, "distance_m"),
    V(0x41, 2, false, 1, 10, "distance_m"),
    V(0x42, 3, false, 1, 1000, "duration_s"),
    V(0x43, 2, false, 1, 1000, "current_a"),
    V(0x44, 2, false, 1, 100, "speed_m_s"),
    V(0x45, 2, true, 1, 10, "temperature_c"),
    V(0x46, 1, false, 1, 10, "uv_index"),
    V(0x47, 2, false, 1, 10, "volume_l"),
    V(0x48, 2, false, 1, 1000, "volume_l"),
    V(0x49, 2, false, 1, 1000, "volume_flow_m3_h"),
    V(0x4A, 2, false, 1, 10, "voltage_v"),
    V(0x4B, 3, false, 1, 1000, "gas_m3"),
    V(0x4C, 4, false, 1, 1000, "gas_m3"),
    V(0x4D, 4, false, 1, 1000, "energy_kwh"),
    V(0x4E, 4, false, 1, 1000, "volume_l"),
    V(0x4F, 4, false, 1, 1000, "water_l"),
    M(0x50, Kind::kTimestamp, 4),
    V(0x51, 2, false, 1, 1000, "acceleration_m_s2"),
    V(0x52, 2, false, 1, 1000, "gyroscope_deg_s"),
    M(0x53, Kind::kText, 0),
    M(0x54, Kind::kRaw, 0),
    V(0x55, 4, false, 1, 1000, "volume_storage_l"),
    V(0x56, 2, false, 1, 1, "conductivity_us_cm"),
    V(0x57, 1, true, 1, 1, "temperature_c"),
    V(0x58, 1, true, 35, 100, "temperature_c"),
    V(0x59, 1, true, 1, 1, "count"),
    V(0x5A, 2, true, 1, 1, "count"),
    V(0x5B, 4, true, 1, 1, "count"),
    V(0x5C, 4, true, 1, 100, "power_w"),
    V(0x5D, 2, true, 1, 1000, "current_a"),
    V(0x5E, 2, false, 1, 100, "direction_deg"),
    V(0x5F, 2, false, 1, 10, "precipitation_mm"),
    M(0x60, Kind::kChannel, 1),
    V(0x61, 2, false, 1, 1, "speed_rpm"),
    V(0x62, 4, true, 1, 1000000, "speed_m_s"),
    V(0x63, 4, true, 1, 1000000, "acceleration_m_s2"),
    M(0xF0, Kind::kDeviceType, 2),
    M(0xF1, Kind::kFirmware4, 4),
    M(0xF2, Kind::kFirmware3, 3),
};

// Lookup table id → index+1 (0 = unknown), built once.
struct Index {
  std::array<std::uint8_t, 256> at{};
  constexpr Index() {
    for (std::size_t i = 0; i < kObjects.size(); ++i) at[kObjects[i].id] = static_cast<std::uint8_t>(i + 1);
  }
};
constexpr Index kIndex{};
static_assert(kObjects.size() < 255);

std::uint32_t read_le(const std::uint8_t* p, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

std::int64_t sign_extend(std::uint32_t v, std::size_t n) {
  if (n >= 4) return static_cast<std::int32_t>(v);
  std::uint32_t sign = 1u << (8 * n - 1);
  return static_cast<std::int64_t>(v ^ sign) - static_cast<std::int64_t>(sign);
}

const char* button_name(std::uint8_t v) {
  switch (v) {
    case 0x00: return "none";
    case 0x01: return "press";
    case 0x02: return "double_press";
    case 0x03: return "triple_press";
    case 0x04: return "long_press";
    case 0x05: return "long_double_press";
    case 0x06: return "long_triple_press";
    case 0x80: return "hold_press";
    default: return "unknown";
  }
}

std::string instance_name(const char* metric, int instance) {
  std::string m = metric;
  if (instance > 1) m += "." + std::to_string(instance);
  return m;
}

}  // namespace

const ObjectDef* find_object(std::uint8_t id) {
  auto i = kIndex.at[id];
  return i ? &kObjects[i - 1] : nullptr;
}

std::span<const ObjectDef> all_objects() { return kObjects; }

Status parse_objects(Bytes objects, DecodedFrame& out) {
  // Instance counters per metric name / event type, so repeated objects get
  // "metric.2". Small linear maps: frames carry a handful of objects.
  std::vector<std::pair<const char*, int>> seen;
  auto next_instance = [&seen](const char* key) {
    for (auto& [k, n] : seen)
      if (std::string_view(k) == key) return ++n;
    seen.emplace_back(key, 1);
    return 1;
  };

  std::size_t i = 0;
  while (i < objects.size()) {
    const std::uint8_t id = objects[i];
    const ObjectDef* def = find_object(id);
    if (!def) {
      out.unknown_object_id = id;
      return Status::Ok();
    }
    ++i;
    std::size_t size = def->size;
    const std::uint8_t* p = objects.data() + i;
    if (size == 0) {  // length-prefixed
      if (i >= objects.size())
        return Status::InvalidArgument("object 0x" + to_hex(Bytes(&objects[i - 1], 1)) + " truncated");
      size = objects[i];
      ++i;
      p = objects.data() + i;
    }
    if (objects.size() - i < size) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "object 0x%02X needs %zu bytes, %zu left", id, size, objects.size() - i);
      return Status::InvalidArgument(buf);
    }
    i += size;

    switch (def->kind) {
      case Kind::kValue: {
        std::uint32_t raw = read_le(p, size);
        double v = def->is_signed ? static_cast<double>(sign_extend(raw, size)) : static_cast<double>(raw);
        if (def->num != 1) v *= def->num;
        if (def->den != 1) v /= def->den;
        out.values.push_back({instance_name(def->metric, next_instance(def->metric)), v, id});
        break;
      }
      case Kind::kBinary:
        out.values.push_back({instance_name(def->metric, next_instance(def->metric)), p[0] ? 1.0 : 0.0, id});
        break;
      case Kind::kPacketId: out.packet_id = p[0]; break;
      case Kind::kTimestamp: out.device_timestamp = read_le(p, 4); break;
      case Kind::kChannel: out.channel = p[0]; break;
      case Kind::kButton:
        out.events.push_back({"button", button_name(p[0]), 0, next_instance("#button")});
        break;
      case Kind::kDimmer: {
        const char* name = p[0] == 0 ? "none" : p[0] == 1 ? "rotate_left" : p[0] == 2 ? "rotate_right" : "unknown";
        out.events.push_back({"dimmer", name, p[1], next_instance("#dimmer")});
        break;
      }
      case Kind::kText: {
        std::string s;
        for (std::size_t k = 0; k < size; ++k) {
          char c = static_cast<char>(p[k]);
          // Keep printable ASCII/UTF-8 bytes; control characters become '?'.
          s.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c);
        }
        out.texts.push_back(std::move(s));
        break;
      }
      case Kind::kRaw: out.raw.emplace_back(p, p + size); break;
      case Kind::kDeviceType: out.device_type = static_cast<std::uint16_t>(read_le(p, 2)); break;
      case Kind::kFirmware4:
      case Kind::kFirmware3: {
        // Little-endian: the last byte is the major version.
        std::string v;
        for (std::size_t k = size; k-- > 0;) {
          v += std::to_string(p[k]);
          if (k) v += '.';
        }
        out.firmware_version = v;
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace vigil::protocol::bthome
