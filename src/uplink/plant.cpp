// SPDX-License-Identifier: Apache-2.0
#include "uplink/plant.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "uplink/messages.h"

namespace vigil::uplink {
using nlohmann::json;

namespace {
constexpr const char* kDocType = "vigil.plant.state";
constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxText = 200;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A string field of at most `max` bytes, or null.
json text(const json& doc, const char* key, std::size_t max = kMaxText) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string()) return nullptr;
  const auto& s = it->get_ref<const std::string&>();
  return s.size() <= max ? json(s) : json(s.substr(0, max));
}
}  // namespace

std::string plant_root(const std::string& plant_id) { return "vigil/plant/" + plant_id; }
std::string plant_state_topic(const std::string& plant_id, const std::string& gateway_id) {
  return plant_root(plant_id) + "/gateways/" + gateway_id + "/state";
}
std::string plant_state_filter(const std::string& plant_id) { return plant_root(plant_id) + "/gateways/+/state"; }

std::string plant_will_payload(const std::string& plant_id, const std::string& gateway_id) {
  return dump({{"v", kPlantSchemaVersion}, {"type", kDocType}, {"plant_id", plant_id}, {"gateway_id", gateway_id},
               {"online", false}});
}

bool topic_matches(const std::string& filter, const std::string& topic) {
  auto split = [](const std::string& s) {
    std::vector<std::string> v;
    std::size_t start = 0;
    while (true) {
      const std::size_t end = s.find('/', start);
      v.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) return v;
      start = end + 1;
    }
  };
  // Topics starting with '$' never match a leading wildcard (MQTT 4.7.2).
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) return false;
  const auto f = split(filter), t = split(topic);
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // this level and below, and the parent ("a/#" matches "a")
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

// The worst kMaxPlantAlerts of `alerts` (alarms first, then newest), each
// reduced to the fields the plant shows, strings bounded.
json plant_alerts(const json& alerts) {
  std::vector<json> list;
  if (alerts.is_array())
    for (const auto& a : alerts) {
      if (!a.is_object()) continue;
      auto id = [&](const char* k) {
        auto it = a.find(k);
        return it != a.end() && it->is_number_integer() ? *it : json(nullptr);
      };
      list.push_back({{"id", id("id")},
                      {"asset_id", id("asset_id")},
                      {"position_id", id("position_id")},
                      {"severity", text(a, "severity")},
                      {"status", text(a, "status")},
                      {"title", text(a, "title")},
                      {"opened_at", text(a, "opened_at")}});
    }
  std::stable_sort(list.begin(), list.end(), [](const json& x, const json& y) {
    const bool ax = x["severity"] == "alarm", ay = y["severity"] == "alarm";
    if (ax != ay) return ax;
    return x["opened_at"].is_string() && y["opened_at"].is_string() && x["opened_at"].get<std::string>() > y["opened_at"].get<std::string>();
  });
  if (list.size() > kMaxPlantAlerts) list.resize(kMaxPlantAlerts);
  return json(list);
}

