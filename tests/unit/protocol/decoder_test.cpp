// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "protocol/decoder.h"
#include "test_util.h"

using namespace vigil::protocol;
using namespace vigil::protocol::test;

namespace {
std::vector<std::uint8_t> sd(std::vector<std::uint8_t> with_uuid) {  // strip D2 FC
  return {with_uuid.begin() + 2, with_uuid.end()};
}
std::uint64_t rejected(vigil::MetricsRegistry& reg, const char* reason) {
  return reg.counter_value("vigil_protocol_rejected_total", std::string("reason=\"") + reason + "\"");
}
const auto kTemp = hex("02c409");
}  // namespace

TEST_CASE("accepts increasing counters and rejects a replayed counter") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  dec.set_key(kMac, kKey);
  REQUIRE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 10, kTemp)), kMac, 0).ok());
  REQUIRE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 12, kTemp)), kMac, 0).ok());
  Reject why{};
  auto r = dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 11, kTemp)), kMac, 0, &why);
  CHECK_FALSE(r.ok());
  CHECK(why == Reject::kReplay);
  CHECK(r.status().code() == vigil::Status::Code::kPermissionDenied);
  CHECK(r.status().message().rfind("replay", 0) == 0);
  CHECK(rejected(reg, "replay") == 1);
  CHECK(dec.device(kMac)->last_counter == 12u);
}

TEST_CASE("drops the same encrypted frame received twice as a duplicate") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  dec.set_key(kMac, kKey);
  auto f = sd(encrypt_bthome(kKey, kMac, 5, kTemp));
  REQUIRE(dec.decode_service_data(kBthomeUuid, f, kMac, 0).ok());
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, f, kMac, 0, &why).ok());
  CHECK(why == Reject::kDuplicate);
  CHECK(rejected(reg, "duplicate") == 1);
}

TEST_CASE("BTHome and vigil frames share one counter per device") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  dec.set_key(kMac, kKey);
  vigil_frame::Features feat;
  auto payload = vigil_frame::encode_payload(feat);
  REQUIRE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 100, kTemp)), kMac, 0).ok());
  auto v = encrypt_vigil(kKey, kMac, 101, payload);
  REQUIRE(dec.decode_any(v, kMac, 0).ok());
  Reject why{};
  CHECK_FALSE(dec.decode_any(v, kMac, 0, &why).ok());
  CHECK(why == Reject::kDuplicate);
  CHECK_FALSE(dec.decode_any(encrypt_vigil(kKey, kMac, 99, payload), kMac, 0, &why).ok());
  CHECK(why == Reject::kReplay);
}

TEST_CASE("rejects a plain frame from a device that has a key (downgrade)") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  dec.set_key(kMac, kKey);
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, hex("40 02c409"), kMac, 0, &why).ok());
  CHECK(why == Reject::kDowngrade);
  auto plain_vigil = hex("56 10") ;
  auto p = vigil_frame::encode_payload({});
  plain_vigil.insert(plain_vigil.end(), p.begin(), p.end());
  CHECK_FALSE(dec.decode_manufacturer_data(kVigilCompanyId, plain_vigil, kMac, 0, &why).ok());
  CHECK(why == Reject::kDowngrade);
  CHECK(rejected(reg, "downgrade") == 2);
  // Another address without a key may send plain frames.
  auto other = *Mac::parse("11:22:33:44:55:66");
  CHECK(dec.decode_service_data(kBthomeUuid, hex("40 02c409"), other, 0).ok());
}

TEST_CASE("rejects a tampered MIC, ciphertext, counter or a wrong address") {
  auto good = sd(encrypt_bthome(kKey, kMac, 7, kTemp));
  for (std::size_t i = 1; i < good.size(); ++i) {
    INFO("byte " << i);
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    dec.set_key(kMac, kKey);
    auto bad = good;
    bad[i] ^= 0x01;
    Reject why{};
    CHECK_FALSE(dec.decode_service_data(kBthomeUuid, bad, kMac, 0, &why).ok());
    CHECK(why == Reject::kBadMic);
    CHECK(rejected(reg, "bad_mic") == 1);
    // A forged frame must not advance the counter.
    CHECK_FALSE(dec.device(kMac)->last_counter.has_value());
  }
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  auto other = *Mac::parse("C0:FF:EE:00:00:02");
  dec.set_key(other, kKey);
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, good, other, 0, &why).ok());
  CHECK(why == Reject::kBadMic);
}

TEST_CASE("rejects an encrypted frame from a device without a key") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  Reject why{};
  auto r = dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 1, kTemp)), kMac, 0, &why);
  CHECK_FALSE(r.ok());
  CHECK(why == Reject::kNoKey);
  CHECK(rejected(reg, "no_key") == 1);
}

