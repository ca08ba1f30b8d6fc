// SPDX-License-Identifier: Apache-2.0
#include "http/fleet_query.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/text_escape.h"
#include "vigil/sqlite.h"
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

namespace {

// A text column as a view into SQLite's row (valid until the next step):
// strings are made once, where they are kept.
std::string_view column_view(sql::Stmt& q, int col) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(q.raw(), col));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(q.raw(), col))) : std::string_view();
}

// Steps `sql` (no parameters) to the end, calling row(q) per row.
template <typename Row>
Status for_each_row(sql::Db& db, const char* sql, Row&& row) {
  auto q = db.prepare(sql);  // cached on the connection: prepared once
  if (!q) return q.status();
  for (;;) {
    auto r = (*q)->step();
    if (!r) {
      (*q)->reset();
      return r.status();
    }
    if (!*r) break;
    row(**q);
  }
  (*q)->reset();
  return Status::Ok();
}

// What the search reads: five plain scans in rowid order, each of only the
// columns it needs (no per-row lookups in SQLite: the joins are done below
// on arrays indexed by id, which is cheaper than a B-tree search per row).
// Live (not archived) assets and positions, as Store::assets()/positions().
constexpr const char* kFleetAssetsSql = "SELECT id, name FROM assets WHERE archived_at IS NULL ORDER BY id";
constexpr const char* kFleetPositionsSql =
    "SELECT id, asset_id, name FROM positions WHERE archived_at IS NULL ORDER BY id";
// Sensors in service, in Store::sensors()'s order.
constexpr const char* kFleetSensorsSql =
    "SELECT id, address, name, firmware, position_id FROM sensors WHERE decommissioned_at IS NULL ORDER BY id";
// Every tag row: Store::all_tags()'s statement, so the same rows in the same order.
constexpr const char* kFleetTagsSql = "SELECT kind, id, key, value FROM catalog_tags";
// Every series (retired ones too: their last data is the sensor's) in id
// order, battery_pct flagged by SQLite rather than by copying each metric.
constexpr const char* kFleetSeriesSql = "SELECT sensor_id, id, metric = 'battery_pct' FROM series ORDER BY id";

using TagList = std::vector<std::pair<std::string, std::string>>;
constexpr std::uint32_t kNoSlot = 0xffffffffu;

// id → slot (the row's index) for ids added in ascending order: a direct
// table while the ids are dense (INTEGER PRIMARY KEYs usually are), else a
// binary search over the sorted ids. Bounded by the rows added.
class IdIndex {
 public:
  void reserve(std::size_t n) { ids_.reserve(n); }
  void add(Id id) { ids_.push_back(id); }
  // Call once after the last add().
  void seal() {
    if (ids_.empty() || ids_.front() < 0) return;
    const auto max = static_cast<std::uint64_t>(ids_.back());
    if (max > 4 * ids_.size() + 1024) return;  // sparse: binary search
    table_.assign(static_cast<std::size_t>(max) + 1, kNoSlot);
    for (std::size_t i = 0; i < ids_.size(); ++i) table_[static_cast<std::size_t>(ids_[i])] = static_cast<std::uint32_t>(i);
  }
  std::uint32_t find(Id id) const {
    if (!table_.empty()) {
      return id >= 0 && static_cast<std::uint64_t>(id) < table_.size() ? table_[static_cast<std::size_t>(id)] : kNoSlot;
    }
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    return it != ids_.end() && *it == id ? static_cast<std::uint32_t>(it - ids_.begin()) : kNoSlot;
  }
  std::size_t size() const { return ids_.size(); }

 private:
  std::vector<Id> ids_;              // ascending
  std::vector<std::uint32_t> table_;  // id → slot, when dense
};

struct LiveAsset {
  Id id;
  std::string name;
  TagList tags;
};
struct LivePosition {
  Id id;
  std::uint32_t asset;  // slot in the assets, kNoSlot: archived or missing
  std::string name;
  TagList tags;
};

