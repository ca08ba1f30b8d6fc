// SPDX-License-Identifier: Apache-2.0
//
// The Beast server over real loopback sockets, in-process: handlers on the
// worker pool, the 503 when its queue is full, replies to malformed HTTP,
// Cache-Control on API replies, the connection caps with eviction, header
// and idle timeouts, event streams, and the graceful stop. Waits are bounded
// (a broken server fails a check after at most ~10 s, never hangs the run),
// and no check depends on how fast the machine is.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "vigil/metrics_registry.h"

using namespace vigil::http;
using namespace std::chrono_literals;

namespace {

// A blocking client socket with a receive timeout, so a server that never
// answers fails the check instead of hanging the test.
class Wire {
 public:
  explicit Wire(unsigned short port, const char* from = "127.0.0.1", int recv_timeout_s = 10) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{recv_timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  }
  ~Wire() {
    if (fd_ >= 0) ::close(fd_);
  }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

  // One response: head, then a Content-Length body. Empty if the connection
  // closed (or the receive timed out) before a full head arrived.
  std::string response() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return {};
    std::size_t len = 0;
    auto cl = lower(buf_.substr(0, end)).find("content-length:");
    if (cl != std::string::npos) len = std::stoul(buf_.substr(cl + 15));
    while (buf_.size() < end + 4 + len)
      if (!fill()) break;
    std::string r = buf_.substr(0, std::min(buf_.size(), end + 4 + len));
    buf_.erase(0, r.size());
    return r;
  }
  // Reads whatever comes until `n` bytes arrived or the connection closed.
  std::string read_at_least(std::size_t n) {
    while (buf_.size() < n)
      if (!fill()) break;
    return std::exchange(buf_, {});
  }
  // true once the server has closed the connection (EOF or reset).
  bool closed() {
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;  // EAGAIN: the receive timeout passed, still open
    }
  }

 private:
  bool fill() {
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  int fd_ = -1;
  std::string buf_;
};

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }
bool has(const std::string& response, const std::string& text) { return response.find(text) != std::string::npos; }

// A gate a handler waits at (at most 10 s, so a broken test ends).
struct Gate {
  std::promise<void> open_p;
  std::shared_future<void> open_f = open_p.get_future().share();
  std::atomic<int> arrived{0};
  void wait() {
    ++arrived;
    open_f.wait_for(10s);
  }
  void open() { open_p.set_value(); }
  bool reached(int n) {
    for (int i = 0; i < 1000 && arrived < n; ++i) std::this_thread::sleep_for(10ms);
    return arrived >= n;
  }
};

// A Server on 127.0.0.1:<any> over an io_context run by `io_threads`.
struct TestServer {
  boost::asio::io_context io;
  Router router;
  vigil::MetricsRegistry metrics;
  std::unique_ptr<Server> server;
  std::vector<std::thread> threads;

  TestServer(const std::function<void(Router&)>& routes, ServerOptions o, int io_threads = 1) {
    routes(router);
    o.address = "127.0.0.1";
    o.port = 0;
    o.metrics = &metrics;
    server = std::make_unique<Server>(io, router, o);
    REQUIRE(server->listen().ok());
    for (int i = 0; i < io_threads; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~TestServer() {
    io.stop();
    for (auto& t : threads) t.join();
    server.reset();
  }
  unsigned short port() const { return server->port(); }
  std::uint64_t count(const std::string& name, const std::string& labels = "") const {
    return metrics.counter_value(name, labels);
  }
  // Polls until the counter reaches `n` (bounded): the server counts after
  // the socket is closed, so a client can see the close first.
  bool counted(const std::string& name, const std::string& labels, std::uint64_t n) const {
    for (int i = 0; i < 1000 && count(name, labels) < n; ++i) std::this_thread::sleep_for(10ms);
    return count(name, labels) == n;
  }
  // Polls until the server holds `n` connections (bounded).
  bool holds(std::size_t n) {
    for (int i = 0; i < 1000 && server->connections() != n; ++i) std::this_thread::sleep_for(10ms);
    return server->connections() == n;
  }
};

Response ok_text(const std::string& body) { return Response::text(200, body); }

const std::string kGet = "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

TEST_CASE("a slow handler runs on a worker, so a request beside it is answered by the only io thread") {
  Gate gate;
  TestServer s(
      [&](Router& r) {
        r.add("GET", "/slow", [&](const Request&) {
          gate.wait();  // a login's scrypt, a checkpoint holding the write lock
          return ok_text("slow");
        });
        r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); });
      },
      ServerOptions{}, /*io_threads=*/1);
  Wire slow(s.port());
  REQUIRE(slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(gate.reached(1));
  Wire fast(s.port());
  REQUIRE(fast.send(kGet));
  auto r = fast.response();  // before the fix: the io thread sat in /slow and this timed out
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(has(r, "fast"));
  gate.open();
  auto r2 = slow.response();
  CHECK(status_line(r2) == "HTTP/1.1 200 OK");
}

