// SPDX-License-Identifier: Apache-2.0
// The shared test vectors (tests/vectors/*.json), also checked by the firmware.
#include <catch2/catch.hpp>

#include "protocol/decoder.h"
#include "protocol/waveform.h"
#include "test_util.h"

using namespace vigil::protocol;
using namespace vigil::protocol::test;

TEST_CASE("decodes every shared frame vector to its expected values") {
  auto doc = load_vectors("frames.json");
  REQUIRE(doc["vectors"].size() >= 5);
  for (const auto& v : doc["vectors"]) {
    INFO(v["name"].get<std::string>());
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    auto mac = Mac::parse(v["mac"].get<std::string>()).value();
    if (!v["key"].get<std::string>().empty()) dec.set_key(mac, parse_key(v["key"].get<std::string>()).value());
    auto frame = hex(v["frame"].get<std::string>());
    auto r = dec.decode_any(frame, mac, 1000);
    REQUIRE(r.ok());
    CHECK(r->format == (v["kind"] == "bthome" ? Format::kBthome : Format::kVigil));
    CHECK(r->encrypted == !v["key"].get<std::string>().empty());
    if (!v["counter"].is_null()) CHECK(r->counter == v["counter"].get<std::uint32_t>());
    CHECK(r->values.size() == v["values"].size());
    for (auto& [metric, expected] : v["values"].items()) {
      INFO(metric);
      const Value* got = find_value(*r, metric);
      REQUIRE(got != nullptr);
      CHECK(got->value == Approx(expected.get<double>()).epsilon(1e-12));
    }
  }
}

TEST_CASE("decodes the same vectors from complete advertising data") {
  auto doc = load_vectors("frames.json");
  for (const auto& v : doc["vectors"]) {
    INFO(v["name"].get<std::string>());
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    auto mac = Mac::parse(v["mac"].get<std::string>()).value();
    if (!v["key"].get<std::string>().empty()) dec.set_key(mac, parse_key(v["key"].get<std::string>()).value());
    auto ad = hex(v["advertising_data"].get<std::string>());
    CHECK(ad.size() <= 31);  // fits a legacy advertisement
    auto r = dec.decode_advertising_data(ad, mac, 1000);
    REQUIRE(r.ok());
    CHECK(r->values.size() == v["values"].size());
  }
}

TEST_CASE("the spec's encrypted BTHome example decodes to 25.06 C and 50.55 %") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  auto mac = *Mac::parse("54:48:E6:8F:80:A5");
  dec.set_key(mac, *parse_key("231d39c1d7cc1ab1aee224cd096db932"));
  auto r = dec.decode_service_data(kBthomeUuid, hex("41e445f3c9962b332211006c7c4519"), mac, 0);
  REQUIRE(r.ok());
  CHECK(r->counter == 0x00112233u);
  CHECK(find_value(*r, "temperature_c")->value == 25.06);
  CHECK(find_value(*r, "humidity_pct")->value == 50.55);
}

TEST_CASE("the encoder reproduces every encrypted vector byte for byte") {
  auto doc = load_vectors("frames.json");
  for (const auto& v : doc["vectors"]) {
    if (v["key"].get<std::string>().empty()) continue;
    INFO(v["name"].get<std::string>());
    auto key = parse_key(v["key"].get<std::string>()).value();
    auto mac = Mac::parse(v["mac"].get<std::string>()).value();
    auto pt = hex(v["plaintext"].get<std::string>());
    auto counter = v["counter"].get<std::uint32_t>();
    auto out = v["kind"] == "bthome" ? encrypt_bthome(key, mac, counter, pt) : encrypt_vigil(key, mac, counter, pt);
    CHECK(to_hex(out) == v["frame"].get<std::string>());
  }
}

TEST_CASE("vigil frame fields pack to the vector plaintext") {
  auto doc = load_vectors("frames.json");
  for (const auto& v : doc["vectors"]) {
    if (v["kind"] != "vigil") continue;
    auto pt = hex(v["plaintext"].get<std::string>());
    auto f = vigil_frame::parse_payload(pt).value();
    CHECK(f.seq == v["seq"].get<int>());
    CHECK(f.axis == v["axis"].get<int>());
    auto again = vigil_frame::encode_payload(f);
    CHECK(to_hex(again) == v["plaintext"].get<std::string>());
  }
}

TEST_CASE("the waveform vector's info and CRC-32 match") {
  auto doc = load_vectors("waveform.json");
  const std::string check = "123456789";
  CHECK(crc32(Bytes(reinterpret_cast<const std::uint8_t*>(check.data()), check.size())) ==
        doc["crc32_check_123456789"].get<std::uint32_t>());
  auto data = hex(doc["data"].get<std::string>());
  CHECK(crc32(data) == doc["crc32"].get<std::uint32_t>());
  auto info = parse_waveform_info(hex(doc["info"].get<std::string>()));
  REQUIRE(info.ok());
  CHECK(info->seq == 42);
  CHECK(info->sample_rate_hz == 6400);
  CHECK(info->axes == 3);
  CHECK(info->samples_per_axis == 8);
  CHECK(info->scale_g_per_count == 0.00048828125f);
  CHECK(to_hex(encode_waveform_info(*info)) == doc["info"].get<std::string>());
}
