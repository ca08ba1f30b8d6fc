// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the over-the-air decoder (src/protocol).
// Input: mode byte, then bytes. Modes: 0 decode_any, 1 BTHome service data,
// 2 vigil manufacturer data, 3 advertising data, 4 waveform info + chunks,
// 5 several frames from one device (length-prefixed) to exercise state,
// 6 DFU status / reported configuration / firmware version text as a sensor
// or an impostor could answer them (round-trip oracle on the configuration).
// The MAC has the vectors' key, so encrypted seeds get past the MIC.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/decoder.h"
#include "protocol/dfu.h"
#include "protocol/waveform.h"

using namespace vigil::protocol;

namespace {
const Mac kMac{{0xC0, 0xFF, 0xEE, 0x00, 0x00, 0x01}};
const Key kKey{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

void consume(const vigil::Result<DecodedFrame>& r) {
  if (!r) return;
  // Touch everything the frame owns.
  volatile double sink = 0;
  for (const auto& v : r->values) sink = sink + v.value + static_cast<double>(v.metric.size());
  for (const auto& rd : r->readings()) sink = sink + rd.value;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static vigil::MetricsRegistry registry;  // counters only grow; no per-run state kept
  Decoder dec(&registry);
  if (data[0] & 0x80) dec.set_key(kMac, kKey);
  Bytes in(data + 1, size - 1);
  switch (data[0] & 0x0F) {
    case 0: consume(dec.decode_any(in, kMac, 0)); break;
    case 1: consume(dec.decode_service_data(kBthomeUuid, in, kMac, 0)); break;
    case 2: consume(dec.decode_manufacturer_data(kVigilCompanyId, in, kMac, 0)); break;
    case 3: consume(dec.decode_advertising_data(in, kMac, 0)); break;
    case 4: {
      auto info = parse_waveform_info(in);
      if (!info) break;
      if (info->total_bytes > 65536) break;
      WaveformAssembler a(*info);
      Bytes rest = in.subspan(kWaveformInfoSize);
      while (rest.size() > 1) {
        std::size_t n = rest[0];
        rest = rest.subspan(1);
        if (n > rest.size()) n = rest.size();
        (void)a.add_chunk(rest.first(n));
        rest = rest.subspan(n);
      }
      if (a.complete()) (void)a.finish(0);
      break;
    }
    case 6: {
      if (auto st = parse_dfu_status(in)) {
        volatile std::size_t sink = dfu_error_name(st->error).size() + std::string(dfu_state_name(st->state)).size();
        (void)sink;
      }
      if (auto rep = parse_reported_config(in); rep && validate_sensor_config(rep->config).ok()) {
        // What validates must survive encode → parse unchanged.
        auto enc = encode_desired_config(rep->config);
        enc.insert(enc.end(), 4, 0);
        auto back = parse_reported_config(enc);
        if (!back || back->config.seq != rep->config.seq ||
            back->config.measurement_interval_s != rep->config.measurement_interval_s ||
            back->config.waveform_interval_min != rep->config.waveform_interval_min ||
            back->config.tx_power_dbm != rep->config.tx_power_dbm)
          std::abort();
      }
      std::string text(in.begin(), in.end());
      if (auto v = parse_firmware_version(text); v && *parse_firmware_version(firmware_version_string(*v)) != *v)
        std::abort();
      break;
    }
    default: {
      while (in.size() > 1) {
        std::size_t n = in[0];
        in = in.subspan(1);
        if (n > in.size()) n = in.size();
        consume(dec.decode_any(in.first(n), kMac, 0));
        in = in.subspan(n);
      }
      break;
    }
  }
  return 0;
}
