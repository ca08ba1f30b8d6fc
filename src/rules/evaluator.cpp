// SPDX-License-Identifier: Apache-2.0
#include "rules/evaluator.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "rules/rule_util.h"

namespace vigil::rules {

struct Evaluator::Slot {
  std::optional<Id> position;
  bool raw = false;
  TimestampMs since = 0;      // raw true since
  bool have_last = false;     // previous reading (rates, counters); no_data: last seen
  TimestampMs last_ts = 0;
  double last = 0;
  double shown = 0;           // the value the explanation shows (reading, rate, increase)
  bool in_window = false;     // increase_above: the current window
  TimestampMs win_start = 0, win_end = 0;
  double inc = 0;
  TimestampMs saved_ts = 0;   // no_data: last_ts as last handed out for persistence
};

struct Evaluator::AssetState {
  Id asset_id = 0;
  Id site_id = 0;
  const date::time_zone* tz = nullptr;  // null = UTC
  std::string tz_name = "UTC";
  std::vector<std::vector<Slot>> conds;
  bool fired = false;
  TimestampMs at = std::numeric_limits<TimestampMs>::min();  // evaluated up to
  bool dirty = false;
};

namespace {

const date::time_zone* find_zone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (...) {
    try {
      return date::locate_zone("UTC");
    } catch (...) {
      return nullptr;
    }
  }
}

// The calendar window (start, end] holding ts, in ms since the epoch.
std::pair<TimestampMs, TimestampMs> window_of(const date::time_zone* tz, const std::string& w, TimestampMs ts) {
  using ms = std::chrono::milliseconds;
  // Keep date's year arithmetic in range (backtests may carry odd timestamps).
  ts = std::clamp<TimestampMs>(ts, kMinTimestampMs + 40LL * 86400000, kMaxTimestampMs - 40LL * 86400000);
  const date::sys_time<ms> st{ms{ts - 1}};
  date::local_days ld;
  if (tz) {
    ld = date::floor<date::days>(tz->to_local(st));
  } else {
    ld = date::local_days{date::floor<date::days>(st).time_since_epoch()};
  }
  date::local_days a, b;
  if (w == "week") {
    const date::weekday wd{ld};
    a = ld - (wd - date::Monday);
    b = a + date::days{7};
  } else if (w == "month") {
    const date::year_month_day ymd{ld};
    const auto first = ymd.year() / ymd.month() / 1;
    a = date::local_days{first};
    b = date::local_days{first + date::months{1}};
  } else {
    a = ld;
    b = ld + date::days{1};
  }
  auto to_sys = [&](date::local_days d) -> TimestampMs {
    if (!tz) return std::chrono::duration_cast<ms>(d.time_since_epoch()).count();
    return std::chrono::duration_cast<ms>(
               tz->to_sys(date::local_time<ms>(d), date::choose::earliest).time_since_epoch())
        .count();
  };
  return {to_sys(a), to_sys(b)};
}

bool is_no_data(const Condition& c) { return c.op == "no_data"; }

}  // namespace

Evaluator::Evaluator(Rule rule) : rule_(std::move(rule)) {
  if (rule_.conditions.size() > kMaxConditions) rule_.conditions.resize(kMaxConditions);  // validate_rule refuses these
  for (const auto& c : rule_.conditions) {
    for_ms_.push_back(static_cast<std::int64_t>(std::llround(c.for_s * 1000.0)));
    ops_.push_back(c.op == "above"        ? Op::kAbove
                   : c.op == "below"      ? Op::kBelow
                   : c.op == "rate_above" ? Op::kRateAbove
                   : c.op == "rate_below" ? Op::kRateBelow
                   : c.op == "no_data"    ? Op::kNoData
                   : c.op == "state_held" ? Op::kStateHeld
                                          : Op::kIncreaseAbove);
  }
}
Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

bool Evaluator::in_scope(Id site_id, Id asset_id, std::optional<Id> position_id) const {
  const Scope& s = rule_.scope;
  if (s.position_id) return position_id && *position_id == *s.position_id;
  if (s.asset_id) return asset_id == *s.asset_id;
  if (s.site_id) return site_id == *s.site_id;
  return true;
}

bool Evaluator::reads(std::string_view metric) const {
  for (const auto& c : rule_.conditions)
    if (c.metric == metric || (c.metric == "*" && is_no_data(c))) return true;
  return false;
}

bool Evaluator::has_no_data() const {
  return std::any_of(rule_.conditions.begin(), rule_.conditions.end(), is_no_data);
}

