// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "protocol/waveform.h"
#include "test_util.h"

using namespace vigil::protocol;
using namespace vigil::protocol::test;

namespace {
std::vector<std::uint8_t> chunk(std::uint16_t seq, std::uint32_t off, const std::vector<std::uint8_t>& data,
                                std::size_t n) {
  std::vector<std::uint8_t> c{static_cast<std::uint8_t>(seq), static_cast<std::uint8_t>(seq >> 8)};
  for (int i = 0; i < 4; ++i) c.push_back(static_cast<std::uint8_t>(off >> (8 * i)));
  c.insert(c.end(), data.begin() + off, data.begin() + off + static_cast<std::ptrdiff_t>(n));
  return c;
}
}  // namespace

TEST_CASE("reassembles the vector waveform from chunks and checks its CRC") {
  auto doc = load_vectors("waveform.json");
  auto data = hex(doc["data"].get<std::string>());
  auto info = parse_waveform_info(hex(doc["info"].get<std::string>())).value();
  WaveformAssembler a(info);
  while (!a.complete()) {
    auto off = a.next_offset();
    REQUIRE(a.add_chunk(chunk(42, off, data, std::min<std::size_t>(10, data.size() - off))).ok());
  }
  auto w = a.finish(99);
  REQUIRE(w.ok());
  CHECK(w->axes == 3);
  CHECK(w->sample_rate_hz == 6400);
  REQUIRE(w->samples.size() == 24);
  CHECK(w->samples[3] == 32767);
  CHECK(w->samples[4] == -32768);
  CHECK(w->samples[8] == 10);
}

TEST_CASE("a corrupted waveform fails its CRC check") {
  auto doc = load_vectors("waveform.json");
  auto data = hex(doc["data"].get<std::string>());
  auto info = parse_waveform_info(hex(doc["info"].get<std::string>())).value();
  data[5] ^= 0x40;
  WaveformAssembler a(info);
  REQUIRE(a.add_chunk(chunk(42, 0, data, data.size())).ok());
  auto w = a.finish(0);
  CHECK_FALSE(w.ok());
  CHECK(w.status().code() == vigil::Status::Code::kCorruption);
}

TEST_CASE("rejects chunks from another measurement, out of order or past the end") {
  auto doc = load_vectors("waveform.json");
  auto data = hex(doc["data"].get<std::string>());
  auto info = parse_waveform_info(hex(doc["info"].get<std::string>())).value();
  WaveformAssembler a(info);
  CHECK_FALSE(a.add_chunk(chunk(43, 0, data, 4)).ok());
  CHECK_FALSE(a.add_chunk(chunk(42, 4, data, 4)).ok());
  CHECK_FALSE(a.add_chunk(hex("2a00")).ok());
  REQUIRE(a.add_chunk(chunk(42, 0, data, 40)).ok());
  auto extra = chunk(42, 40, data, 8);
  extra.push_back(0);
  CHECK_FALSE(a.add_chunk(extra).ok());
  CHECK_FALSE(a.finish(0).ok());
}

TEST_CASE("rejects an inconsistent waveform info") {
  auto doc = load_vectors("waveform.json");
  auto info = hex(doc["info"].get<std::string>());
  CHECK_FALSE(parse_waveform_info(std::span(info).first(20)).ok());
  auto bad = info;
  bad[16] ^= 1;  // total_bytes
  CHECK_FALSE(parse_waveform_info(bad).ok());
  bad = info;
  bad[1] = 4;  // axes
  CHECK_FALSE(parse_waveform_info(bad).ok());
}
