// SPDX-License-Identifier: Apache-2.0
//
// EngineWorker: the thread that runs FirmwareService::step() every
// `interval` (a transfer over BLE takes minutes; it must not hold an
// io_context thread). start() once; stop() (or the destructor) wakes the
// thread and joins it, after the transfer in progress returns.
// Thread-safety: start/stop from one thread (the gateway's). The service
// must outlive the worker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "firmware/firmware_service.h"

namespace vigil::firmware {

class EngineWorker {
 public:
  EngineWorker(FirmwareService& svc, std::chrono::milliseconds interval) : svc_(svc), interval_(interval) {}
  ~EngineWorker() { stop(); }
  EngineWorker(const EngineWorker&) = delete;
  EngineWorker& operator=(const EngineWorker&) = delete;

  void start();
  void stop();

 private:
  void loop();
  FirmwareService& svc_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigil::firmware
