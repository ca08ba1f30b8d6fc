// SPDX-License-Identifier: Apache-2.0
//
// EventHub: live updates for dashboards (GET /api/v1/events, Server-Sent
// Events). Producers publish (type, JSON data); every connected client gets
// "id: N\nevent: TYPE\ndata: JSON\n\n". Each client has a bounded queue in
// the server (StreamSink); a client that cannot keep up is dropped by the
// server and forgotten here on the next publish. A client that reconnects
// with Last-Event-ID receives what it missed from a small replay ring.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/http_types.h"

namespace vigil::http {

class EventHub {
 public:
  explicit EventHub(std::size_t replay = 256) : replay_max_(replay) {}
  // Frames and sends one event to every client; returns how many got it.
  std::size_t publish(const std::string& type, const std::string& json_data);
  // Adds a client; replays events newer than last_event_id (0 = none).
  void subscribe(std::shared_ptr<StreamSink> sink, std::uint64_t last_event_id = 0);
  std::size_t clients() const;
  std::uint64_t published() const;
  std::uint64_t dropped() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<StreamSink>> sinks_;
  std::deque<std::pair<std::uint64_t, std::string>> replay_;
  std::size_t replay_max_;
  std::uint64_t next_id_ = 1;
  std::uint64_t dropped_ = 0;
};

// "event: TYPE\ndata: …\n\n" with an id line; multi-line data is split.
std::string sse_frame(std::uint64_t id, const std::string& type, const std::string& data);

}  // namespace vigil::http
