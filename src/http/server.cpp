// SPDX-License-Identifier: Apache-2.0
#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "http/conn_limits.h"
#include "http/worker_pool.h"

namespace vigil::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace server_internal {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// TLS 1.2: forward secrecy and AEAD only (no CBC, no SHA-1 MACs, no static
// RSA or DHE). TLS 1.3 keeps OpenSSL's suites, which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr int kLingerS = 2;                       // after the last reply: wait for the client's FIN
constexpr std::size_t kLingerMaxBytes = 64 << 10;  // … discarding at most this much
constexpr std::size_t kFirstRead = 1024;          // idle keep-alive: read this much to see a request start

// The limiter's client key: the IPv4 address, or the /64 of an IPv6 one (one
// host usually holds a whole /64).
std::string client_key(const asio::ip::address& a) {
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    auto b = v6.to_bytes();
    std::fill(b.begin() + 8, b.end(), 0);
    return asio::ip::address_v6(b).to_string() + "/64";
  }
  return a.to_string();
}

// What the server holds of each connection, so accept and stop can reach it.
struct Conn {
  virtual ~Conn() = default;
  virtual void evict() = 0;            // close now (the limiter already forgot it)
  virtual void server_stopping() = 0;  // close if idle, end a stream; a request in flight finishes
};

enum class Wait { kIdle, kHead, kBody };

// Counters on /metrics and the once-a-minute warning that sums them.
struct Stats {
  explicit Stats(MetricsRegistry& m)
      : evicted_total(m.counter("vigil_http_connections_evicted_total",
                                "Idle or slow HTTP connections closed to make room for a new one, by cap reached",
                                "cap=\"total\"")),
        evicted_client(m.counter("vigil_http_connections_evicted_total", "", "cap=\"client\"")),
        refused_total(m.counter("vigil_http_connections_refused_total",
                                "New HTTP connections refused because every slot was busy, by cap reached",
                                "cap=\"total\"")),
        refused_client(m.counter("vigil_http_connections_refused_total", "", "cap=\"client\"")),
        timeout_idle(m.counter("vigil_http_timeouts_total",
                               "HTTP connections closed for a timeout, by what they were waiting for",
                               "phase=\"idle\"")),
        timeout_head(m.counter("vigil_http_timeouts_total", "", "phase=\"head\"")),
        timeout_body(m.counter("vigil_http_timeouts_total", "", "phase=\"body\"")),
        timeout_write(m.counter("vigil_http_timeouts_total", "", "phase=\"write\"")),
        shed(m.counter("vigil_http_requests_shed_total",
                       "Requests answered 503 at once because too many were waiting for a worker")),
        bad_400(m.counter("vigil_http_bad_requests_total", "Malformed HTTP requests, by reply status",
                          "status=\"400\"")),
        bad_413(m.counter("vigil_http_bad_requests_total", "", "status=\"413\"")),
        bad_431(m.counter("vigil_http_bad_requests_total", "", "status=\"431\"")),
        bad_505(m.counter("vigil_http_bad_requests_total", "", "status=\"505\"")),
        accept_errors(m.counter("vigil_http_accept_errors_total", "Failed accepts (e.g. out of file descriptors)")) {}

  Counter *evicted_total, *evicted_client, *refused_total, *refused_client;
  Counter *timeout_idle, *timeout_head, *timeout_body, *timeout_write;
  Counter* shed;
  Counter *bad_400, *bad_413, *bad_431, *bad_505;
  Counter* accept_errors;

  std::atomic<std::uint64_t> n_evicted{0}, n_refused{0}, n_timeouts{0}, n_shed{0}, n_accept_errors{0};
  std::atomic<std::int64_t> next_warn_ms{0};