Evaluator::AssetState& Evaluator::state_for(const Target& t, TimestampMs start) {
  auto it = states_.find(t.asset_id);
  if (it != states_.end()) return *it->second;
  auto s = std::make_unique<AssetState>();
  s->asset_id = t.asset_id;
  s->site_id = t.site_id;
  s->tz_name = std::string(t.timezone);
  s->tz = find_zone(t.timezone);
  s->conds.resize(rule_.conditions.size());
  for (std::size_t i = 0; i < rule_.conditions.size(); ++i) {
    const Condition& c = rule_.conditions[i];
    if (is_no_data(c)) {
      Slot sl;
      sl.position = c.position_id ? c.position_id : rule_.scope.position_id;
      sl.have_last = true;
      sl.last_ts = start;
      s->conds[i].push_back(sl);
    }
  }
  s->at = start;
  AssetState& ref = *states_.emplace(t.asset_id, std::move(s)).first->second;
  mark_dirty(ref);
  return ref;
}

void Evaluator::add_asset(const Target& t, TimestampMs start) { (void)state_for(t, start); }

void Evaluator::on_reading(const Target& t, std::string_view metric, TimestampMs ts, double value,
                           std::vector<Fire>& out) {
  if (!in_scope(t.site_id, t.asset_id, t.position_id)) return;
  AssetState& s = state_for(t, ts);
  advance_asset(s, ts, out, /*evaluate_now=*/false);  // evaluated below, after the reading
  const TimestampMs tt = std::max(ts, s.at);
  bool changed = false;
  auto set_raw = [](Slot& sl, bool on, TimestampMs when, bool& ch) {
    if (on == sl.raw) return;
    sl.raw = on;
    if (on) sl.since = when;
    ch = true;
  };
  for (std::size_t i = 0; i < rule_.conditions.size(); ++i) {
    const Condition& c = rule_.conditions[i];
    const Op op = ops_[i];
    const bool nd = op == Op::kNoData;
    if (c.metric != metric && !(nd && c.metric == "*")) continue;
    const std::optional<Id> pin = c.position_id ? c.position_id : rule_.scope.position_id;
    if (pin && t.position_id != pin) continue;
    auto& slots = s.conds[i];
    if (nd) {
      // Persisted only when it moved by a quarter of the silence (at least a
      // second): every reading of every sensor is not worth a row write.
      Slot& sl = slots.front();
      sl.last_ts = std::max(sl.last_ts, tt);
      sl.shown = value;
      if (sl.last_ts - sl.saved_ts >= std::max<TimestampMs>(1000, for_ms_[i] / 4)) changed = true;
      continue;
    }
    auto it = std::find_if(slots.begin(), slots.end(), [&](const Slot& x) { return x.position == t.position_id; });
    if (it == slots.end()) {
      slots.push_back(Slot{});
      it = slots.end() - 1;
      it->position = t.position_id;
    }
    Slot& sl = *it;
    if (op == Op::kAbove || op == Op::kBelow) {
      const bool above = op == Op::kAbove;
      const bool on = above ? (sl.raw ? value > c.value - c.hysteresis : value > c.value)
                            : (sl.raw ? value < c.value + c.hysteresis : value < c.value);
      sl.shown = value;
      set_raw(sl, on, tt, changed);
    } else if (op == Op::kRateAbove || op == Op::kRateBelow) {
      if (sl.have_last && ts > sl.last_ts) {
        const double dt_s = static_cast<double>(ts - sl.last_ts) / 1000.0;
        const double rate = (value - sl.last) / dt_s * c.per_s;
        const bool above = op == Op::kRateAbove;
        const bool on = above ? (sl.raw ? rate > c.value - c.hysteresis : rate > c.value)
                              : (sl.raw ? rate < c.value + c.hysteresis : rate < c.value);
        if (std::isfinite(rate)) {
          sl.shown = rate;
          set_raw(sl, on, tt, changed);
        }
      }
      if (!sl.have_last || ts > sl.last_ts) {  // not persisted on its own: only the rate's truth is
        sl.have_last = true;
        sl.last_ts = ts;
        sl.last = value;
      }
    } else if (op == Op::kStateHeld) {
      const double state = value >= 0.5 ? 1.0 : 0.0;
      sl.shown = state;
      set_raw(sl, state == c.value, tt, changed);
    } else if (op == Op::kIncreaseAbove) {
      if (sl.have_last && ts < sl.last_ts) continue;  // late reading of a counter: ignored
      const bool same = sl.in_window && ts > sl.win_start && ts <= sl.win_end;
      auto [a, b] = same ? std::pair{sl.win_start, sl.win_end} : window_of(s.tz, c.window, ts);
      if (!sl.in_window || a != sl.win_start) {
        // A new window: count from the counter at its start, interpolated
        // between the readings around it (none before: from this reading).
        sl.in_window = true;
        sl.win_start = a;
        sl.win_end = b;
        sl.inc = 0;
        changed = true;
        if (sl.have_last && value >= sl.last && ts > sl.last_ts && sl.last_ts <= a) {
          const double frac = static_cast<double>(ts - a) / static_cast<double>(ts - sl.last_ts);
          sl.inc = (value - sl.last) * frac;
        } else if (sl.have_last && value < sl.last && sl.last_ts <= a) {
          sl.inc = 0;  // reset across the boundary: count from here
        }
      } else if (sl.have_last) {
        // A counter that went back was reset. Otherwise the increase is
        // last - (counter at the window's start): the persisted increase and
        // last reading stay consistent without a write per reading.
        if (value < sl.last) changed = true;
        sl.inc += value >= sl.last ? value - sl.last : value;
      }
      sl.have_last = true;
      sl.last_ts = ts;
      sl.last = value;
      sl.shown = sl.inc;
      const bool on = sl.raw ? sl.inc > c.value - c.hysteresis : sl.inc > c.value;
      set_raw(sl, on, tt, changed);
    }
  }
  s.at = tt;
  if (changed) mark_dirty(s);
  evaluate(s, tt, out);
}

