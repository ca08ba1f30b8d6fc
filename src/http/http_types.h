// SPDX-License-Identifier: Apache-2.0
//
// Plain request/response values and the Router. Handlers are functions from
// request to response with no sockets in them (the Beast server converts at
// the edge), so every handler is testable and fuzzable without a network.
//
// Thread-safety: a Router is built once at start-up and then only read;
// dispatch() may run concurrently from several threads.
#pragma once

#include <chrono>
#include <cstddef>
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
  // Set only in-process, never from the wire: a command another gateway of
  // the plant sent, authenticated by the plant's command key
  // (uplink/plant_command.h), applied as this admin actor
  // ("plant:<gateway>:<user>").
  std::optional<std::string> plant_actor;

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

// The server's end of a streaming response. send() may be called from any
// thread; it queues the bytes for the client and returns false once the
// client is gone or was dropped: the producer then forgets the sink.
//
// Event streams (Response::StreamMode::kEvents, Server-Sent Events): a client
// whose queue overflows is dropped (send() returns false).
// Downloads (kDownload): the server frames each send() as one HTTP/1.1 chunk
// and never drops a slow client for its queue; the producer paces itself
// with send_wait() instead, and ends the body with finish(). A download
// whose sink is released without finish() is cut short (the connection is
// closed without the last chunk, so the client knows the body is
// incomplete).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool send(std::string bytes) = 0;
  virtual bool open() const = 0;
  // Back-pressure: waits (at most `timeout`) until fewer than the server's
  // high-water mark of bytes wait for the client, then queues `bytes`.
  // False when the client went away, the server is stopping, or the client
  // read nothing for `timeout` (the stream is then closed). Blocks: never
  // call it on an I/O thread.
  virtual bool send_wait(std::string bytes, std::chrono::milliseconds timeout) {
    (void)timeout;
    return send(std::move(bytes));
  }
  // Bytes queued and not yet written to the client.
  virtual std::size_t queued_bytes() const { return 0; }
  // Downloads: the body is complete. The server writes what is queued, the
  // last chunk with `trailers` ("Name: value\r\n" lines), and closes the
  // connection.
  virtual void finish(std::string trailers = {}) { (void)trailers; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A streaming response: the server writes the status line and headers
  // (with Connection: close), keeps the connection, and hands `on_stream` a
  // sink the producer pushes to.
  // kEvents (Server-Sent Events): on_stream runs on the connection's I/O
  // thread and must return at once; the server sends heartbeat comments and
  // drops the client when its queue overflows or a write times out.
  // kDownload (a file): Transfer-Encoding: chunked (HTTP/1.0: the body ends
  // with the connection); no heartbeats; on_stream runs on a worker thread
  // and is the producer: it may block for the whole download, pacing itself
  // with send_wait(), and returns after finish() or once a send fails (the
  // client went away or the server is stopping). When no worker is free the
  // client gets 503 instead.
  enum class StreamMode { kEvents, kDownload };
  bool is_stream = false;
  StreamMode stream_mode = StreamMode::kEvents;
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