  void evicted(ConnCap cap) {
    (cap == ConnCap::kPerClient ? evicted_client : evicted_total)->inc();
    n_evicted.fetch_add(1, std::memory_order_relaxed);
    maybe_warn();
  }
  void refused(ConnCap cap) {
    (cap == ConnCap::kPerClient ? refused_client : refused_total)->inc();
    n_refused.fetch_add(1, std::memory_order_relaxed);
    maybe_warn();
  }
  void timed_out(Wait w) {
    if (w == Wait::kIdle) return timeout_idle->inc();  // routine end of a keep-alive connection
    (w == Wait::kHead ? timeout_head : timeout_body)->inc();
    n_timeouts.fetch_add(1, std::memory_order_relaxed);
    maybe_warn();
  }
  void bad_request(int status) {
    switch (status) {
      case 413: bad_413->inc(); break;
      case 431: bad_431->inc(); break;
      case 505: bad_505->inc(); break;
      default: bad_400->inc();
    }
  }
  void shed_one() {
    shed->inc();
    n_shed.fetch_add(1, std::memory_order_relaxed);
    maybe_warn();
  }
  void accept_failed() {
    accept_errors->inc();
    n_accept_errors.fetch_add(1, std::memory_order_relaxed);
    maybe_warn();
  }
  // One warning line a minute at most, with what happened since the last.
  void maybe_warn() {
    const std::int64_t now = now_ms();
    std::int64_t next = next_warn_ms.load(std::memory_order_relaxed);
    if (now < next || !next_warn_ms.compare_exchange_strong(next, now + 60'000)) return;
    const auto e = n_evicted.exchange(0), r = n_refused.exchange(0), t = n_timeouts.exchange(0),
               s = n_shed.exchange(0), a = n_accept_errors.exchange(0);
    if (e + r + t + s + a == 0) return;
    spdlog::warn(
        "http: {} connections evicted and {} refused at the connection caps, {} requests timed out before "
        "they were complete, {} requests shed with 503, {} failed accepts (since the last such line; "
        "vigil_http_* on /metrics)",
        e, r, t, s, a);
  }
};

}  // namespace server_internal

using namespace server_internal;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  const Router& router;
  ServerOptions opt;
  tcp::acceptor acceptor;
  asio::steady_timer timer;  // on the acceptor's strand: accept back-off, then drain polling
  std::optional<asio::ssl::context> ssl;
  std::atomic<std::size_t> active{0};
  std::atomic<bool> stopped{false};
  ConnectionLimiter limiter;
  WorkerPool pool;
  Stats stats;
  std::mutex conns_mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns;
  // acceptor strand only
  bool stop_begun = false;
  std::function<void()> on_stopped;
  std::chrono::steady_clock::time_point drain_deadline;

  Impl(asio::io_context& i, const Router& r, ServerOptions o)
      : io(i),
        router(r),
        opt(std::move(o)),
        acceptor(asio::make_strand(i)),
        timer(acceptor.get_executor()),
        limiter(static_cast<std::size_t>(std::max(1, opt.max_connections)),
                static_cast<std::size_t>(std::max(1, opt.max_connections_per_client))),
        pool(static_cast<std::size_t>(std::max(0, opt.worker_threads)), opt.max_queued_requests),
        stats(opt.metrics ? *opt.metrics : MetricsRegistry::global()) {}

  void accept();
  void admit(tcp::socket sock);
  void begin_stop(std::function<void()> cb);
  void drain_poll();
};

namespace {

Request to_request(bhttp::request<bhttp::string_body>&& in, const std::string& remote) {
  Request r;
  r.method = std::string(in.method_string());
  std::string target(in.target());
  auto q = target.find('?');
  r.path = url_decode(target.substr(0, q));
  if (q != std::string::npos) r.query = parse_query(target.substr(q + 1));
  for (const auto& f : in) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = std::move(in.body());
  r.remote = remote;
  return r;
}

bool has_header(const Response& r, const char* name) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [name](const auto& kv) { return beast::iequals(kv.first, name); });
}

// What the reply needs to know of its request.
struct ReplyTo {
  unsigned version = 11;
  bool keep_alive = false;
  bool head = false;
  bool api = true;  // server-made replies (errors) are not to be cached either
  bool tls = false;
};

