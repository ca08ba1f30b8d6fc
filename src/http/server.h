// SPDX-License-Identifier: Apache-2.0
//
// The HTTP server: Boost.Beast over an asio::io_context the caller runs.
// Converts wire requests to http::Request, dispatches them through a Router
// and writes the Response back. Limits: request body size, a timeout on
// every read and write, a cap on concurrent connections. Keeps Beast out of
// every other translation unit.
//
// Thread-safety: construct, listen() and stop() from the io_context's
// thread (or before it runs); the Router must outlive the Server.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "http/http_types.h"
#include "vigil/status.h"

namespace vigil::http {

struct ServerOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 8080;
  std::size_t max_body_bytes = 1 << 20;
  int request_timeout_s = 30;
  int max_connections = 512;
  // Server-Sent Events: a comment line every heartbeat_s keeps proxies and
  // browsers from timing out and detects dead clients; a client with more
  // than stream_queue_max unsent messages (or a write that takes longer than
  // request_timeout_s) is dropped.
  int heartbeat_s = 15;
  std::size_t stream_queue_max = 512;
  bool tls = false;
  std::string cert_file, key_file;  // PEM; required when tls
};

class Server {
 public:
  Server(boost::asio::io_context& io, const Router& router, ServerOptions options);
  ~Server();
  // Binds and starts accepting. kUnavailable "address in use" etc.
  Status listen();
  void stop();
  unsigned short port() const;  // the bound port (useful with port 0)
  std::size_t connections() const;

  struct Impl;  // public so the .cpp's session template can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigil::http
