// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the fleet filter language (http/fleet_query.h) that
// GET /api/v1/fleet/search?q= reads from anyone with the viewer role.
// Oracle: no crash or sanitizer report; a query is accepted or refused with a
// message; an accepted one has at most kMaxTerms terms, each well formed,
// and matching it against a subject terminates without a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/fleet_query.h"
#include "vigil/store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vigil::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FleetQuery q;
  if (auto e = parse_fleet_query(text, q)) {
    if (e->message.empty()) std::abort();
    return 0;
  }
  if (size > kMaxQueryBytes || q.terms.size() > kMaxTerms) std::abort();
  for (const auto& t : q.terms) {
    if (t.text.empty()) std::abort();
    if (t.field == FleetTerm::Field::kTag && !vigil::valid_tag_key(t.key)) std::abort();
    if (t.field == FleetTerm::Field::kFirmware && (t.version.empty() || t.version.size() > 4)) std::abort();
  }
  FleetSubject s;
  s.battery_pct = 42;
  s.firmware = "1.3.0";
  s.last_data = 1'700'000'000'000;
  s.tags = {{"line", "2"}, {"criticality", "A"}};
  (void)fleet_matches(q, s, 1'700'000'100'000);
  (void)fleet_matches(q, FleetSubject{}, 1'700'000'100'000);
  return 0;
}
