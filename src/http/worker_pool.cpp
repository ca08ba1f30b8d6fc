// SPDX-License-Identifier: Apache-2.0
#include "http/worker_pool.h"

#include <algorithm>

namespace vigil::http {

std::size_t WorkerPool::default_threads() {
  // Handlers block (SQLite, scrypt) more than they compute. The auth module
  // lets two password hashes run at once; two more threads keep cheap
  // requests (health, fleet) moving while they do.
  return std::max<std::size_t>(4, std::thread::hardware_concurrency() + 2);
}

WorkerPool::WorkerPool(std::size_t threads, std::size_t max_queued)
    : max_queued_(std::max<std::size_t>(1, max_queued)) {
  if (threads == 0) threads = default_threads();
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

WorkerPool::~WorkerPool() { stop(); }

Status WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return Status::Unavailable("worker pool stopped");
    if (queue_.size() >= max_queued_)
      return Status::ResourceExhausted("worker pool: " + std::to_string(queue_.size()) + " jobs waiting");
    queue_.push_back(std::move(job));
  }
  work_cv_.notify_one();
  return Status::Ok();
}

void WorkerPool::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lk(mu_);
      work_cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued jobs are dropped by stop()
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    try {
      job();
    } catch (...) {
      // Jobs own their errors (the router turns a throwing handler into a
      // 500); a stray exception must not end a worker thread.
    }
    job = nullptr;  // destroy what it captured before reporting idle
    {
      std::lock_guard lk(mu_);
      --running_;
    }
    idle_cv_.notify_all();
  }
}

bool WorkerPool::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [this] { return queue_.empty() && running_ == 0; });
}

void WorkerPool::stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  work_cv_.notify_all();
  idle_cv_.notify_all();
  const auto me = std::this_thread::get_id();
  for (auto& t : threads_) {
    if (t.get_id() == me) {
      t.detach();  // called from a job: cannot join ourselves
      continue;
    }
    if (t.joinable()) t.join();
  }
  // `dropped` is destroyed here, outside the lock: jobs may own objects whose
  // destructors take other locks.
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

std::size_t WorkerPool::running() const {
  std::lock_guard lk(mu_);
  return running_;
}

bool WorkerPool::idle() const {
  std::lock_guard lk(mu_);
  return queue_.empty() && running_ == 0;
}

}  // namespace vigil::http
