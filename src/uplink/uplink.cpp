// SPDX-License-Identifier: Apache-2.0
#include "uplink/uplink.h"

#include <spdlog/spdlog.h>

#include <future>
#include <random>

#include "uplink/messages.h"
#include "uplink/plant.h"

namespace vigil::uplink {
using nlohmann::json;

namespace {
TimestampMs wall_ms() { return SystemClock::instance().now_ms(); }
}  // namespace

Uplink::Uplink(UplinkOptions o, std::unique_ptr<Transport> t, Store& store, const Clock& clock,
               analytics::Pipeline* pipeline, alerts::AlertService* alerts, MetricsRegistry& metrics)
    : opt_(std::move(o)),
      prefix_(expand_prefix(opt_.topic_prefix, opt_.gateway_id)),
      transport_(std::move(t)),
      store_(store),
      classes_(store),
      clock_(clock),
      pipeline_(pipeline),
      alerts_(alerts),
      metrics_(metrics) {
  delivered_ = metrics_.counter("vigil_uplink_delivered_total", "Uplink messages acknowledged by the broker");
  published_ = metrics_.counter("vigil_uplink_published_total", "Uplink publishes (including resends)");
  refused_ = metrics_.counter("vigil_uplink_refused_total", "Uplink messages the broker refused (MQTT 5 reason)");
  reconnects_ = metrics_.counter("vigil_uplink_connection_failures_total", "Failed or lost uplink connections");
  const char* ch = "Uplink commands received, by result";
  cmd_accepted_ = metrics_.counter("vigil_uplink_commands_total", ch, "result=\"accepted\"");
  cmd_rejected_ = metrics_.counter("vigil_uplink_commands_total", ch, "result=\"rejected\"");
  cmd_failed_ = metrics_.counter("vigil_uplink_commands_total", ch, "result=\"failed\"");
  events_dropped_ = metrics_.counter("vigil_uplink_events_dropped_total", "Uplink worker events dropped (queue full)");
  inbound_dropped_ = metrics_.counter("vigil_uplink_inbound_dropped_total",
                                      "Incoming MQTT messages dropped before handling (too large, or too many waiting)");
  backoff_ms_ = opt_.backoff_min_ms;
}

Result<std::unique_ptr<Uplink>> Uplink::create(UplinkOptions options, std::unique_ptr<Transport> transport,
                                               Store& store, const Clock& clock, analytics::Pipeline* pipeline,
                                               alerts::AlertService* alerts, MetricsRegistry& metrics) {
  if (!transport) return Status::InvalidArgument("uplink: no transport");
  if (options.window < 1 || options.window > 1000) return Status::InvalidArgument("uplink: window must be 1..1000");
  std::unique_ptr<Uplink> u(
      new Uplink(std::move(options), std::move(transport), store, clock, pipeline, alerts, metrics));
  auto ob = Outbox::open(store, u->opt_.outbox_max_bytes, metrics);
  if (!ob) return ob.status();
  u->outbox_ = std::move(*ob);
  auto se = u->kv_get("summary_end");
  if (!se) return se.status();
  if (!se->empty()) u->summary_end_ = std::stoll(*se);
  auto s = u->classes_.load_user();
  if (!s.ok()) spdlog::warn("uplink: machine classes: {}", s.ToString());
  Uplink* self = u.get();
  TransportHandlers h;
  h.on_status = [self](bool up, const Status& why) {
    self->post([self, up, why] { up ? self->on_connected() : self->on_down(why); });
  };
  h.on_puback = [self](int mid, int reason) { self->post([self, mid, reason] { self->on_puback(mid, reason); }); };
  h.on_message = [self](const std::string& topic, const std::string& payload) { self->on_incoming(topic, payload); };
  u->transport_->set_handlers(std::move(h));
  // Every alert change (opened, escalated, updated, acknowledged, muted,
  // unmuted, closed) goes up as an alert event, whoever made it.
  if (alerts)
    alerts->on_event([self](const alerts::Alert& a, const std::string& event, const std::string& actor) {
      auto st = self->alert_event(a, event, actor);
      if (!st.ok()) spdlog::warn("uplink: alert {} {}: {}", a.id, event, st.ToString());
    });
  return u;
}

Result<std::unique_ptr<Uplink>> Uplink::from_config(const UplinkConfig& c, const std::string& gateway_id,
                                                    Store& store, const Clock& clock,
                                                    analytics::Pipeline* pipeline, alerts::AlertService* alerts,
                                                    std::string will_topic, std::string will_payload) {
  TransportOptions t;
  t.host = c.host;
  t.port = c.port;
  t.mqtt5 = c.protocol != "mqttv311";
  t.ca_file = c.ca_file;
  t.cert_file = c.cert_file;
  t.key_file = c.key_file;
  t.client_id = c.client_id.empty() ? gateway_id : c.client_id;
  t.keepalive_s = c.keepalive_s;
  t.will_topic = std::move(will_topic);
  t.will_payload = std::move(will_payload);
  auto tr = make_mosquitto_transport(t);
  if (!tr) return tr.status();
  UplinkOptions o;
  o.gateway_id = gateway_id;
  o.topic_prefix = c.topic_prefix;
  o.outbox_max_bytes = static_cast<std::size_t>(c.outbox_max_mb) << 20;
  o.summary_interval_s = c.summary_interval_s;
  o.send_raw = c.send_raw_readings;
  o.broker = c.host + ":" + std::to_string(c.port);
  o.protocol = c.protocol;
  return create(std::move(o), std::move(*tr), store, clock, pipeline, alerts);
}

Uplink::~Uplink() {
  stop();
  transport_->disconnect();
  transport_.reset();  // joins the transport thread before our members go
}

void Uplink::start() {
  std::lock_guard lk(mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  next_attempt_ = WallClock::now();
  worker_ = std::thread([this] { run(); });
}

void Uplink::stop() {
  {
    std::lock_guard lk(mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  std::lock_guard lk(mu_);
  running_ = false;
}

bool Uplink::post(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (events_.size() >= opt_.event_queue_max) {
      events_dropped_->inc();
      return false;
    }
    events_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

bool Uplink::sync(std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<void>>();
  auto f = p->get_future();
  if (!post([p] { p->set_value(); })) return false;
  return f.wait_for(timeout) == std::future_status::ready;
}

void Uplink::run() {
  while (true) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stop_ || !events_.empty(); });
      if (stop_) break;
      batch.swap(events_);
    }
    for (auto& fn : batch) fn();
    tick();
  }
  // Leave the queue empty: pending transport events refer to a session that
  // is about to close, and producers' messages are in the outbox already.
  std::lock_guard lk(mu_);
  events_.clear();
}

void Uplink::add_subscription(std::string filter, std::size_t max_bytes, MessageHandler handler) {
  subs_.push_back({std::move(filter), max_bytes, std::move(handler)});
}

void Uplink::add_retained(std::string topic, std::function<std::string()> make, int interval_s) {
  retained_.push_back({std::move(topic), std::move(make), std::max(1, interval_s), {}});
}

void Uplink::refresh_retained() {
  post([this] {
    const auto now = WallClock::now();
    for (auto& r : retained_) r.next = std::min(r.next, std::max(now, r.last + kMinRetainedGap));
  });
}

Status Uplink::publish_volatile(std::string topic, std::string payload, std::function<void(bool)> done) {
  if (!connected()) return Status::Unavailable("uplink: not connected");
  if (volatile_queued_.fetch_add(1) >= kMaxVolatileQueued) {
    volatile_queued_.fetch_sub(1);
    return Status::ResourceExhausted("uplink: too many volatile messages waiting");
  }
  const bool posted = post([this, topic = std::move(topic), payload = std::move(payload), done] {
    volatile_queued_.fetch_sub(1);
    bool sent = false;
    if (conn_ == Conn::kConnected) {
      // QoS 0: its PUBACK-less completion is ignored by on_puback (no in-flight entry).
      sent = transport_->publish(topic, payload, 0).ok();
    }
    if (done) done(sent);
  });
  if (!posted) {
    volatile_queued_.fetch_sub(1);
    return Status::ResourceExhausted("uplink: worker queue full");
  }
  return Status::Ok();
}

bool Uplink::connected() const {
  std::lock_guard lk(status_mu_);
  return snap_.connected;
}

void Uplink::on_incoming(const std::string& topic, const std::string& payload) {
  // Transport thread: route, bound, post.
  for (const auto& sub : subs_) {
    if (!topic_matches(sub.filter, topic)) continue;
    const std::size_t n = payload.size() + topic.size();
    if (payload.size() > sub.max_bytes || inbound_bytes_.load() + n > inbound_max_bytes_) {
      inbound_dropped_->inc();
      spdlog::debug("uplink: dropped a {}-byte message on {}", payload.size(), topic.substr(0, 200));
      return;
    }
    inbound_bytes_ += n;
    const MessageHandler* h = &sub.handler;
    if (!post([this, h, topic, payload, n] {
          inbound_bytes_ -= n;
          (*h)(topic, payload);
        })) {
      inbound_bytes_ -= n;
      inbound_dropped_->inc();
    }
    return;
  }
  post([this, topic, payload] { on_command(topic, payload); });
}

void Uplink::publish_retained_all() {
  const auto now = WallClock::now();
  for (auto& r : retained_) {
    if (now < r.next) continue;
    r.next = now + std::chrono::seconds(r.interval_s);
    r.last = now;
    std::string payload = r.make();
    if (payload.empty()) continue;
    auto mid = transport_->publish_retained(r.topic, payload, 1);
    if (!mid) return;  // the transport reports the lost connection itself
    published_->inc();
  }
}

void Uplink::set_error(const std::string& e) {
  std::lock_guard lk(status_mu_);
  if (snap_.last_error != e) spdlog::warn("uplink: {}", e);
  snap_.last_error = e;
  snap_.last_error_at = wall_ms();
}

void Uplink::tick() {
  auto now = WallClock::now();
  if ((conn_ == Conn::kIdle || conn_ == Conn::kBackoff) && now >= next_attempt_) {
    auto s = transport_->connect();
    if (s.ok()) {
      conn_ = Conn::kConnecting;
    } else {
      on_down(s);
    }
  }
  if (conn_ == Conn::kConnected) {
    if (now >= next_heartbeat_) heartbeat("periodic");
    publish_retained_all();
    pump();
  }
  check_summaries();
  std::lock_guard lk(status_mu_);
  snap_.conn = conn_ == Conn::kConnected ? "connected"
               : conn_ == Conn::kConnecting ? "connecting"
               : conn_ == Conn::kBackoff    ? "backoff"
                                            : "idle";
  snap_.connected = conn_ == Conn::kConnected;
  snap_.inflight = inflight_.size();
  snap_.next_attempt_in_ms =
      conn_ == Conn::kBackoff
          ? std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count())
          : 0;
}

