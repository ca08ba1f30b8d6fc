// SPDX-License-Identifier: Apache-2.0
//
// Plain request/response values and the Router. Handlers are functions from
// request to response with no sockets in them (the Beast server converts at
// the edge), so every handler is testable and fuzzable without a network.
//
// Thread-safety: a Router is built once at start-up and then only read;
// dispatch() may run concurrently from several threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::http {

struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // decoded path without query, e.g. "/api/v1/assets/3"
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote;  // peer address, for rate limits and audit
  std::map<std::string, std::string> params;  // filled by the router: {id} → "3"

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::optional<std::string> q(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

// The server's end of a streaming response (Server-Sent Events). send() may
// be called from any thread; it queues the bytes for the client and returns
// false once the client is gone or was dropped for being too slow (its queue
// overflowed): the producer then forgets the sink.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool send(std::string bytes) = 0;
  virtual bool open() const = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A streaming response (Server-Sent Events): the server writes the status
  // line and headers, keeps the connection, and hands `on_stream` a sink the
  // producer pushes to. The server sends heartbeat comments and drops the
  // client when its queue overflows or a write times out.
  bool is_stream = false;
  std::function<void(std::shared_ptr<StreamSink>)> on_stream;

  static Response json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response text(int status, std::string body, std::string type = "text/plain; charset=utf-8") {
    Response r;
    r.status = status;
    r.content_type = std::move(type);
    r.body = std::move(body);
    return r;
  }
};

// RFC 9457 problem details with a stable machine-readable `code`.
Response problem(int status, const std::string& code, const std::string& detail);

class Router {
 public:
  using Handler = std::function<Response(const Request&)>;
  // pattern segments in braces match one path segment: "/api/v1/assets/{id}".
  void add(const std::string& method, const std::string& pattern, Handler h);
  // Called for GET/HEAD requests no route matches (static files).
  void set_fallback(Handler h) { fallback_ = std::move(h); }
  // 404 for an unknown path, 405 for a known path with another method, 500
  // (problem details) if a handler throws. Never throws.
  Response dispatch(Request req) const;
  struct Route {
    std::string method, pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  const std::vector<Route>& routes() const { return routes_; }

 private:
  Response route(Request req) const;
  std::vector<Route> routes_;
  Handler fallback_;
};

// Percent-decoding and query parsing ("a=1&b=x%20y").
std::string url_decode(const std::string& s);
std::map<std::string, std::string> parse_query(const std::string& q);

}  // namespace vigil::http
