// SPDX-License-Identifier: Apache-2.0
//
// Store internals shared by store.cpp (series engine, writer thread) and
// catalog.cpp (plant hierarchy, measurements, waveforms, audit).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "vigil/store.h"

namespace vigil {

// The writer's mutex. Every write to the database holds it, so each release
// counts as a possible change of what readers see (Store::generation()).
// Holders that only read writer-side bookkeeping lock quiet() instead.
class WriteMutex {
 public:
  void lock() { mu_.lock(); }
  void unlock() {
    generation_.fetch_add(1, std::memory_order_release);
    mu_.unlock();
  }
  std::mutex& quiet() { return mu_; }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::mutex mu_;
  std::atomic<std::uint64_t> generation_{0};
};

struct Store::Impl {
  static constexpr std::size_t kChunkMaxPoints = 256;
  static constexpr TimestampMs kChunkMaxSpanMs = 7LL * 24 * 3600 * 1000;

  StoreOptions opt;
  const Clock* clock = nullptr;

  // ---- the one writer connection ----
  WriteMutex write_mu;
  std::unique_ptr<sql::Db> writer;

  // ---- reader pool ----
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<sql::Db>> idle_readers;
  int readers_open = 0;
  Result<std::unique_ptr<sql::Db>> open_reader();
  Status with_reader(const std::function<Status(sql::Db&)>& fn);

  // ---- ingest queue (append → writer thread) ----
  std::mutex q_mu;
  std::condition_variable q_cv;     // writer waits for work
  std::condition_variable done_cv;  // flush() waits for commits
  std::deque<SeriesPoint> queue;
  std::uint64_t enqueued = 0;   // points ever enqueued
  std::uint64_t committed = 0;  // points ever committed
  bool flush_requested = false;
  bool stopping = false;
  std::thread writer_thread;
  void writer_loop();
  Status commit_batch(const std::vector<SeriesPoint>& batch);  // REQUIRES: write_mu held

  // ---- heads: committed points not yet checkpointed, plus latest values ----
  struct Head {
    std::vector<Point> pending;
    std::optional<Point> latest;
  };
  mutable std::shared_mutex heads_mu;
  std::unordered_map<Id, Head> heads;
  std::size_t log_points = 0;  // guarded by write_mu

  // Writer-side knowledge of each series' newest chunk (guarded by write_mu).
  struct OpenChunk {
    TimestampMs t0 = 0, t1 = 0;
    std::int64_t n = 0;
  };
  std::unordered_map<Id, std::optional<OpenChunk>> open_chunks;
  Status checkpoint_locked();  // REQUIRES: write_mu held
  Status write_points(Id series, std::vector<Point>& pts);
  Status retention_locked();
  Status replay_log();
  Status load_latest();
  TimestampMs last_checkpoint_wall = 0;
  TimestampMs last_retention_wall = 0;

  // ---- stats ----
  std::atomic<std::uint64_t> batches{0}, checkpoints{0}, write_errors{0};
  mutable std::mutex err_mu;
  std::string last_error;
};

}  // namespace vigil