void Uplink::on_connected() {
  conn_ = Conn::kConnected;
  backoff_ms_ = opt_.backoff_min_ms;
  inflight_.clear();
  last_sent_seq_ = 0;  // resend everything not acknowledged, oldest first
  {
    std::lock_guard lk(status_mu_);
    snap_.connected_since = wall_ms();
  }
  spdlog::info("uplink: connected to {} ({}), backlog {}", opt_.broker, opt_.protocol, outbox_->rows());
  auto s = transport_->subscribe(prefix_ + "/cmd/#", 1);
  if (!s.ok()) set_error(s.message());
  for (const auto& sub : subs_)
    if (auto ss = transport_->subscribe(sub.filter, 1); !ss.ok()) set_error(ss.message());
  for (auto& r : retained_) r.next = WallClock::time_point{};  // at once on every connection
  publish_retained_all();
  heartbeat("connect");
  pump();
}

void Uplink::on_down(const Status& why) {
  reconnects_->inc();
  set_error(why.message());
  inflight_.clear();
  last_sent_seq_ = 0;
  conn_ = Conn::kBackoff;
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  int delay = static_cast<int>(backoff_ms_ * jitter(rng));
  next_attempt_ = WallClock::now() + std::chrono::milliseconds(delay);
  backoff_ms_ = std::min(opt_.backoff_max_ms, backoff_ms_ * 2);
  std::lock_guard lk(status_mu_);
  snap_.connected_since.reset();
}

