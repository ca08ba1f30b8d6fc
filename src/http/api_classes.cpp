// SPDX-License-Identifier: Apache-2.0
//
// Machine classes: the ISO 10816 / 20816 velocity zone limits the analytics
// judge each asset by. Viewers list them with their source (builtin, config,
// user); admins add, replace and delete user classes. A change reaches
// scoring through ctx.machines_changed.
#include "http/api_internal.h"

namespace vigil::http::detail {
namespace {

json class_json(const MachineClass& c) {
  return {{"name", c.name},
          {"ab", c.limits.ab},
          {"bc", c.limits.bc},
          {"cd", c.limits.cd},
          {"source", to_string(c.source)},
          {"overrides", c.hides ? json(to_string(*c.hides)) : json(nullptr)}};
}

std::optional<MachineClass> find_class(ApiContext& ctx, const std::string& name) {
  for (auto& c : ctx.machine_classes())
    if (c.name == name) return c;
  return std::nullopt;
}

Response not_wired() { return problem(503, "unavailable", "machine classes are not available on this gateway"); }

}  // namespace

void register_machine_classes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/machine-classes", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    if (!ctx.machine_classes) return not_wired();
    json arr = json::array();
    for (const auto& c : ctx.machine_classes()) arr.push_back(class_json(c));
    return ok(arr);
  });

  // Create or replace a user class; 201 for a new name, 200 otherwise (a
  // user class over a configured or built-in one overrides it).
  router.add("PUT", "/api/v1/machine-classes/{name}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.machine_classes || !ctx.put_machine_class) return not_wired();
    const std::string& name = req.params.at("name");
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    ZoneLimits l;
    if (auto e = get_number(body, "ab", l.ab, true)) return *e;
    if (auto e = get_number(body, "bc", l.bc, true)) return *e;
    if (auto e = get_number(body, "cd", l.cd, true)) return *e;
    if (auto s = check_machine_class(name, l); !s.ok()) return problem(422, "bad_field", s.message());
    const bool existed = find_class(ctx, name).has_value();
    auto st = ctx.put_machine_class(name, l);
    if (st.code() == Status::Code::kInvalidArgument) return problem(422, "bad_field", st.message());
    if (!st.ok()) return from_status(st);
    if (ctx.machines_changed) ctx.machines_changed();
    audit(ctx, who, "machine_class.put", name, body.dump());
    auto now = find_class(ctx, name);
    if (!now) return problem(500, "internal", "machine class '" + name + "' vanished after it was stored");
    return existed ? ok(class_json(*now)) : created(class_json(*now));
  });

  // Delete a user class. Built-in and configured classes are read-only
  // (409 class_read_only); a class an asset still needs is kept (409
  // class_in_use, naming the asset).
  router.add("DELETE", "/api/v1/machine-classes/{name}", [&ctx](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (!ctx.machine_classes || !ctx.delete_machine_class) return not_wired();
    const std::string& name = req.params.at("name");
    auto c = find_class(ctx, name);
    if (!c) return problem(404, "not_found", "unknown machine class '" + name + "'");
    auto st = ctx.delete_machine_class(name);
    if (st.code() == Status::Code::kFailedPrecondition)
      return problem(409, c->source == ClassSource::kUser ? "class_in_use" : "class_read_only", st.message());
    if (!st.ok()) return from_status(st);
    if (ctx.machines_changed) ctx.machines_changed();
    audit(ctx, who, "machine_class.delete", name, class_json(*c).dump());
    auto restored = find_class(ctx, name);
    return ok({{"deleted", name}, {"restored", restored ? class_json(*restored) : json(nullptr)}});
  });
}

}  // namespace vigil::http::detail