TEST_CASE("rejects truncated frames of every length") {
  auto enc = sd(encrypt_bthome(kKey, kMac, 1, kTemp));
  auto vig = encrypt_vigil(kKey, kMac, 2, vigil_frame::encode_payload({}));
  std::vector<std::uint8_t> vig_md(vig.begin() + 2, vig.end());
  for (std::size_t n = 0; n < vig_md.size(); ++n) {
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    dec.set_key(kMac, kKey);
    Reject why{};
    CHECK_FALSE(dec.decode_manufacturer_data(kVigilCompanyId, std::span(vig_md).first(n), kMac, 0, &why).ok());
    CHECK((why == Reject::kTruncated || (n == 0 ? false : why == Reject::kUnknownFormat)));
  }
  for (std::size_t n = 0; n < 1 + 8; ++n) {
    vigil::MetricsRegistry reg;
    Decoder dec(&reg);
    dec.set_key(kMac, kKey);
    Reject why{};
    CHECK_FALSE(dec.decode_service_data(kBthomeUuid, std::span(enc).first(n), kMac, 0, &why).ok());
    CHECK(why == Reject::kTruncated);
  }
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, hex("40 02c4"), kMac, 0, &why).ok());
  CHECK(why == Reject::kTruncated);
  CHECK_FALSE(dec.decode_advertising_data(hex("020106 0a16d2fc40"), kMac, 0, &why).ok());
  CHECK(why == Reject::kTruncated);
}

TEST_CASE("rejects other BTHome versions and unknown formats") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, hex("20 02c409"), kMac, 0, &why).ok());
  CHECK(why == Reject::kBadHeader);
  CHECK_FALSE(dec.decode_service_data(0x181A, hex("40 02c409"), kMac, 0, &why).ok());
  CHECK(why == Reject::kUnknownFormat);
  CHECK_FALSE(dec.decode_manufacturer_data(0x004C, hex("0215"), kMac, 0, &why).ok());
  CHECK(why == Reject::kUnknownFormat);
  CHECK_FALSE(dec.decode_manufacturer_data(kVigilCompanyId, hex("56 20 00"), kMac, 0, &why).ok());
  CHECK(why == Reject::kBadHeader);
  CHECK_FALSE(dec.decode_advertising_data(hex("020106 03ff4c00"), kMac, 0, &why).ok());
  CHECK(why == Reject::kUnknownFormat);
  CHECK(rejected(reg, "bad_header") == 2);
  CHECK(rejected(reg, "unknown_format") == 3);
}

TEST_CASE("drops a plain frame identical to the previous one from that device") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  auto a = hex("40 0001 02c409");
  auto b = hex("40 0002 02c409");
  REQUIRE(dec.decode_service_data(kBthomeUuid, a, kMac, 0).ok());
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, a, kMac, 0, &why).ok());
  CHECK(why == Reject::kDuplicate);
  CHECK(dec.decode_service_data(kBthomeUuid, b, kMac, 0).ok());
}

TEST_CASE("a counter reset is accepted only when allowed, and flagged") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg, DecoderOptions{.allow_counter_reset_below = 1000});
  dec.set_key(kMac, kKey);
  REQUIRE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 50000, kTemp)), kMac, 0).ok());
  auto r = dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 3, kTemp)), kMac, 0);
  REQUIRE(r.ok());
  CHECK(r->counter_reset);
  CHECK(reg.counter_value("vigil_protocol_counter_resets_total") == 1);
  Reject why{};
  CHECK_FALSE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 2, kTemp)), kMac, 0, &why).ok());
  CHECK(why == Reject::kReplay);
}

TEST_CASE("reset_counter lets an operator accept a restarted sensor") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  dec.set_key(kMac, kKey);
  REQUIRE(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 9, kTemp)), kMac, 0).ok());
  dec.reset_counter(kMac);
  CHECK(dec.decode_service_data(kBthomeUuid, sd(encrypt_bthome(kKey, kMac, 1, kTemp)), kMac, 0).ok());
}

TEST_CASE("decoded values become readings named by vigil metrics") {
  vigil::MetricsRegistry reg;
  Decoder dec(&reg);
  vigil_frame::Features feat{.seq = 3, .axis = vigil_frame::kY, .accel_rms_g = 0.25, .velocity_rms_mm_s = 1.5,
                             .accel_peak_g = 1, .crest_factor = 4, .kurtosis = 3};
  auto md = hex("56 10");
  auto p = vigil_frame::encode_payload(feat);
  md.insert(md.end(), p.begin(), p.end());
  auto r = dec.decode_manufacturer_data(kVigilCompanyId, md, kMac, 1234);
  REQUIRE(r.ok());
  CHECK(r->axis == 'y');
  CHECK(r->measurement_seq == 3);
  auto rd = r->readings();
  REQUIRE(rd.size() == 5);
  CHECK(rd[0].source == "C0:FF:EE:00:00:01");
  CHECK(rd[0].metric == "accel_rms_g.y");
  CHECK(rd[0].ts == 1234);
  CHECK(rd[1].metric == "velocity_rms_mm_s.y");
  CHECK(rd[1].value == 1.5);
  CHECK(reg.counter_value("vigil_protocol_frames_total") == 1);
}

TEST_CASE("parses addresses, keys and hex leniently but not wrongly") {
  CHECK(Mac::parse("54:48:e6:8f:80:a5")->to_string() == "54:48:E6:8F:80:A5");
  CHECK(Mac::parse("5448E68F80A5").has_value());
  CHECK_FALSE(Mac::parse("54:48:E6:8F:80").has_value());
  CHECK_FALSE(parse_key("00").has_value());
  CHECK(parse_hex("0xd2 fc:41")->size() == 3);
  CHECK_FALSE(parse_hex("d2f").has_value());
  CHECK_FALSE(parse_hex("zz").has_value());
  CHECK_FALSE(parse_hex("d 2").has_value());
}
