// SPDX-License-Identifier: Apache-2.0
#include "app/history_import.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <vector>

#include "app/admin_commands.h"
#include "analytics/detectors.h"
#include "analytics/health_history.h"
#include "analytics/pipeline.h"
#include "app/store_options.h"
#include "app/time_arg.h"
#include "vigil/ingest.h"
#include "vigil/store.h"

namespace vigil::app {
namespace {
using nlohmann::json;

constexpr std::size_t kMaxLine = 1 << 20;
constexpr int kMaxErrorsShown = 20;

// One point of history, wherever it came from.
struct Record {
  std::string site, asset, position;  // names (monitron), or empty when position_id is set
  std::optional<Id> position_id;      // csv: resolved position
  std::string source;                 // sensor id in the source system
  std::string metric;
  TimestampMs ts = 0;
  double value = 0;
};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') f.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else f.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else if (c != '\r') {
      f.back() += c;
    }
  }
  return f;
}

class Importer {
 public:
  Importer(Store& store, const ImportOptions& o) : store_(store), o_(o) {}

  // Pass 1 (write == false) checks and counts; pass 2 writes.
  Status run(bool write) {
    std::ifstream in(o_.file);
    if (!in) return Status::NotFound("cannot read " + o_.file);
    write_ = write;
    line_no_ = 0;
    points_ = 0;
    skipped_events_ = 0;
    states_ = state_changes_ = unknown_models_ = 0;
    states_written_ = states_unchanged_ = 0;
    last_state_.clear();
    std::string line;
    if (o_.format == "csv") {
      if (!std::getline(in, line)) return Status::InvalidArgument(o_.file + ": empty file (a header is needed)");
      ++line_no_;
      VIGIL_RETURN_IF_ERROR(csv_header(line));
    }
    while (std::getline(in, line)) {
      ++line_no_;
      if (line.size() > kMaxLine) {
        error("line longer than 1 MiB");
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (o_.format == "csv") csv_line(line);
      else monitron_line(line);
      if (write_ && batch_.size() + state_batch_.size() >= 20000) VIGIL_RETURN_IF_ERROR(flush_batch());
    }
    if (write_) VIGIL_RETURN_IF_ERROR(flush_batch());
    return Status::Ok();
  }
  const std::vector<std::string>& errors() const { return errors_; }
  long error_count() const { return error_count_; }
  long points() const { return points_; }
  long skipped_events() const { return skipped_events_; }
  // Model states read, and how many change their position's state in file
  // order (what the dry run reports); results of unknown models skipped.
  long states() const { return states_; }
  long state_changes() const { return state_changes_; }
  long unknown_models() const { return unknown_models_; }
  // Pass 2: rows added to the health history, and states equal to the one
  // in force at their time (already imported, or no change).
  long states_written() const { return states_written_; }
  long states_unchanged() const { return states_unchanged_; }
  long already_stored() const { return already_; }
  const std::map<std::string, Id>& import_sensors() const { return sensors_; }
  int created_nodes() const { return created_; }
  std::optional<TimestampMs> oldest() const { return oldest_; }

 private:
  void error(const std::string& msg) {
    ++error_count_;
    if (static_cast<int>(errors_.size()) < kMaxErrorsShown) errors_.push_back(o_.file + ":" + std::to_string(line_no_) + ": " + msg);
  }

  Status csv_header(const std::string& line) {
    auto cols = split_csv(line);
    for (std::size_t i = 0; i < cols.size(); ++i) col_[cols[i]] = i;
    for (const char* need : {"timestamp", "position", "metric", "value"})
      if (!col_.count(need))
        return Status::InvalidArgument(o_.file + ":1: the header needs the columns timestamp, position, metric, value (missing " +
                                       need + ")");
    auto ps = store_.positions();
    auto as = store_.assets();
    auto ss = store_.sites();
    if (!ps || !as || !ss) return Status::Internal("cannot read the catalog");
    std::map<Id, std::string> site_name, asset_path;
    for (auto& s : *ss) site_name[s.id] = s.name;
    for (auto& a : *as) asset_path[a.id] = site_name[a.site_id] + "/" + a.name;
    for (auto& p : *ps) {
      by_path_[asset_path[p.asset_id] + "/" + p.name] = p.id;
      by_id_.insert(p.id);
    }
    return Status::Ok();
  }

  void csv_line(const std::string& line) {
    auto f = split_csv(line);
    auto get = [&](const char* c) -> std::string {
      auto i = col_.at(c);
      return i < f.size() ? f[i] : std::string();
    };
    Record r;
    auto ts = parse_import_time(get("timestamp"));
    if (!ts) return error("timestamp '" + get("timestamp") + "' is not epoch ms or ISO 8601");
    r.ts = *ts;
    const std::string pos = get("position");
    if (!pos.empty() && pos.find_first_not_of("0123456789") == std::string::npos) {
      if (pos.size() > 18) return error("position " + pos.substr(0, 40) + " does not exist");
      Id id = std::stoll(pos);
      if (!by_id_.count(id)) return error("position " + pos + " does not exist");
      r.position_id = id;
    } else {
      auto it = by_path_.find(pos);
      if (it == by_path_.end()) return error("position '" + pos + "' is not an id or an existing Site/Asset/Position");
      r.position_id = it->second;
    }
    r.source = "csv:" + std::to_string(*r.position_id);
    r.metric = get("metric");
    const std::string v = get("value");
    char* end = nullptr;
    r.value = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0') return error("value '" + v + "' is not a number");
    add(std::move(r));
  }

  void monitron_line(const std::string& line) {
    MonitronMeasurement rec;
    std::string why;
    switch (parse_monitron_line(line, rec, why)) {
      case LineKind::kBad:
        return error(why);
      case LineKind::kOtherEvent:
        ++skipped_events_;
        return;
      case LineKind::kPoints:
        unknown_models_ += rec.unknown_models;
        for (auto& st : rec.states) add_state(std::move(st));
        for (auto& p : rec.points) {
          Record r;
          r.site = std::move(p.site);
          r.asset = std::move(p.asset);
          r.position = std::move(p.position);
          r.source = std::move(p.source);
          r.metric = std::move(p.metric);
          r.ts = p.ts;
          r.value = p.value;
          add(std::move(r));
        }
    }
  }

  void add(Record r) {
    if (!valid_metric_name(r.metric)) return error("metric '" + r.metric + "' is not a metric name");
    if (const MetricInfo* info = find_metric(r.metric); info && !(r.value >= info->min && r.value <= info->max))
      return error(r.metric + " " + std::to_string(r.value) + " is outside its physical range");
    ++points_;
    if (!oldest_ || r.ts < *oldest_) oldest_ = r.ts;
    if (write_) batch_.push_back(std::move(r));
  }

  void add_state(ImportedModelState st) {
    ++states_;
    const std::string key = st.site + "/" + st.asset + "/" + st.position + "|" + st.model;
    const auto now = std::make_pair(st.pointwise, st.persistent);
    if (auto it = last_state_.find(key); it == last_state_.end() || it->second != now) ++state_changes_;
    last_state_[key] = now;
    if (write_) state_batch_.push_back(std::move(st));
  }

  Result<Id> position_for(const Record& r) {
    if (r.position_id) return *r.position_id;
    const std::string key = r.site + "/" + r.asset + "/" + r.position;
    if (auto it = positions_.find(key); it != positions_.end()) return it->second;
    // Existing nodes are found by name and left as they are; missing ones are created.
    auto sites = store_.sites();
    if (!sites) return sites.status();
    std::optional<Id> site;
    for (auto& s : *sites)
      if (s.name == r.site) site = s.id;
    if (!site) {
      auto id = store_.upsert_site({0, r.site, "UTC"});
      if (!id) return id.status();
      site = *id, ++created_;
    }
    auto assets = store_.assets(*site);
    if (!assets) return assets.status();
    std::optional<Id> asset;
    for (auto& a : *assets)
      if (a.name == r.asset) asset = a.id;
    if (!asset) {
      Asset a;
      a.site_id = *site;
      a.name = r.asset;
      auto id = store_.upsert_asset(a);
      if (!id) return id.status();
      asset = *id, ++created_;
    }
    auto ps = store_.positions(*asset);
    if (!ps) return ps.status();
    std::optional<Id> pos;
    for (auto& p : *ps)
      if (p.name == r.position) pos = p.id;
    if (!pos) {
      auto id = store_.upsert_position({0, *asset, r.position, PositionType::kOther});
      if (!id) return id.status();
      pos = *id, ++created_;
    }
    positions_[key] = *pos;
    return *pos;
  }

  Result<Id> series_for(const Record& r, Id position) {
    const std::string address = "import:" + r.source;
    const std::string key = address + "|" + std::to_string(position) + "|" + r.metric;
    if (auto it = series_.find(key); it != series_.end()) return it->second;
    Sensor s;
    s.address = address;
    s.name = "imported history (" + r.source + ")";
    s.format = "import";
    s.position_id = position;
    s.commissioned_at = SystemClock::instance().now_ms();
    auto sid = store_.upsert_sensor(s);
    if (!sid) return sid.status();
    sensors_[address] = *sid;
    const MetricInfo* info = find_metric(r.metric);
    auto id = store_.ensure_series(*sid, r.metric, info ? info->unit : "");
    if (!id) return id.status();
    series_[key] = *id;
    // What an earlier import of this source stored here, in whichever of
    // its series (a series retired by decommissioning still holds it).
    std::optional<TimestampMs> newest;
    auto all = store_.series(position);
    if (!all) return all.status();
    for (const auto& x : *all) {
      if (x.sensor_id != *sid || x.metric != r.metric) continue;
      auto pts = store_.range(x.id, kMinTimestampMs, kMaxTimestampMs);
      if (!pts) return pts.status();
      if (!pts->empty() && (!newest || pts->back().ts > *newest)) newest = pts->back().ts;
    }
    newest_[*id] = newest;
    return *id;
  }

  Status flush_batch() {
    std::vector<SeriesPoint> pts;
    pts.reserve(batch_.size());
    for (const auto& r : batch_) {
      auto pos = position_for(r);
      if (!pos) return pos.status();
      auto series = series_for(r, *pos);
      if (!series) return series.status();
      // Importing the same file again adds nothing: history already stored
      // for this import series is not appended twice.
      if (auto n = newest_[*series]; n && r.ts <= *n) {
        ++already_;
        continue;
      }
      pts.push_back({*series, r.ts, r.value});
    }
    batch_.clear();
    VIGIL_RETURN_IF_ERROR(flush_states());
    for (std::size_t i = 0; i < pts.size();) {
      const std::size_t n = std::min<std::size_t>(10000, pts.size() - i);
      Status st = store_.append(std::span<const SeriesPoint>(pts.data() + i, n));
      if (st.code() == Status::Code::kResourceExhausted) {
        VIGIL_RETURN_IF_ERROR(store_.flush());
        continue;
      }
      VIGIL_RETURN_IF_ERROR(st);
      i += n;
    }
    return Status::Ok();
  }

  // The models' states go to the analytics' health history, one
  // transaction per batch (rows only where a state changes; see
  // analytics/health_history.h for why a second import adds nothing).
  Status flush_states() {
    if (state_batch_.empty()) return Status::Ok();
    std::vector<analytics::ImportedHealthState> rows;
    rows.reserve(state_batch_.size());
    for (const auto& st : state_batch_) {
      Record where;
      where.site = st.site;
      where.asset = st.asset;
      where.position = st.position;
      auto pos = position_for(where);
      if (!pos) return pos.status();
      rows.push_back({"position", *pos, st.model, st.ts, st.pointwise, st.persistent});
    }
    state_batch_.clear();
    return store_.write_txn([&](sql::Db& db) -> Status {
      auto n = analytics::import_health_history(db, rows);
      if (!n) return n.status();
      states_written_ += n->written;
      states_unchanged_ += n->unchanged;
      return Status::Ok();
    });
  }

  Store& store_;
  const ImportOptions& o_;
  bool write_ = false;
  long line_no_ = 0, points_ = 0, skipped_events_ = 0, already_ = 0, error_count_ = 0;
  int created_ = 0;
  std::optional<TimestampMs> oldest_;
  std::vector<std::string> errors_;
  std::map<std::string, std::size_t> col_;
  std::map<std::string, Id> by_path_;
  std::set<Id> by_id_;
  std::vector<Record> batch_;
  std::vector<ImportedModelState> state_batch_;
  long states_ = 0, state_changes_ = 0, unknown_models_ = 0, states_written_ = 0, states_unchanged_ = 0;
  std::map<std::string, std::pair<HealthState, HealthState>> last_state_;  // site/asset/position|model → last state read
  std::map<std::string, Id> positions_, series_, sensors_;
  std::map<Id, std::optional<TimestampMs>> newest_;
};

}  // namespace