void Uplink::pump() {
  while (conn_ == Conn::kConnected && static_cast<int>(inflight_.size()) < opt_.window) {
    auto rows = outbox_->peek(last_sent_seq_, opt_.window - static_cast<int>(inflight_.size()));
    if (!rows) {
      set_error(rows.status().message());
      return;
    }
    if (rows->empty()) return;
    for (const auto& r : *rows) {
      auto mid = transport_->publish(r.topic, r.payload, 1);
      if (!mid) return;  // the transport reports the lost connection itself
      published_->inc();
      inflight_[*mid] = r.seq;
      last_sent_seq_ = r.seq;
    }
  }
}

void Uplink::on_puback(int mid, int reason) {
  auto it = inflight_.find(mid);
  if (it == inflight_.end()) return;  // from a closed session
  std::int64_t seq = it->second;
  inflight_.erase(it);
  if (reason >= 0x80) {
    // Kept in the outbox; resent on the next connection.
    refused_->inc();
    set_error("broker refused message seq " + std::to_string(seq) + " (MQTT reason " + std::to_string(reason) + ")");
  } else {
    auto s = outbox_->remove(seq);
    if (!s.ok()) set_error(s.message());
    delivered_->inc();
    std::lock_guard lk(status_mu_);
    snap_.last_delivery = wall_ms();
  }
  pump();
}

