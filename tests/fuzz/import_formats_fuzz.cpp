// SPDX-License-Identifier: Apache-2.0
//
// `vigil import` reads files from another system (an Amazon Monitron
// export, anyone's CSV): one line of a Monitron export and the timestamps
// both write. Oracles: a line is points, another event, or bad with a
// reason — never points and an error; every point has its names and a
// metric; a parsed time is inside what the parser can represent.
#include <cstdint>
#include <string>
#include <vector>

#include "app/history_import.h"
#include "app/time_arg.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  std::vector<vigil::app::ImportedPoint> pts;
  std::string error;
  const auto kind = vigil::app::parse_monitron_line(s, pts, error);
  if (kind == vigil::app::LineKind::kBad && (error.empty() || !pts.empty())) __builtin_trap();
  if (kind == vigil::app::LineKind::kPoints) {
    for (const auto& p : pts)
      if (p.site.empty() || p.asset.empty() || p.position.empty() || p.metric.empty()) __builtin_trap();
  }
  (void)vigil::app::parse_import_time(s);
  (void)vigil::app::parse_time_arg(s);
  return 0;
}