namespace {
// Monitron's model names are vigil's (the analytics' model name constants).
const char* monitron_model(const std::string& name) {
  for (const char* m : {analytics::kTemperatureMl, analytics::kVibrationIso, analytics::kVibrationMl})
    if (name == m) return m;
  return nullptr;
}

// Monitron's classification outputs (documented: HEALTHY, WARNING, ALARM).
std::optional<HealthState> monitron_state(std::string v) {
  for (auto& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (v == "HEALTHY") return HealthState::kHealthy;
  if (v == "WARNING") return HealthState::kWarning;
  if (v == "ALARM") return HealthState::kAlarm;
  return std::nullopt;
}
}  // namespace

// "2023-01-01 10:00:00.000", "2023-01-01T10:00:00Z", "…+02:00", or epoch ms.
std::optional<TimestampMs> parse_import_time(std::string s) {
  for (auto& c : s)
    if (c == ' ') c = 'T';
  int ms = 0;
  auto dot = s.find('.');
  if (dot != std::string::npos) {
    std::size_t end = dot + 1;
    std::string frac;
    while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) frac += s[end++];
    if (frac.empty()) return std::nullopt;
    frac.resize(3, '0');
    ms = std::stoi(frac.substr(0, 3));
    s.erase(dot, end - dot);
  }
  auto t = parse_time_arg(s);
  if (!t) return std::nullopt;
  const bool epoch_ms = !s.empty() && s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string::npos;
  return *t + (epoch_ms ? 0 : ms);
}


