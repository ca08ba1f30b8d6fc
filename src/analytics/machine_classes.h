// SPDX-License-Identifier: Apache-2.0
//
// analytics::MachineClasses: the machine classes a plant scores against,
// with the store behind the ZoneTable's user layer.
//
//   built-in   ZoneTable's ISO 10816-1 / 20816-3 classes
//   config     analytics.machine_classes of vigil.json (load())
//   user       added or changed at runtime (REST API, MQTT `threshold`),
//              kept in the store's machine_classes table
//
// A name's limits are those of its highest layer, so a user class may
// override a configured or built-in one and removing it uncovers that one
// again. A user change is written to the store before the table changes:
// what scoring uses is always what a restart reloads.
//
// Callers that cache limits (analytics::Pipeline) must be told of a change
// (Pipeline::invalidate_machines); this class does not know them.
//
// Thread-safety: every method may be called from any thread. The object
// holds no state of its own: two instances over the same store and table
// are the same registry.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analytics/detectors.h"
#include "vigil/store.h"

namespace vigil::analytics {

class MachineClasses {
 public:
  // Store and table must outlive the object.
  explicit MachineClasses(Store& store, ZoneTable& table = ZoneTable::global());

  // At start: `configured` becomes the table's config layer and the stored
  // user classes its user layer (both replaced). A stored class that fails
  // check_machine_class() (written by hand, say) is skipped with a warning,
  // and so is an asset naming an unknown class.
  Status load(const std::map<std::string, ZoneLimits>& configured);
  // Re-reads only the stored user classes.
  Status load_user();

  std::vector<MachineClass> list() const { return table_.list(); }
  std::optional<MachineClass> find(const std::string& name) const { return table_.find(name); }

  // Adds or replaces the user class `name`. kInvalidArgument unless
  // check_machine_class() holds; nothing changes when the store write fails.
  Status put(const std::string& name, const ZoneLimits& limits);
  // Removes the user class `name`, uncovering a configured or built-in class
  // of that name. kNotFound for an unknown class; kFailedPrecondition for a
  // class that is only built-in or configured, or for one that would become
  // unknown while an asset still names it (the message names the asset).
  Status remove(const std::string& name);

 private:
  Store& store_;
  ZoneTable& table_;
};

}  // namespace vigil::analytics
