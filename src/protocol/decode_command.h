// SPDX-License-Identifier: Apache-2.0
//
// `vigil decode HEX [--key HEX --address MAC]`: decodes one advertisement's
// service data (BTHome v2 or a vigil frame) and prints its values as JSON, for
// installers debugging a sensor. Returns the process exit code; errors (bad
// hex, bad MIC, unknown format) go to `err` as one clear line.
#pragma once

#include <iosfwd>
#include <string>

namespace vigil::protocol {

struct DecodeOptions {
  std::string hex;      // service data bytes, as hex (spaces and colons allowed)
  std::string key_hex;  // 32 hex digits (AES-128) for encrypted frames, or empty
  std::string address;  // the sender's MAC, needed for encrypted frames
};

int run_decode(const DecodeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace vigil::protocol