LineKind parse_monitron_line(const std::string& line, std::vector<ImportedPoint>& out, std::string& error) {
  MonitronMeasurement m;
  const LineKind kind = parse_monitron_line(line, m, error);
  out = std::move(m.points);
  return kind;
}

LineKind parse_monitron_line(const std::string& line, MonitronMeasurement& rec, std::string& error) {
  rec = MonitronMeasurement{};
  auto& out = rec.points;
  auto bad = [&](std::string why) {
    error = std::move(why);
    rec = MonitronMeasurement{};
    return LineKind::kBad;
  };
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    return bad(std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) return bad("not a JSON object");
  const bool v2 = j.contains("eventPayload");
  const json* type = j.contains("eventType") ? &j["eventType"] : nullptr;
  if (type ? !(type->is_string() && type->get<std::string>() == "measurement") : v2) return LineKind::kOtherEvent;
  const json& p = v2 ? j["eventPayload"] : j;
  if (!p.is_object()) return bad("eventPayload is not an object");
  auto str = [&](const char* k) { return p.contains(k) && p[k].is_string() ? p[k].get<std::string>() : std::string(); };
  ImportedPoint base;
  base.site = str(v2 ? "siteName" : "siteDisplayName");
  base.asset = str(v2 ? "assetName" : "assetDisplayName");
  base.position = str(v2 ? "positionName" : "sensorPositionDisplayName");
  if (base.site.empty() || base.asset.empty() || base.position.empty())
    return bad("a measurement without its site, asset and position names");
  for (auto* n : {&base.site, &base.asset, &base.position})
    if (n->size() > 200) return bad("a name longer than 200 bytes");
  const json* sensor = p.contains("sensor") ? &p["sensor"] : nullptr;
  base.source = sensor && sensor->is_object() && sensor->contains("physicalId") && (*sensor)["physicalId"].is_string()
                    ? (*sensor)["physicalId"].get<std::string>().substr(0, 64)
                    : "unknown";
  auto ts = j.contains("timestamp") && j["timestamp"].is_string() ? parse_import_time(j["timestamp"].get<std::string>())
                                                                    : std::nullopt;
  if (!ts) return bad("a measurement without a readable timestamp");
  base.ts = *ts;
  const json* features = nullptr;
  if (v2 && p.contains("features")) features = &p["features"];
  if (!v2 && p.contains("measurement") && p["measurement"].is_object() && p["measurement"].contains("features"))
    features = &p["measurement"]["features"];
  if (!features || !features->is_object()) return bad("a measurement without features");
  const char* total = v2 ? "totalVibration" : "resultantVector";
  struct Map {
    std::vector<const char*> path;
    const char* metric;
  };
  const std::vector<Map> maps = {
      {{"velocity", "band10To1000Hz", total, "rms"}, "velocity_rms_mm_s"},
      {{"velocity", "band10To1000Hz", "xAxis", "rms"}, "velocity_rms_mm_s.x"},
      {{"velocity", "band10To1000Hz", "yAxis", "rms"}, "velocity_rms_mm_s.y"},
      {{"velocity", "band10To1000Hz", "zAxis", "rms"}, "velocity_rms_mm_s.z"},
      {{"acceleration", "band10To1000Hz", total, "rms"}, "acceleration_m_s2"},
      {{"acceleration", "band10To1000Hz", total, "crestFactor"}, "crest_factor"},
      {{"temperature"}, "temperature_c"},
  };
  for (const auto& m : maps) {
    const json* cur = features;
    for (const char* k : m.path) {
      if (!cur || !cur->is_object() || !cur->contains(k)) {
        cur = nullptr;
        break;
      }
      cur = &(*cur)[k];
    }
    if (!cur || !cur->is_number()) continue;
    ImportedPoint pt = base;
    pt.metric = m.metric;
    pt.value = cur->get<double>();
    out.push_back(std::move(pt));
  }
  // The models' results: v2 next to the features in eventPayload, v1 next to
  // the measurement (also accepted inside it).
  const json* models = nullptr;
  if (v2 && p.contains("models")) models = &p["models"];
  if (!v2 && j.contains("models")) models = &j["models"];
  if (!v2 && !models && p.contains("measurement") && p["measurement"].is_object() && p["measurement"].contains("models"))
    models = &p["measurement"]["models"];
  if (models && !models->is_null()) {
    if (!models->is_object()) return bad("models is not an object");
    for (const auto& [name, result] : models->items()) {
      const char* model = monitron_model(name);
      if (!model) {
        ++rec.unknown_models;
        continue;
      }
      if (!result.is_object()) return bad("models." + name + " is not an object");
      std::optional<HealthState> outputs[2];
      const char* keys[2] = {"pointwiseClassificationOutput", "persistentClassificationOutput"};
      for (int i = 0; i < 2; ++i) {
        if (!result.contains(keys[i]) || result[keys[i]].is_null()) continue;
        const json& v = result[keys[i]];
        if (v.is_string()) outputs[i] = monitron_state(v.get<std::string>());
        if (!outputs[i])
          return bad("models." + name + "." + keys[i] + " " + v.dump().substr(0, 60) +
                     " is not HEALTHY, WARNING or ALARM");
      }
      if (!outputs[0] && !outputs[1]) continue;  // a result without a classification: nothing to keep
      ImportedModelState st;
      st.site = base.site;
      st.asset = base.asset;
      st.position = base.position;
      st.model = model;
      st.ts = base.ts;
      st.pointwise = outputs[0].value_or(*outputs[1]);
      st.persistent = outputs[1].value_or(*outputs[0]);
      rec.states.push_back(std::move(st));
    }
  }
  return LineKind::kPoints;
}


