// SPDX-License-Identifier: Apache-2.0
#include "analytics/learned_state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "analytics/state_codec.h"

namespace vigil::analytics {

const char* const kLearnedStateSchema = R"sql(
CREATE TABLE learned_state(
  position_id INTEGER PRIMARY KEY,
  format INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  journal_seq INTEGER NOT NULL,
  measurement_id INTEGER NOT NULL,
  state BLOB NOT NULL);
CREATE TABLE learned_journal(
  position_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  after_measurement INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  names TEXT,
  vals BLOB NOT NULL,
  PRIMARY KEY(position_id, seq)) WITHOUT ROWID;
)sql";

using nlohmann::json;

const char* to_string(JournalEntry::Kind k) {
  switch (k) {
    case JournalEntry::Kind::kWaveform: return "waveform";
    case JournalEntry::Kind::kFrame: return "frame";
    case JournalEntry::Kind::kMetric: return "metric";
  }
  return "?";
}

Assessment apply(PositionAnalyzer& a, const JournalEntry& e) {
  if (e.kind == JournalEntry::Kind::kMetric) {
    const auto& f = e.features.front();
    return a.assess_metric(e.ts, f.name, f.value);
  }
  return a.assess_vibration(e.ts, e.features);
}

std::string features_json(const std::vector<dsp::Feature>& features) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& f : features) {
    if (std::isfinite(f.value)) j[f.name] = f.value;
    else j[f.name] = nullptr;
  }
  return j.dump();  // doubles as the shortest text that reads back to the same double
}

namespace {
// The flat object features_json() writes ({"name":number|null,...}, no
// blanks, names without escapes), read without building a JSON tree:
// restoring replays many of them. nullopt: not that shape (the caller
// then parses it as any JSON).
std::optional<std::vector<dsp::Feature>> fast_features(std::string_view s) {
  std::vector<dsp::Feature> out;
  std::size_t i = 0;
  auto eat = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  if (!eat('{')) return std::nullopt;
  if (eat('}')) return i == s.size() ? std::optional(std::move(out)) : std::nullopt;
  for (;;) {
    if (!eat('"')) return std::nullopt;
    const std::size_t k = s.find('"', i);
    if (k == std::string_view::npos) return std::nullopt;
    std::string_view name = s.substr(i, k - i);
    if (name.find('\\') != std::string_view::npos) return std::nullopt;
    i = k + 1;
    if (!eat(':')) return std::nullopt;
    double v;
    if (s.substr(i, 4) == "null") {
      v = std::numeric_limits<double>::quiet_NaN();
      i += 4;
    } else {
      auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
      if (ec != std::errc()) return std::nullopt;
      i = static_cast<std::size_t>(p - s.data());
    }
    out.push_back({std::string(name), v});
    if (eat('}')) return i == s.size() ? std::optional(std::move(out)) : std::nullopt;
    if (!eat(',')) return std::nullopt;
  }
}
}  // namespace

Result<std::vector<dsp::Feature>> features_from_json(const std::string& text) {
  if (auto fast = fast_features(text)) return std::move(*fast);
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("features are not a JSON object");
  std::vector<dsp::Feature> out;
  out.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_number()) out.push_back({it.key(), it->get<double>()});
    else if (it->is_null()) out.push_back({it.key(), std::numeric_limits<double>::quiet_NaN()});
    else return Status::InvalidArgument("feature '" + it.key() + "' is not a number");
  }
  return out;
}

// ------------------------------------------------------------------ reading
namespace {
constexpr const char* kStateCols = "SELECT position_id, format, ts, journal_seq, measurement_id, state FROM learned_state";
constexpr const char* kJournalCols = "SELECT position_id, seq, after_measurement, ts, kind, names, vals FROM learned_journal";

void read_row(sql::Stmt& q, SavedState& s) {
  s.key = q.i64(0);
  s.format = static_cast<int>(q.i64(1));
  s.ts = q.i64(2);
  s.journal_seq = q.i64(3);
  s.measurement_id = q.i64(4);
  auto b = q.blob(5);
  s.state.assign(b.begin(), b.end());
}

SavedState::Row read_journal_row(sql::Stmt& q) {
  SavedState::Row r;
  r.seq = q.i64(1);
  r.after_measurement = q.i64(2);
  r.ts = q.i64(3);
  r.kind = q.text(4);
  if (!q.is_null(5)) r.names = q.text(5);
  auto b = q.blob(6);
  r.values.assign(b.begin(), b.end());
  return r;
}
}  // namespace

