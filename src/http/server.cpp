// SPDX-License-Identifier: Apache-2.0
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace vigil::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  const Router& router;
  ServerOptions opt;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> ssl;
  std::atomic<std::size_t> active{0};
  std::atomic<bool> stopped{false};

  Impl(asio::io_context& i, const Router& r, ServerOptions o)
      : io(i), router(r), opt(std::move(o)), acceptor(asio::make_strand(i)) {}
  void accept();
};

namespace {

Request to_request(const bhttp::request<bhttp::string_body>& in, const std::string& remote) {
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
  r.body = in.body();
  r.remote = remote;
  return r;
}

bhttp::response<bhttp::string_body> to_wire(Response&& r, const bhttp::request<bhttp::string_body>& req) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), req.version()};
  res.set(bhttp::field::server, "vigil");
  res.set(bhttp::field::content_type, r.content_type);
  // Conservative defaults for a local dashboard; handlers may override.
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  for (auto& [k, v] : r.headers) {
    if (k == "Set-Cookie") res.insert(k, v);  // may repeat
    else res.set(k, v);
  }
  res.keep_alive(req.keep_alive());
  if (req.method() == bhttp::verb::head) {
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

// One connection: read a request, dispatch, write, repeat while keep-alive.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream&& stream, std::shared_ptr<Server::Impl> server, std::string remote)
      : stream_(std::move(stream)), server_(std::move(server)), remote_(std::move(remote)) {}
  ~Session() { server_->active.fetch_sub(1); }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(server_->opt.request_timeout_s));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // failed handshakes are routine (scanners, wrong scheme)
                                self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_->opt.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(server_->opt.request_timeout_s));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout) return close();
    if (ec == bhttp::error::body_limit) {
      return reply_error(413, "body_too_large", "request body exceeds the limit");
    }
    if (ec) {
      if (ec != asio::error::operation_aborted && ec != asio::error::connection_reset)
        spdlog::debug("http: read from {}: {}", remote_, ec.message());
      return;
    }
    auto req = parser_->release();
    Response r = server_->router.dispatch(to_request(req, remote_));
    if (r.is_stream && r.on_stream && r.status == 200) return start_stream(std::move(r), req);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(to_wire(std::move(r), req));
    write(res);
  }

  void reply_error(int status, const char* code, const char* detail) {
    bhttp::request<bhttp::string_body> dummy{bhttp::verb::get, "/", 11};
    dummy.keep_alive(false);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(to_wire(problem(status, code, detail), dummy));
    write(res);
  }

  void write(std::shared_ptr<bhttp::response<bhttp::string_body>> res) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(server_->opt.request_timeout_s));
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         if (!res->keep_alive()) return self->close();
                         self->read();
                       });
  }

  // ---- streaming (Server-Sent Events) ----
  // The connection becomes a one-way stream: a hand-written header (no
  // Content-Length, no keep-alive: the body ends when the connection does),
  // then whatever the producer send()s, in order, plus heartbeat comments.
  class Sink : public StreamSink {
   public:
    explicit Sink(std::weak_ptr<Session> s) : s_(std::move(s)) {}
    bool send(std::string bytes) override {
      auto s = s_.lock();
      return s && s->enqueue(std::move(bytes));
    }
    bool open() const override {
      auto s = s_.lock();
      return s && !s->stream_closed_.load();
    }

   private:
    std::weak_ptr<Session> s_;
  };

  void start_stream(Response r, const bhttp::request<bhttp::string_body>& req) {
    std::string head = "HTTP/1.1 200 OK\r\nServer: vigil\r\nContent-Type: " + r.content_type +
                       "\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n"
                       "X-Content-Type-Options: nosniff\r\n";
    for (auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    (void)req;
    enqueue(std::move(head));
    auto sink = std::make_shared<Sink>(this->weak_from_this());
    r.on_stream(sink);
    heartbeat();
    // Read (and discard) anything the client sends, to notice when it goes away.
    watch_close();
  }

  bool enqueue(std::string bytes) {
    std::lock_guard lk(out_mu_);
    if (stream_closed_.load()) return false;
    if (out_.size() >= server_->opt.stream_queue_max) {
      // Too slow: drop the client rather than buffer without bound.
      stream_closed_ = true;
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->abort_stream(); });
      return false;
    }
    out_.push_back(std::move(bytes));
    if (!writing_) {
      writing_ = true;
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->write_next(); });
    }
    return true;
  }

  void write_next() {
    {
      std::lock_guard lk(out_mu_);
      if (out_.empty() || stream_closed_.load()) {
        writing_ = false;
        return;
      }
      current_ = std::move(out_.front());
      out_.pop_front();
    }
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(server_->opt.request_timeout_s));
    asio::async_write(stream_, asio::buffer(current_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->abort_stream();
      beast::get_lowest_layer(self->stream_).expires_never();
      self->write_next();
    });
  }

  void heartbeat() {
    if (!heartbeat_) heartbeat_.emplace(stream_.get_executor());
    heartbeat_->expires_after(std::chrono::seconds(std::max(1, server_->opt.heartbeat_s)));
    heartbeat_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->stream_closed_.load() || self->server_->stopped) return self->abort_stream();
      self->enqueue(": heartbeat\n\n");
      self->heartbeat();
    });
  }

  void watch_close() {
    stream_.async_read_some(asio::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->abort_stream();
      self->watch_close();
    });
  }

  void abort_stream() {
    stream_closed_ = true;
    if (heartbeat_) heartbeat_->cancel();
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  void close() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  std::shared_ptr<Server::Impl> server_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // streaming state
  std::mutex out_mu_;
  std::deque<std::string> out_;
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
      if (ec != asio::error::operation_aborted) spdlog::warn("http: accept: {}", ec.message());
    } else if (self->active.load() >= static_cast<std::size_t>(self->opt.max_connections)) {
      beast::error_code ignored;
      sock.close(ignored);  // over the cap: refuse rather than queue without bound
    } else {
      std::string remote;
      beast::error_code rec;
      auto ep = sock.remote_endpoint(rec);
      if (!rec) remote = ep.address().to_string();
      self->active.fetch_add(1);
      if (self->ssl) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *self->ssl), self, remote)
            ->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(sock)), self, remote)->start();
      }
    }
    self->accept();
  });
}

Server::Server(asio::io_context& io, const Router& router, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, router, std::move(options))) {}

Server::~Server() { stop(); }

Status Server::listen() {
  auto& o = impl_->opt;
  if (o.tls) {
    impl_->ssl.emplace(asio::ssl::context::tls_server);
    auto& c = *impl_->ssl;
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                  asio::ssl::context::single_dh_use);
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

void Server::stop() {
  if (!impl_) return;
  // The acceptor lives on its own strand; the io_context may run on several
  // threads, so close it there rather than racing a pending accept.
  asio::dispatch(impl_->acceptor.get_executor(), [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

unsigned short Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::size_t Server::connections() const { return impl_->active.load(); }

}  // namespace vigil::http
