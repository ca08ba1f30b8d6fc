// SPDX-License-Identifier: Apache-2.0
// RulesEngine: rules and their pending state in SQLite, evaluation of live
// readings through one Evaluator per rule, alerts through the sink.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "rules/evaluator.h"
#include "rules/rules.h"

namespace vigil::rules {
namespace {

constexpr TimestampMs kFlushIntervalMs = 5000;     // pending state written at most this often
constexpr std::size_t kMaxPreviewPoints = 5'000'000;

struct AssetInfo {
  Id site_id = 0;
  std::string name;
};

// Sites, assets and positions as the evaluation needs them.
struct Catalog {
  std::unordered_map<Id, Id> position_asset;
  std::unordered_map<Id, AssetInfo> assets;
  std::unordered_map<Id, std::string> site_tz;

  Status load(Store& store) {
    auto sites = store.sites();
    if (!sites) return sites.status();
    auto assets_r = store.assets();
    if (!assets_r) return assets_r.status();
    auto positions = store.positions();
    if (!positions) return positions.status();
    position_asset.clear();
    assets.clear();
    site_tz.clear();
    for (const auto& s : *sites) site_tz[s.id] = s.timezone;
    for (const auto& a : *assets_r) assets[a.id] = {a.site_id, a.name};
    for (const auto& p : *positions) position_asset[p.id] = p.asset_id;
    return Status::Ok();
  }
  std::string_view tz(Id site) const {
    auto it = site_tz.find(site);
    return it == site_tz.end() ? std::string_view("UTC") : std::string_view(it->second);
  }
  // The target of a reading on `position`; nullopt for an unknown position.
  std::optional<Target> target(Id position) const {
    auto p = position_asset.find(position);
    if (p == position_asset.end()) return std::nullopt;
    auto a = assets.find(p->second);
    if (a == assets.end()) return std::nullopt;
    return Target{a->second.site_id, p->second, position, tz(a->second.site_id)};
  }
};

}  // namespace

struct RulesEngine::Impl {
  Store& store;
  const Clock& clock;
  AlertSink sink;

  struct Entry {
    Rule rule;
    Evaluator ev;
  };
  struct Bucket {
    std::vector<Entry*> global;
    std::unordered_map<Id, std::vector<Entry*>> site, asset, position;
  };
  struct Pending {
    alerts::ExternalAlert alert;
  };

  // Per position, the rules each metric's readings feed (built on first use
  // from the index; dropped with it): a reading costs one hash lookup and a
  // scan of the position's few metrics.
  struct Route {
    std::string metric;
    std::vector<Entry*> entries;  // the metric's rules and the "*" (any metric) rules in scope
  };
  struct PositionRoutes {
    Target target;
    std::vector<Route> routes;
  };

  mutable std::mutex mu;
  std::map<Id, std::unique_ptr<Entry>> rules;        // guarded by mu
  mutable std::unordered_map<Id, PositionRoutes> routes;  // guarded by mu
  std::unordered_map<std::string, Bucket> index;     // metric ("*": any) → rules reading it; guarded by mu
  mutable Catalog catalog;                           // guarded by mu
  mutable bool catalog_stale = true;                 // guarded by mu
  mutable std::unordered_set<std::string> series_metrics;  // guarded by mu
  TimestampMs last_flush = 0;                        // guarded by mu
  std::vector<Fire> scratch;                         // guarded by mu

  Impl(Store& s, const Clock& c, AlertSink k) : store(s), clock(c), sink(std::move(k)) {}

  // REQUIRES: mu held.
  void refresh_catalog() const {
    if (!catalog_stale) return;
    auto st = catalog.load(store);
    if (!st.ok()) {
      spdlog::warn("rules: reading the catalog: {}", st.ToString());
      return;
    }
    catalog_stale = false;
    routes.clear();  // targets point into the catalog
  }

