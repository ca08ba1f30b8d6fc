// SPDX-License-Identifier: Apache-2.0
#include "http/fleet_query.h"

#include <charconv>
#include <cstdio>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/text_escape.h"
#include "vigil/store.h"

namespace vigil::http {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Splits "key<op>value"; false when there is no operator.
bool split_term(std::string_view t, std::string_view& key, FleetTerm::Op& op, std::string_view& value) {
  std::size_t i = 0;
  while (i < t.size() && t[i] != '<' && t[i] != '>' && t[i] != '=' && t[i] != '!') ++i;
  if (i == t.size()) return false;
  key = t.substr(0, i);
  std::size_t n = 1;
  const char c = t[i];
  const bool eq_next = i + 1 < t.size() && t[i + 1] == '=';
  if (c == '<') op = eq_next ? (n = 2, FleetTerm::Op::kLe) : FleetTerm::Op::kLt;
  else if (c == '>') op = eq_next ? (n = 2, FleetTerm::Op::kGe) : FleetTerm::Op::kGt;
  else if (c == '=') op = FleetTerm::Op::kEq;
  else if (eq_next) op = (n = 2, FleetTerm::Op::kNe);
  else return false;  // a lone '!'
  value = t.substr(i + n);
  return true;
}

std::optional<double> parse_number(std::string_view v) {
  if (!v.empty() && v.back() == '%') v.remove_suffix(1);
  if (v.empty() || v.size() > 16) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<TimestampMs> parse_duration(std::string_view v) {
  if (v.size() < 2 || v.size() > 12) return std::nullopt;
  TimestampMs unit = 0;
  switch (v.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 86400 * 1000; break;
    default: return std::nullopt;
  }
  v.remove_suffix(1);
  std::uint32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n > 3650u * 86400u) return std::nullopt;
  return static_cast<TimestampMs>(n) * unit;
}

template <typename T>
bool compare(FleetTerm::Op op, const T& a, const T& b) {
  switch (op) {
    case FleetTerm::Op::kLt: return a < b;
    case FleetTerm::Op::kLe: return a <= b;
    case FleetTerm::Op::kGt: return a > b;
    case FleetTerm::Op::kGe: return a >= b;
    case FleetTerm::Op::kEq: return a == b;
    case FleetTerm::Op::kNe: return a != b;
  }
  return false;
}

std::optional<std::string> parse_term(std::string_view t, FleetTerm& out) {
  std::string_view key, value;
  if (!split_term(t, key, out.op, value))
    return "expected key<op>value with an operator < <= > >= = !=";
  if (key.empty()) return "the key is missing";
  if (value.empty()) return "the value is missing";
  if (value.find_first_of("<>=!") != std::string_view::npos) return "more than one operator";
  out.text = std::string(t);
  if (key == "battery") {
    out.field = FleetTerm::Field::kBattery;
    auto n = parse_number(value);
    if (!n || *n < 0 || *n > 100) return "battery takes a percentage 0..100";
    out.number = *n;
    return std::nullopt;
  }
  if (key == "firmware") {
    out.field = FleetTerm::Field::kFirmware;
    auto v = parse_version(value);
    if (!v) return "firmware takes a version like 1.3 or 1.3.0";
    out.version = std::move(*v);
    return std::nullopt;
  }
  if (key == "no_data") {
    out.field = FleetTerm::Field::kNoData;
    if (out.op != FleetTerm::Op::kGt && out.op != FleetTerm::Op::kGe && out.op != FleetTerm::Op::kLt &&
        out.op != FleetTerm::Op::kLe)
      return "no_data takes < or > and a duration";
    auto d = parse_duration(value);
    if (!d) return "no_data takes a duration like 30m, 2h or 7d";
    out.duration_ms = *d;
    return std::nullopt;
  }
  out.field = FleetTerm::Field::kTag;
  if (!valid_tag_key(key)) return "unknown field or bad tag key '" + std::string(key) + "'";
  if (out.op != FleetTerm::Op::kEq && out.op != FleetTerm::Op::kNe) return "tags take = or !=";
  if (value.size() > kMaxTagBytes) return "tag value longer than 64 bytes";
  out.key = std::string(key);
  out.value = std::string(value);
  return std::nullopt;
}

bool has_tag(const FleetSubject& s, const std::string& k, const std::string& v) {
  for (const auto& [tk, tv] : s.tags)
    if (tk == k && tv == v) return true;
  return false;
}

}  // namespace

