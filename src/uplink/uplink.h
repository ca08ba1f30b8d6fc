// SPDX-License-Identifier: Apache-2.0
//
// Uplink: the gateway's cloud link. Sends what matters (alert events, state
// transitions, periodic per-position summaries, a heartbeat; raw readings and
// waveforms only when send_raw is set) over MQTT with QoS 1, store-and-forward
// through the Outbox, and accepts a small set of commands on its own command
// topic. Payloads and commands: docs/uplink.md.
//
// Delivery. Producers (any thread) commit a message to the outbox and wake
// the worker. The worker publishes strictly in outbox order with at most
// `window` messages in flight; a message leaves the outbox only on its
// PUBACK. When the connection drops, everything not acknowledged is resent
// from the oldest on the next connection (same id and bytes), so downstream
// sees every message at least once, and exactly once, in order, after
// de-duplication by id.
//
// Connection. The worker asks the Transport for one attempt at a time and
// backs off exponentially (backoff_min_ms doubling to backoff_max_ms, ±20 %
// jitter) after each failure; the reason (e.g. "tls: … certificate verify
// failed") is kept as last_error for the health status.
//
// Time. Summaries follow the gateway clock (simulated time in `vigil demo`,
// so a summary covers one simulated hour of data); the heartbeat, back-off
// and "last delivery" use wall time.
//
// Threads. One worker thread owns the connection state, the in-flight map
// and the timers; transport callbacks and commands are posted into its
// bounded queue. Thread-safety: every public method may be called from any
// thread; attach*() before data flows.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alerts.h"
#include "config/config.h"
#include "analytics/machine_classes.h"
#include "analytics/pipeline.h"
#include "uplink/messages.h"
#include "uplink/outbox.h"
#include "uplink/transport.h"
#include "vigil/clock.h"
#include "vigil/ingest.h"
#include "vigil/metrics_registry.h"
#include "vigil/store.h"

namespace vigil::uplink {

struct UplinkOptions {
  std::string gateway_id = "vigil";
  std::string topic_prefix = "vigil/{gateway_id}";  // {gateway_id} substituted
  std::size_t outbox_max_bytes = 64u << 20;
  int summary_interval_s = 3600;  // gateway clock; 0 = no periodic summaries
  int heartbeat_interval_s = 300; // wall clock; also one on every (re)connect
  bool send_raw = false;
  int window = 32;                // messages in flight
  int backoff_min_ms = 1000;
  int backoff_max_ms = 60000;
  std::size_t event_queue_max = 100000;
  std::string broker;    // "host:port" for the status only
  std::string protocol;  // "mqttv5" | "mqttv311" for the status only
};

class Uplink {
 public:
  // Opens the outbox (migrations, which also move zone limits older vigils
  // kept in uplink_kv to the store's machine classes) and re-applies the
  // stored user machine classes, those set by earlier `threshold` commands
  // among them. With `alerts`, subscribes to its events (AlertService::
  // on_event): every alert change goes up as an alert event. Store, clock,
  // metrics and pipeline must outlive it; `alerts` must make no change after
  // the uplink is destroyed (destroy the AlertService first).
  static Result<std::unique_ptr<Uplink>> create(UplinkOptions options, std::unique_ptr<Transport> transport,
                                                Store& store, const Clock& clock,
                                                analytics::Pipeline* pipeline = nullptr,
                                                alerts::AlertService* alerts = nullptr,
                                                MetricsRegistry& metrics = MetricsRegistry::global());
  ~Uplink();  // stops the worker and closes the connection; the outbox stays
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  // From the configuration (section "uplink") with the libmosquitto
  // transport; client_id defaults to the gateway id.
  static Result<std::unique_ptr<Uplink>> from_config(const UplinkConfig& c, const std::string& gateway_id,
                                                     Store& store, const Clock& clock,
                                                     analytics::Pipeline* pipeline, alerts::AlertService* alerts,
                                                     std::string will_topic = {}, std::string will_payload = {});

  // Starts the worker (first connection attempt at once).
  void start();
  void stop();

  // Observes the pipeline's state changes (state messages; the alerts they
  // open or escalate arrive through the AlertService's events).
  void attach(analytics::Pipeline& pipeline);
  // Raw readings and waveforms (only if options.send_raw).
  void attach_raw(Ingest& ingest);

  // ---- producers (any thread): committed to the outbox on return ----
  Status alert_event(Id alert_id, const std::string& event, const std::string& actor);
  Status alert_event(const alerts::Alert& a, const std::string& event, const std::string& actor);
  Status state_change(const analytics::StateChange& c);
  Status enqueue(Kind kind, const nlohmann::json& data);
  Status summaries(TimestampMs from, TimestampMs to, std::optional<Id> position = std::nullopt);