  // REQUIRES: mu held. The rules a reading of `metric` on `position` feeds;
  // null for a position the catalog does not know.
  const std::vector<Entry*>* route(Id position, const std::string& metric, const Target** target) {
    auto it = routes.find(position);
    if (it == routes.end()) {
      auto t = catalog.target(position);
      if (!t) return nullptr;
      it = routes.emplace(position, PositionRoutes{*t, {}}).first;
    }
    PositionRoutes& pr = it->second;
    *target = &pr.target;
    for (const Route& r : pr.routes)
      if (r.metric == metric) return &r.entries;
    Route r;
    r.metric = metric;
    auto add = [&](const std::string& key) {
      auto b = index.find(key);
      if (b == index.end()) return;
      auto take = [&](const std::vector<Entry*>& v) {
        for (Entry* e : v)
          if (std::find(r.entries.begin(), r.entries.end(), e) == r.entries.end()) r.entries.push_back(e);
      };
      take(b->second.global);
      if (auto x = b->second.site.find(pr.target.site_id); x != b->second.site.end()) take(x->second);
      if (auto x = b->second.asset.find(pr.target.asset_id); x != b->second.asset.end()) take(x->second);
      if (auto x = b->second.position.find(position); x != b->second.position.end()) take(x->second);
    };
    add(metric);
    if (metric != "*") add("*");
    pr.routes.push_back(std::move(r));
    return &pr.routes.back().entries;
  }

  void reindex() {
    index.clear();
    routes.clear();
    for (auto& [id, e] : rules) {
      if (!e->rule.enabled) continue;
      std::unordered_set<std::string> keys;
      for (const auto& c : e->rule.conditions) keys.insert(c.metric);
      for (const auto& k : keys) {
        Bucket& b = index[k];
        const Scope& s = e->rule.scope;
        if (s.position_id) b.position[*s.position_id].push_back(e.get());
        else if (s.asset_id) b.asset[*s.asset_id].push_back(e.get());
        else if (s.site_id) b.site[*s.site_id].push_back(e.get());
        else b.global.push_back(e.get());
      }
    }
  }

  // no_data needs every asset in scope tracked, readings or not.
  void track_assets(Entry& e, TimestampMs now) {
    if (!e.rule.enabled || !e.ev.has_no_data()) return;
    const Scope& s = e.rule.scope;
    if (s.position_id) {
      if (auto t = catalog.target(*s.position_id)) e.ev.add_asset(*t, now);
      return;
    }
    for (const auto& [asset_id, a] : catalog.assets) {
      if (!e.ev.in_scope(a.site_id, asset_id, std::nullopt)) continue;
      e.ev.add_asset(Target{a.site_id, asset_id, std::nullopt, catalog.tz(a.site_id)}, now);
    }
  }

  void collect(const Entry& e, std::vector<Fire>& fires, std::vector<alerts::ExternalAlert>& out) const {
    for (auto& f : fires) {
      alerts::ExternalAlert a;
      a.asset_id = f.asset_id;
      a.position_id = f.position_id;
      a.source = "rule:" + std::to_string(e.rule.id);
      a.kind = "rule";
      a.model = "rule";
      a.severity = e.rule.severity;
      std::string asset_name = f.asset_id ? "asset " + std::to_string(*f.asset_id) : "?";
      if (f.asset_id) {
        auto it = catalog.assets.find(*f.asset_id);
        if (it != catalog.assets.end() && !it->second.name.empty()) asset_name = it->second.name;
      }
      a.title = e.rule.name + " on " + asset_name;
      a.explanation = f.explanation;
      if (!e.rule.message.empty()) a.explanation += ". " + e.rule.message;
      out.push_back(std::move(a));
    }
    fires.clear();
  }

  void send(const std::vector<alerts::ExternalAlert>& alerts) {
    if (!sink) return;
    for (const auto& a : alerts) {
      auto st = sink(a);
      if (!st.ok()) spdlog::warn("rules: {}: raising the alert: {}", a.source, st.ToString());
    }
  }

  // Scope and pinned positions must name things that exist (and fit together).
  Status check_catalog(const Rule& r) {
    auto check = [&]() -> Status {
      const Scope& s = r.scope;
      if (s.position_id && !catalog.position_asset.count(*s.position_id))
        return Status::InvalidArgument("scope.position_id: no position " + std::to_string(*s.position_id));
      if (s.asset_id && !catalog.assets.count(*s.asset_id))
        return Status::InvalidArgument("scope.asset_id: no asset " + std::to_string(*s.asset_id));
      if (s.site_id && !catalog.site_tz.count(*s.site_id))
        return Status::InvalidArgument("scope.site_id: no site " + std::to_string(*s.site_id));
      for (std::size_t i = 0; i < r.conditions.size(); ++i) {
        const auto& c = r.conditions[i];
        if (!c.position_id) continue;
        const std::string p = "conditions[" + std::to_string(i) + "].position_id";
        auto t = catalog.target(*c.position_id);
        if (!t) return Status::InvalidArgument(p + ": no position " + std::to_string(*c.position_id));
        if (s.asset_id && t->asset_id != *s.asset_id)
          return Status::InvalidArgument(p + ": position " + std::to_string(*c.position_id) + " is not on asset " +
                                         std::to_string(*s.asset_id) + " (the rule's scope)");
        if (s.site_id && t->site_id != *s.site_id)
          return Status::InvalidArgument(p + ": position " + std::to_string(*c.position_id) + " is not at site " +
                                         std::to_string(*s.site_id) + " (the rule's scope)");
      }
      return Status::Ok();
    };
    auto st = check();
    if (st.ok()) return st;
    catalog_stale = true;  // maybe created a moment ago: look again
    refresh_catalog();
    return check();
  }