// Loads the catalog into `into`, reusing its entries and their buffers
// (every member of each is assigned; entries past the sensors listed now
// are dropped). Left partly written on an error.
Status load_fleet_catalog_into(Store& store, FleetCatalog& into) {
  auto& entries = into.sensors;
  std::size_t listed = 0;  // entries[0, listed) are this load's; the rest are reused or dropped
  std::vector<LiveAsset> assets;
  std::vector<LivePosition> positions;
  IdIndex asset_index, position_index, entry_index;
  std::vector<std::uint32_t> position_of;  // entry → slot in positions (kNoSlot: none)
  position_of.reserve(entries.capacity());
  entry_index.reserve(entries.capacity());
  struct SeriesRow {
    std::uint32_t entry;
    bool battery;
    Id id;
  };
  std::vector<SeriesRow> series;
  // The reads on one reader connection, inside one read transaction: one
  // snapshot, so the catalog is consistent as of one commit.
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    VIGIL_RETURN_IF_ERROR(db.exec("BEGIN"));
    VIGIL_RETURN_IF_ERROR(for_each_row(db, kFleetAssetsSql, [&](sql::Stmt& q) {
      asset_index.add(q.i64(0));
      assets.push_back({q.i64(0), std::string(column_view(q, 1)), {}});
    }));
    asset_index.seal();
    positions.reserve(std::max<std::size_t>(entries.capacity(), 16));
    position_index.reserve(positions.capacity());
    VIGIL_RETURN_IF_ERROR(for_each_row(db, kFleetPositionsSql, [&](sql::Stmt& q) {
      position_index.add(q.i64(0));
      positions.push_back({q.i64(0), asset_index.find(q.i64(1)), std::string(column_view(q, 2)), {}});
    }));
    position_index.seal();
    VIGIL_RETURN_IF_ERROR(for_each_row(db, kFleetSensorsSql, [&](sql::Stmt& q) {
      std::uint32_t pos = kNoSlot;
      if (!q.is_null(4)) {
        pos = position_index.find(q.i64(4));
        if (pos == kNoSlot) return;  // on an archived position
      }
      // Every member is assigned (assign(): the string keeps its buffer).
      FleetEntry& e = listed < entries.size() ? entries[listed] : entries.emplace_back();
      ++listed;
      e.id = q.i64(0);
      e.address.assign(column_view(q, 1));
      e.name.assign(column_view(q, 2));
      if (q.is_null(3)) e.firmware.reset();
      else if (e.firmware) e.firmware->assign(column_view(q, 3));
      else e.firmware.emplace(column_view(q, 3));
      const LivePosition* p = pos != kNoSlot ? &positions[pos] : nullptr;
      const LiveAsset* a = p && p->asset != kNoSlot ? &assets[p->asset] : nullptr;
      e.position_id = p ? std::optional<Id>(p->id) : std::nullopt;
      e.position.assign(p ? p->name : std::string_view());
      e.asset_id = a ? std::optional<Id>(a->id) : std::nullopt;
      e.asset.assign(a ? a->name : std::string_view());
      e.tags.clear();
      e.series.clear();
      e.battery_series.clear();
      entry_index.add(e.id);
      position_of.push_back(pos);
    }));
    entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(listed), entries.end());
    entry_index.seal();
    // A sensor's own tags go straight into its entry (they come first);
    // its position's and asset's are appended below.
    VIGIL_RETURN_IF_ERROR(for_each_row(db, kFleetTagsSql, [&](sql::Stmt& q) {
      const std::string_view kind = column_view(q, 0);
      const Id id = q.i64(1);
      TagList* list = nullptr;
      // As Store's tag_kind_of: anything but asset/position is a sensor's.
      if (kind == "asset") {
        if (auto a = asset_index.find(id); a != kNoSlot) list = &assets[a].tags;
      } else if (kind == "position") {
        if (auto p = position_index.find(id); p != kNoSlot) list = &positions[p].tags;
      } else if (auto e = entry_index.find(id); e != kNoSlot) {
        list = &entries[e].tags;
      }
      if (list) list->emplace_back(column_view(q, 2), column_view(q, 3));
    }));
    series.reserve(entries.size() * 2);
    VIGIL_RETURN_IF_ERROR(for_each_row(db, kFleetSeriesSql, [&](sql::Stmt& q) {
      const auto e = entry_index.find(q.i64(0));
      if (e != kNoSlot) series.push_back({e, q.i64(2) != 0, q.i64(1)});  // else: not listed
    }));
    return db.exec("COMMIT");
  }));

  // Each entry's tags (its own, then its position's, then its asset's: the
  // order the answer prefers a key in) and series, each sized once.
  std::vector<std::uint32_t> n_series(entries.size(), 0), n_battery(entries.size(), 0);
  for (const auto& s : series) {
    ++n_series[s.entry];
    n_battery[s.entry] += s.battery ? 1 : 0;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    FleetEntry& e = entries[i];
    if (position_of[i] != kNoSlot) {
      const LivePosition& p = positions[position_of[i]];
      const TagList* at = p.asset != kNoSlot ? &assets[p.asset].tags : nullptr;
      e.tags.reserve(e.tags.size() + p.tags.size() + (at ? at->size() : 0));
      e.tags.insert(e.tags.end(), p.tags.begin(), p.tags.end());
      if (at) e.tags.insert(e.tags.end(), at->begin(), at->end());
    }
    e.series.reserve(n_series[i]);
    e.battery_series.reserve(n_battery[i]);
  }
  for (const auto& s : series) {
    FleetEntry& e = entries[s.entry];
    e.series.push_back(s.id);
    if (s.battery) e.battery_series.push_back(s.id);
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const FleetCatalog>> load_fleet_catalog(Store& store, std::size_t size_hint) {
  auto out = std::make_shared<FleetCatalog>();
  out->sensors.reserve(std::min<std::size_t>(size_hint, kMaxFleetSizeHint));
  VIGIL_RETURN_IF_ERROR(load_fleet_catalog_into(store, *out));
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
  // The stale catalog is taken out (requests wait on load_mu_ meanwhile).
  // When no request holds it any more it is loaded into again, reusing its
  // entries' strings and vectors: a reload then allocates and frees next to
  // nothing, which is half of what a load costs besides SQLite's own work.
  // Otherwise a new one, sized like the last.
  std::shared_ptr<FleetCatalog> c;
  {
    std::lock_guard lk(mu_);
    c = std::move(catalog_);
    catalog_.reset();
  }
  // use_count() == 1: ours is the only reference, and no other can appear
  // (catalog_ is empty and we hold load_mu_), so nothing reads it while we write.
  if (c && c.use_count() == 1) {
    // Pairs with the release of the last request that dropped it: its reads
    // of the catalog happen before our writes.
    std::atomic_thread_fence(std::memory_order_acquire);
  } else {
    const std::size_t hint = c ? c->sensors.size() + c->sensors.size() / 16 + 16 : 0;
    c = std::make_shared<FleetCatalog>();
    c->sensors.reserve(std::min<std::size_t>(hint, kMaxFleetSizeHint));
  }
  // On an error nothing is kept: the next request loads again.
  VIGIL_RETURN_IF_ERROR(load_fleet_catalog_into(store, *c));
  {
    std::lock_guard lk(mu_);
    catalog_ = c;
    generation_ = gen;
  }
  return std::shared_ptr<const FleetCatalog>(std::move(c));
}

}  // namespace vigil::http