bhttp::response<bhttp::string_body> to_wire(Response&& r, const ReplyTo& to) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), to.version};
  res.set(bhttp::field::server, "vigil");
  res.set(bhttp::field::content_type, r.content_type);
  // Conservative defaults for a local dashboard; handlers may override.
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  if (to.api && !has_header(r, "Cache-Control")) res.set(bhttp::field::cache_control, "no-store");
  if (to.tls) res.set(bhttp::field::strict_transport_security, "max-age=31536000");
  for (auto& [k, v] : r.headers) {
    if (k == "Set-Cookie") res.insert(k, v);  // may repeat
    else res.set(k, v);
  }
  res.keep_alive(to.keep_alive);
  if (to.head) {
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

bool client_gone(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

// One connection: read a request head (within header_timeout_s), its body
// (within request_timeout_s), hand it to a worker, write the reply from the
// strand, repeat while keep-alive (waiting idle_timeout_s). Every member is
// touched only on the connection's strand, except the event stream's queue
// (out_mu_) and the atomics.
template <typename Stream>
class Session : public Conn, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;
  using Executor = typename Stream::executor_type;

 public:
  Session(Stream&& stream, std::shared_ptr<Server::Impl> server, std::string remote, std::uint64_t id)
      : stream_(std::move(stream)),
        exec_(stream_.get_executor()),
        server_(std::move(server)),
        remote_(std::move(remote)),
        id_(id) {
    server_->active.fetch_add(1);
  }
  ~Session() override {
    server_->limiter.release(id_);
    {
      std::lock_guard lk(server_->conns_mu);
      server_->conns.erase(id_);
    }
    server_->active.fetch_sub(1);
  }

  void start() {
    // The handshake and the first request head share one deadline.
    tcp().expires_after(std::chrono::seconds(opt().header_timeout_s));
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->on_read_error(ec, Wait::kHead);
                                self->read_head(false);
                              });
    } else {
      read_head(false);
    }
  }

  void evict() override {
    asio::post(exec_, [self = this->shared_from_this()] {
      spdlog::debug("http: closing connection from {} to make room", self->remote_);
      self->shut();
    });
  }

  void server_stopping() override {
    asio::post(exec_, [self = this->shared_from_this()] {
      if (self->streaming_) return self->abort_stream();
      if (self->phase_ == ConnPhase::kAwaitingHead || self->phase_ == ConnPhase::kClosing) self->shut();
    });
  }

 private:
  const ServerOptions& opt() const { return server_->opt; }
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // Tells the limiter; false when this connection was evicted meanwhile.
  bool enter(ConnPhase p) {
    phase_ = p;
    return server_->limiter.set_phase(id_, p, now_ms());
  }

  // Close now: pending operations end with operation_aborted.
  void shut() {
    done_ = true;
    tcp().close();
  }

  void read_head(bool fresh_deadline) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(opt().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(opt().max_body_bytes);
    if (fresh_deadline) tcp().expires_after(std::chrono::seconds(opt().header_timeout_s));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_head(ec);
                             });
  }

  // After a keep-alive reply: wait idle_timeout_s for the next request to
  // start, then give its head header_timeout_s.
  void await_request() {
    if (server_->stopped) return close();
    if (!enter(ConnPhase::kAwaitingHead)) return shut();
    if (buffer_.size() > 0) return read_head(true);  // pipelined
    tcp().expires_after(std::chrono::seconds(opt().idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->on_read_error(ec, Wait::kIdle);
                              self->read_head(true);
                            });
  }

  void on_head(beast::error_code ec) {
    if (ec) return on_read_error(ec, Wait::kHead);
    if (parser_->is_done()) return dispatch();
    if (!enter(ConnPhase::kReadingBody)) return shut();
    tcp().expires_after(std::chrono::seconds(opt().request_timeout_s));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->on_read_error(ec, Wait::kBody);
                        self->dispatch();
                      });
  }

  void on_read_error(beast::error_code ec, Wait w) {
    if (ec == beast::error::timeout) {
      // The stream closed the socket; nothing can be sent.
      server_->stats.timed_out(w);
      if (w != Wait::kIdle)
        spdlog::debug("http: {} from {} not complete in time; closed", w == Wait::kHead ? "request head" : "body",
                      remote_);
      return;
    }
    if (done_ || client_gone(ec)) return;
    if (ec == bhttp::error::header_limit)
      return reply_error(431, "headers_too_large",
                         "the request line and headers exceed " + std::to_string(opt().max_header_bytes) + " bytes");
    if (ec == bhttp::error::body_limit) return reply_error(413, "body_too_large", "request body exceeds the limit");
    if (ec == bhttp::error::bad_version) {
      // Beast takes HTTP/1.0 and 1.1 only. A well-formed later version
      // (HTTP/2.0 in a request line) gets 505; HTTP/0.9 and junk get 400.
      if (names_later_version())
        return reply_error(505, "http_version_not_supported", "this port speaks HTTP/1.1 (and 1.0)");
      return reply_error(400, "bad_request", "malformed request line: HTTP/1.0 or HTTP/1.1 requests only");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category())
      return reply_error(400, "bad_request", "malformed HTTP request: " + ec.message());
    spdlog::debug("http: read from {}: {}", remote_, ec.message());  // TLS errors, scanners, wrong scheme
  }

  // The unparsed request line (still in the buffer) ends in HTTP/2-9.x.
  bool names_later_version() const {
    auto d = buffer_.data();
    std::string_view line(static_cast<const char*>(d.data()), std::min<std::size_t>(d.size(), 8192));
    line = line.substr(0, line.find('\r'));
    auto p = line.rfind(" HTTP/");
    return p != std::string_view::npos && line.size() == p + 9 && line[p + 6] >= '2' && line[p + 6] <= '9' &&
           line[p + 7] == '.' && line[p + 8] >= '0' && line[p + 8] <= '9';
  }

  void dispatch() {
    if (!enter(ConnPhase::kBusy)) return shut();
    tcp().expires_never();
    auto msg = parser_->release();
    reply_.version = msg.version();
    reply_.keep_alive = msg.keep_alive();
    reply_.head = msg.method() == bhttp::verb::head;
    reply_.tls = kTls;
    Request req = to_request(std::move(msg), remote_);
    reply_.api = req.path.rfind("/api/", 0) == 0;
    auto self = this->shared_from_this();
    Status s = server_->pool.submit([self, req = std::move(req)]() mutable {
      Response r = self->server_->router.dispatch(std::move(req));
      Executor ex = self->exec_;
      asio::post(ex, [self = std::move(self), r = std::move(r)]() mutable { self->respond(std::move(r)); });
    });
    if (s.ok()) return;
    Response r = problem(503, "overloaded", s.code() == Status::Code::kResourceExhausted
                                                ? "too many requests are waiting; retry shortly"
                                                : "the server is stopping");
    r.headers.push_back({"Retry-After", "1"});
    if (s.code() == Status::Code::kResourceExhausted) {
      server_->stats.shed_one();
      spdlog::debug("http: {} {} from {} shed: {}", r.status, reply_.api ? "API request" : "request", remote_,
                    s.message());
    }
    respond(std::move(r));
  }

  void respond(Response r) {
    if (done_) return;
    if (r.is_stream && r.on_stream && r.status == 200) {
      if (!server_->stopped) return start_stream(std::move(r));
      r = problem(503, "unavailable", "the server is stopping");
    }
    ReplyTo to = reply_;
    to.keep_alive = to.keep_alive && !server_->stopped;
    write(std::make_shared<bhttp::response<bhttp::string_body>>(to_wire(std::move(r), to)));
  }

  // A malformed request: a problem reply, then close (the parser's state is
  // lost). The connection stays first in line for eviction meanwhile.
  void reply_error(int status, const std::string& code, const std::string& detail) {
    server_->stats.bad_request(status);
    spdlog::debug("http: {} to {}: {}", status, remote_, detail);
    if (!enter(ConnPhase::kClosing)) return shut();
    ReplyTo to;
    to.tls = kTls;
    write(std::make_shared<bhttp::response<bhttp::string_body>>(to_wire(problem(status, code, detail), to)));
  }

  void write(std::shared_ptr<bhttp::response<bhttp::string_body>> res) {
    tcp().expires_after(std::chrono::seconds(opt().request_timeout_s));
    bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) {
        if (ec == beast::error::timeout) self->server_->stats.timeout_write->inc();
        return;  // the session ends; the socket closes with it
      }
      if (!res->keep_alive()) return self->close();
      self->await_request();
    });
  }

  // After the last reply: send FIN, then read and discard until the client's
  // FIN (at most kLingerS, kLingerMaxBytes), so a request it was still
  // sending does not turn our reply into a reset.
  void close() {
    if (done_) return;
    done_ = true;
    (void)enter(ConnPhase::kClosing);
    auto& t = tcp();
    if (!t.socket().is_open()) return;
    t.expires_after(std::chrono::seconds(kLingerS));
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->tcp().close(); });
    } else {
      beast::error_code ec;
      t.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return t.close();
      linger();
    }
  }

  void linger() {
    tcp().async_read_some(asio::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerMaxBytes) return self->tcp().close();
      self->linger();
    });
  }

  // ---- streaming (Server-Sent Events, downloads) ----
  // The connection becomes a one-way stream: a hand-written header (no
  // Content-Length, no keep-alive), then whatever the producer send()s, in
  // order. Events: the body ends when the connection does, and heartbeat
  // comments keep it alive. Downloads: chunked transfer encoding (each
  // send() one chunk, finish() the last chunk and trailers), no heartbeats,
  // and the producer waits for the queue to drain (send_wait) instead of
  // the client being dropped.
  class Sink : public StreamSink {
   public:
    Sink(std::weak_ptr<Session> s, bool download) : s_(std::move(s)), download_(download) {}
    ~Sink() override {
      // A download the producer gave up on without finish(): cut it short,
      // so the client sees an incomplete body rather than waiting forever.
      if (!download_ || finished_) return;
      if (auto s = s_.lock()) s->cut_download();
    }
    bool send(std::string bytes) override {
      if (download_) return send_wait(std::move(bytes), std::chrono::seconds(30));
      auto s = s_.lock();
      return s && s->enqueue(std::move(bytes));
    }
    bool send_wait(std::string bytes, std::chrono::milliseconds timeout) override {
      auto s = s_.lock();
      return s && s->enqueue_wait(std::move(bytes), timeout);
    }
    bool open() const override {
      auto s = s_.lock();
      return s && !s->stream_closed_.load();
    }
    std::size_t queued_bytes() const override {
      auto s = s_.lock();
      if (!s) return 0;
      std::lock_guard lk(s->out_mu_);
      return s->out_bytes_;
    }
    void finish(std::string trailers) override {
      if (!download_ || finished_) return;
      finished_ = true;
      if (auto s = s_.lock()) s->finish_download(std::move(trailers));
    }

    // The download never started (no worker took it): nothing to cut.
    void disarm() { finished_ = true; }

   private:
    std::weak_ptr<Session> s_;
    const bool download_;
    bool finished_ = false;
  };

  // A download queues at most this many bytes before send_wait() waits.
  static constexpr std::size_t kDownloadHighWater = 1 << 20;

  void start_stream(Response r) {
    streaming_ = true;
    download_ = r.stream_mode == Response::StreamMode::kDownload;
    chunked_ = download_ && reply_.version >= 11;
    std::string head = "HTTP/1.1 200 OK\r\nServer: vigil\r\nContent-Type: " + r.content_type +
                       "\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n"
                       "X-Content-Type-Options: nosniff\r\n";
    if (chunked_) head += "Transfer-Encoding: chunked\r\n";
    if (kTls) head += "Strict-Transport-Security: max-age=31536000\r\n";
    for (auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    if (download_ && reply_.head) {
      // HEAD: the head alone (the export's count and name); no producer.
      std::lock_guard lk(out_mu_);
      push_locked(std::move(head));
      finishing_ = true;
      return watch_close();
    }
    auto sink = std::make_shared<Sink>(this->weak_from_this(), download_);
    if (download_) {
      // The producer runs on a worker; the head is queued under the same
      // lock first, so it goes out before anything the producer sends.
      std::unique_lock lk(out_mu_);
      Status s = server_->pool.submit([sink, fn = std::move(r.on_stream)]() mutable { fn(std::move(sink)); });
      if (!s.ok()) {
        sink->disarm();
        lk.unlock();
        streaming_ = download_ = chunked_ = false;
        Response busy = problem(503, "overloaded", "no worker is free for the download; retry shortly");
        busy.headers.push_back({"Retry-After", "5"});
        return respond(std::move(busy));
      }
      push_locked(std::move(head));
    } else {
      enqueue(std::move(head));
      r.on_stream(sink);
      heartbeat();
    }
    // Read (and discard) anything the client sends, to notice when it goes away.
    watch_close();
  }

  // Appends to the queue and starts the writer; out_mu_ held.
  void push_locked(std::string bytes) {
    out_bytes_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (!writing_) {
      writing_ = true;
      asio::post(exec_, [self = this->shared_from_this()] { self->write_next(); });
    }
  }

  bool enqueue(std::string bytes) {
    std::lock_guard lk(out_mu_);
    if (stream_closed_.load()) return false;
    if (out_.size() >= opt().stream_queue_max) {
      // Too slow: drop the client rather than buffer without bound.
      stream_closed_ = true;
      asio::post(exec_, [self = this->shared_from_this()] { self->abort_stream(); });
      return false;
    }
    push_locked(std::move(bytes));
    return true;
  }

  // A download's next part: waits while kDownloadHighWater bytes are queued.
  bool enqueue_wait(std::string bytes, std::chrono::milliseconds timeout) {
    if (bytes.empty()) return open_stream();
    std::unique_lock lk(out_mu_);
    const bool room = out_cv_.wait_for(lk, timeout, [this] {
      return stream_closed_.load() || out_bytes_ < kDownloadHighWater;
    });
    if (stream_closed_.load()) return false;
    if (!room) {
      // The client read nothing for `timeout`: give up on it.
      stream_closed_ = true;
      asio::post(exec_, [self = this->shared_from_this()] { self->abort_stream(); });
      return false;
    }
    if (chunked_) {
      char size[24];
      std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
      bytes.insert(0, size);
      bytes += "\r\n";
    }
    push_locked(std::move(bytes));
    return true;
  }

  bool open_stream() const { return !stream_closed_.load(); }

  void finish_download(std::string trailers) {
    std::lock_guard lk(out_mu_);
    if (stream_closed_.load()) return;
    if (chunked_) push_locked("0\r\n" + trailers + "\r\n");
    finishing_ = true;
    if (!writing_) {
      writing_ = true;
      asio::post(exec_, [self = this->shared_from_this()] { self->write_next(); });
    }
  }

  void cut_download() {
    {
      std::lock_guard lk(out_mu_);
      if (stream_closed_.load() || finishing_) return;
      stream_closed_ = true;
    }
    asio::post(exec_, [self = this->shared_from_this()] { self->abort_stream(); });
  }

  void write_next() {
    {
      std::lock_guard lk(out_mu_);
      if (stream_closed_.load()) {
        writing_ = false;
        return;
      }
      if (out_.empty()) {
        writing_ = false;
        // A finished download: everything is written. Send FIN; the read in
        // watch_close() ends with the client's own close (or the linger
        // deadline) and closes the socket.
        if (finishing_) {
          beast::error_code ec;
          tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
          tcp().expires_after(std::chrono::seconds(kLingerS));
        }
        return;
      }
      current_ = std::move(out_.front());
      out_.pop_front();
    }
    tcp().expires_after(std::chrono::seconds(opt().request_timeout_s));
    asio::async_write(stream_, asio::buffer(current_),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->abort_stream();
                        self->tcp().expires_never();
                        {
                          std::lock_guard lk(self->out_mu_);
                          self->out_bytes_ -= std::min(self->out_bytes_, self->current_.size());
                        }
                        self->out_cv_.notify_all();
                        self->write_next();
                      });
  }

  void heartbeat() {
    if (!heartbeat_) heartbeat_.emplace(exec_);
    heartbeat_->expires_after(std::chrono::seconds(std::max(1, opt().heartbeat_s)));
    heartbeat_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->stream_closed_.load() || self->server_->stopped) return self->abort_stream();
      self->enqueue(": heartbeat\n\n");
      self->heartbeat();
    });
  }

  void watch_close() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->abort_stream();
                              self->watch_close();
                            });
  }

  void abort_stream() {
    {
      std::lock_guard lk(out_mu_);
      stream_closed_ = true;
    }
    out_cv_.notify_all();  // a producer waiting in send_wait() gives up
    done_ = true;
    (void)enter(ConnPhase::kClosing);
    if (heartbeat_) heartbeat_->cancel();
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().close();
  }

  Stream stream_;
  const Executor exec_;  // the connection's strand
  std::shared_ptr<Server::Impl> server_;
  const std::string remote_;
  const std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  ConnPhase phase_ = ConnPhase::kAwaitingHead;
  ReplyTo reply_;
  bool done_ = false;  // no further reads or replies
  std::size_t lingered_ = 0;
  // streaming state
  bool streaming_ = false;
  bool download_ = false;  // a file download (chunked, back-pressure) rather than events
  bool chunked_ = false;
  mutable std::mutex out_mu_;
  std::condition_variable out_cv_;  // out_bytes_ fell or the stream closed
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;  // queued, not yet written (current_ included)
  bool finishing_ = false;     // a download's last chunk is queued
  std::string current_;
  bool writing_ = false;
  std::atomic<bool> stream_closed_{false};
  std::optional<asio::steady_timer> heartbeat_;
  char discard_[512];
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors and the like: back off instead of spinning.
      self->stats.accept_failed();
      spdlog::debug("http: accept: {}", ec.message());
      self->timer.expires_after(std::chrono::milliseconds(100));
      self->timer.async_wait([self](beast::error_code tec) {
        if (!tec && !self->stopped) self->accept();
      });
      return;
    }
    self->admit(std::move(sock));
    self->accept();
  });
}

