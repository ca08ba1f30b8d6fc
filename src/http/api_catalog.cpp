// SPDX-License-Identifier: Apache-2.0
//
// The fleet lifecycle over REST (admin role): rename and move sites, assets
// and positions (PATCH), archive or purge them (DELETE), decommission,
// replace and move sensors, and commission sensors in bulk from a CSV. The
// work is the Store's typed lifecycle functions (one transaction each, with
// the audit row); these handlers check the input (422 naming the `field`)
// and tell the caches: rules (catalog_changed), analytics (machines_changed)
// and ingest (invalidate_sensors). The BLE scanner re-reads the sensors at
// its next poll.
#include "http/api_internal.h"
#include "http/fleet_query.h"
#include "http/sensor_csv.h"
#include "protocol/types.h"

namespace vigil::http::detail {

// A 422 problem naming the request field at fault.
Response field_problem(const std::string& field, const std::string& detail, const char* code) {
  Response r = problem(422, code, detail);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    j["field"] = field;
    r.body = json_text(j);
  }
  return r;
}

// Refuses body fields a route does not know, so a typo is not silently ignored.
std::optional<Response> only_fields(const json& body, std::initializer_list<const char*> known) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) return field_problem(it.key().substr(0, 64), "unknown field '" + it.key().substr(0, 64) + "'");
  }
  return std::nullopt;
}

namespace {

// Adds `field` to a problem made by a shared helper (get_string, check_name)
// or from_status (a 409 name clash).
Response with_field(Response r, const std::string& field) {
  if (r.status < 400 || r.status >= 500) return r;
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && !j.contains("field")) {
    j["field"] = field;
    r.body = json_text(j);
  }
  return r;
}

std::optional<Id> path_id(const Request& req) {
  auto id = to_int(req.params.at("id"));
  if (!id || *id <= 0) return std::nullopt;
  return *id;
}

// A positive integer id in the body; a problem naming the field otherwise.
std::optional<Response> body_id(const json& j, const char* key, std::optional<Id>& out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return field_problem(key, std::string("field '") + key + "' is required", "missing_field");
    return std::nullopt;
  }
  const bool positive = it->is_number_unsigned() ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)
                                                 : it->is_number_integer() && it->get<std::int64_t>() > 0;
  if (!it->is_number_integer() || !positive)
    return field_problem(key, std::string("field '") + key + "' must be a positive integer id");
  out = it->get<Id>();
  return std::nullopt;
}

// {"tags": {"key": "value", …}} → Tags; a 422 naming "tags" otherwise.
std::optional<Response> body_tags(const json& body, Tags& out) {
  const auto it = body.find("tags");
  if (it == body.end()) return std::nullopt;
  if (!it->is_object()) return field_problem("tags", "tags must be an object of key: value strings");
  if (it->size() > kMaxTags)
    return field_problem("tags", "at most " + std::to_string(kMaxTags) + " tags (got " + std::to_string(it->size()) + ")");
  for (auto t = it->begin(); t != it->end(); ++t) {
    if (!t->is_string()) return field_problem("tags", "tag '" + t.key().substr(0, 64) + "': the value must be a string");
    out[t.key()] = t->get<std::string>();
  }
  if (auto st = check_tags(out); !st.ok()) return field_problem("tags", st.message());
  return std::nullopt;
}

json tags_json(Store& store, TagKind kind, Id id) {
  auto t = store.tags(kind, id);
  return t ? json(*t) : json::object();
}

json sensor_json(const Sensor& s) {
  return {{"id", s.id},
          {"address", s.address},
          {"name", s.name},
          {"format", s.format},
          {"position_id", s.position_id ? json(*s.position_id) : json(nullptr)},
          {"commissioned_at", iso8601(s.commissioned_at)},
          {"decommissioned", s.decommissioned_at.has_value()},
          {"decommissioned_at", s.decommissioned_at ? json(iso8601(*s.decommissioned_at)) : json(nullptr)}};
}

