// SPDX-License-Identifier: Apache-2.0
//
// Gateway: one vigil process. Wires the store, ingest, sources (simulated
// plant in demo mode; BLE when enabled), analytics, uplink and the HTTP
// server onto one asio::io_context, and runs it until SIGTERM/SIGINT.
//
// Lifecycle: create() opens everything that can fail (database, port) and
// returns one clear error; run() notifies systemd READY=1, pets the watchdog,
// reloads the log level on SIGHUP, and on SIGTERM stops accepting, flushes
// and checkpoints the store, then returns 0.
#pragma once

#include <memory>

#include "config/config.h"
#include "vigil/status.h"

namespace vigil::app {

enum class Mode { kServe, kDemo };

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> create(Config config, Mode mode);
  ~Gateway();
  int run();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::app