TEST_CASE("with the handler queue full a request is answered 503 with Retry-After at once") {
  Gate gate;
  ServerOptions o;
  o.worker_threads = 1;
  o.max_queued_requests = 1;
  TestServer s(
      [&](Router& r) {
        r.add("GET", "/slow", [&](const Request&) {
          gate.wait();
          return ok_text("slow");
        });
      },
      o);
  Wire running(s.port()), queued(s.port()), shed(s.port());
  REQUIRE(running.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(gate.reached(1));
  REQUIRE(queued.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  bool is_queued = false;
  for (int i = 0; i < 1000 && !is_queued; ++i) {
    is_queued = s.metrics.render_prometheus().find("vigil_http_requests_queued 1") != std::string::npos;
    if (!is_queued) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(is_queued);
  REQUIRE(shed.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = shed.response();
  CHECK(status_line(r) == "HTTP/1.1 503 Service Unavailable");
  CHECK(has(r, "Retry-After: 1"));
  CHECK(has(r, "\"code\":\"overloaded\""));
  CHECK(s.count("vigil_http_requests_shed_total") == 1);
  gate.open();
  CHECK(status_line(running.response()) == "HTTP/1.1 200 OK");
  CHECK(status_line(queued.response()) == "HTTP/1.1 200 OK");
}

TEST_CASE("malformed requests get a 4xx problem reply with Connection: close instead of a reset") {
  ServerOptions o;
  o.max_header_bytes = 2048;
  o.max_body_bytes = 1024;
  TestServer s([](Router& r) { r.add("POST", "/api/v1/x", [](const Request&) { return ok_text("ok"); }); }, o);
  struct Case {
    std::string name, request, status;
  };
  const std::vector<Case> cases = {
      {"oversized head", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 "},
      {"bad Content-Length", "POST /api/v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\nhello",
       "HTTP/1.1 400 "},
      {"two Content-Lengths", "POST /api/v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       "HTTP/1.1 400 "},
      {"HTTP/0.9", "GET /\r\n\r\n", "HTTP/1.1 400 "},
      {"explicit HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", "HTTP/1.1 400 "},
      {"HTTP/2 on a 1.1 port", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", "HTTP/1.1 505 "},
      {"garbage request line", "\x01\x02\x03 nonsense\r\n\r\n", "HTTP/1.1 400 "},
      {"body over the limit", "POST /api/v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'b'),
       "HTTP/1.1 413 "},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Wire w(s.port());
    w.send(c.request);
    auto r = w.response();
    CHECK(status_line(r).rfind(c.status, 0) == 0);
    CHECK(has(r, "Connection: close"));
    CHECK(has(r, "Content-Type: application/problem+json"));
    CHECK(w.closed());
  }
  CHECK(s.count("vigil_http_bad_requests_total", "status=\"400\"") == 5);
  CHECK(s.count("vigil_http_bad_requests_total", "status=\"431\"") == 1);
  CHECK(s.count("vigil_http_bad_requests_total", "status=\"505\"") == 1);
  CHECK(s.count("vigil_http_bad_requests_total", "status=\"413\"") == 1);
}

TEST_CASE("API replies carry Cache-Control: no-store unless their handler chose a Cache-Control") {
  TestServer s(
      [](Router& r) {
        r.add("GET", "/api/v1/token", [](const Request&) { return Response::json(201, R"({"token":"secret"})"); });
        r.add("GET", "/api/v1/cached", [](const Request&) {
          auto resp = ok_text("x");
          resp.headers.push_back({"Cache-Control", "max-age=5"});
          return resp;
        });
        r.set_fallback([](const Request&) {
          auto resp = ok_text("<html>");
          resp.headers.push_back({"Cache-Control", "public, max-age=300"});
          return resp;
        });
      },
      ServerOptions{});
  Wire w(s.port());
  w.send("GET /api/v1/token HTTP/1.1\r\nHost: t\r\n\r\n");
  auto token = w.response();
  CHECK(status_line(token) == "HTTP/1.1 201 Created");
  CHECK(has(token, "Cache-Control: no-store"));
  CHECK_FALSE(has(token, "Strict-Transport-Security"));  // plain HTTP
  w.send("GET /api/v1/cached HTTP/1.1\r\nHost: t\r\n\r\n");
  auto cached = w.response();
  CHECK(has(cached, "Cache-Control: max-age=5"));
  CHECK_FALSE(has(cached, "no-store"));
  w.send("GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n");
  auto file = w.response();
  CHECK(has(file, "Cache-Control: public, max-age=300"));
  w.send("DELETE /api/v1/nope HTTP/1.1\r\nHost: t\r\n\r\n");
  auto missing = w.response();
  CHECK(status_line(missing) == "HTTP/1.1 404 Not Found");
  CHECK(has(missing, "Cache-Control: no-store"));
}

TEST_CASE("at the connection cap the longest-idle connection makes room and a new client is served") {
  ServerOptions o;
  o.max_connections = 4;
  TestServer s([](Router& r) { r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); }); }, o);
  std::vector<std::unique_ptr<Wire>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Wire>(s.port()));
    REQUIRE(s.holds(static_cast<std::size_t>(i + 1)));  // in this order: idle[0] waited longest
  }
  Wire legit(s.port());
  REQUIRE(legit.send(kGet));
  CHECK(status_line(legit.response()) == "HTTP/1.1 200 OK");  // before: the cap closed it at once
  CHECK(idle[0]->closed());
  CHECK(s.count("vigil_http_connections_evicted_total", "cap=\"total\"") == 1);
  // The others are still open and usable.
  REQUIRE(idle[1]->send(kGet));
  CHECK(status_line(idle[1]->response()) == "HTTP/1.1 200 OK");
}

TEST_CASE("connections with requests in progress are never evicted; only then is a newcomer refused") {
  Gate gate;
  ServerOptions o;
  o.max_connections = 2;
  TestServer s(
      [&](Router& r) {
        r.add("GET", "/slow", [&](const Request&) {
          gate.wait();
          return ok_text("slow");
        });
      },
      o);
  Wire a(s.port()), b(s.port());
  REQUIRE(a.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(b.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(gate.reached(2));
  Wire c(s.port());
  auto r = c.response();
  CHECK((r.empty() || status_line(r) == "HTTP/1.1 503 Service Unavailable"));
  CHECK(c.closed());
  CHECK(s.count("vigil_http_connections_refused_total", "cap=\"total\"") == 1);
  gate.open();
  CHECK(status_line(a.response()) == "HTTP/1.1 200 OK");
  CHECK(status_line(b.response()) == "HTTP/1.1 200 OK");
}

TEST_CASE("a client at its own cap makes room among its own idle connections, another client keeps its own") {
  ServerOptions o;
  o.max_connections = 100;
  o.max_connections_per_client = 2;
  TestServer s([](Router& r) { r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); }); }, o);
  Wire other(s.port(), "127.0.0.2");  // the oldest of all, but another client
  REQUIRE(s.holds(1));
  Wire a(s.port()), b(s.port());
  REQUIRE(s.holds(3));
  Wire c(s.port());  // 127.0.0.1 again: over its cap of 2
  REQUIRE(c.send(kGet));
  CHECK(status_line(c.response()) == "HTTP/1.1 200 OK");
  CHECK(s.count("vigil_http_connections_evicted_total", "cap=\"client\"") == 1);
  CHECK((a.closed() || b.closed()));
  REQUIRE(other.send(kGet));
  CHECK(status_line(other.response()) == "HTTP/1.1 200 OK");
}

TEST_CASE("a request head that trickles in is cut off at the header deadline") {
  ServerOptions o;
  o.header_timeout_s = 1;
  TestServer s([](Router& r) { r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); }); }, o);
  Wire slow(s.port(), "127.0.0.1", 1);
  REQUIRE(slow.send("GET /fast HTTP/1.1\r\nHost: t\r\n"));
  // A header line every 200 ms keeps a per-read timeout alive forever; the
  // deadline covers the whole head. Give up after 30 lines (6 s).
  bool cut = false;
  for (int i = 0; i < 30 && !cut; ++i) {
    std::this_thread::sleep_for(200ms);
    cut = !slow.send("X-Slow-" + std::to_string(i) + ": 1\r\n") || slow.closed();
  }
  CHECK(cut);
  CHECK(s.counted("vigil_http_timeouts_total", "phase=\"head\"", 1));
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  ServerOptions o;
  o.idle_timeout_s = 1;
  TestServer s([](Router& r) { r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); }); }, o);
  Wire w(s.port());
  REQUIRE(w.send(kGet));
  CHECK(status_line(w.response()) == "HTTP/1.1 200 OK");
  CHECK(w.closed());  // within the 10 s receive timeout
  CHECK(s.counted("vigil_http_timeouts_total", "phase=\"idle\"", 1));
}