// The row as the lifecycle routes answer it.
Result<json> node_json(Store& store, CatalogKind kind, Id id) {
  json j;
  if (kind == CatalogKind::kSite) {
    auto s = store.site(id);
    if (!s) return s.status();
    j = {{"id", s->id}, {"name", s->name}, {"timezone", s->timezone}};
  } else if (kind == CatalogKind::kAsset) {
    auto a = store.asset(id);
    if (!a) return a.status();
    j = {{"id", a->id}, {"site_id", a->site_id}, {"name", a->name}, {"machine_class", a->machine_class}};
  } else {
    auto p = store.position(id);
    if (!p) return p.status();
    j = {{"id", p->id}, {"asset_id", p->asset_id}, {"name", p->name}, {"type", to_string(p->type)}};
  }
  auto archived = store.archived(kind, id);
  if (!archived) return archived.status();
  j["archived"] = *archived;
  if (kind != CatalogKind::kSite) j["tags"] = tags_json(store, kind == CatalogKind::kAsset ? TagKind::kAsset : TagKind::kPosition, id);
  return j;
}

// The row's name (for the purge confirmation), archived or not.
Result<std::string> node_name(Store& store, CatalogKind kind, Id id) {
  auto j = node_json(store, kind, id);
  if (!j) return j.status();
  return (*j)["name"].get<std::string>();
}

void changed(ApiContext& ctx, bool machines, bool sensors) {
  if (sensors && ctx.ingest) ctx.ingest->invalidate_sensors();
  if (machines && ctx.machines_changed) ctx.machines_changed();
  if (ctx.catalog_changed) ctx.catalog_changed();  // rules re-read scopes, names and time zones
}

// PATCH {name} for every kind; assets also take {site_id} (a move); assets
// and positions take {tags} (replacing their tags).
void add_patch(Router& router, ApiContext& ctx, CatalogKind kind, const std::string& path) {
  router.add("PATCH", path, [&ctx, kind](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    if (!id) return problem(400, "invalid_argument", std::string(to_string(kind)) + " id must be a positive integer");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    const bool asset = kind == CatalogKind::kAsset;
    const bool taggable = kind != CatalogKind::kSite;
    if (auto e = asset      ? only_fields(body, {"name", "site_id", "tags"})
                 : taggable ? only_fields(body, {"name", "tags"})
                            : only_fields(body, {"name"}))
      return *e;
    std::string name;
    std::optional<Id> site;
    Tags tags;
    const bool has_tags = taggable && body.contains("tags");
    if (auto e = get_string(body, "name", name, !taggable)) return with_field(*e, "name");
    if (asset)
      if (auto e = body_id(body, "site_id", site, false)) return *e;
    if (has_tags)
      if (auto e = body_tags(body, tags)) return *e;
    if (body.contains("name"))
      if (auto e = check_name(name, "name")) return with_field(*e, "name");
    if (taggable && !body.contains("name") && !site && !has_tags)
      return field_problem("name", asset ? "send name, site_id and/or tags" : "send name and/or tags", "missing_field");
    if (auto missing = require_exists(ctx, to_string(kind), *id)) return *missing;
    if (site) {
      if (auto missing = require_exists(ctx, "site", *site)) {
        if (missing->status != 404) return *missing;
        return field_problem("site_id", "site " + std::to_string(*site) + " does not exist");
      }
      if (auto st = ctx.store->move_asset(*id, *site, who.name); !st.ok()) {
        if (st.code() == Status::Code::kFailedPrecondition) return field_problem("site_id", st.message());
        return from_status(st);
      }
    }
    if (body.contains("name"))
      if (auto st = ctx.store->rename(kind, *id, name, who.name); !st.ok()) {
        if (st.code() == Status::Code::kAlreadyExists) return with_field(from_status(st), "name");  // 409: a sibling has it
        return from_status(st);
      }
    if (has_tags)
      if (auto st = ctx.store->set_tags(asset ? TagKind::kAsset : TagKind::kPosition, *id, tags, who.name); !st.ok())
        return with_field(from_status(st), "tags");
    changed(ctx, asset, false);
    auto j = node_json(*ctx.store, kind, *id);
    if (!j) return from_status(j.status());
    return ok(*j);
  });
}

