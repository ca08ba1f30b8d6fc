// SPDX-License-Identifier: Apache-2.0
//
// WorkerPool: a fixed set of threads running jobs from one bounded FIFO
// queue. The HTTP server runs request handlers here (they read and write
// SQLite and hash passwords) so the io_context threads only do I/O.
//
// submit() never blocks: with max_queued jobs already waiting it returns
// kResourceExhausted (the server answers 503 with Retry-After at once rather
// than queue without bound); after stop() it returns kUnavailable.
// wait_idle() waits until nothing is queued or running (a graceful stop).
// stop() refuses new jobs, lets the running ones finish, joins the threads
// and destroys the jobs still queued on the calling thread. It is idempotent
// and the destructor calls it; it must not be called from a job (a thread
// cannot join itself): doing so returns without joining.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "vigil/status.h"

namespace vigil::http {

class WorkerPool {
 public:
  // threads == 0: hardware threads + 2, at least 4. max_queued below 1 is 1.
  WorkerPool(std::size_t threads, std::size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  Status submit(std::function<void()> job);
  // true once nothing is queued or running; false if `timeout` passed first.
  bool wait_idle(std::chrono::milliseconds timeout);
  void stop();

  std::size_t threads() const { return threads_.size(); }
  std::size_t queued() const;
  std::size_t running() const;
  bool idle() const;

  static std::size_t default_threads();

 private:
  void loop();

  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vigil::http
