// SPDX-License-Identifier: Apache-2.0
#include "uplink/messages.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>

namespace vigil::uplink {
using nlohmann::json;

std::string expand_prefix(const std::string& pattern, const std::string& gateway_id) {
  std::string out = pattern;
  const std::string key = "{gateway_id}";
  for (std::size_t p = out.find(key); p != std::string::npos; p = out.find(key, p + gateway_id.size()))
    out.replace(p, key.size(), gateway_id);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

std::string topic_for(const std::string& prefix, Kind k) { return prefix + "/" + to_string(k); }

std::string iso8601_ms(TimestampMs ts) {
  std::time_t secs = static_cast<std::time_t>(ts / 1000);
  int ms = static_cast<int>(((ts % 1000) + 1000) % 1000);
  if (ts < 0 && ms) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string envelope(Kind k, const std::string& msg_id, std::int64_t seq, const std::string& gateway_id,
                     TimestampMs ts, const json& data) {
  json j = {{"schema", kSchema}, {"id", msg_id},       {"seq", seq},         {"type", to_string(k)},
            {"gateway_id", gateway_id}, {"ts", iso8601_ms(ts)}, {"ts_ms", ts}, {"data", data}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {
json opt(const std::optional<Id>& v) { return v ? json(*v) : json(nullptr); }
json opt_ts(const std::optional<TimestampMs>& v) { return v ? json(iso8601_ms(*v)) : json(nullptr); }
double round4(double v) { return std::round(v * 1e4) / 1e4; }
}  // namespace

json alert_data(const alerts::Alert& a, const std::string& event, const std::string& actor) {
  json j = {{"event", event},
            {"alert_id", a.id},
            {"asset_id", opt(a.asset_id)},
            {"position_id", opt(a.position_id)},
            {"model", a.model},
            {"severity", a.severity},
            {"status", a.status},
            {"title", a.title},
            {"explanation", a.explanation},
            {"opened_at", iso8601_ms(a.opened_at)},
            {"updated_at", iso8601_ms(a.updated_at)},
            {"closed_at", opt_ts(a.closed_at)},
            {"measurement_id", opt(a.measurement_id)},
            {"actor", actor}};
  if (a.status == "closed")
    j["closeout"] = {{"failure_mode", a.failure_mode}, {"failure_cause", a.failure_cause},
                     {"action_taken", a.action_taken}, {"closed_by", a.closed_by}, {"notes", a.notes}};
  return j;
}

json state_data(const analytics::StateChange& c) {
  return {{"position_id", c.position_id},
          {"asset_id", c.asset_id},
          {"model", c.model},
          {"state", to_string(c.persistent)},
          {"previous", to_string(c.previous)},
          {"pointwise", to_string(c.pointwise)},
          {"score", c.score ? json(round4(*c.score)) : json(nullptr)},
          {"explanation", c.explanation},
          {"measurement_id", opt(c.measurement_id)},
          {"at", iso8601_ms(c.ts)}};
}

json readings_data(std::span<const AcceptedReading> readings) {
  json metrics = json::object();
  json j;
  for (const auto& r : readings) {
    if (j.is_null()) {
      j = {{"sensor", r.reading.source}, {"position_id", opt(r.position_id)}, {"at", iso8601_ms(r.reading.ts)}};
    }
    metrics[r.reading.metric] = r.reading.value;
  }
  if (j.is_null()) j = json::object();
  j["metrics"] = metrics;
  return j;
}

namespace {
std::string base64(const std::uint8_t* p, std::size_t n) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<std::uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += i + 1 < n ? t[(v >> 6) & 63] : '=';
    out += i + 2 < n ? t[v & 63] : '=';
  }
  return out;
}
}  // namespace

json waveform_data(const Waveform& w) {
  std::vector<std::uint8_t> le;
  le.reserve(w.samples.size() * 2);
  for (std::int16_t s : w.samples) {
    auto u = static_cast<std::uint16_t>(s);
    le.push_back(static_cast<std::uint8_t>(u & 0xFF));
    le.push_back(static_cast<std::uint8_t>(u >> 8));
  }
  return {{"position_id", w.position_id}, {"at", iso8601_ms(w.ts)},  {"sample_rate_hz", w.sample_rate_hz},
          {"axes", w.axes},               {"scale", w.scale},        {"samples", w.samples.size()},
          {"encoding", "int16le+base64"}, {"data", base64(le.data(), le.size())}};
}

Result<std::vector<json>> build_summaries(Store& store, const analytics::Pipeline* pipeline, TimestampMs from,
                                          TimestampMs to, std::optional<Id> only_position) {
  auto positions = store.positions();
  if (!positions) return positions.status();
  auto assets = store.assets();
  if (!assets) return assets.status();
  auto sensors = store.sensors();
  if (!sensors) return sensors.status();
  std::map<Id, const Asset*> asset_by_id;
  for (const auto& a : *assets) asset_by_id[a.id] = &a;
  std::map<Id, const Sensor*> sensor_by_id;
  for (const auto& s : *sensors) sensor_by_id[s.id] = &s;

  std::vector<json> out;
  for (const auto& p : *positions) {
    if (only_position && p.id != *only_position) continue;
    auto series = store.series(p.id);
    if (!series) return series.status();
    json features = json::object();
    json sensor = nullptr;
    TimestampMs last_seen = 0;
    std::int64_t readings = 0;
    for (const auto& s : *series) {
      auto pts = store.range(s.id, from, to - 1);
      if (!pts) return pts.status();
      if (auto it = sensor_by_id.find(s.sensor_id); it != sensor_by_id.end() && sensor.is_null())
        sensor = {{"address", it->second->address}, {"name", it->second->name}};
      if (pts->empty()) continue;
      double mn = std::numeric_limits<double>::infinity(), mx = -mn, sum = 0;
      for (const auto& pt : *pts) {
        mn = std::min(mn, pt.value);
        mx = std::max(mx, pt.value);
        sum += pt.value;
        last_seen = std::max(last_seen, pt.ts);
      }
      readings += static_cast<std::int64_t>(pts->size());
      features[s.metric] = {{"min", round4(mn)},
                            {"max", round4(mx)},
                            {"mean", round4(sum / static_cast<double>(pts->size()))},
                            {"count", pts->size()},
                            {"unit", s.unit}};
    }
    std::string state = "unknown";
    if (pipeline) {
      if (auto h = pipeline->position_health(p.id)) state = to_string(h->state);
    }
    if (features.empty() && state == "unknown" && !only_position) continue;
    json health = {{"status", readings ? "ok" : "silent"},
                   {"readings", readings},
                   {"last_seen", last_seen ? json(iso8601_ms(last_seen)) : json(nullptr)}};
    if (features.contains("battery_pct")) health["battery_pct"] = features["battery_pct"]["min"];
    if (!sensor.is_null()) health.update(sensor);
    const Asset* a = asset_by_id.count(p.asset_id) ? asset_by_id[p.asset_id] : nullptr;
    out.push_back({{"position_id", p.id},
                   {"position", p.name},
                   {"asset_id", p.asset_id},
                   {"asset", a ? json(a->name) : json(nullptr)},
                   {"from", iso8601_ms(from)},
                   {"to", iso8601_ms(to)},
                   {"state", state},
                   {"features", features},
                   {"sensor", health}});
  }
  return out;
}

// ---------------------------------------------------------------- commands
namespace {
bool valid_token(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == ':' || c == '@';
  });
}
Status only_fields(const json& j, std::initializer_list<const char*> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) return Status::InvalidArgument("unknown field \"" + it.key() + "\"");
  }
  return Status::Ok();
}
bool positive_int(const json& j, const char* k) {
  return j.contains(k) && j[k].is_number_integer() && j[k].get<std::int64_t>() > 0;
}
bool positive_number(const json& j, const char* k) {
  return j.contains(k) && j[k].is_number() && std::isfinite(j[k].get<double>()) && j[k].get<double>() > 0;
}
}  // namespace