int import_command(const Config& config, const ImportOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "csv" && o.format != "monitron") {
    err << "vigil import: --format must be csv or monitron\n";
    return 2;
  }
  if (auto rc = refuse_while_served("import", config.storage.path,
                                    "stop the service for the import (it writes history into the database)", err))
    return *rc;
  StoreOptions so = store_options(config.storage);
  so.reader_connections = 1;
  so.owner = "vigil import";
  so.queue_max_rows = 2'000'000;
  auto store = Store::open(so);
  if (!store) {
    err << "vigil import: " << store.status().message() << "\n";
    return 1;
  }
  Importer check(**store, o);
  if (Status s = check.run(false); !s.ok()) {
    err << "vigil import: " << s.message() << "; nothing was imported\n";
    return 1;
  }
  if (check.error_count() > 0) {
    for (const auto& e : check.errors()) err << e << "\n";
    if (check.error_count() > static_cast<long>(check.errors().size()))
      err << "… and " << check.error_count() - static_cast<long>(check.errors().size()) << " more\n";
    err << "vigil import: " << check.error_count() << " bad line(s); nothing was imported\n";
    return 2;
  }
  if (o.dry_run) {
    out << "dry run: " << check.points() << " points would be imported from " << o.file << " ("
        << check.skipped_events() << " other events skipped)";
    if (o.format == "monitron") {
      out << "; " << check.state_changes() << " model state changes would be imported (of " << check.states()
          << " model states";
      if (check.unknown_models() > 0) out << "; " << check.unknown_models() << " results of unknown models skipped";
      out << ")";
    }
    out << "\n";
    return 0;
  }
  // The health history's table is the analytics module's (idempotent; a
  // database never served may not have it yet).
  if (o.format == "monitron") {
    if (Status m = analytics::Pipeline::migrate(**store); !m.ok()) {
      err << "vigil import: " << m.message() << "; nothing was imported\n";
      return 1;
    }
  }
  Importer importer(**store, o);
  Status s = importer.run(true);
  if (s.ok()) s = (*store)->flush();
  if (s.ok()) s = (*store)->checkpoint();
  for (const auto& [address, id] : importer.import_sensors()) {
    // History only: nothing will advertise as this sensor.
    if (Status d = (*store)->decommission_sensor(id, "cli:import"); !d.ok() && s.ok()) s = d;
  }
  if (!s.ok()) {
    err << "vigil import: " << s.message() << "\n";
    return 1;
  }
  const long added = importer.points() - importer.already_stored();
  const TimestampMs cutoff = SystemClock::instance().now_ms() - static_cast<TimestampMs>(config.storage.raw_retention_days) * 86'400'000;
  if (importer.oldest() && *importer.oldest() < cutoff)
    err << "vigil import: note: some points are older than storage.raw_retention_days (" << config.storage.raw_retention_days
        << " days): the import's checkpoint kept them as hourly roll-ups (min, max, mean; kept "
        << config.storage.rollup_retention_days << " days), not as raw values\n";
  std::string what = o.format + ": " + std::to_string(added) + " points";
  if (o.format == "monitron") what += ", " + std::to_string(importer.states_written()) + " model states";
  (void)(*store)->audit("cli", "data.import", o.file, what);
  out << "imported " << added << " points from " << o.file;
  if (importer.already_stored() > 0) out << " (" << importer.already_stored() << " already stored, skipped)";
  if (o.format == "monitron") {
    out << "; " << importer.states_written() << " model states";
    if (importer.states_unchanged() > 0)
      out << " (" << importer.states_unchanged() << " unchanged or already stored, skipped)";
    if (importer.unknown_models() > 0) out << "; " << importer.unknown_models() << " results of unknown models skipped";
  }
  if (importer.created_nodes() > 0) out << "; created " << importer.created_nodes() << " sites/assets/positions";
  if (importer.skipped_events() > 0) out << "; " << importer.skipped_events() << " other events skipped";
  out << "\n";
  return 0;
}

}  // namespace vigil::app
