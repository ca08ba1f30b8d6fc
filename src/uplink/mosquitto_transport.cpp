// SPDX-License-Identifier: Apache-2.0
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "uplink/transport.h"

namespace vigil::uplink {
namespace {

using SteadyClock = std::chrono::steady_clock;

void lib_init() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

Status check_readable(const std::string& what, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(what + " is not set");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::PermissionDenied(what + " " + path + " is not readable");
  std::fclose(f);
  return Status::Ok();
}

class MosquittoTransport final : public Transport {
 public:
  explicit MosquittoTransport(TransportOptions o) : opt_(std::move(o)) {
    lib_init();
    thread_ = std::thread([this] { run(); });
  }
  ~MosquittoTransport() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    close_session(false);
  }

  void set_handlers(TransportHandlers h) override { h_ = std::move(h); }

  Status connect() override {
    std::lock_guard lk(mu_);
    if (mosq_ || want_connect_) return Status::AlreadyExists("uplink: a connection attempt is under way");
    want_connect_ = true;
    cv_.notify_all();
    return Status::Ok();
  }

  void disconnect() override {
    std::lock_guard lk(mu_);
    want_connect_ = false;
    want_disconnect_ = true;
    cv_.notify_all();
  }

  Result<int> publish(const std::string& topic, const std::string& payload, int qos) override {
    return publish_impl(topic, payload, qos, false);
  }
  Result<int> publish_retained(const std::string& topic, const std::string& payload, int qos) override {
    return publish_impl(topic, payload, qos, true);
  }
  Result<int> publish_impl(const std::string& topic, const std::string& payload, int qos, bool retain) {
    std::lock_guard lk(mu_);
    if (!mosq_ || !connected_) return Status::Unavailable("uplink: not connected");
    int mid = 0;
    int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                               retain);
    if (rc != MOSQ_ERR_SUCCESS) return Status::Unavailable(std::string("uplink: publish: ") + mosquitto_strerror(rc));
    return mid;
  }

