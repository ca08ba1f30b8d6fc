// SPDX-License-Identifier: Apache-2.0
#include "rules/backtest.h"

#include <date/tz.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "analytics/csv_series.h"
#include "rules/evaluator.h"
#include "rules/rule_util.h"

namespace vigil::rules {
namespace {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c == '\n' || c == '\r' ? ' ' : c;
  }
  return q + "\"";
}

}  // namespace

int run_backtest(const BacktestOptions& o, std::ostream& out, std::ostream& err) {
  try {
    (void)date::locate_zone(o.timezone);
  } catch (...) {
    err << "vigil backtest: --timezone: unknown time zone '" << o.timezone << "'" << std::endl;
    return 2;
  }
  std::ifstream rf(o.rules);
  if (!rf) {
    err << "vigil backtest: cannot open " << o.rules << std::endl;
    return 1;
  }
  auto j = nlohmann::json::parse(rf, nullptr, false);
  if (j.is_discarded()) {
    err << "vigil backtest: " << o.rules << ": not JSON" << std::endl;
    return 1;
  }
  if (j.is_object() && j.contains("rules")) j = j["rules"];
  if (!j.is_array()) j = nlohmann::json::array({j});
  auto csv = analytics::read_csv_series(o.csv);
  if (!csv) {
    err << "vigil backtest: " << csv.status().message() << std::endl;
    return 1;
  }
  std::vector<Evaluator> evs;
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto r = rule_from_json(j[i]);
    if (!r) {
      err << "vigil backtest: " << o.rules << ": rules[" << i << "]." << r.status().message() << std::endl;
      return 1;
    }
    if (j[i].contains("id") && j[i]["id"].is_number_integer()) r->id = j[i]["id"].get<Id>();
    else r->id = static_cast<Id>(i + 1);
    r->scope = {};  // the CSV is one asset
    for (auto& c : r->conditions) c.position_id.reset();
    evs.emplace_back(std::move(*r));
  }
  const Target t{1, 1, std::nullopt, o.timezone};  // one asset; positions do not matter
  const TimestampMs start = csv->ts.empty() ? 0 : *std::min_element(csv->ts.begin(), csv->ts.end());
  for (auto& ev : evs) ev.add_asset(t, start);
  std::vector<std::pair<Fire, std::size_t>> fires;  // fire, rule index
  std::vector<Fire> tmp;
  for (std::size_t row = 0; row < csv->rows.size(); ++row) {
    for (std::size_t c = 0; c < csv->columns.size(); ++c) {
      if (!csv->rows[row][c]) continue;
      for (std::size_t k = 0; k < evs.size(); ++k) {
        evs[k].on_reading(t, csv->columns[c], csv->ts[row], *csv->rows[row][c], tmp);
        for (auto& f : tmp) fires.emplace_back(std::move(f), k);
        tmp.clear();
      }
    }
  }
  const TimestampMs end = csv->ts.empty() ? 0 : *std::max_element(csv->ts.begin(), csv->ts.end());
  for (std::size_t k = 0; k < evs.size(); ++k) {
    evs[k].advance(end, tmp);
    for (auto& f : tmp) fires.emplace_back(std::move(f), k);
    tmp.clear();
  }
  std::stable_sort(fires.begin(), fires.end(), [](const auto& a, const auto& b) { return a.first.ts < b.first.ts; });
  std::ofstream f(o.out, std::ios::trunc);
  if (!f) {
    err << "vigil backtest: cannot write " << o.out << std::endl;
    return 1;
  }
  f << "timestamp,rule,event\n";
  for (const auto& [fire, k] : fires)
    f << iso_time(fire.ts) << ',' << csv_cell(evs[k].rule().name) << ',' << csv_cell("fired: " + fire.explanation)
      << '\n';
  f.flush();
  if (!f) {
    err << "vigil backtest: writing " << o.out << " failed" << std::endl;
    return 1;
  }
  out << "rules backtest: " << csv->rows.size() << " rows, " << evs.size() << " rules, " << fires.size()
      << " fires -> " << o.out << std::endl;
  return 0;
}

}  // namespace vigil::rules
