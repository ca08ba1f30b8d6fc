// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the configuration parser (src/config): JSON with
// comments, unknown-key and range checks, FILE:LINE error messages. The
// file is written by an administrator, but a parser that crashes on a typo
// takes the gateway down with it, so it is fuzzed like wire input.
// Oracle: no crash, no sanitizer report, and every rejection names the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = vigil::parse_config(text, "fuzz.json");
  if (!r.ok() && r.status().message().rfind("fuzz.json", 0) != 0) std::abort();  // the cause must say where
  return 0;
}
