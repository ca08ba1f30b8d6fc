// SPDX-License-Identifier: Apache-2.0
//
// The HTTP server: Boost.Beast over an asio::io_context the caller runs.
// Converts wire requests to http::Request, runs Router::dispatch on a bounded
// worker pool (handlers read and write SQLite and hash passwords; the io
// threads only do I/O) and writes the Response back from the connection's
// strand. Keeps Beast out of every other translation unit.
//
// Limits (every one counted on /metrics as vigil_http_*):
// - a request head (and, for a new connection, its TLS handshake) must arrive
//   within header_timeout_s; a body within request_timeout_s of its head;
//   each response write within request_timeout_s; a keep-alive connection
//   waits idle_timeout_s for its next request. A timed-out connection is
//   closed without a reply.
// - max_connections in all and max_connections_per_client per client (IPv4
//   address or IPv6 /64; loopback is no exception). At a cap the connection
//   that has been idle or waiting for a request head the longest is closed to
//   make room (ConnectionLimiter, conn_limits.h); a request in progress or a
//   healthy event stream never is. Only when every slot is busy is a new
//   connection refused.
// - malformed requests get a problem+json reply and Connection: close:
//   oversized head 431, body over max_body_bytes 413, bad request line,
//   Content-Length, chunking or HTTP/0.9 400, HTTP/2+ on this port 505.
// - with max_queued_requests handlers waiting for a worker, a new request is
//   answered 503 with Retry-After at once.
// Every /api/ reply carries Cache-Control: no-store unless its handler set
// its own Cache-Control; under TLS every reply carries HSTS. TLS: 1.2 with
// ECDHE and AEAD suites only (AES-GCM, ChaCha20-Poly1305), and 1.3.
// Rejections, evictions, header timeouts and shed requests are logged at
// debug, and summed in one warning at most once a minute.
//
// Thread-safety: construct, listen() and stop() from any one thread; the
// io_context may run on several threads (each connection lives on its own
// strand). The Router must outlive the Server; Router::dispatch runs on the
// worker threads. The destructor stops the server and joins the workers
// (handlers still running finish first; queued ones are dropped).
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "http/http_types.h"
#include "vigil/metrics_registry.h"
#include "vigil/status.h"

namespace vigil::http {

struct ServerOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;  // request line + header fields
  int header_timeout_s = 10;                // whole request head (and TLS handshake)
  int request_timeout_s = 30;               // request body; each response write
  int idle_timeout_s = 15;                  // keep-alive wait for the next request
  int max_connections = 512;
  int max_connections_per_client = 256;
  // Request handlers: worker threads (0: hardware threads + 2, at least 4) and how
  // many requests may wait for one before new ones get 503.
  int worker_threads = 0;
  std::size_t max_queued_requests = 256;
  // stop(): how long in-flight requests get to finish.
  int shutdown_grace_s = 10;
  // Server-Sent Events: a comment line every heartbeat_s keeps proxies and
  // browsers from timing out and detects dead clients; a client with more
  // than stream_queue_max unsent messages (or a write that takes longer than
  // request_timeout_s) is dropped.
  int heartbeat_s = 15;
  std::size_t stream_queue_max = 512;
  bool tls = false;
  std::string cert_file, key_file;  // PEM; required when tls
  MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
};

class Server {
 public:
  Server(boost::asio::io_context& io, const Router& router, ServerOptions options);
  ~Server();
  // Binds and starts accepting. kUnavailable "address in use" etc.
  Status listen();
  // Graceful stop: stops accepting, closes idle connections and event
  // streams, lets requests in flight finish and write their replies (with
  // Connection: close), then calls `stopped` — or when shutdown_grace_s has
  // passed. `stopped` runs on an io_context thread; the caller typically
  // stops the io_context there. Calling stop() again is harmless (a later
  // callback is ignored).
  void stop(std::function<void()> stopped = {});
  unsigned short port() const;  // the bound port (useful with port 0)
  std::size_t connections() const;

  struct Impl;  // public so the .cpp's session template can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigil::http
