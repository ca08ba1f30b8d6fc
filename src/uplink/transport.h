// SPDX-License-Identifier: Apache-2.0
//
// Transport: the narrow seam between the uplink service and MQTT.
//
//   connect()    starts one connection attempt (asynchronous). The outcome
//                arrives as on_status(true, ok) or on_status(false, reason);
//                an established connection that is lost reports
//                on_status(false, reason) too. One attempt never outlives
//                TransportOptions::connect_timeout_ms. The transport never
//                reconnects by itself: the caller owns the back-off.
//   publish()    QoS 0/1; returns the packet id whose PUBACK later arrives as
//                on_puback(mid, reason) (reason 0 = accepted; MQTT 5 reason
//                codes ≥ 0x80 = refused). Unavailable when not connected.
//   publish_retained()  as publish() with the MQTT retain flag (the plant's
//                state documents, docs/plant.md).
//   subscribe()  QoS 1; incoming messages arrive as on_message(topic, payload).
//
// Handlers run on the transport's own thread: keep them short and post the
// work elsewhere (the uplink posts into its worker queue). Events of one
// connection arrive in order, and every event of a connection arrives before
// the on_status(false, …) that ends it.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "vigil/status.h"

namespace vigil::uplink {

struct TransportOptions {
  std::string host = "localhost";
  int port = 8883;
  bool mqtt5 = true;  // false = MQTT 3.1.1
  std::string ca_file, cert_file, key_file;  // PEM; TLS 1.2+ with mutual X.509 auth
  bool tls = true;                           // false only for tests against a plain broker
  std::string client_id;
  int keepalive_s = 60;
  int connect_timeout_ms = 10000;  // TCP + TLS + CONNACK
  // Last will (retained, QoS 1) the broker publishes when the connection is
  // lost without a DISCONNECT; empty topic = none. With MQTT 5 a graceful
  // disconnect() asks the broker to publish it too (reason 0x04), so other
  // gateways see a stopped gateway offline at once.
  std::string will_topic, will_payload;
};

struct TransportHandlers {
  std::function<void(bool connected, const Status& why)> on_status;
  std::function<void(int mid, int reason)> on_puback;
  std::function<void(const std::string& topic, const std::string& payload)> on_message;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Set once, before connect().
  virtual void set_handlers(TransportHandlers h) = 0;
  virtual Status connect() = 0;
  // Closes the connection (if any) without reporting on_status.
  virtual void disconnect() = 0;
  virtual Result<int> publish(const std::string& topic, const std::string& payload, int qos) = 0;
  virtual Result<int> publish_retained(const std::string& topic, const std::string& payload, int qos) {
    return publish(topic, payload, qos);
  }
  virtual Status subscribe(const std::string& topic_filter, int qos) = 0;
};

// The libmosquitto implementation (mosquitto_transport.cpp): a fresh client
// per connection attempt, driven by the transport's own thread through
// mosquitto_loop(), so a broken session never leaves stale state behind.
// Unreadable certificate files or a failing handshake are reported by the
// connection attempt (on_status(false, "tls: …")), never by a crash, so a
// wrong CA or certificate shows up in the health status and is retried
// with back-off.
Result<std::unique_ptr<Transport>> make_mosquitto_transport(const TransportOptions& o);

}  // namespace vigil::uplink