// ---------------------------------------------------------------- producers
Status Uplink::enqueue(Kind kind, const json& data) {
  TimestampMs ts = clock_.now_ms();
  const std::string& gw = opt_.gateway_id;
  auto r = outbox_->push(
      kind, topic_for(prefix_, kind),
      [&](std::int64_t seq, const std::string& id) { return envelope(kind, id, seq, gw, ts, data); }, ts);
  if (!r) return r.status();
  post([] {});  // wake the worker
  return Status::Ok();
}

Status Uplink::alert_event(const alerts::Alert& a, const std::string& event, const std::string& actor) {
  return enqueue(Kind::kAlert, alert_data(a, event, actor));
}

Status Uplink::alert_event(Id alert_id, const std::string& event, const std::string& actor) {
  if (!alerts_) return Status::Unavailable("uplink: no alert service");
  auto a = alerts_->get(alert_id);
  if (!a) return a.status();
  return alert_event(*a, event, actor);
}

Status Uplink::state_change(const analytics::StateChange& c) {
  // The alerts it opens or escalates arrive through the AlertService's events.
  return enqueue(Kind::kState, state_data(c));
}

void Uplink::attach(analytics::Pipeline& pipeline) {
  pipeline.on_state_change([this](const analytics::StateChange& c) {
    auto s = state_change(c);
    if (!s.ok()) spdlog::warn("uplink: state change of position {}: {}", c.position_id, s.ToString());
  });
}

void Uplink::attach_raw(Ingest& ingest) {
  if (!opt_.send_raw) return;
  ingest.on_readings([this](std::span<const AcceptedReading> rs) {
    std::size_t i = 0;
    while (i < rs.size()) {  // one message per sensor and timestamp
      std::size_t j = i + 1;
      while (j < rs.size() && rs[j].reading.source == rs[i].reading.source && rs[j].reading.ts == rs[i].reading.ts) ++j;
      auto s = enqueue(Kind::kRaw, readings_data(rs.subspan(i, j - i)));
      if (!s.ok()) spdlog::warn("uplink: raw readings: {}", s.ToString());
      i = j;
    }
  });
  ingest.on_waveform([this](const Waveform& w, std::int64_t) {
    auto s = enqueue(Kind::kRaw, waveform_data(w));
    if (!s.ok()) spdlog::warn("uplink: raw waveform: {}", s.ToString());
  });
}