  Status subscribe(const std::string& filter, int qos) override {
    std::lock_guard lk(mu_);
    if (!mosq_ || !connected_) return Status::Unavailable("uplink: not connected");
    int rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), qos);
    if (rc != MOSQ_ERR_SUCCESS) return Status::Unavailable(std::string("uplink: subscribe: ") + mosquitto_strerror(rc));
    return Status::Ok();
  }

 private:
  // ---- libmosquitto callbacks (transport thread, inside mosquitto_loop) ----
  static void on_connect(mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    auto* t = static_cast<MosquittoTransport*>(self);
    if (rc == 0) {
      {
        std::lock_guard lk(t->mu_);
        t->connected_ = true;
      }
      if (t->h_.on_status) t->h_.on_status(true, Status::Ok());
    } else {
      std::string why = t->opt_.mqtt5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc);
      t->failure_ = "broker refused the connection: " + why;
    }
  }
  static void on_disconnect(mosquitto*, void* self, int rc, const mosquitto_property*) {
    auto* t = static_cast<MosquittoTransport*>(self);
    if (rc != 0 && t->failure_.empty()) t->failure_ = std::string("connection lost: ") + mosquitto_strerror(rc);
    t->lost_ = true;
  }
  static void on_publish(mosquitto*, void* self, int mid, int reason, const mosquitto_property*) {
    auto* t = static_cast<MosquittoTransport*>(self);
    if (t->h_.on_puback) t->h_.on_puback(mid, reason);
  }
  static void on_message(mosquitto*, void* self, const mosquitto_message* m, const mosquitto_property*) {
    auto* t = static_cast<MosquittoTransport*>(self);
    if (!t->h_.on_message || !m->topic) return;
    std::string payload(static_cast<const char*>(m->payload), static_cast<std::size_t>(m->payloadlen));
    t->h_.on_message(m->topic, payload);
  }
  static void on_log(mosquitto*, void* self, int level, const char* str) {
    auto* t = static_cast<MosquittoTransport*>(self);
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
      std::string s = str ? str : "";
      // OpenSSL's own words name the cause ("certificate verify failed").
      if (s.find("OpenSSL Error") != std::string::npos || t->last_log_.empty()) t->last_log_ = s;
      spdlog::debug("uplink: libmosquitto: {}", s);
    }
  }

  // Creates and configures a client and starts a non-blocking connect.
  Status open_session() {
    VIGIL_RETURN_IF_ERROR(opt_.tls ? check_readable("ca_file", opt_.ca_file) : Status::Ok());
    VIGIL_RETURN_IF_ERROR(opt_.tls ? check_readable("cert_file", opt_.cert_file) : Status::Ok());
    VIGIL_RETURN_IF_ERROR(opt_.tls ? check_readable("key_file", opt_.key_file) : Status::Ok());
    mosquitto* m = mosquitto_new(opt_.client_id.c_str(), true, this);
    if (!m) return Status::Internal("uplink: mosquitto_new failed");
    auto fail = [&](const std::string& what, int rc) {
      mosquitto_destroy(m);
      std::string detail = last_log_.empty() ? std::string(mosquitto_strerror(rc)) : last_log_;
      return Status::Unavailable(what + ": " + detail);
    };
    mosquitto_threaded_set(m, true);  // our own thread runs mosquitto_loop()
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, opt_.mqtt5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, 0);  // the uplink bounds its own window
    mosquitto_connect_v5_callback_set(m, &on_connect);
    mosquitto_disconnect_v5_callback_set(m, &on_disconnect);
    mosquitto_publish_v5_callback_set(m, &on_publish);
    mosquitto_message_v5_callback_set(m, &on_message);
    mosquitto_log_callback_set(m, &on_log);
    if (!opt_.will_topic.empty()) {
      int rc = mosquitto_will_set(m, opt_.will_topic.c_str(), static_cast<int>(opt_.will_payload.size()),
                                  opt_.will_payload.data(), 1, true);
      if (rc != MOSQ_ERR_SUCCESS) return fail("will", rc);
    }
    if (opt_.tls) {
      // TLS 1.2 or newer (libmosquitto's default disables 1.0/1.1), peer
      // verification on, host name checked against the certificate.
      int rc = mosquitto_tls_set(m, opt_.ca_file.c_str(), nullptr, opt_.cert_file.c_str(), opt_.key_file.c_str(),
                                 nullptr);
      if (rc != MOSQ_ERR_SUCCESS) return fail("tls: certificate files", rc);
      rc = mosquitto_tls_opts_set(m, 1, nullptr, nullptr);
      if (rc != MOSQ_ERR_SUCCESS) return fail("tls: options", rc);
    }
    int rc = mosquitto_connect_bind_async(m, opt_.host.c_str(), opt_.port, opt_.keepalive_s, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      std::string where = opt_.host + ":" + std::to_string(opt_.port);
      if (rc == MOSQ_ERR_TLS) return fail("tls: " + where, rc);
      if (rc == MOSQ_ERR_ERRNO) {
        mosquitto_destroy(m);
        return Status::Unavailable("connect " + where + ": " + std::strerror(errno));
      }
      return fail("connect " + where, rc);
    }
    std::lock_guard lk(mu_);
    mosq_ = m;
    connected_ = false;
    return Status::Ok();
  }

  void close_session(bool graceful) {
    mosquitto* m = nullptr;
    {
      std::lock_guard lk(mu_);
      m = mosq_;
      mosq_ = nullptr;
      connected_ = false;
    }
    if (!m) return;
    if (graceful) {
      // 0x04 "disconnect with will message" (MQTT 5): others learn of a
      // stopped gateway at once instead of never (no will on a clean close).
      // MQTT 3.1.1 has no such reason: publish the will ourselves first.
      if (!opt_.mqtt5 && !opt_.will_topic.empty())
        mosquitto_publish(m, nullptr, opt_.will_topic.c_str(), static_cast<int>(opt_.will_payload.size()),
                          opt_.will_payload.data(), 1, true);
      const int reason = opt_.mqtt5 && !opt_.will_topic.empty() ? 4 : 0;
      mosquitto_disconnect_v5(m, reason, nullptr);
      mosquitto_loop(m, 50, 1);  // flush the DISCONNECT
    }
    mosquitto_destroy(m);
  }

  void report_down(const std::string& why) {
    if (h_.on_status) h_.on_status(false, Status::Unavailable(why));
  }

  void run() {
    while (true) {
      bool start = false, stop_session = false;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || want_connect_ || want_disconnect_ || mosq_; });
        if (stop_) return;
        start = want_connect_ && !mosq_;
        stop_session = want_disconnect_;
        want_connect_ = false;
        want_disconnect_ = false;
      }
      if (stop_session) {
        close_session(true);
        continue;
      }
      if (start) {
        failure_.clear();
        last_log_.clear();
        lost_ = false;
        auto s = open_session();
        if (!s.ok()) {
          report_down(s.message());
          continue;
        }
        deadline_ = SteadyClock::now() + std::chrono::milliseconds(opt_.connect_timeout_ms);
        continue;
      }
      mosquitto* m;
      bool connected;
      {
        std::lock_guard lk(mu_);
        m = mosq_;
        connected = connected_;
      }
      if (!m) continue;
      int rc = mosquitto_loop(m, 50, 1);
      std::string why;
      if (rc != MOSQ_ERR_SUCCESS || lost_ || !failure_.empty()) {
        if (!failure_.empty()) {
          why = failure_;
          if (!last_log_.empty() && failure_.rfind("broker refused", 0) != 0) why += " (" + last_log_ + ")";
        } else if (rc == MOSQ_ERR_TLS || last_log_.find("OpenSSL") != std::string::npos) {
          why = "tls: " + (last_log_.empty() ? std::string(mosquitto_strerror(rc)) : last_log_);
        } else if (rc == MOSQ_ERR_ERRNO) {
          why = std::string("connection failed: ") + std::strerror(errno);
        } else {
          why = std::string("connection lost: ") + mosquitto_strerror(rc);
          if (!last_log_.empty()) why += " (" + last_log_ + ")";
        }
      } else if (!connected && SteadyClock::now() > deadline_) {
        why = "connect timeout after " + std::to_string(opt_.connect_timeout_ms) + " ms";
      }
      if (!why.empty()) {
        close_session(false);
        report_down(why);
      }
    }
  }

  TransportOptions opt_;
  TransportHandlers h_;
  std::mutex mu_;
  std::condition_variable cv_;
  mosquitto* mosq_ = nullptr;  // guarded by mu_; destroyed only by the thread
  bool connected_ = false;     // guarded by mu_
  bool want_connect_ = false, want_disconnect_ = false, stop_ = false;
  // Transport thread only:
  std::string failure_, last_log_;
  bool lost_ = false;
  SteadyClock::time_point deadline_{};
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_mosquitto_transport(const TransportOptions& o) {
  if (o.port < 1 || o.port > 65535) return Status::InvalidArgument("uplink: port must be 1..65535");
  if (o.host.empty()) return Status::InvalidArgument("uplink: host is empty");
  if (o.client_id.empty()) return Status::InvalidArgument("uplink: client_id is empty");
  return std::unique_ptr<Transport>(new MosquittoTransport(o));
}

}  // namespace vigil::uplink
