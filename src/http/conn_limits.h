// SPDX-License-Identifier: Apache-2.0
//
// ConnectionLimiter: who gets a connection slot on the HTTP server. Pure
// policy — no sockets, no clock (the caller passes monotonic milliseconds) —
// so it is unit-tested on its own; the Beast server asks it on every accept
// and tells it what each connection is doing.
//
// Policy. A new connection is admitted while the server holds fewer than
// max_total connections and its client fewer than max_per_client. When a cap
// is reached the limiter makes room instead of refusing: it evicts the
// connection that has waited the longest in the cheapest phase — kClosing
// (lingering after its last response), then kAwaitingHead (new, in its TLS
// handshake, idle between keep-alive requests, or trickling a request head
// in), then kReadingBody — taken from the same client when the client's cap
// is the one reached, from anyone when the total is. A kBusy connection (a
// request being handled or its response being written, or a healthy event
// stream) is never evicted; when nothing can be evicted the new connection is
// refused. A client is whatever key the caller passes (the server passes the
// IPv4 address, or the /64 of an IPv6 one); loopback is a client like any
// other. An attacker sharing the legitimate client's address therefore only
// ever pushes out connections that are idle or slow, never a request in
// progress, and a new client always gets in unless every slot is busy.
//
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

namespace vigil::http {

// Ordered from first evicted to never evicted.
enum class ConnPhase : std::uint8_t { kClosing = 0, kAwaitingHead = 1, kReadingBody = 2, kBusy = 3 };

// Which cap made the limiter evict or refuse.
enum class ConnCap : std::uint8_t { kNone, kTotal, kPerClient };

struct Admission {
  bool admitted = false;
  std::uint64_t id = 0;                   // the new connection's id (admitted only)
  std::optional<std::uint64_t> evicted;   // close this connection to make room
  ConnCap cap = ConnCap::kNone;           // set when evicted or refused
};

class ConnectionLimiter {
 public:
  // Caps below 1 are treated as 1.
  ConnectionLimiter(std::size_t max_total, std::size_t max_per_client);

  // A new connection from `client`, starting in kAwaitingHead at now_ms. When
  // `evicted` is set, that connection is already forgotten here (its slot is
  // the new one's); the caller closes it.
  Admission admit(const std::string& client, std::int64_t now_ms);

  // The connection entered `phase` at now_ms. false when the id is unknown —
  // it was evicted: the caller must close it instead of going on.
  bool set_phase(std::uint64_t id, ConnPhase phase, std::int64_t now_ms);

  // The connection is gone. Unknown ids (evicted earlier) are ignored.
  void release(std::uint64_t id);

  std::size_t size() const;
  // Connections with a request in flight (kReadingBody or kBusy): what a
  // graceful stop waits for.
  std::size_t in_flight() const;
  std::size_t client_connections(const std::string& client) const;
  std::size_t max_total() const { return max_total_; }
  std::size_t max_per_client() const { return max_per_client_; }

 private:
  using Key = std::tuple<std::uint8_t, std::int64_t, std::uint64_t>;  // (phase, since, id)
  struct Entry {
    std::string client;
    ConnPhase phase;
    std::int64_t since;
  };
  struct Client {
    std::size_t count = 0;
    std::set<Key> evictable;
  };
  static Key key_of(std::uint64_t id, const Entry& e) {
    return {static_cast<std::uint8_t>(e.phase), e.since, id};
  }
  void index(std::uint64_t id, const Entry& e);    // add to the evictable sets (if evictable)
  void unindex(std::uint64_t id, const Entry& e);  // remove from them
  void forget(std::uint64_t id);                   // drop entry, counts and indexes

  const std::size_t max_total_, max_per_client_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::unordered_map<std::string, Client> clients_;
  std::set<Key> evictable_;
  std::size_t in_flight_ = 0;
};

}  // namespace vigil::http