  Status write_state(TimestampMs now) {
    struct Row {
      Id rule, asset;
      std::string state;
    };
    std::vector<Row> rows;
    for (auto& [id, e] : rules)
      for (Id asset : e->ev.take_dirty()) rows.push_back({id, asset, e->ev.state_json(asset).dump()});
    last_flush = now;
    if (rows.empty()) return Status::Ok();
    return store.write_txn([&](sql::Db& db) -> Status {
      auto q = db.prepare("INSERT OR REPLACE INTO rule_state(rule_id, asset_id, state, updated_at) VALUES(?, ?, ?, ?)");
      if (!q) return q.status();
      for (const auto& r : rows)
        VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.rule).bind(2, r.asset).bind(3, r.state).bind(4, now).run());
      return Status::Ok();
    });
  }
};

Status RulesEngine::migrate(Store& store) {
  return store.migrate("rules", {
      R"sql(
CREATE TABLE IF NOT EXISTS rules(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state(
  rule_id INTEGER NOT NULL,
  asset_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(rule_id, asset_id)) WITHOUT ROWID;
)sql",
  });
}

RulesEngine::RulesEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulesEngine::~RulesEngine() {
  std::lock_guard lk(impl_->mu);
  auto st = impl_->write_state(impl_->clock.now_ms());
  if (!st.ok()) spdlog::warn("rules: writing pending state: {}", st.ToString());
}

Result<std::unique_ptr<RulesEngine>> RulesEngine::create(Store& store, const Clock& clock, AlertSink sink) {
  VIGIL_RETURN_IF_ERROR(migrate(store).Annotate("rules"));
  auto impl = std::make_unique<Impl>(store, clock, std::move(sink));
  struct StateRow {
    Id rule, asset;
    std::string state;
  };
  std::vector<StateRow> states;
  VIGIL_RETURN_IF_ERROR(store.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT id, body, created_at, updated_at FROM rules ORDER BY id");
    if (!q) return q.status();
    for (;;) {
      auto row = (*q)->step();
      if (!row) return row.status();
      if (!*row) break;
      const Id id = (*q)->i64(0);
      auto j = nlohmann::json::parse((*q)->text(1), nullptr, false);
      auto r = rule_from_json(j);
      if (!r) {
        spdlog::warn("rules: rule {} is not evaluated: {}", id, r.status().ToString());
        continue;
      }
      r->id = id;
      r->created_at = (*q)->i64(2);
      r->updated_at = (*q)->i64(3);
      Evaluator ev(*r);
      impl->rules.emplace(id, std::make_unique<Impl::Entry>(Impl::Entry{std::move(*r), std::move(ev)}));
    }
    (*q)->reset();
    auto s = db.prepare("SELECT rule_id, asset_id, state FROM rule_state");
    if (!s) return s.status();
    for (;;) {
      auto row = (*s)->step();
      if (!row) return row.status();
      if (!*row) break;
      states.push_back({(*s)->i64(0), (*s)->i64(1), (*s)->text(2)});
    }
    (*s)->reset();
    return Status::Ok();
  }));
  {
    std::lock_guard lk(impl->mu);
    impl->refresh_catalog();
    const TimestampMs resumed = clock.now_ms();
    for (const auto& st : states) {
      auto it = impl->rules.find(st.rule);
      auto a = impl->catalog.assets.find(st.asset);
      if (it == impl->rules.end() || a == impl->catalog.assets.end()) continue;
      Target t{a->second.site_id, st.asset, std::nullopt, impl->catalog.tz(a->second.site_id)};
      auto s = it->second->ev.load_state(t, nlohmann::json::parse(st.state, nullptr, false), resumed);
      if (!s.ok()) spdlog::warn("rules: rule {} asset {}: {}", st.rule, st.asset, s.ToString());
    }
    const TimestampMs now = clock.now_ms();
    for (auto& [id, e] : impl->rules) impl->track_assets(*e, now);
    impl->reindex();
    impl->last_flush = now;
  }
  return std::unique_ptr<RulesEngine>(new RulesEngine(std::move(impl)));
}