void Server::Impl::admit(tcp::socket sock) {
  beast::error_code ec;
  auto ep = sock.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string remote = ep.address().to_string();
  Admission a = limiter.admit(client_key(ep.address()), now_ms());
  const char* cap = a.cap == ConnCap::kPerClient ? "per-client" : "total";
  if (!a.admitted) {
    stats.refused(a.cap);
    spdlog::debug("http: refused a connection from {}: the {} connection cap is reached and every connection is busy",
                  remote, cap);
    if (!ssl) {
      static constexpr char k503[] =
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
      sock.non_blocking(true, ec);
      if (!ec) sock.write_some(asio::buffer(k503, sizeof k503 - 1), ec);  // best effort, never blocks
    }
    sock.close(ec);
    return;
  }
  if (a.evicted) {
    std::shared_ptr<Conn> victim;
    {
      std::lock_guard lk(conns_mu);
      auto it = conns.find(*a.evicted);
      if (it != conns.end()) victim = it->second.lock();
    }
    if (victim) victim->evict();
    stats.evicted(a.cap);
    spdlog::debug("http: {} connection cap reached; evicting the longest-idle connection for {}", cap, remote);
  }
  try {
    std::shared_ptr<Conn> conn;
    auto self = shared_from_this();
    if (ssl) {
      auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *ssl), self, remote, a.id);
      {
        std::lock_guard lk(conns_mu);
        conns[a.id] = s;
      }
      s->start();
    } else {
      auto s = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(sock)), self, remote, a.id);
      {
        std::lock_guard lk(conns_mu);
        conns[a.id] = s;
      }
      s->start();
    }
  } catch (const std::exception& e) {
    limiter.release(a.id);
    spdlog::warn("http: cannot serve a connection from {}: {}", remote, e.what());
  }
}