Result<std::vector<SavedState>> read_learned_state(sql::Db& db) {
  std::vector<SavedState> out;
  std::unordered_map<Id, std::size_t> index;
  auto q = db.prepare(std::string(kStateCols) + " ORDER BY position_id");
  if (!q) return q.status();
  for (;;) {
    auto row = (*q)->step();
    if (!row) return row.status();
    if (!*row) break;
    SavedState s;
    read_row(**q, s);
    index[s.key] = out.size();
    out.push_back(std::move(s));
  }
  (*q)->reset();
  auto j = db.prepare(std::string(kJournalCols) + " ORDER BY position_id, seq");
  if (!j) return j.status();
  for (;;) {
    auto row = (*j)->step();
    if (!row) return row.status();
    if (!*row) break;
    auto it = index.find((*j)->i64(0));
    if (it == index.end()) {  // a journal without a snapshot (restore_position refuses it)
      SavedState s;
      s.key = (*j)->i64(0);
      it = index.emplace(s.key, out.size()).first;
      out.push_back(std::move(s));
    }
    out[it->second].journal.push_back(read_journal_row(**j));
  }
  (*j)->reset();
  return out;
}

Result<std::optional<SavedState>> read_learned_state(sql::Db& db, Id key) {
  std::optional<SavedState> out;
  auto q = db.prepare(std::string(kStateCols) + " WHERE position_id = ?");
  if (!q) return q.status();
  (*q)->bind(1, key);
  auto row = (*q)->step();
  if (!row) return row.status();
  if (*row) {
    out.emplace();
    read_row(**q, *out);
  }
  (*q)->reset();
  auto j = db.prepare(std::string(kJournalCols) + " WHERE position_id = ? ORDER BY seq");
  if (!j) return j.status();
  (*j)->bind(1, key);
  for (;;) {
    auto r = (*j)->step();
    if (!r) return r.status();
    if (!*r) break;
    if (!out) {
      out.emplace();
      out->key = key;
    }
    out->journal.push_back(read_journal_row(**j));
  }
  (*j)->reset();
  return out;
}

Status measurements_after(Store& store, SavedState& s) {
  // Inputs are never older than their snapshot (an older one makes a new
  // snapshot), so the position's (position_id, ts) index finds them all.
  auto rows = store.measurements(s.key, s.ts, kMaxTimestampMs, std::numeric_limits<int>::max());
  if (!rows) return rows.status();
  s.measurements.clear();
  for (auto& m : *rows)
    if (m.id > s.measurement_id) s.measurements.push_back(std::move(m));
  std::sort(s.measurements.begin(), s.measurements.end(),
            [](const Measurement& a, const Measurement& b) { return a.id < b.id; });
  return Status::Ok();
}

// ------------------------------------------------------- snapshot bytes
namespace {
// Depth first, object members in key order: the order both sides see.
template <typename Fn>
void each_binary(json& j, Fn&& fn) {
  if (j.is_binary()) fn(j);
  else if (j.is_object() || j.is_array())
    for (auto& v : j) each_binary(v, fn);
}
}  // namespace

