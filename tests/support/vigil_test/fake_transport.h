// SPDX-License-Identifier: Apache-2.0
//
// FakeTransport: an in-memory Transport for unit tests. It records every
// publish and subscription; the test decides when connections succeed or
// fail and when PUBACKs arrive, and can inject incoming messages. Handlers
// run on the calling (test) thread, as a real transport's would run on its
// own thread.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "uplink/transport.h"

namespace vigil::uplink {

class FakeTransport final : public Transport {
 public:
  struct Published {
    int mid = 0;
    std::string topic, payload;
    int qos = 0;
    bool retain = false;
  };
  // Shared state so the test keeps access after the Uplink owns the transport.
  struct State {
    std::mutex mu;
    TransportHandlers h;
    std::atomic<bool> accept_connect{true};
    std::string refuse_reason = "tls: certificate verify failed";
    bool connected = false;
    std::atomic<int> connect_calls{0};
    int next_mid = 1;
    std::vector<Published> published;  // every publish, in order
    std::vector<std::string> subscriptions;
  };

  explicit FakeTransport(std::shared_ptr<State> s) : s_(std::move(s)) {}
  void set_handlers(TransportHandlers h) override;
  Status connect() override;
  void disconnect() override;
  Result<int> publish(const std::string& topic, const std::string& payload, int qos) override;
  Result<int> publish_retained(const std::string& topic, const std::string& payload, int qos) override;
  Status subscribe(const std::string& filter, int qos) override;

  // ---- test controls ----
  static void ack(State& s, int mid, int reason = 0);
  static void ack_all(State& s);  // every publish not yet acked, in order
  static void drop_connection(State& s, const std::string& why);
  static void deliver(State& s, const std::string& topic, const std::string& payload);

 private:
  std::shared_ptr<State> s_;
};

}  // namespace vigil::uplink
