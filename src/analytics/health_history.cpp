// SPDX-License-Identifier: Apache-2.0
#include "analytics/health_history.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace vigil::analytics {

Result<HealthImportCount> import_health_history(sql::Db& db, std::span<const ImportedHealthState> states) {
  HealthImportCount n;
  if (states.empty()) return n;
  for (const auto& s : states)
    if (s.scope != "position" && s.scope != "asset")
      return Status::InvalidArgument("health history: scope '" + s.scope + "' is not position or asset");
  // Time order per scope and model: "the state in force" is then the row
  // just written, or the stored one before it.
  std::vector<const ImportedHealthState*> order;
  order.reserve(states.size());
  for (const auto& s : states) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return std::tie(a->scope, a->scope_id, a->model, a->ts) < std::tie(b->scope, b->scope_id, b->model, b->ts);
  });
  for (const auto* s : order) {
    // The statements are re-fetched per row: prepare() hands back the cached
    // statement, and another prepare() may evict one held across iterations.
    auto last = db.prepare(
        "SELECT pointwise, persistent FROM health_states WHERE scope = ? AND scope_id = ? AND model = ? AND ts <= ? "
        "ORDER BY ts DESC, id DESC LIMIT 1");
    if (!last) return last.status();
    (*last)->bind(1, s->scope).bind(2, s->scope_id).bind(3, s->model).bind(4, s->ts);
    auto row = (*last)->step();
    if (!row) {
      (*last)->reset();
      return row.status();
    }
    const bool same = *row && (*last)->text(0) == to_string(s->pointwise) && (*last)->text(1) == to_string(s->persistent);
    (*last)->reset();
    if (same) {
      ++n.unchanged;
      continue;
    }
    auto ins = db.prepare(
        "INSERT INTO health_states(scope, scope_id, model, ts, pointwise, persistent) VALUES(?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.status();
    VIGIL_RETURN_IF_ERROR((*ins)->bind(1, s->scope).bind(2, s->scope_id).bind(3, s->model).bind(4, s->ts)
                              .bind(5, to_string(s->pointwise)).bind(6, to_string(s->persistent)).run());
    ++n.written;
  }
  return n;
}

}  // namespace vigil::analytics