std::vector<std::uint8_t> encode_snapshot(json doc) {
  std::vector<std::uint8_t> arrays;
  each_binary(doc, [&](json& b) {
    const auto& bytes = b.get_binary();
    const auto len = static_cast<json::binary_t::subtype_type>(bytes.size());
    arrays.insert(arrays.end(), bytes.begin(), bytes.end());
    b = json::binary(json::binary_t::container_type{}, len);  // in its place: an empty byte string tagged with the length
  });
  const auto cbor = json::to_cbor(doc);
  std::vector<std::uint8_t> out(4);
  const auto n = static_cast<std::uint32_t>(cbor.size());
  for (int k = 0; k < 4; ++k) out[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(n >> (8 * k));
  out.insert(out.end(), cbor.begin(), cbor.end());
  out.insert(out.end(), arrays.begin(), arrays.end());
  return out;
}

Result<json> decode_snapshot(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4) return Status::InvalidArgument("state: not a CBOR document (" + std::to_string(bytes.size()) + " bytes)");
  std::uint32_t n = 0;
  for (int k = 0; k < 4; ++k) n |= static_cast<std::uint32_t>(bytes[static_cast<std::size_t>(k)]) << (8 * k);
  if (n > bytes.size() - 4) return Status::InvalidArgument("state: not a CBOR document (length " + std::to_string(n) + ")");
  json doc = json::from_cbor(bytes.subspan(4, n), true, false, json::cbor_tag_handler_t::store);
  if (doc.is_discarded()) return Status::InvalidArgument("state: not a CBOR document");
  auto arrays = bytes.subspan(4 + static_cast<std::size_t>(n));
  std::size_t at = 0;
  std::string error;
  each_binary(doc, [&](json& b) {
    const auto& placeholder = b.get_binary();
    if (!error.empty()) return;
    if (!placeholder.has_subtype() || !placeholder.empty()) {
      error = "state: a byte array is not stored after the document";
      return;
    }
    const auto len = placeholder.subtype();
    if (len > arrays.size() - at) {
      error = "state: the byte arrays end early";
      return;
    }
    b = json::binary(std::vector<std::uint8_t>(arrays.begin() + static_cast<std::ptrdiff_t>(at),
                                               arrays.begin() + static_cast<std::ptrdiff_t>(at + len)));
    at += static_cast<std::size_t>(len);
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  if (at != arrays.size()) return Status::InvalidArgument("state: " + std::to_string(arrays.size() - at) + " bytes after the arrays");
  return doc;
}

// ---------------------------------------------------------------- restoring
namespace {
// Older formats would be brought to kLearnedStateFormat here, one step per
// version. There are none yet: format 1 is the first.
Result<json> migrate_learned_state(int format, json doc) {
  if (format == kLearnedStateFormat) return doc;
  return Status::FailedPrecondition("format " + std::to_string(format) + " is not one this vigil reads (it reads " +
                                    std::to_string(kLearnedStateFormat) + ")");
}

Result<JournalEntry> decode_entry(const SavedState::Row& r,
                                  std::unordered_map<std::string, std::vector<std::string>>& names_cache,
                                  std::array<const std::vector<std::string>*, 3>& before) {
  const std::string where = "journal entry " + std::to_string(r.seq);
  JournalEntry e;
  e.ts = r.ts;
  if (r.kind == "waveform") e.kind = JournalEntry::Kind::kWaveform;
  else if (r.kind == "frame") e.kind = JournalEntry::Kind::kFrame;
  else if (r.kind == "metric") e.kind = JournalEntry::Kind::kMetric;
  else return Status::InvalidArgument(where + ": unknown kind '" + r.kind + "'");
  const std::vector<std::string>*& names_before = before[static_cast<std::size_t>(e.kind)];
  if (r.names) {
    auto it = names_cache.find(*r.names);
    if (it == names_cache.end()) {
      auto j = json::parse(*r.names, nullptr, false);
      std::vector<std::string> names;
      if (j.is_discarded() || !j.is_array()) return Status::InvalidArgument(where + ": names are not a JSON array");
      for (auto& n : j) {
        if (!n.is_string()) return Status::InvalidArgument(where + ": a name is not a string");
        names.push_back(n.get<std::string>());
      }
      it = names_cache.emplace(*r.names, std::move(names)).first;
    }
    names_before = &it->second;
  } else if (!names_before) {
    return Status::InvalidArgument(where + ": names missing (and no " + r.kind + " entry before it to take them from)");
  }
  const auto& names = *names_before;
  if (r.values.size() != names.size() * 8)
    return Status::InvalidArgument(where + ": " + std::to_string(names.size()) + " names but " +
                                   std::to_string(r.values.size()) + " bytes of values");
  if (e.kind == JournalEntry::Kind::kMetric && names.size() != 1)
    return Status::InvalidArgument(where + ": a metric entry holds one value");
  e.features.resize(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::uint64_t u = 0;
    for (int k = 0; k < 8; ++k) u |= static_cast<std::uint64_t>(r.values[i * 8 + static_cast<std::size_t>(k)]) << (8 * k);
    e.features[i].name = names[i];
    std::memcpy(&e.features[i].value, &u, 8);
  }
  return e;
}
}  // namespace

Result<RestoredPosition> restore_position(const SavedState& s, const MachineInfo& machine,
                                          const AnalyticsOptions& options) {
  RestoredPosition out;
  out.analyzer = std::make_unique<PositionAnalyzer>(machine, options);
  if (s.state.empty()) return Status::InvalidArgument("state: missing (a journal without a snapshot)");
  auto doc = decode_snapshot(s.state);
  if (!doc) return doc.status();
  auto migrated = migrate_learned_state(s.format, std::move(*doc));
  if (!migrated) return migrated.status();
  state::StateReader r(*migrated);
  const json& a = r.value("analyzer", json::value_t::object);
  if (r.ok())
    if (auto st = out.analyzer->from_state(a); !st.ok()) return state::nest(st, "state.analyzer");
  out.has_waveform = r.boolean("has_waveform");
  if (auto st = r.finish(); !st.ok()) return state::nest(st, "state");
  out.journal_seq = s.journal_seq;
  out.measurement_id = s.measurement_id;
  out.snapshot_ts = out.latest_ts = s.ts;

  // Journal rows and measurement rows, merged in the order the analyzer took them.
  std::vector<const SavedState::Row*> rows;
  for (const auto& row : s.journal)
    if (row.seq > s.journal_seq) rows.push_back(&row);  // older ones are in the snapshot
  std::vector<const Measurement*> ms;
  for (const auto& m : s.measurements)
    if (m.id > s.measurement_id) ms.push_back(&m);
  std::unordered_map<std::string, std::vector<std::string>> names_cache;
  std::array<const std::vector<std::string>*, 3> names_before{};
  std::size_t ri = 0, mi = 0;
  while (ri < rows.size() || mi < ms.size()) {
    JournalEntry e;
    const bool take_row = ri < rows.size() && (mi >= ms.size() || rows[ri]->after_measurement < ms[mi]->id);
    if (take_row) {
      const auto& row = *rows[ri++];
      if (row.seq != out.journal_seq + 1)
        return Status::InvalidArgument("journal: entry " + std::to_string(out.journal_seq + 1) +
                                       " is missing (next is " + std::to_string(row.seq) + ")");
      if (row.after_measurement != out.measurement_id)
        return Status::InvalidArgument("journal: entry " + std::to_string(row.seq) + " follows measurement " +
                                       std::to_string(row.after_measurement) + ", which is missing");
      auto d = decode_entry(row, names_cache, names_before);
      if (!d) return d.status();
      e = std::move(*d);
      out.journal_seq = row.seq;
    } else {
      const auto& m = *ms[mi++];
      auto f = features_from_json(m.features_json);
      if (!f) return f.status().Annotate("measurement " + std::to_string(m.id));
      e = {m.waveform_id ? JournalEntry::Kind::kWaveform : JournalEntry::Kind::kFrame, m.ts, std::move(*f)};
      out.measurement_id = m.id;
    }
    if (e.kind == JournalEntry::Kind::kWaveform) out.has_waveform = true;
    out.latest_ts = std::max(out.latest_ts, e.ts);
    apply(*out.analyzer, e);
    ++out.journal_entries;
  }
  return out;
}

// ------------------------------------------------------------------ writing
json position_snapshot(const PositionAnalyzer& a, bool has_waveform) {
  return {{"analyzer", a.to_state()}, {"has_waveform", has_waveform}};
}

Status PositionStateLog::write_snapshot(sql::Db& db, const PositionAnalyzer& a, bool has_waveform) {
  if (measurement_rows_) {
    // Every measurement row there is now precedes the snapshot (ids only
    // grow; the caller's write transaction holds off other writers).
    auto m = db.prepare("SELECT coalesce(max(id), 0) FROM measurements");
    if (!m) return m.status();
    auto row = (*m)->step();
    if (!row) return row.status();
    measurement_ = std::max<Id>(measurement_, (*m)->i64(0));
    (*m)->reset();
  }
  const auto bytes = encode_snapshot(position_snapshot(a, has_waveform));
  auto q = db.prepare(
      "INSERT INTO learned_state(position_id, format, ts, journal_seq, measurement_id, state) VALUES(?, ?, ?, ?, ?, ?) "
      "ON CONFLICT(position_id) DO UPDATE SET format = excluded.format, ts = excluded.ts, "
      "journal_seq = excluded.journal_seq, measurement_id = excluded.measurement_id, state = excluded.state");
  if (!q) return q.status();
  VIGIL_RETURN_IF_ERROR((*q)->bind(1, key_).bind(2, kLearnedStateFormat).bind(3, latest_ts_).bind(4, seq_)
                            .bind(5, measurement_).bind_blob(6, bytes.data(), bytes.size()).run());
  auto d = db.prepare("DELETE FROM learned_journal WHERE position_id = ?");
  if (!d) return d.status();
  VIGIL_RETURN_IF_ERROR((*d)->bind(1, key_).run());
  snapshot_due_ = false;
  entries_ = 0;
  snapshot_ts_ = latest_ts_;
  names_ = {};  // the next entry of each kind names its features again
  return Status::Ok();
}

Status PositionStateLog::write(sql::Db& db, const PositionAnalyzer& a, bool has_waveform,
                               std::span<const JournalEntry> entries,
                               std::optional<std::pair<Id, TimestampMs>> measurement) {
  if (entries.empty() && !measurement && !snapshot_due_) return Status::Ok();
  // An input older than the snapshot would not be found after it: snapshot.
  bool older = false;
  for (const auto& e : entries) {
    older |= e.ts < snapshot_ts_;
    latest_ts_ = std::max(latest_ts_, e.ts);
  }
  if (measurement) {
    older |= measurement->second < snapshot_ts_;
    latest_ts_ = std::max(latest_ts_, measurement->second);
  }
  const int n = static_cast<int>(entries.size()) + (measurement ? 1 : 0);
  if (snapshot_due_ || older || entries_ + n > every_ || latest_ts_ - snapshot_ts_ > kSnapshotAge) {
    seq_ += static_cast<std::int64_t>(entries.size());  // the snapshot includes them
    if (measurement) measurement_ = measurement->first;
    return write_snapshot(db, a, has_waveform);
  }
  if (!entries.empty()) {
    auto q = db.prepare(
        "INSERT INTO learned_journal(position_id, seq, after_measurement, ts, kind, names, vals) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (!q) return q.status();
    std::vector<std::uint8_t> vals;
    for (const auto& e : entries) {
      auto& last = names_[static_cast<std::size_t>(e.kind)];
      bool same = last.has_value() && e.features.size() == last->size();
      for (std::size_t i = 0; same && i < last->size(); ++i) same = e.features[i].name == (*last)[i];
      std::string text;
      if (!same) {
        last.emplace();
        for (auto& f : e.features) last->push_back(f.name);
        text = json(*last).dump();
      }
      vals.resize(e.features.size() * 8);
      for (std::size_t i = 0; i < e.features.size(); ++i) {
        std::uint64_t u;
        std::memcpy(&u, &e.features[i].value, 8);
        for (int k = 0; k < 8; ++k) vals[i * 8 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(u >> (8 * k));
      }
      (*q)->bind(1, key_).bind(2, seq_ + 1).bind(3, measurement_).bind(4, e.ts).bind(5, to_string(e.kind));
      if (same) (*q)->bind_null(6);  // as the entry of its kind before
      else (*q)->bind(6, text);
      VIGIL_RETURN_IF_ERROR((*q)->bind_blob(7, vals.data(), vals.size()).run());
      ++seq_;
    }
  }
  if (measurement) measurement_ = measurement->first;  // the row is its own entry
  entries_ += n;
  return Status::Ok();
}

Status delete_learned_state(sql::Db& db, Id key) {
  for (const char* sql : {"DELETE FROM learned_state WHERE position_id = ?", "DELETE FROM learned_journal WHERE position_id = ?"}) {
    auto q = db.prepare(sql);
    if (!q) return q.status();
    VIGIL_RETURN_IF_ERROR((*q)->bind(1, key).run());
  }
  return Status::Ok();
}

}  // namespace vigil::analytics