void Server::Impl::begin_stop(std::function<void()> cb) {
  if (stop_begun) return;
  stop_begun = true;
  stopped = true;
  on_stopped = std::move(cb);
  beast::error_code ec;
  acceptor.close(ec);
  timer.cancel();
  std::vector<std::shared_ptr<Conn>> live;
  {
    std::lock_guard lk(conns_mu);
    for (auto& [id, w] : conns)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->server_stopping();
  drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0, opt.shutdown_grace_s));
  drain_poll();
}

void Server::Impl::drain_poll() {
  const bool drained = limiter.in_flight() == 0 && pool.idle();
  if (drained || std::chrono::steady_clock::now() >= drain_deadline) {
    if (!drained)
      spdlog::warn("http: stopping with {} requests still in flight after {} s", limiter.in_flight(),
                   opt.shutdown_grace_s);
    if (auto cb = std::exchange(on_stopped, {})) cb();
    return;
  }
  timer.expires_after(std::chrono::milliseconds(20));
  timer.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->drain_poll();
  });
}

Server::Server(asio::io_context& io, const Router& router, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, router, std::move(options))) {
  MetricsRegistry& m = impl_->opt.metrics ? *impl_->opt.metrics : MetricsRegistry::global();
  std::weak_ptr<Impl> w = impl_;
  m.gauge("vigil_http_connections", "Open HTTP connections", [w] {
    auto i = w.lock();
    return i ? static_cast<double>(i->active.load()) : 0.0;
  });
  m.gauge("vigil_http_requests_queued", "HTTP requests waiting for a worker thread", [w] {
    auto i = w.lock();
    return i ? static_cast<double>(i->pool.queued()) : 0.0;
  });
}