Result<Command> parse_command(const std::string& prefix, const std::string& topic, const std::string& payload) {
  const std::string base = prefix + "/cmd/";
  if (topic.compare(0, base.size(), base) != 0) return Status::InvalidArgument("not this gateway's command topic");
  Command c;
  c.name = topic.substr(base.size());
  if (c.name != "ack" && c.name != "threshold" && c.name != "summary")
    return Status::InvalidArgument("unknown command \"" + c.name.substr(0, 32) + "\"");
  if (payload.size() > kMaxCommandBytes) return Status::InvalidArgument("payload larger than 4096 bytes");
  json j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("payload is not a JSON object");
  if (!j.contains("id") || !j["id"].is_string() || !valid_token(j["id"].get<std::string>(), 64))
    return Status::InvalidArgument("\"id\" must be a string of 1..64 characters [A-Za-z0-9._:@-]");
  c.id = j["id"].get<std::string>();
  if (j.contains("actor") && (!j["actor"].is_string() || !valid_token(j["actor"].get<std::string>(), 64)))
    return Status::InvalidArgument("\"actor\" must be a string of 1..64 characters [A-Za-z0-9._:@-]");
  if (c.name == "ack") {
    VIGIL_RETURN_IF_ERROR(only_fields(j, {"id", "actor", "alert_id"}));
    if (!positive_int(j, "alert_id")) return Status::InvalidArgument("\"alert_id\" must be a positive integer");
  } else if (c.name == "threshold") {
    VIGIL_RETURN_IF_ERROR(only_fields(j, {"id", "actor", "machine_class", "ab", "bc", "cd"}));
    if (!j.contains("machine_class") || !j["machine_class"].is_string() ||
        !valid_token(j["machine_class"].get<std::string>(), 64))
      return Status::InvalidArgument("\"machine_class\" must be a class name");
    if (!positive_number(j, "ab") || !positive_number(j, "bc") || !positive_number(j, "cd"))
      return Status::InvalidArgument("\"ab\", \"bc\", \"cd\" must be positive numbers (mm/s)");
    if (!(j["ab"].get<double>() < j["bc"].get<double>() && j["bc"].get<double>() < j["cd"].get<double>()))
      return Status::InvalidArgument("zone limits must ascend: ab < bc < cd");
    if (j["cd"].get<double>() > 1000) return Status::InvalidArgument("zone limits above 1000 mm/s");
  } else {  // summary
    VIGIL_RETURN_IF_ERROR(only_fields(j, {"id", "actor", "position_id"}));
    if (j.contains("position_id") && !positive_int(j, "position_id"))
      return Status::InvalidArgument("\"position_id\" must be a positive integer");
  }
  c.args = std::move(j);
  return c;
}

}  // namespace vigil::uplink
