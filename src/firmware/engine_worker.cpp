// SPDX-License-Identifier: Apache-2.0
#include "firmware/engine_worker.h"

#include <spdlog/spdlog.h>

namespace vigil::firmware {

void EngineWorker::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void EngineWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EngineWorker::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto r = svc_.step();
    if (!r) spdlog::warn("firmware: rollout engine: {}", r.status().ToString());
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace vigil::firmware