std::string fleet_answer_members(const FleetEntry& e) {
  std::string out;
  out.reserve(160 + e.tags.size() * 24);
  auto key = [&](const char* k) {
    if (!out.empty()) out += ',';
    out += '"';
    out += k;
    out += "\":";
  };
  auto opt_id = [&](const std::optional<Id>& v) { out += v ? std::to_string(*v) : "null"; };
  key("id");
  out += std::to_string(e.id);
  key("address");
  append_json_string(out, e.address);
  key("name");
  append_json_string(out, e.name);
  key("position_id");
  opt_id(e.position_id);
  key("position");
  if (e.position_id) append_json_string(out, e.position);
  else out += "null";
  key("asset_id");
  opt_id(e.asset_id);
  key("asset");
  if (e.asset_id) append_json_string(out, e.asset);
  else out += "null";
  key("firmware");
  if (e.firmware) append_json_string(out, *e.firmware);
  else out += "null";
  key("tags");
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < e.tags.size(); ++i) {
    // The sensor's own first, then position, asset: a key's first occurrence wins.
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = e.tags[j].first == e.tags[i].first;
    if (seen) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, e.tags[i].first);
    out += ':';
    append_json_string(out, e.tags[i].second);
  }
  out += '}';
  return out;
}


std::optional<std::vector<std::uint32_t>> parse_version(std::string_view v) {
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
  std::vector<std::uint32_t> out;
  while (true) {
    const auto dot = v.find('.');
    const auto part = v.substr(0, dot);
    if (part.empty() || part.size() > 9 || out.size() == 4) return std::nullopt;
    std::uint32_t n = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    out.push_back(n);
    if (dot == std::string_view::npos) break;
    v.remove_prefix(dot + 1);
  }
  return out;
}