std::string plant_state_document(const GatewayInfo& self, const json& fleet, TimestampMs now, std::size_t max_bytes,
                                 const json& alerts) {
  json assets = json::array();
  std::int64_t open_alerts = 0;
  std::optional<std::string> last_measurement;
  if (fleet.is_object() && fleet.contains("sites") && fleet["sites"].is_array()) {
    for (const auto& site : fleet["sites"]) {
      if (!site.is_object() || !site.contains("assets") || !site["assets"].is_array()) continue;
      for (const auto& a : site["assets"]) {
        if (!a.is_object()) continue;
        json positions = json::array();
        if (a.contains("positions") && a["positions"].is_array())
          for (const auto& p : a["positions"])
            positions.push_back({{"id", p.value("id", json(nullptr))},
                                 {"name", text(p, "name")},
                                 {"state", text(p, "state")},
                                 {"triage_state", text(p, "triage_state")},
                                 {"active_alerts", p.value("active_alerts", json(0))},
                                 {"last_seen", text(p, "last_seen")}});
        const json ls = text(a, "last_seen");
        if (ls.is_string() && (!last_measurement || ls.get<std::string>() > *last_measurement))
          last_measurement = ls.get<std::string>();  // ISO 8601 UTC with ms: orders as text
        if (a.contains("open_alerts") && a["open_alerts"].is_number_integer())
          open_alerts += a["open_alerts"].get<std::int64_t>();
        assets.push_back({{"id", a.value("id", json(nullptr))},
                          {"name", text(a, "name")},
                          {"site", text(site, "name")},
                          {"state", text(a, "state")},
                          {"triage_state", text(a, "triage_state")},
                          {"severity_rank", a.value("severity_rank", json(0))},
                          {"open_alerts", a.value("open_alerts", json(0))},
                          {"last_seen", ls},
                          {"positions", std::move(positions)}});
      }
    }
  }
  // Worst first across sites, so truncation drops the healthiest.
  std::stable_sort(assets.begin(), assets.end(), [](const json& x, const json& y) {
    return x.value("severity_rank", 0) > y.value("severity_rank", 0);
  });
  json doc = {{"v", kPlantSchemaVersion},
              {"type", kDocType},
              {"plant_id", self.plant_id},
              {"gateway_id", self.gateway_id},
              {"name", self.name},
              {"version", self.version},
              {"url", self.url},
              {"online", true},
              {"ts", iso8601_ms(now)},
              {"ts_ms", now},
              {"state_interval_s", self.state_interval_s},
              {"open_alerts", open_alerts},
              {"last_measurement", last_measurement ? json(*last_measurement) : json(nullptr)},
              {"truncated", false},
              {"alerts", plant_alerts(alerts)},
              {"assets", json::array()}};
  // Binary search for the most assets that fit.
  std::size_t lo = 0, hi = assets.size();
  while (lo < hi) {
    std::size_t mid = (lo + hi + 1) / 2;
    json d = doc;
    d["assets"] = json(assets.begin(), assets.begin() + static_cast<std::ptrdiff_t>(mid));
    d["truncated"] = mid < assets.size();
    if (dump(d).size() <= max_bytes) lo = mid;
    else hi = mid - 1;
  }
  doc["assets"] = json(assets.begin(), assets.begin() + static_cast<std::ptrdiff_t>(lo));
  doc["truncated"] = lo < assets.size();
  return dump(doc);
}

PlantView::PlantView(PlantOptions o, MetricsRegistry& metrics)
    : o_(std::move(o)),
      metrics_(metrics),
      accepted_(metrics.counter("vigil_plant_messages_total", "Plant state documents of other gateways accepted")) {
  for (const char* r : {"oversized", "malformed_json", "bad_schema", "other_plant", "topic_mismatch", "too_many_gateways"})
    metrics_.counter("vigil_plant_messages_dropped_total", "Plant messages dropped, by reason",
                     std::string("reason=\"") + r + "\"");
}

void PlantView::drop(const std::string& reason, std::string* why) {
  metrics_.counter("vigil_plant_messages_dropped_total", "Plant messages dropped, by reason",
                   "reason=\"" + reason + "\"")
      ->inc();
  if (why) *why = reason;
}

std::uint64_t PlantView::dropped(const std::string& reason) const {
  return metrics_.counter_value("vigil_plant_messages_dropped_total", "reason=\"" + reason + "\"");
}