Result<std::vector<Rule>> RulesEngine::list() const {
  std::lock_guard lk(impl_->mu);
  std::vector<Rule> v;
  v.reserve(impl_->rules.size());
  for (const auto& [id, e] : impl_->rules) v.push_back(e->rule);
  return v;
}

Result<Rule> RulesEngine::get(Id id) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->rules.find(id);
  if (it == impl_->rules.end()) return Status::NotFound("rule " + std::to_string(id) + " does not exist");
  return it->second->rule;
}

bool RulesEngine::known_metric(const std::string& m) const {
  if (find_metric(m)) return true;
  if (!valid_metric_name(m)) return false;
  std::lock_guard lk(impl_->mu);
  if (impl_->series_metrics.count(m)) return true;
  auto series = impl_->store.series();
  if (!series) return false;
  for (const auto& s : *series) impl_->series_metrics.insert(s.metric);
  return impl_->series_metrics.count(m) > 0;
}

Result<Id> RulesEngine::add(const Rule& in, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate_rule(in, [this](const std::string& m) { return known_metric(m); }));
  std::lock_guard lk(impl_->mu);
  impl_->refresh_catalog();
  VIGIL_RETURN_IF_ERROR(impl_->check_catalog(in));
  Rule r = in;
  const TimestampMs now = impl_->clock.now_ms();
  r.created_at = r.updated_at = now;
  Rule body = r;
  body.id = 0;
  const std::string text = to_json(body).dump();
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("INSERT INTO rules(name, enabled, body, created_at, updated_at) VALUES(?, ?, ?, ?, ?)");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.name).bind(2, r.enabled ? 1 : 0).bind(3, text).bind(4, now).bind(5, now).run());
    r.id = db.last_insert_id();
    return Store::audit(db, now, actor, "rule.create", "rule/" + std::to_string(r.id), r.name);
  }));
  Evaluator ev(r);
  auto& e = impl_->rules[r.id];
  e = std::make_unique<Impl::Entry>(Impl::Entry{r, std::move(ev)});
  impl_->track_assets(*e, now);
  impl_->reindex();
  return r.id;
}

Status RulesEngine::update(Id id, const Rule& in, const std::string& actor) {
  VIGIL_RETURN_IF_ERROR(validate_rule(in, [this](const std::string& m) { return known_metric(m); }));
  std::lock_guard lk(impl_->mu);
  auto it = impl_->rules.find(id);
  if (it == impl_->rules.end()) return Status::NotFound("rule " + std::to_string(id) + " does not exist");
  impl_->refresh_catalog();
  VIGIL_RETURN_IF_ERROR(impl_->check_catalog(in));
  Rule r = in;
  const TimestampMs now = impl_->clock.now_ms();
  r.id = id;
  r.created_at = it->second->rule.created_at;
  r.updated_at = now;
  Rule body = r;
  body.id = 0;
  const std::string text = to_json(body).dump();
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("UPDATE rules SET name = ?, enabled = ?, body = ?, updated_at = ? WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, r.name).bind(2, r.enabled ? 1 : 0).bind(3, text).bind(4, now).bind(5, id).run());
    auto d = db.prepare("DELETE FROM rule_state WHERE rule_id = ?");
    if (!d) return d.status();
    VIGIL_RETURN_IF_ERROR((*d)->bind(1, id).run());
    return Store::audit(db, now, actor, "rule.update", "rule/" + std::to_string(id), r.name);
  }));
  Evaluator ev(r);
  it->second = std::make_unique<Impl::Entry>(Impl::Entry{r, std::move(ev)});
  impl_->track_assets(*it->second, now);
  impl_->reindex();
  return Status::Ok();
}

Status RulesEngine::remove(Id id, const std::string& actor) {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->rules.find(id);
  if (it == impl_->rules.end()) return Status::NotFound("rule " + std::to_string(id) + " does not exist");
  const TimestampMs now = impl_->clock.now_ms();
  const std::string name = it->second->rule.name;
  VIGIL_RETURN_IF_ERROR(impl_->store.write_txn([&](sql::Db& db) -> Status {
    auto d = db.prepare("DELETE FROM rule_state WHERE rule_id = ?");
    if (!d) return d.status();
    VIGIL_RETURN_IF_ERROR((*d)->bind(1, id).run());
    auto q = db.prepare("DELETE FROM rules WHERE id = ?");
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, id).run());
    return Store::audit(db, now, actor, "rule.delete", "rule/" + std::to_string(id), name);
  }));
  impl_->rules.erase(it);
  impl_->reindex();
  return Status::Ok();
}

