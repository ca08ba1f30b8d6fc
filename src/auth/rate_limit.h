// SPDX-License-Identifier: Apache-2.0
//
// The limits that keep sign-in and first-start setup from being used to
// guess passwords or to burn the gateway's CPU on scrypt:
//
// - TokenBucketLimiter: a request-rate limit per key (the client address):
//   `burst` requests at once, then `per_second` more each second. A refused
//   take() says how long until the next token.
// - FailureBackoff: exponential back-off per key. The first `free_failures`
//   failures cost nothing; the next one blocks the key for `base_ms`, each
//   further one doubles the wait, capped at `max_ms`. A key with no failure
//   for `forget_after_ms` starts afresh; success() forgets it at once.
//   AuthService keys it by (client address, account) and by address alone,
//   so failures never lock an account out for every address.
// - ConcurrencyLimit: at most N holders at once; try_acquire() never waits.
//
// Memory is bounded: each limiter tracks at most `max_keys` keys and evicts
// the least recently used one beyond that, so a flood of distinct addresses
// or user names costs a fixed amount of memory. (Eviction forgets a key's
// history; the per-address key is what still holds a user-name sprayer.)
//
// client_key(): the address a limit applies to. IPv4 (also IPv4-mapped IPv6)
// addresses are used as they are; an IPv6 address is cut to its /64, which
// one host usually owns whole. Addresses come from the TCP peer only — never
// from X-Forwarded-For or similar headers a client can write.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "vigil/clock.h"

namespace vigil::auth {

std::string client_key(const std::string& remote_address);

// A map with a size cap that evicts the least recently used entry.
// Not thread-safe by itself; the limiters below lock around it.
template <class V>
class LruTable {
 public:
  explicit LruTable(std::size_t max_keys) : max_(max_keys < 1 ? 1 : max_keys) {}
  // The entry for `key`, created (value-initialised) if absent; marks it used.
  V& touch(const std::string& key) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    order_.emplace_front(key, V{});
    index_.emplace(key, order_.begin());
    while (order_.size() > max_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return order_.front().second;
  }
  V* find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  void erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  std::size_t size() const { return index_.size(); }

 private:
  std::size_t max_;
  std::list<std::pair<std::string, V>> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

struct TokenBucketPolicy {
  double burst = 5;       // tokens a fresh key has
  double per_second = 1;  // refill rate
  std::size_t max_keys = 10000;
};

class TokenBucketLimiter {
 public:
  explicit TokenBucketLimiter(TokenBucketPolicy p = {}) : p_(p), table_(p.max_keys) {}
  // Takes one token: 0 = allowed; otherwise the milliseconds until a token
  // is there (nothing taken).
  std::int64_t take(const std::string& key, TimestampMs now);
  // Returns a token taken for work that was then not done (capped at the burst).
  void give_back(const std::string& key);
  std::size_t size();

 private:
  struct Bucket {
    double tokens = -1;  // < 0: fresh
    TimestampMs at = 0;
  };
  TokenBucketPolicy p_;
  std::mutex mu_;
  LruTable<Bucket> table_;
};

struct BackoffPolicy {
  int free_failures = 3;                          // failures before the first wait
  std::int64_t base_ms = 1000;                    // the first wait
  std::int64_t max_ms = 15LL * 60 * 1000;         // the longest wait
  std::int64_t forget_after_ms = 60LL * 60 * 1000;  // quiet time that clears a key
  std::size_t max_keys = 10000;
};

class FailureBackoff {
 public:
  explicit FailureBackoff(BackoffPolicy p = {}) : p_(p), table_(p.max_keys) {}
  // Milliseconds until `key` may try again; 0 = allowed now.
  std::int64_t retry_after_ms(const std::string& key, TimestampMs now);
  void failure(const std::string& key, TimestampMs now);
  void success(const std::string& key);
  // The wait after `failures` consecutive failures (0 while free).
  std::int64_t wait_after(int failures) const;
  std::size_t size();

 private:
  struct Entry {
    int failures = 0;
    TimestampMs last = 0;
  };
  BackoffPolicy p_;
  std::mutex mu_;
  LruTable<Entry> table_;
};

class ConcurrencyLimit {
 public:
  class Slot {
   public:
    Slot() = default;
    explicit Slot(std::atomic<int>* n) : n_(n) {}
    Slot(Slot&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        n_ = o.n_;
        o.n_ = nullptr;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    explicit operator bool() const { return n_ != nullptr; }

   private:
    void release() {
      if (n_) n_->fetch_sub(1);
      n_ = nullptr;
    }
    std::atomic<int>* n_ = nullptr;
  };
  explicit ConcurrencyLimit(int max) : max_(max < 1 ? 1 : max) {}
  // An empty Slot when `max` holders are already in.
  Slot try_acquire();
  int in_use() const { return n_.load(); }
  int max() const { return max_; }

 private:
  int max_;
  std::atomic<int> n_{0};
};

}  // namespace vigil::auth