std::optional<TimestampMs> Evaluator::deadline(const AssetState& s) const {
  std::optional<TimestampMs> best;
  auto consider = [&](TimestampMs d) {
    if (d > s.at && (!best || d < *best)) best = d;
  };
  for (std::size_t i = 0; i < s.conds.size(); ++i) {
    for (const Slot& sl : s.conds[i]) {
      if (ops_[i] == Op::kNoData) {
        consider(sl.last_ts + for_ms_[i]);
      } else {
        if (sl.raw && for_ms_[i] > 0) consider(sl.since + for_ms_[i]);
        if (sl.in_window) consider(sl.win_end + 1);
      }
    }
  }
  return best;
}

void Evaluator::advance_asset(AssetState& s, TimestampMs now, std::vector<Fire>& out, bool evaluate_now) {
  for (int guard = 0; guard < 100000; ++guard) {
    auto d = deadline(s);
    if (!d || *d > now) break;
    for (std::size_t i = 0; i < s.conds.size(); ++i)
      for (Slot& sl : s.conds[i])
        if (sl.in_window && sl.win_end + 1 <= *d) {
          sl.in_window = false;
          sl.inc = 0;
          sl.raw = false;
          mark_dirty(s);
        }
    s.at = *d;
    evaluate(s, *d, out);
  }
  if (now > s.at) {
    s.at = now;
    if (evaluate_now) evaluate(s, now, out);  // also what a restored state's deadline in the past now means
  }
}

void Evaluator::mark_dirty(AssetState& s) {
  if (s.dirty) return;
  s.dirty = true;
  dirty_.push_back(s.asset_id);
}

void Evaluator::advance(TimestampMs now, std::vector<Fire>& out) {
  for (auto& [id, s] : states_) advance_asset(*s, now, out, true);
}

std::optional<TimestampMs> Evaluator::next_deadline() const {
  std::optional<TimestampMs> best;
  for (const auto& [id, s] : states_) {
    auto d = deadline(*s);
    if (d && (!best || *d < *best)) best = d;
  }
  return best;
}

void Evaluator::evaluate(AssetState& s, TimestampMs t, std::vector<Fire>& out) {
  std::array<const Slot*, kMaxConditions> met{};  // no allocation per reading
  bool all = true;
  for (std::size_t i = 0; i < rule_.conditions.size() && all; ++i) {
    for (const Slot& sl : s.conds[i]) {
      const bool holds = ops_[i] == Op::kNoData ? t - sl.last_ts >= for_ms_[i] : sl.raw && t - sl.since >= for_ms_[i];
      if (holds) {
        met[i] = &sl;
        break;
      }
    }
    all = met[i] != nullptr;
  }
  if (all == s.fired) return;
  s.fired = all;
  mark_dirty(s);
  if (!all) return;
  Fire f;
  f.ts = t;
  f.asset_id = s.asset_id;
  std::string expl;
  for (std::size_t i = 0; i < rule_.conditions.size(); ++i) {
    const Condition& c = rule_.conditions[i];
    const Slot& sl = *met[i];
    if (!f.position_id && sl.position) f.position_id = sl.position;
    if (!expl.empty()) expl += "; ";
    const std::string where = sl.position ? " at position " + std::to_string(*sl.position) : "";
    if (is_no_data(c)) {
      expl += "no " + (c.metric == "*" ? std::string("reading") : c.metric + " reading") + where + " since " +
              iso_time(sl.last_ts) + " (" + fmt_num(c.for_s) + " s)";
    } else if (c.op == "increase_above") {
      expl += c.metric + " rose " + fmt_num(sl.shown) + where + " this " + c.window + " (since " +
              iso_time(sl.win_start) + ", " + s.tz_name + "), above " + fmt_num(c.value);
    } else if (c.op == "state_held") {
      expl += c.metric + " = " + fmt_num(c.value) + where + " since " + iso_time(sl.since);
    } else {
      const bool rate = c.op.rfind("rate_", 0) == 0;
      const bool above = c.op == "above" || c.op == "rate_above";
      expl += c.metric + (rate ? " changing " + fmt_num(sl.shown) + " per " + fmt_num(c.per_s) + " s"
                               : " " + fmt_num(sl.shown)) +
              where + (above ? " above " : " below ") + fmt_num(c.value) + " since " + iso_time(sl.since);
    }
  }
  f.explanation = std::move(expl);
  out.push_back(std::move(f));
}