bool PlantView::on_message(const std::string& topic, const std::string& payload, TimestampMs now, std::string* why) {
  // vigil/plant/<plant>/gateways/<gw>/state
  const std::string root = plant_root(o_.plant_id) + "/gateways/";
  if (topic.rfind(root, 0) != 0 || topic.size() < root.size() + 7 ||
      topic.compare(topic.size() - 6, 6, "/state") != 0) {
    drop("other_plant", why);
    return false;
  }
  const std::string gw = topic.substr(root.size(), topic.size() - root.size() - 6);
  if (gw.empty() || gw.size() > kMaxIdBytes || gw.find('/') != std::string::npos) {
    drop("topic_mismatch", why);
    return false;
  }
  if (gw == o_.gateway_id) return false;  // our own retained document (or our old will): not news
  if (payload.empty()) {
    // A cleared retained message: the gateway left the plant.
    std::lock_guard lk(mu_);
    gateways_.erase(gw);
    return true;
  }
  if (payload.size() > o_.max_doc_bytes) {
    drop("oversized", why);
    return false;
  }
  json doc = json::parse(payload, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    drop("malformed_json", why);
    return false;
  }
  auto v = doc.find("v");
  auto online = doc.find("online");
  if (v == doc.end() || !v->is_number_integer() || v->get<int>() != kPlantSchemaVersion || online == doc.end() ||
      !online->is_boolean() || (doc.contains("assets") && !doc["assets"].is_array())) {
    drop("bad_schema", why);
    return false;
  }
  if (!doc.contains("plant_id") || !doc["plant_id"].is_string() || doc["plant_id"].get<std::string>() != o_.plant_id) {
    drop("other_plant", why);
    return false;
  }
  if (!doc.contains("gateway_id") || !doc["gateway_id"].is_string() || doc["gateway_id"].get<std::string>() != gw) {
    drop("topic_mismatch", why);
    return false;
  }
  std::lock_guard lk(mu_);
  auto it = gateways_.find(gw);
  if (it == gateways_.end()) {
    if (gateways_.size() >= o_.max_gateways) {
      drop("too_many_gateways", why);
      return false;
    }
    it = gateways_.emplace(gw, Entry{}).first;
  }
  Entry& e = it->second;
  e.online = online->get<bool>();
  if (e.online) {
    if (auto iv = doc.find("state_interval_s"); iv != doc.end() && iv->is_number_integer())
      e.interval_s = static_cast<int>(std::clamp<std::int64_t>(iv->get<std::int64_t>(), 1, 86400));
    e.doc = std::move(doc);
    e.last_seen = now;
  } else if (e.doc.is_null()) {
    e.doc = std::move(doc);  // only the will is known (e.g. after our restart)
  }
  accepted_->inc();
  return true;
}

void PlantView::set_self(json doc, TimestampMs now) {
  std::lock_guard lk(mu_);
  self_ = std::move(doc);
  self_ts_ = now;
}

std::size_t PlantView::size() const {
  std::lock_guard lk(mu_);
  return gateways_.size();
}

json PlantView::snapshot(TimestampMs now) const {
  auto entry = [](const std::string& id, const json& d, bool online, TimestampMs last_seen, bool self,
                  bool stale) {
    json assets = d.is_object() && d.contains("assets") && d["assets"].is_array() ? d["assets"] : json::array();
    return json{{"id", id},
                {"name", d.is_object() ? text(d, "name") : json(nullptr)},
                {"online", online && !stale},
                {"stale", stale},
                {"self", self},
                {"last_seen", last_seen ? json(iso8601_ms(last_seen)) : json(nullptr)},
                {"url", d.is_object() ? text(d, "url", 2048) : json(nullptr)},
                {"version", d.is_object() ? text(d, "version") : json(nullptr)},
                {"open_alerts", d.is_object() && d.contains("open_alerts") && d["open_alerts"].is_number_integer()
                                    ? d["open_alerts"]
                                    : json(nullptr)},
                {"last_measurement", d.is_object() ? text(d, "last_measurement") : json(nullptr)},
                {"truncated", d.is_object() && d.value("truncated", false) == true},
                {"alerts", d.is_object() && d.contains("alerts") ? plant_alerts(d["alerts"]) : json::array()},
                {"assets", std::move(assets)}};
  };
  std::lock_guard lk(mu_);
  json gws = json::array();
  gws.push_back(entry(o_.gateway_id, self_, true, self_ts_, true, false));
  for (const auto& [id, e] : gateways_) {
    const bool stale = now > 0 && e.online && now - e.last_seen > (3LL * e.interval_s + 30) * 1000;
    gws.push_back(entry(id, e.doc, e.online, e.last_seen, false, stale));
  }
  return {{"plant_id", o_.plant_id}, {"gateway_id", o_.gateway_id}, {"gateways", std::move(gws)}};
}

}  // namespace vigil::uplink
