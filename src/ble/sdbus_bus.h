// SPDX-License-Identifier: Apache-2.0
//
// The real BluezBus: sdbus-c++ on the system bus (DBUS_SYSTEM_BUS_ADDRESS is
// honoured, which is how tests point it at a private bus with python-dbusmock).
//
// Threads: the connection runs its own event loop thread
// (enterEventLoopAsync); signal handlers convert messages to BusEvents there
// and hand them to the event handler. Synchronous calls from other threads
// are safe in sdbus-c++ 1.2 (the reply is routed through the loop thread).
#pragma once

#include <memory>

#include "ble/bluez_bus.h"

namespace vigil::ble {

// kUnavailable if the system bus cannot be reached.
Result<std::unique_ptr<BluezBus>> make_sdbus_bus();

}  // namespace vigil::ble