void RulesEngine::on_readings(std::span<const AcceptedReading> readings) {
  std::vector<alerts::ExternalAlert> out;
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    if (m.index.empty()) return;
    for (const auto& ar : readings) {
      if (!ar.position_id) continue;
      const Reading& r = ar.reading;
      const Target* target = nullptr;
      const auto* entries = m.route(*ar.position_id, r.metric, &target);
      if (!entries) {
        m.catalog_stale = true;  // a position made after the catalog was read: next tick looks again
        continue;
      }
      if (entries->empty()) continue;
      const Target& t = *target;
      for (Impl::Entry* e : *entries) {
        e->ev.on_reading(t, r.metric, r.ts, r.value, m.scratch);
        if (!m.scratch.empty()) m.collect(*e, m.scratch, out);
      }
    }
  }
  impl_->send(out);
}

void RulesEngine::tick() {
  std::vector<alerts::ExternalAlert> out;
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    const TimestampMs now = m.clock.now_ms();
    if (m.catalog_stale) {
      m.refresh_catalog();
      for (auto& [id, e] : m.rules) m.track_assets(*e, now);
    }
    for (auto& [id, e] : m.rules) {
      if (!e->rule.enabled) continue;
      e->ev.advance(now, m.scratch);
      if (!m.scratch.empty()) m.collect(*e, m.scratch, out);
    }
    if (now - m.last_flush >= kFlushIntervalMs || now < m.last_flush) {
      auto st = m.write_state(now);
      if (!st.ok()) spdlog::warn("rules: writing pending state: {}", st.ToString());
    }
  }
  impl_->send(out);
}

void RulesEngine::invalidate_catalog() {
  std::lock_guard lk(impl_->mu);
  impl_->catalog_stale = true;
}

Result<std::vector<Fire>> RulesEngine::preview(const Rule& r, TimestampMs from, TimestampMs to) const {
  VIGIL_RETURN_IF_ERROR(validate_rule(r));
  from = clamp_timestamp(from);
  to = clamp_timestamp(to);
  if (from > to) return Status::InvalidArgument("from: must not be after to");
  Catalog cat;
  {
    std::lock_guard lk(impl_->mu);
    impl_->catalog_stale = true;  // a preview is rare: see the newest catalog
    impl_->refresh_catalog();
    cat = impl_->catalog;
  }
  Evaluator ev(r);
  auto series = impl_->store.series();
  if (!series) return series.status();
  struct Event {
    TimestampMs ts;
    double value;
    std::size_t series;
  };
  std::vector<Event> events;
  std::vector<std::pair<Target, std::string>> targets;  // per series kept
  for (const auto& s : *series) {
    if (!s.position_id || !ev.reads(s.metric)) continue;
    auto t = cat.target(*s.position_id);
    if (!t || !ev.in_scope(t->site_id, t->asset_id, t->position_id)) continue;
    auto pts = impl_->store.range(s.id, from, to);
    if (!pts) return pts.status();
    if (events.size() + pts->size() > kMaxPreviewPoints)
      return Status::ResourceExhausted("preview: more than 5,000,000 readings in the range; choose a shorter one");
    for (const auto& p : *pts) events.push_back({p.ts, p.value, targets.size()});
    targets.emplace_back(*t, s.metric);
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  std::vector<Fire> fires;
  if (ev.has_no_data()) {
    const Scope& s = r.scope;
    if (s.position_id) {
      if (auto t = cat.target(*s.position_id)) ev.add_asset(*t, from);
    } else {
      for (const auto& [asset_id, a] : cat.assets)
        if (ev.in_scope(a.site_id, asset_id, std::nullopt))
          ev.add_asset(Target{a.site_id, asset_id, std::nullopt, cat.tz(a.site_id)}, from);
    }
  }
  for (const auto& e : events) {
    const auto& [t, metric] = targets[e.series];
    ev.on_reading(t, metric, e.ts, e.value, fires);
  }
  ev.advance(std::min(to, impl_->clock.now_ms()), fires);
  std::stable_sort(fires.begin(), fires.end(), [](const Fire& a, const Fire& b) { return a.ts < b.ts; });
  return fires;
}

}  // namespace vigil::rules