  // ---- more topics (call before start()) ----
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;
  // Subscribes (QoS 1, on every connection) to `filter`; messages on a
  // matching topic go to `handler` on the worker thread instead of the
  // command parser. Larger payloads than max_bytes, or more than
  // inbound_max_bytes waiting in all, are dropped before queueing and
  // counted (vigil_uplink_inbound_dropped_total).
  void add_subscription(std::string filter, std::size_t max_bytes, MessageHandler handler);
  // A retained document (QoS 1) published on every connection and then
  // every interval_s (and soon after refresh_retained(): at once, or 2 s
  // after the last publication, so a burst of changes costs one message);
  // `make` runs on the worker thread and returns the payload ("" = skip).
  void add_retained(std::string topic, std::function<std::string()> make, int interval_s);
  void refresh_retained();
  // A message that is not kept (the plant's relayed adverts, ble/relay_out.h):
  // published once, QoS 0, not retained, by the worker if connected when it
  // gets to it; never in the outbox, never resent. `done` (optional) runs on
  // the worker: true = handed to the broker, false = the link was down.
  // Unavailable when not connected now; ResourceExhausted when
  // kMaxVolatileQueued are waiting already (any thread, never blocks).
  static constexpr std::size_t kMaxVolatileQueued = 1024;
  Status publish_volatile(std::string topic, std::string payload, std::function<void(bool)> done = {});
  // With the transport's last will set (from_config's `will`).
  bool connected() const;

  // For /api/v1/health: connected, backlog, last delivery, last error, …
  nlohmann::json status() const;
  const std::string& prefix() const { return prefix_; }
  Outbox& outbox() { return *outbox_; }
  // Blocks until the worker has handled everything posted before (tests).
  bool sync(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  using WallClock = std::chrono::steady_clock;
  enum class Conn { kIdle, kConnecting, kConnected, kBackoff };
  Uplink(UplinkOptions o, std::unique_ptr<Transport> t, Store& store, const Clock& clock,
         analytics::Pipeline* pipeline, alerts::AlertService* alerts, MetricsRegistry& metrics);
  bool post(std::function<void()> fn);
  void run();
  void tick();
  void pump();
  void on_connected();
  void on_down(const Status& why);
  void on_puback(int mid, int reason);
  void on_command(const std::string& topic, const std::string& payload);
  void on_incoming(const std::string& topic, const std::string& payload);  // transport thread
  void publish_retained_all();
  Status execute(const Command& c, const std::string& actor, nlohmann::json& result);
  void heartbeat(const char* reason);
  void check_summaries();
  void set_error(const std::string& e);
  Result<std::string> kv_get(const std::string& key);
  Status kv_put(const std::string& key, const std::string& value);

  UplinkOptions opt_;
  std::string prefix_;
  std::unique_ptr<Transport> transport_;
  Store& store_;
  analytics::MachineClasses classes_;  // `threshold` changes user classes (ZoneTable::global())
  const Clock& clock_;
  analytics::Pipeline* pipeline_;
  alerts::AlertService* alerts_;
  MetricsRegistry& metrics_;
  std::unique_ptr<Outbox> outbox_;
  Counter *delivered_, *published_, *refused_, *reconnects_, *cmd_accepted_, *cmd_rejected_, *cmd_failed_,
      *events_dropped_;

  struct Subscription {
    std::string filter;
    std::size_t max_bytes;
    MessageHandler handler;
  };
  struct Retained {
    std::string topic;
    std::function<std::string()> make;
    int interval_s;
    std::chrono::steady_clock::time_point next{}, last{};
  };
  // refresh_retained() republishes at most this often.
  static constexpr std::chrono::seconds kMinRetainedGap{2};
  std::vector<Subscription> subs_;   // fixed once started
  std::vector<Retained> retained_;   // worker-only once started
  std::size_t inbound_max_bytes_ = 16u << 20;
  std::atomic<std::size_t> inbound_bytes_{0};
  std::atomic<std::size_t> volatile_queued_{0};
  Counter *inbound_dropped_ = nullptr;

  // Worker queue.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> events_;
  bool stop_ = false, running_ = false;
  std::thread worker_;

  // Worker-only state.
  Conn conn_ = Conn::kIdle;
  std::map<int, std::int64_t> inflight_;  // mid → outbox seq
  std::int64_t last_sent_seq_ = 0;
  int backoff_ms_ = 0;
  WallClock::time_point next_attempt_{}, next_heartbeat_{};
  TimestampMs summary_end_ = 0;  // gateway clock; end of the last summarised window
  WallClock::time_point started_ = WallClock::now();

  // Status snapshot (status_mu_).
  mutable std::mutex status_mu_;
  struct Snapshot {
    std::string conn = "idle";
    bool connected = false;
    std::size_t inflight = 0;
    std::optional<TimestampMs> last_delivery, connected_since, last_error_at;
    std::string last_error, last_rejected;
    std::int64_t next_attempt_in_ms = 0;
  } snap_;
};

}  // namespace vigil::uplink