TEST_CASE("an event stream is set up from a worker and is not evicted for newcomers") {
  std::promise<std::shared_ptr<StreamSink>> got;
  ServerOptions o;
  o.max_connections = 2;
  TestServer s(
      [&](Router& r) {
        r.add("GET", "/api/v1/events", [&](const Request&) {
          Response resp = Response::text(200, "", "text/event-stream; charset=utf-8");
          resp.is_stream = true;
          resp.on_stream = [&](std::shared_ptr<StreamSink> sink) {
            sink->send("data: first\n\n");
            got.set_value(std::move(sink));
          };
          return resp;
        });
        r.add("GET", "/fast", [](const Request&) { return ok_text("fast"); });
      },
      o);
  Wire stream(s.port());
  REQUIRE(stream.send("GET /api/v1/events HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto sink_f = got.get_future();
  REQUIRE(sink_f.wait_for(10s) == std::future_status::ready);
  auto sink = sink_f.get();
  auto head = stream.read_at_least(1);
  for (int i = 0; i < 100 && !has(head, "data: first"); ++i) head += stream.read_at_least(1);
  CHECK(status_line(head) == "HTTP/1.1 200 OK");
  CHECK(has(head, "data: first"));
  // Newcomers fill and churn the other slot; the stream keeps its own.
  for (int i = 0; i < 3; ++i) {
    {
      Wire w(s.port());
      REQUIRE(w.send(kGet));
      CHECK(status_line(w.response()) == "HTTP/1.1 200 OK");
    }
    REQUIRE(s.holds(1));  // the reply's write has completed and the client's close been seen
  }
  Wire idle(s.port());
  REQUIRE(s.holds(2));
  Wire newcomer(s.port());
  REQUIRE(newcomer.send(kGet));
  CHECK(status_line(newcomer.response()) == "HTTP/1.1 200 OK");
  CHECK(idle.closed());
  CHECK(sink->send("data: second\n\n"));
  CHECK(has(stream.read_at_least(1), "data: second"));
}

TEST_CASE("stop lets a request in flight finish with Connection: close, closes idle ones, then calls back") {
  Gate gate;
  TestServer s(
      [&](Router& r) {
        r.add("GET", "/slow", [&](const Request&) {
          gate.wait();
          return ok_text("slow");
        });
      },
      ServerOptions{}, 2);
  Wire idle(s.port());
  Wire busy(s.port());
  REQUIRE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(gate.reached(1));
  std::promise<void> stopped;
  auto stopped_f = stopped.get_future();
  std::atomic<bool> called{false};
  s.server->stop([&] {
    called = true;
    stopped.set_value();
  });
  CHECK(idle.closed());
  CHECK_FALSE(called);  // the request is still in its handler
  gate.open();
  auto r = busy.response();
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(has(r, "Connection: close"));
  CHECK(stopped_f.wait_for(10s) == std::future_status::ready);
}