int compare_versions(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

std::optional<FleetQueryError> parse_fleet_query(std::string_view q, FleetQuery& out) {
  out.terms.clear();
  if (q.size() > kMaxQueryBytes)
    return FleetQueryError{std::string(q.substr(0, 32)), "the query is longer than " +
                                                            std::to_string(kMaxQueryBytes) + " bytes"};
  std::size_t i = 0;
  while (i < q.size()) {
    while (i < q.size() && is_space(q[i])) ++i;
    if (i == q.size()) break;
    std::size_t j = i;
    while (j < q.size() && !is_space(q[j])) ++j;
    const std::string_view t = q.substr(i, j - i);
    i = j;
    if (t == "AND" || t == "and") continue;  // AND is implied; allowed for readability
    if (out.terms.size() == kMaxTerms)
      return FleetQueryError{std::string(t), "at most " + std::to_string(kMaxTerms) + " terms"};
    FleetTerm term;
    if (auto e = parse_term(t, term)) return FleetQueryError{std::string(t), *e};
    out.terms.push_back(std::move(term));
  }
  return std::nullopt;
}

bool fleet_matches(const FleetQuery& q, const FleetSubject& s, TimestampMs now) {
  for (const auto& t : q.terms) {
    switch (t.field) {
      case FleetTerm::Field::kBattery:
        if (!s.battery_pct || !compare(t.op, *s.battery_pct, t.number)) return false;
        break;
      case FleetTerm::Field::kFirmware: {
        if (!s.firmware) return false;
        auto v = parse_version(*s.firmware);
        if (!v || !compare(t.op, compare_versions(*v, t.version), 0)) return false;
        break;
      }
      case FleetTerm::Field::kNoData: {
        // Never heard: silent forever (matches >, not <).
        const bool silent_longer = !s.last_data || now - *s.last_data > t.duration_ms;
        const bool silent_at_least = !s.last_data || now - *s.last_data >= t.duration_ms;
        bool ok = false;
        if (t.op == FleetTerm::Op::kGt) ok = silent_longer;
        else if (t.op == FleetTerm::Op::kGe) ok = silent_at_least;
        else if (t.op == FleetTerm::Op::kLt) ok = !silent_at_least;
        else ok = !silent_longer;
        if (!ok) return false;
        break;
      }
      case FleetTerm::Field::kTag: {
        const bool has = has_tag(s, t.key, t.value);
        if (t.op == FleetTerm::Op::kEq ? !has : has) return false;
        break;
      }
    }
  }
  return true;
}

Result<std::shared_ptr<const FleetCatalog>> load_fleet_catalog(Store& store) {
  auto sensors = store.sensors();
  if (!sensors) return sensors.status();
  auto positions = store.positions();
  if (!positions) return positions.status();
  auto assets = store.assets();
  if (!assets) return assets.status();
  auto series = store.series();
  if (!series) return series.status();
  auto tags = store.all_tags();
  if (!tags) return tags.status();
  auto firmware = store.sensor_firmware();
  if (!firmware) return firmware.status();

  std::unordered_map<Id, const Position*> pos;
  pos.reserve(positions->size());
  for (const auto& p : *positions) pos.emplace(p.id, &p);
  std::unordered_map<Id, const Asset*> ast;
  ast.reserve(assets->size());
  for (const auto& a : *assets) ast.emplace(a.id, &a);
  using TagList = std::vector<std::pair<std::string, std::string>>;
  std::unordered_map<Id, TagList> tag_of[3];  // by TagKind
  for (auto& t : *tags) {
    const auto k = static_cast<std::size_t>(t.kind);
    if (k < 3) tag_of[k][t.id].emplace_back(std::move(t.key), std::move(t.value));
  }
  auto out = std::make_shared<FleetCatalog>();
  out->sensors.reserve(sensors->size());
  std::unordered_map<Id, std::size_t> index;  // sensor id → out->sensors
  index.reserve(sensors->size());
  for (auto& s : *sensors) {
    if (s.decommissioned_at) continue;
    FleetEntry e;
    if (s.position_id) {
      auto it = pos.find(*s.position_id);
      if (it == pos.end()) continue;  // archived position
      e.position_id = it->second->id;
      e.position = it->second->name;
      if (auto ai = ast.find(it->second->asset_id); ai != ast.end()) {
        e.asset_id = ai->second->id;
        e.asset = ai->second->name;
      }
    }
    e.id = s.id;
    e.address = std::move(s.address);
    e.name = std::move(s.name);
    if (auto f = firmware->find(s.id); f != firmware->end()) e.firmware = f->second;
    auto add = [&](TagKind k, Id id) {
      const auto& m = tag_of[static_cast<std::size_t>(k)];
      if (auto it = m.find(id); it != m.end()) e.tags.insert(e.tags.end(), it->second.begin(), it->second.end());
    };
    add(TagKind::kSensor, e.id);
    if (e.position_id) add(TagKind::kPosition, *e.position_id);
    if (e.asset_id) add(TagKind::kAsset, *e.asset_id);
    index.emplace(e.id, out->sensors.size());
    out->sensors.push_back(std::move(e));
  }
  for (const auto& se : *series) {
    auto it = index.find(se.sensor_id);
    if (it == index.end()) continue;
    auto& e = out->sensors[it->second];
    e.series.push_back(se.id);
    if (se.metric == "battery_pct") e.battery_series.push_back(se.id);
  }
  return std::shared_ptr<const FleetCatalog>(std::move(out));
}

Result<std::shared_ptr<const FleetCatalog>> FleetCatalogCache::get(Store& store) {
  auto fresh = [&]() -> std::shared_ptr<const FleetCatalog> {
    std::lock_guard lk(mu_);
    return catalog_ && generation_ == store.catalog_generation() ? catalog_ : nullptr;
  };
  if (auto c = fresh()) return c;
  std::lock_guard load(load_mu_);
  if (auto c = fresh()) return c;  // another request loaded it meanwhile
  // The generation before the reads: a write during them makes the next
  // request load again rather than keep what may have missed it.
  const std::uint64_t gen = store.catalog_generation();
  auto c = load_fleet_catalog(store);
  if (!c) return c.status();
  std::lock_guard lk(mu_);
  catalog_ = *c;
  generation_ = gen;
  return *c;
}

}  // namespace vigil::http