std::vector<Id> Evaluator::take_dirty() {
  std::vector<Id> v;
  v.swap(dirty_);
  for (Id id : v) {
    auto it = states_.find(id);
    if (it == states_.end()) continue;
    it->second->dirty = false;
    for (auto& slots : it->second->conds)
      for (Slot& sl : slots) sl.saved_ts = sl.last_ts;
  }
  return v;
}

nlohmann::json Evaluator::state_json(Id asset_id) const {
  auto it = states_.find(asset_id);
  if (it == states_.end()) return nullptr;
  const AssetState& s = *it->second;
  nlohmann::json conds = nlohmann::json::array();
  for (const auto& slots : s.conds) {
    nlohmann::json a = nlohmann::json::array();
    for (const Slot& sl : slots) {
      nlohmann::json o{{"r", sl.raw}, {"s", sl.since}, {"h", sl.have_last}, {"lt", sl.last_ts},
                       {"lv", sl.last}, {"v", sl.shown}};
      o["p"] = sl.position ? nlohmann::json(*sl.position) : nlohmann::json(nullptr);
      if (sl.in_window) o["w"] = {sl.win_start, sl.win_end, sl.inc};
      a.push_back(std::move(o));
    }
    conds.push_back(std::move(a));
  }
  return {{"f", s.fired}, {"at", s.at}, {"c", std::move(conds)}};
}

Status Evaluator::load_state(const Target& t, const nlohmann::json& j, std::optional<TimestampMs> resumed_at) {
  try {
    if (!j.is_object()) return Status::InvalidArgument("rule state: not an object");
    const auto& c = j.at("c");
    if (!c.is_array() || c.size() != rule_.conditions.size())
      return Status::InvalidArgument("rule state: does not fit the rule's conditions");
    AssetState& s = state_for(t, j.at("at").get<TimestampMs>());
    s.fired = j.at("f").get<bool>();
    s.at = j.at("at").get<TimestampMs>();
    for (std::size_t i = 0; i < c.size(); ++i) {
      s.conds[i].clear();
      for (const auto& o : c[i]) {
        Slot sl;
        if (!o.at("p").is_null()) sl.position = o.at("p").get<Id>();
        sl.raw = o.at("r").get<bool>();
        sl.since = o.at("s").get<TimestampMs>();
        sl.have_last = o.at("h").get<bool>();
        sl.last_ts = o.at("lt").get<TimestampMs>();
        sl.last = o.at("lv").get<double>();
        sl.shown = o.at("v").get<double>();
        if (auto w = o.find("w"); w != o.end()) {
          sl.in_window = true;
          sl.win_start = w->at(0).get<TimestampMs>();
          sl.win_end = w->at(1).get<TimestampMs>();
          sl.inc = w->at(2).get<double>();
        }
        sl.saved_ts = sl.last_ts;
        s.conds[i].push_back(sl);
      }
      if (is_no_data(rule_.conditions[i]) && s.conds[i].size() != 1) {
        states_.erase(t.asset_id);
        return Status::InvalidArgument("rule state: no_data needs one slot");
      }
    }
    if (resumed_at && *resumed_at > s.at) {
      // The time the evaluation was not running is no evidence of silence.
      const TimestampMs gap = *resumed_at - s.at;
      for (std::size_t i = 0; i < s.conds.size(); ++i)
        if (is_no_data(rule_.conditions[i]))
          for (Slot& sl : s.conds[i]) sl.last_ts += gap;
    }
    s.dirty = false;
    dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), t.asset_id), dirty_.end());
    return Status::Ok();
  } catch (const std::exception& e) {
    states_.erase(t.asset_id);
    return Status::InvalidArgument(std::string("rule state: ") + e.what());
  }
}

}  // namespace vigil::rules
