// SPDX-License-Identifier: Apache-2.0
//
// The store options every process that opens the database takes from the
// configuration's `storage` section: the gateway and every admin command
// (user add, token create, sensor add/import, history import). One mapping,
// so that a command opened on a stopped gateway's database runs retention
// with the configured days (not the library's defaults: a checkpoint at
// close would otherwise drop points the configuration keeps), and a
// database a command creates before the first start gets the configured
// page size. The caller sets what is its own: owner, server, clock, reader
// connections, queue size.
#pragma once

#include "config/config.h"
#include "vigil/store.h"

namespace vigil::app {

StoreOptions store_options(const StorageConfig& s);

}  // namespace vigil::app