Server::~Server() {
  if (!impl_) return;
  stop();
  // Handlers still running finish; queued ones are dropped. After this no
  // worker thread holds the Impl, so it is never destroyed on one.
  impl_->pool.stop();
}

Status Server::listen() {
  auto& o = impl_->opt;
  if (o.tls) {
    impl_->ssl.emplace(asio::ssl::context::tls_server);
    auto& c = *impl_->ssl;
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                  asio::ssl::context::single_dh_use | asio::ssl::context::no_compression);
    SSL_CTX* n = c.native_handle();
    SSL_CTX_set_options(n, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_min_proto_version(n, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(n, kTls12Ciphers) != 1)
      return Status::Internal("http: TLS: OpenSSL refused the cipher configuration");
    beast::error_code ec;
    c.use_certificate_chain_file(o.cert_file, ec);
    if (ec) return Status::InvalidArgument("http: TLS certificate " + o.cert_file + ": " + ec.message());
    c.use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("http: TLS key " + o.key_file + ": " + ec.message());
  }
  beast::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) return Status::InvalidArgument("http: bad listen address '" + o.address + "'");
  tcp::endpoint ep(addr, o.port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (ec) return Status::IoError("http: socket: " + ec.message());
  a.set_option(asio::socket_base::reuse_address(true), ec);
  a.bind(ep, ec);
  if (ec) {
    std::string where = o.address + ":" + std::to_string(o.port);
    if (ec == asio::error::address_in_use)
      return Status::Unavailable("http: " + where + " is already in use by another process");
    return Status::IoError("http: bind " + where + ": " + ec.message());
  }
  a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("http: listen: " + ec.message());
  impl_->accept();
  return Status::Ok();
}

void Server::stop(std::function<void()> stopped) {
  if (!impl_) return;
  // The acceptor lives on its own strand; the io_context may run on several
  // threads, so stop there rather than racing a pending accept.
  asio::dispatch(impl_->acceptor.get_executor(),
                 [impl = impl_, cb = std::move(stopped)]() mutable { impl->begin_stop(std::move(cb)); });
}

unsigned short Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::size_t Server::connections() const { return impl_->active.load(); }

}  // namespace vigil::http