// DELETE: ?mode=archive (default; history kept and readable) or
// ?mode=purge&confirm=<name> (everything under it deleted).
void add_delete(Router& router, ApiContext& ctx, CatalogKind kind, const std::string& path) {
  router.add("DELETE", path, [&ctx, kind](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    if (!id) return problem(400, "invalid_argument", std::string(to_string(kind)) + " id must be a positive integer");
    const std::string mode = req.q("mode").value_or("archive");
    if (mode != "archive" && mode != "purge") return field_problem("mode", "mode must be archive or purge");
    auto name = node_name(*ctx.store, kind, *id);
    if (!name) return from_status(name.status());
    if (mode == "purge") {
      auto confirm = req.q("confirm");
      if (!confirm)
        return field_problem("confirm", "purging deletes the history: repeat the " + std::string(to_string(kind)) +
                                            "'s name in ?confirm=", "missing_field");
      if (*confirm != *name)
        return field_problem("confirm", "confirm does not match the " + std::string(to_string(kind)) + "'s name");
    }
    // Archive first (sensors on it are decommissioned), let ingest forget
    // them, then purge: no reading lands in what is being deleted.
    if (auto st = ctx.store->archive(kind, *id, who.name); !st.ok()) return from_status(st);
    changed(ctx, kind != CatalogKind::kPosition, true);
    if (mode == "archive") {
      auto j = node_json(*ctx.store, kind, *id);
      if (!j) return from_status(j.status());
      return ok(*j);
    }
    if (auto st = ctx.store->purge(kind, *id, *name, who.name); !st.ok()) return from_status(st);
    changed(ctx, kind != CatalogKind::kPosition, true);
    return ok({{"id", *id}, {"name", *name}, {"archived", true}, {"purged", true}});
  });
}

// The import's answer: what would change (or changed) per row, and the bad rows.
json import_json(const SensorImportResult& r, bool dry_run) {
  json rows = json::array(), errors = json::array();
  json counts = {{"new", 0}, {"recommissioned", 0}, {"unchanged", 0}};
  for (const auto& o : r.rows) {
    rows.push_back({{"line", o.line},
                    {"address", o.address},
                    {"position_id", o.position_id},
                    {"action", o.action},
                    {"sensor_id", o.sensor_id ? json(*o.sensor_id) : json(nullptr)}});
    counts[o.action] = counts[o.action].get<int>() + 1;
  }
  for (const auto& e : r.errors) errors.push_back({{"line", e.line}, {"field", e.field}, {"message", e.message}});
  return {{"dry_run", dry_run}, {"applied", r.applied}, {"counts", counts}, {"rows", rows}, {"errors", errors}};
}

}  // namespace

