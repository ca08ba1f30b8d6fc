// SPDX-License-Identifier: Apache-2.0
#include "analytics/machine_classes.h"

#include <spdlog/spdlog.h>

namespace vigil::analytics {

MachineClasses::MachineClasses(Store& store, ZoneTable& table) : store_(store), table_(table) {}

Status MachineClasses::load(const std::map<std::string, ZoneLimits>& configured) {
  VIGIL_RETURN_IF_ERROR(table_.set_layer(ClassSource::kConfig, configured));
  VIGIL_RETURN_IF_ERROR(load_user());
  auto assets = store_.assets();
  if (!assets) return assets.status();
  for (const auto& a : *assets)
    if (!table_.find(a.machine_class))
      spdlog::warn("analytics: asset '{}' (id {}) names the unknown machine class '{}': its vibrationISO stays "
                   "unknown until the class is defined",
                   a.name, a.id, a.machine_class);
  return Status::Ok();
}

Status MachineClasses::load_user() {
  auto stored = store_.machine_classes();
  if (!stored) return stored.status().Annotate("machine classes");
  std::map<std::string, ZoneLimits> user;
  for (const auto& c : *stored) {
    if (auto s = check_machine_class(c.name, c.limits); !s.ok()) {
      spdlog::warn("analytics: stored machine class skipped: {}", s.message());
      continue;
    }
    user[c.name] = c.limits;
  }
  return table_.set_layer(ClassSource::kUser, user);
}

Status MachineClasses::put(const std::string& name, const ZoneLimits& limits) {
  VIGIL_RETURN_IF_ERROR(check_machine_class(name, limits));
  VIGIL_RETURN_IF_ERROR(store_.put_machine_class(name, limits));
  return table_.register_class(name, limits, ClassSource::kUser);
}

Status MachineClasses::remove(const std::string& name) {
  auto c = table_.find(name);
  if (!c) return Status::NotFound("unknown machine class '" + name + "'");
  if (c->source == ClassSource::kBuiltin)
    return Status::FailedPrecondition("machine class '" + name + "' is built in; only classes added at runtime can be deleted");
  if (c->source == ClassSource::kConfig)
    return Status::FailedPrecondition("machine class '" + name +
                                      "' comes from the configuration (analytics.machine_classes); remove it there");
  if (!c->hides) {  // removing it leaves the name unknown
    auto assets = store_.assets();
    if (!assets) return assets.status();
    for (const auto& a : *assets)
      if (a.machine_class == name)
        return Status::FailedPrecondition("machine class '" + name + "' is used by asset '" + a.name + "' (id " +
                                          std::to_string(a.id) + "); give it another class first");
  }
  auto gone = store_.delete_machine_class(name);
  if (!gone) return gone.status();
  table_.unregister_class(name, ClassSource::kUser);
  return Status::Ok();
}

}  // namespace vigil::analytics