Status Uplink::summaries(TimestampMs from, TimestampMs to, std::optional<Id> position) {
  auto list = build_summaries(store_, pipeline_, from, to, position);
  if (!list) return list.status();
  for (const auto& j : *list) VIGIL_RETURN_IF_ERROR(enqueue(Kind::kSummary, j));
  return Status::Ok();
}

void Uplink::check_summaries() {
  if (opt_.summary_interval_s <= 0) return;
  const TimestampMs iv = static_cast<TimestampMs>(opt_.summary_interval_s) * 1000;
  const TimestampMs end = clock_.now_ms() / iv * iv;
  if (end <= summary_end_) return;
  if (summary_end_ != 0) {
    // One window: after a long stop the gap is in the local store, not worth
    // a burst of stale summaries.
    auto s = summaries(end - iv, end);
    if (!s.ok()) {
      set_error("summaries: " + s.message());
      return;
    }
  }
  summary_end_ = end;
  auto s = kv_put("summary_end", std::to_string(end));
  if (!s.ok()) set_error(s.message());
}

void Uplink::heartbeat(const char* reason) {
  next_heartbeat_ = WallClock::now() + std::chrono::seconds(std::max(1, opt_.heartbeat_interval_s));
  json d = {{"reason", reason},
            {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(WallClock::now() - started_).count()},
            {"backlog", outbox_->rows()},
            {"backlog_bytes", outbox_->bytes()},
            {"dropped", outbox_->dropped_by_kind()},
            {"wall_ts", iso8601_ms(wall_ms())}};
  auto s = enqueue(Kind::kHeartbeat, d);
  if (!s.ok()) set_error(s.message());
}