void register_catalog(Router& router, ApiContext& ctx) {
  add_patch(router, ctx, CatalogKind::kSite, "/api/v1/sites/{id}");
  add_patch(router, ctx, CatalogKind::kAsset, "/api/v1/assets/{id}");
  add_patch(router, ctx, CatalogKind::kPosition, "/api/v1/positions/{id}");
  add_delete(router, ctx, CatalogKind::kSite, "/api/v1/sites/{id}");
  add_delete(router, ctx, CatalogKind::kAsset, "/api/v1/assets/{id}");
  add_delete(router, ctx, CatalogKind::kPosition, "/api/v1/positions/{id}");

  // A sensor's tags: PATCH {"tags": {...}} replaces them.
  router.add("PATCH", "/api/v1/sensors/{id}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    // /sensors/discovered and /sensors/import are other resources, not ids:
    // PATCH is not a method of theirs (404, as for any path it does not serve).
    if (!id) return problem(404, "not_found", "no sensor " + req.params.at("id").substr(0, 64));
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"tags"})) return *e;
    if (!body.contains("tags")) return field_problem("tags", "send tags", "missing_field");
    Tags tags;
    if (auto e = body_tags(body, tags)) return *e;
    if (auto st = ctx.store->set_tags(TagKind::kSensor, *id, tags, who.name); !st.ok()) return from_status(st);
    auto s = ctx.store->sensor(*id);
    if (!s) return from_status(s.status());
    json j = sensor_json(*s);
    j["tags"] = tags_json(*ctx.store, TagKind::kSensor, *id);
    return ok(j);
  });

  // The fleet search: sensors (not decommissioned, on live positions or none)
  // matching every term of q (http/fleet_query.h).
  auto fleet_catalog = std::make_shared<FleetCatalogCache>();
  router.add("GET", "/api/v1/fleet/search", [&ctx, fleet_catalog](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    static Counter* bad = MetricsRegistry::global().counter("vigil_fleet_search_rejected_total",
                                                            "Fleet searches refused for a malformed query");
    const std::string q = req.q("q").value_or("");
    FleetQuery query;
    if (auto e = parse_fleet_query(q, query)) {
      bad->inc();
      Response r = problem(400, "bad_query", "term '" + e->term + "': " + e->message);
      json j = json::parse(r.body, nullptr, false);
      j["field"] = "q";
      j["term"] = e->term;
      r.body = json_text(j);
      return r;
    }
    std::size_t limit = 1000;
    if (auto l = req.q("limit")) {
      auto n = to_int(*l);
      if (!n || *n < 1 || *n > 10000) return problem(400, "invalid_argument", "limit must be 1..10000");
      limit = static_cast<std::size_t>(*n);
    }
    // The catalog side is cached per store generation (fleet_query.h); the
    // readings come from the store's in-memory latest points.
    auto catalog = fleet_catalog->get(*ctx.store);
    if (!catalog) return from_status(catalog.status());
    const TimestampMs now = ctx.clock ? ctx.clock->now_ms() : SystemClock().now_ms();
    // The answer is assembled as text (fleet_answer_members), not as a json
    // array of up to `limit` objects.
    std::string sensors_json = "[";
    std::size_t count = 0;
    FleetSubject subj;  // reused: its tags keep their capacity
    for (const auto& e : (*catalog)->sensors) {
      std::optional<Point> battery;
      subj.last_data.reset();
      for (Id sid : e.series) {
        auto p = ctx.store->latest(sid);  // in memory
        if (p && (!subj.last_data || p->ts > *subj.last_data)) subj.last_data = p->ts;
      }
      for (Id sid : e.battery_series) {
        auto p = ctx.store->latest(sid);
        if (p && (!battery || p->ts > battery->ts)) battery = *p;
      }
      subj.battery_pct = battery ? std::optional<double>(battery->value) : std::nullopt;
      subj.firmware = e.firmware;
      subj.tags.assign(e.tags.begin(), e.tags.end());
      if (!fleet_matches(query, subj, now)) continue;
      if (++count > limit) continue;
      if (sensors_json.size() > 1) sensors_json += ',';
      sensors_json += '{';
      sensors_json += fleet_answer_members(e);
      sensors_json += ",\"battery_pct\":";
      sensors_json += subj.battery_pct ? json_text(json(*subj.battery_pct)) : "null";
      sensors_json += ",\"last_data\":";
      sensors_json += subj.last_data ? json_text(json(iso8601(*subj.last_data))) : "null";
      sensors_json += '}';
    }
    sensors_json += ']';
    std::string body = json_text(json{{"q", q}, {"count", count}, {"truncated", count > limit}});
    body.pop_back();  // the closing brace: the sensors follow
    body += ",\"sensors\":" + sensors_json + "}";
    return Response::json(200, std::move(body));
  });

  router.add("POST", "/api/v1/sensors/{id}/decommission", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    if (!id) return problem(400, "invalid_argument", "sensor id must be a positive integer");
    if (auto st = ctx.store->decommission_sensor(*id, who.name); !st.ok()) return from_status(st);
    changed(ctx, false, true);
    auto s = ctx.store->sensor(*id);
    if (!s) return from_status(s.status());
    return ok(sensor_json(*s));
  });

  router.add("POST", "/api/v1/sensors/{id}/replace", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    if (!id) return problem(400, "invalid_argument", "sensor id must be a positive integer");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"address", "key"})) return *e;
    std::string address, key_hex;
    if (auto e = get_string(body, "address", address, true)) return with_field(*e, "address");
    if (auto e = get_string(body, "key", key_hex, false)) return with_field(*e, "key");
    auto mac = protocol::Mac::parse(address);
    if (!mac) return field_problem("address", "address must be a MAC address (AA:BB:CC:DD:EE:FF)");
    std::optional<std::vector<std::uint8_t>> key;
    if (!key_hex.empty()) {
      auto k = protocol::parse_key(key_hex);
      if (!k) return field_problem("key", "key must be 32 hex digits (an AES-128 key)");
      key = std::vector<std::uint8_t>(k->begin(), k->end());
    }
    auto fresh = ctx.store->replace_sensor(*id, mac->to_string(), key, who.name);
    if (!fresh) {
      const auto& st = fresh.status();
      if (st.code() == Status::Code::kInvalidArgument) return field_problem("address", st.message());
      return from_status(st);
    }
    changed(ctx, false, true);
    auto old_s = ctx.store->sensor(*id);
    auto new_s = ctx.store->sensor(*fresh);
    if (!old_s) return from_status(old_s.status());
    if (!new_s) return from_status(new_s.status());
    json nj = sensor_json(*new_s);
    nj["has_key"] = key.has_value();
    return ok({{"old", sensor_json(*old_s)}, {"new", nj}});
  });

  router.add("POST", "/api/v1/sensors/{id}/move", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = path_id(req);
    if (!id) return problem(400, "invalid_argument", "sensor id must be a positive integer");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (auto e = only_fields(body, {"position_id"})) return *e;
    std::optional<Id> position;
    if (auto e = body_id(body, "position_id", position, true)) return *e;
    if (auto s = ctx.store->sensor(*id); !s) return from_status(s.status());
    if (auto p = ctx.store->position(*position); !p) {
      if (p.status().code() == Status::Code::kNotFound)
        return field_problem("position_id", "position " + std::to_string(*position) + " does not exist");
      return from_status(p.status());
    }
    if (auto st = ctx.store->move_sensor(*id, *position, who.name); !st.ok()) {
      if (st.code() == Status::Code::kFailedPrecondition) return field_problem("position_id", st.message());
      return from_status(st);
    }
    changed(ctx, false, true);
    auto s = ctx.store->sensor(*id);
    if (!s) return from_status(s.status());
    return ok(sensor_json(*s));
  });

  // Bulk commissioning: the CSV of http/sensor_csv.h as the body
  // (text/csv). ?dry_run=1 only reports. Any bad row: 422 listing every
  // bad row by line, nothing written.
  router.add("POST", "/api/v1/sensors/import", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    const std::string ct = req.header("content-type");
    if (ct.rfind("text/csv", 0) != 0 && ct.rfind("text/plain", 0) != 0)
      return problem(415, "unsupported_media_type", "send the CSV as text/csv");
    const std::string dry = req.q("dry_run").value_or("0");
    if (dry != "0" && dry != "1" && dry != "true" && dry != "false")
      return field_problem("dry_run", "dry_run must be 1 or 0");
    const bool dry_run = dry == "1" || dry == "true";
    auto csv = parse_sensor_csv(req.body);
    SensorImportResult result;
    if (csv.errors.empty()) {
      auto r = ctx.store->import_sensors(csv.rows, dry_run, who.name);
      if (!r) return from_status(r.status());
      result = std::move(*r);
    } else {
      result.errors = std::move(csv.errors);
    }
    json out = import_json(result, dry_run);
    if (!result.errors.empty()) {
      static Counter* bad = MetricsRegistry::global().counter(
          "vigil_sensor_import_rejected_total", "Sensor imports refused for bad rows (nothing written)");
      bad->inc();
      Response r = field_problem("csv", std::to_string(result.errors.size()) +
                                            " bad row(s): nothing was imported; see errors", "bad_rows");
      json j = json::parse(r.body, nullptr, false);
      j.update(out);
      r.body = json_text(j);
      return r;
    }
    if (result.applied) changed(ctx, false, true);
    return ok(out);
  });
}

}  // namespace vigil::http::detail
