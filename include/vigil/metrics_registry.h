// SPDX-License-Identifier: Apache-2.0
//
// Counters and gauges exported at /metrics in Prometheus text format.
// Registration returns a stable pointer; increments are lock-free atomics so
// hot paths (ingest, decode) can count without contention.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace vigil {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class MetricsRegistry {
 public:
  // name like "vigil_ingest_rejected_total", labels like {reason="nan"}
  // (already rendered, may be empty). Same name+labels → same counter.
  Counter* counter(const std::string& name, const std::string& help,
                   const std::string& labels = "");
  // A gauge sampled at scrape time.
  void gauge(const std::string& name, const std::string& help, std::function<double()> fn);
  std::string render_prometheus() const;
  // Value of a counter, 0 if absent (tests, health JSON).
  std::uint64_t counter_value(const std::string& name, const std::string& labels = "") const;

  static MetricsRegistry& global();

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::function<double()> gauge;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace vigil
