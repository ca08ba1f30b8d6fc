// SPDX-License-Identifier: Apache-2.0
//
// Everything vigil reads back from disk that a damaged card or a hostile
// backup file can hand it: chunk and roll-up blobs, compressed waveforms,
// and backup archives. The first byte picks the format; each decoder must
// reject or decode without reading out of bounds, allocating without limit
// or leaving files behind. Decoded chunks, roll-ups and waveforms re-encode
// to the same values (lossless round trip), and so do points made from the
// input bytes (the encoder's choice of codings).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "app/backup_archive.h"
#include "store/chunk_codec.h"
#include "store/waveform_codec.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t which = data[0] % 4;
  std::span<const std::uint8_t> blob(data + 1, size - 1);
  if (which == 0) {
    std::vector<Point> pts;
    if (store_detail::decode_chunk(blob, pts).ok()) {
      std::vector<Point> again;
      auto re = store_detail::encode_chunk(pts);
      if (!store_detail::decode_chunk(re, again).ok() || again.size() != pts.size()) __builtin_trap();
      for (std::size_t i = 0; i < pts.size(); ++i)
        if (again[i].ts != pts[i].ts || std::memcmp(&again[i].value, &pts[i].value, 8) != 0) __builtin_trap();
    }
    // The encoder's side: the bytes as points on a jittered grid (every
    // timestamp coding gets its turn: the frame, the Rice grid, and for
    // wild steps delta-of-delta) must come back exactly.
    std::vector<Point> made;
    std::int64_t ts = 0;
    for (std::size_t i = 0; i + 3 < blob.size() && made.size() < 600; i += 4) {
      const std::int64_t step = blob[i] == 0xff ? static_cast<std::int64_t>(blob[i + 1]) << 40 : 600'000;
      ts += step + static_cast<std::int8_t>(blob[i + 2]) * (blob[i] & 0x0f);
      made.push_back({ts, static_cast<double>(static_cast<std::int8_t>(blob[i + 3])) * 0.01});
    }
    std::vector<Point> back;
    if (!store_detail::decode_chunk(store_detail::encode_chunk(made), back).ok() || back.size() != made.size())
      __builtin_trap();
    for (std::size_t i = 0; i < made.size(); ++i)
      if (back[i].ts != made[i].ts || std::memcmp(&back[i].value, &made[i].value, 8) != 0) __builtin_trap();
  } else if (which == 1) {
    std::vector<store_detail::HourAggregate> h, again;
    if (store_detail::decode_rollup_day(blob, h).ok()) {
      // Re-encoded (counts as steps), the hours come back bit for bit.
      if (!store_detail::decode_rollup_day(store_detail::encode_rollup_day(h), again).ok() || again.size() != h.size())
        __builtin_trap();
      for (std::size_t i = 0; i < h.size(); ++i)
        if (again[i].hour != h[i].hour || again[i].count != h[i].count ||
            std::memcmp(&again[i].min, &h[i].min, 8) != 0 || std::memcmp(&again[i].max, &h[i].max, 8) != 0 ||
            std::memcmp(&again[i].sum, &h[i].sum, 8) != 0)
          __builtin_trap();
    }
  } else if (which == 2) {
    if (blob.size() < 2) return 0;
    const std::size_t expected = (static_cast<std::size_t>(blob[0]) << 8 | blob[1]) * 4;
    std::vector<std::int16_t> out;
    if (store_detail::decode_waveform(blob.subspan(2), expected, out).ok()) {
      std::vector<std::int16_t> again;
      if (!store_detail::decode_waveform(store_detail::encode_waveform(out, 1), out.size(), again).ok() ||
          again != out)
        __builtin_trap();
    }
  } else {
    // A backup file: plain, or encrypted with the passphrase "fuzz". The
    // key derivation (OpenSSL's scrypt) is not what is fuzzed: headers asking
    // for more than its cheapest cost are skipped, or the run crawls.
    if (blob.size() > 26 && (blob[9] & 1) && blob[26] > 10) return 0;
    static const std::string dir = [] {
      char tmpl[] = "/tmp/vigil-fuzz-archive-XXXXXX";
      const char* d = mkdtemp(tmpl);
      return std::string(d ? d : "/tmp");
    }();
    const std::string path = dir + "/in.vgb";
    if (FILE* f = std::fopen(path.c_str(), "wb")) {
      std::fwrite(blob.data(), 1, blob.size(), f);
      std::fclose(f);
    }
    auto r = app::read_archive(path, "fuzz", dir);
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      // Only a verified archive leaves its entries; a refused one none.
      if (!r && e.path().filename() != "in.vgb") __builtin_trap();
      if (e.path().filename() != "in.vgb") std::filesystem::remove(e.path(), ec);
    }
  }
  return 0;
}