// ---------------------------------------------------------------- commands
void Uplink::on_command(const std::string& topic, const std::string& payload) {
  auto c = parse_command(prefix_, topic, payload);
  if (!c) {
    cmd_rejected_->inc();
    std::string why = c.status().message();
    spdlog::warn("uplink: command on {} rejected: {}", topic.substr(0, 200), why);
    {
      std::lock_guard lk(status_mu_);
      snap_.last_rejected = why;
    }
    // Answer on our reply topic when the sender can be told (own topic, an id).
    if (topic.rfind(prefix_ + "/cmd/", 0) == 0) {
      json j = json::parse(payload.size() <= kMaxCommandBytes ? payload : std::string(), nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"].is_string() && j["id"].get<std::string>().size() <= 64)
        if (auto st = enqueue(Kind::kReply, {{"command_id", j["id"]}, {"command", topic.substr(prefix_.size() + 5, 32)},
                                             {"ok", false}, {"error", why}});
            !st.ok())
          spdlog::warn("uplink: could not queue the refusal of a command: {}", st.ToString());
    }
    return;
  }
  const std::string actor = "cloud:" + c->args.value("actor", std::string("remote"));
  json result = json::object();
  Status s = execute(*c, actor, result);
  (s.ok() ? cmd_accepted_ : cmd_failed_)->inc();
  std::string target = c->name == "ack"         ? "alert/" + std::to_string(c->args["alert_id"].get<Id>())
                       : c->name == "threshold" ? "machine_class/" + c->args["machine_class"].get<std::string>()
                                                : "summary";
  auto as = store_.audit(actor, "uplink.cmd." + c->name, target,
                         c->args.dump() + (s.ok() ? " → ok" : " → " + s.ToString()));
  if (!as.ok()) set_error(as.message());
  json reply = {{"command_id", c->id}, {"command", c->name}, {"ok", s.ok()}};
  if (!s.ok()) reply["error"] = s.ToString();
  if (!result.empty()) reply["result"] = result;
  auto es = enqueue(Kind::kReply, reply);
  if (!es.ok()) set_error(es.message());
}

Status Uplink::execute(const Command& c, const std::string& actor, json& result) {
  if (c.name == "ack") {
    if (!alerts_) return Status::Unavailable("no alert service (analytics disabled)");
    Id id = c.args["alert_id"].get<Id>();
    return alerts_->acknowledge(id, actor);  // the "acknowledged" event follows from the AlertService
  }
  if (c.name == "threshold") {
    analytics::ZoneLimits l{c.args["ab"].get<double>(), c.args["bc"].get<double>(), c.args["cd"].get<double>()};
    const std::string cls = c.args["machine_class"].get<std::string>();
    if (!classes_.find(cls)) return Status::NotFound("unknown machine class \"" + cls + "\"");
    VIGIL_RETURN_IF_ERROR(classes_.put(cls, l));  // a user class: stored, then scored with
    if (pipeline_) pipeline_->invalidate_machines();
    result = {{"machine_class", cls}, {"ab", l.ab}, {"bc", l.bc}, {"cd", l.cd}};
    return Status::Ok();
  }
  // summary: the last interval up to now, off-schedule.
  const TimestampMs now = clock_.now_ms();
  const TimestampMs iv = static_cast<TimestampMs>(std::max(60, opt_.summary_interval_s)) * 1000;
  std::optional<Id> pos;
  if (c.args.contains("position_id")) pos = c.args["position_id"].get<Id>();
  auto list = build_summaries(store_, pipeline_, now - iv, now, pos);
  if (!list) return list.status();
  for (const auto& j : *list) VIGIL_RETURN_IF_ERROR(enqueue(Kind::kSummary, j));
  result = {{"summaries", list->size()}};
  return Status::Ok();
}

Result<std::string> Uplink::kv_get(const std::string& key) {
  std::string out;
  VIGIL_RETURN_IF_ERROR(store_.read([&](sql::Db& db) -> Status {
    auto q = db.prepare("SELECT value FROM uplink_kv WHERE key = ?");
    if (!q) return q.status();
    (*q)->bind(1, key);
    auto r = (*q)->step();
    if (!r) return r.status();
    if (*r) out = (*q)->text(0);
    (*q)->reset();
    return Status::Ok();
  }));
  return out;
}

Status Uplink::kv_put(const std::string& key, const std::string& value) {
  return store_.write_txn([&](sql::Db& db) -> Status {
    auto q = db.prepare("INSERT INTO uplink_kv(key, value) VALUES(?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!q) return q.status();
    return (*q)->bind(1, key).bind(2, value).run();
  });
}

json Uplink::status() const {
  std::lock_guard lk(status_mu_);
  auto ts = [](const std::optional<TimestampMs>& t) { return t ? json(iso8601_ms(*t)) : json(nullptr); };
  return {{"enabled", true},
          {"connected", snap_.connected},
          {"state", snap_.conn},
          {"broker", opt_.broker},
          {"protocol", opt_.protocol},
          {"topic_prefix", prefix_},
          {"backlog", outbox_->rows()},
          {"backlog_bytes", outbox_->bytes()},
          {"outbox_max_bytes", outbox_->max_bytes()},
          {"inflight", snap_.inflight},
          {"delivered", delivered_->value()},
          {"last_delivery", ts(snap_.last_delivery)},
          {"connected_since", ts(snap_.connected_since)},
          {"last_error", snap_.last_error.empty() ? json(nullptr) : json(snap_.last_error)},
          {"last_error_at", ts(snap_.last_error_at)},
          {"next_attempt_in_ms", snap_.next_attempt_in_ms},
          {"connection_failures", reconnects_->value()},
          {"dropped", outbox_->dropped_by_kind()},
          {"commands", {{"accepted", cmd_accepted_->value()},
                        {"rejected", cmd_rejected_->value()},
                        {"failed", cmd_failed_->value()},
                        {"last_rejected", snap_.last_rejected.empty() ? json(nullptr) : json(snap_.last_rejected)}}}};
}

}  // namespace vigil::uplink
