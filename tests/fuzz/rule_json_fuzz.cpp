// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for rules as JSON (src/rules: POST/PUT /api/v1/rules,
// preview, `vigil backtest --rules`): bytes → JSON → rule_from_json, and an
// accepted rule through the evaluator. Oracle: no crash or sanitizer report;
// a refusal is kInvalidArgument whose message starts with a member path and
// ": "; an accepted rule passes validate_rule, and to_json reads back to the
// same JSON; the evaluator fed readings on every condition's metric (values
// and times from the input) never fires more often than it is fed plus the
// deadlines it passes, and its persisted state loads back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/evaluator.h"
#include "rules/rules.h"

using namespace vigil;
using namespace vigil::rules;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  auto r = rule_from_json(j);
  if (!r.ok()) {
    const auto& m = r.status().message();
    if (r.status().code() != Status::Code::kInvalidArgument || m.find(": ") == std::string::npos ||
        m.find(": ") == 0)
      std::abort();
    return 0;
  }
  if (!validate_rule(*r).ok()) std::abort();
  const auto out = to_json(*r);
  auto back = rule_from_json(out);
  if (!back.ok() || to_json(*back) != out) std::abort();

  // Through the evaluator: times and values from the input's bytes.
  Rule rule = *r;
  rule.id = 1;
  Evaluator ev(rule);
  const Target t{1, 1, Id{1}, size % 2 ? "Europe/Berlin" : "America/Santiago"};
  std::vector<Fire> fires;
  TimestampMs ts = 1'780'000'000'000LL;
  ev.add_asset(t, ts);
  std::size_t fed = 0;
  for (std::size_t i = 0; i + 2 < size && fed < 256; i += 3, ++fed) {
    ts += static_cast<TimestampMs>(data[i]) * 60'000 * (data[i + 1] % 8 == 0 ? 60 : 1);
    const auto& c = rule.conditions[data[i + 1] % rule.conditions.size()];
    const std::string metric = c.metric == "*" ? "temperature_c" : c.metric;
    ev.on_reading(t, metric, ts, static_cast<double>(static_cast<std::int8_t>(data[i + 2])), fires);
  }
  ev.advance(ts + 400LL * 86'400'000, fires);
  for (std::size_t i = 1; i < fires.size(); ++i)
    if (fires[i].ts < fires[i - 1].ts) std::abort();  // one asset: in time order
  Evaluator again(rule);
  if (!again.load_state(t, ev.state_json(1)).ok()) std::abort();
  return 0;
}
