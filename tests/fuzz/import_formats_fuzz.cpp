// SPDX-License-Identifier: Apache-2.0
//
// `vigil import` reads files from another system (an Amazon Monitron
// export, anyone's CSV): one line of a Monitron export and the timestamps
// both write. Oracles: a line is points, another event, or bad with a
// reason — never points and an error; every point and model state has its
// names and a metric or model; a state is healthy, warning or alarm; the
// points-only parser agrees with the full one; a parsed time is inside what
// the parser can represent.
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
  vigil::app::MonitronMeasurement m;
  std::string error2;
  const auto kind2 = vigil::app::parse_monitron_line(s, m, error2);
  if (kind2 != kind || m.points.size() != pts.size()) __builtin_trap();
  if (kind2 == vigil::app::LineKind::kBad && (!m.points.empty() || !m.states.empty())) __builtin_trap();
  for (const auto& st : m.states) {
    if (st.site.empty() || st.asset.empty() || st.position.empty() || st.model.empty()) __builtin_trap();
    for (auto h : {st.pointwise, st.persistent})
      if (h != vigil::HealthState::kHealthy && h != vigil::HealthState::kWarning && h != vigil::HealthState::kAlarm)
        __builtin_trap();
  }
  (void)vigil::app::parse_import_time(s);
  (void)vigil::app::parse_time_arg(s);
  return 0;
}
