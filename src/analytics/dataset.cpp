// SPDX-License-Identifier: Apache-2.0
#include "analytics/dataset.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vigil::analytics {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  s.erase(0, i);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Result<TimestampMs> parse_timestamp(const std::string& raw) {
  const std::string t = trim(raw);
  if (t.empty()) return Status::InvalidArgument("empty timestamp");
  bool numeric = true;
  for (char c : t) numeric &= (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-');
  if (numeric && t.find('-', 1) == std::string::npos) {
    auto v = parse_number(t);
    // |t| below 1e12 s (≈ year 33,000) keeps the milliseconds in range.
    if (!v || std::fabs(*v) >= 1e12) return Status::InvalidArgument("bad epoch timestamp '" + t + "'");
    return static_cast<TimestampMs>(std::llround(*v * 1000.0));
  }
  int y, mo, d, h = 0, mi = 0, consumed = 0;
  double s = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3)
    return Status::InvalidArgument("bad ISO 8601 timestamp '" + t + "'");
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < t.size() && (t[pos] == 'T' || t[pos] == ' ')) {
    int c2 = 0;
    if (std::sscanf(t.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &c2) != 2)
      return Status::InvalidArgument("bad ISO 8601 time in '" + t + "'");
    pos += 1 + static_cast<std::size_t>(c2);
    if (pos < t.size() && t[pos] == ':') {
      std::size_t e = pos + 1;
      while (e < t.size() && (std::isdigit(static_cast<unsigned char>(t[e])) || t[e] == '.')) ++e;
      auto sv = parse_number(t.substr(pos + 1, e - pos - 1));
      if (!sv) return Status::InvalidArgument("bad seconds in '" + t + "'");
      s = *sv;
      pos = e;
    }
  }
  std::int64_t offset_min = 0;
  if (pos < t.size()) {
    if (t[pos] == 'Z' && pos + 1 == t.size()) {
    } else if (t[pos] == '+' || t[pos] == '-') {
      int oh = 0, om = 0;
      if (std::sscanf(t.c_str() + pos + 1, "%2d:%2d", &oh, &om) < 1 &&
          std::sscanf(t.c_str() + pos + 1, "%2d%2d", &oh, &om) < 1)
        return Status::InvalidArgument("bad zone in '" + t + "'");
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return Status::InvalidArgument("bad zone in '" + t + "'");
      offset_min = (t[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
      return Status::InvalidArgument("trailing characters in timestamp '" + t + "'");
    }
  }
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s >= 61)
    return Status::InvalidArgument("timestamp out of range '" + t + "'");
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  double secs = static_cast<double>(days) * 86400 + h * 3600 + mi * 60 + s - offset_min * 60.0;
  return static_cast<TimestampMs>(std::llround(secs * 1000));
}

Result<WaveformDataset> WaveformDataset::open(const std::string& manifest_path) {
  namespace fs = std::filesystem;
  std::ifstream f(manifest_path);
  if (!f) return Status::NotFound("cannot open manifest '" + manifest_path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("manifest '" + manifest_path + "' is not valid JSON: " + e.what());
  }
  WaveformDataset d;
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("manifest '" + manifest_path + "': " + what);
  };
  try {
    if (!j.is_object()) return bad("not a JSON object");
    for (const char* k : {"file", "scale_g_per_count", "sample_rate_hz", "samples_per_snapshot",
                          "channels", "timestamps"})
      if (!j.contains(k)) return bad(std::string("missing key '") + k + "'");
    d.scale_ = j.at("scale_g_per_count").get<double>();
    d.fs_ = j.at("sample_rate_hz").get<double>();
    d.samples_ = j.at("samples_per_snapshot").get<int>();
    d.channels_ = j.at("channels").get<std::vector<std::string>>();
    if (!(d.fs_ > 0) || d.samples_ < 64 || d.channels_.empty() || !(d.scale_ > 0))
      return bad("sample_rate_hz, scale_g_per_count must be > 0, samples_per_snapshot ≥ 64, channels non-empty");
    for (auto& t : j.at("timestamps")) {
      auto s = t.get<std::string>();
      auto ts = parse_timestamp(s);
      if (!ts) return bad(ts.status().message());
      d.timestamps_.push_back(*ts);
      d.timestamp_text_.push_back(s);
    }
    if (j.contains("scalars")) {
      for (auto& [name, arr] : j.at("scalars").items()) {
        std::vector<std::optional<double>> v;
        for (auto& x : arr) v.push_back(x.is_number() ? std::optional<double>(x.get<double>()) : std::nullopt);
        if (v.size() != d.timestamps_.size()) return bad("scalar '" + name + "' length differs from timestamps");
        d.scalars_[name] = std::move(v);
      }
    }
    if (j.contains("machine_class")) d.machine_.machine_class = j.at("machine_class").get<std::string>();
    if (j.contains("bearing_geometry")) {
      auto& g = j.at("bearing_geometry");
      d.machine_.shaft_rpm = g.value("shaft_rpm", 0.0);
      if (j.contains("shaft_rpm")) d.machine_.shaft_rpm = j.at("shaft_rpm").get<double>();
      BearingGeometry b;
      b.rolling_elements = g.contains("rolling_elements") ? g.at("rolling_elements").get<int>()
                                                          : g.value("rolling_elements_per_row", 0);
      const double in = 25.4;
      b.element_diameter_mm = g.contains("roller_diameter_mm") ? g.at("roller_diameter_mm").get<double>()
                                                               : g.value("roller_diameter_in", 0.0) * in;
      b.pitch_diameter_mm = g.contains("pitch_diameter_mm") ? g.at("pitch_diameter_mm").get<double>()
                                                            : g.value("pitch_diameter_in", 0.0) * in;
      b.contact_angle_deg = g.value("contact_angle_deg", 0.0);
      if (b.rolling_elements > 0 && b.pitch_diameter_mm > b.element_diameter_mm && b.element_diameter_mm > 0)
        d.machine_.bearing = b;
    } else if (j.contains("shaft_rpm")) {
      d.machine_.shaft_rpm = j.at("shaft_rpm").get<double>();
    }
    if (j.contains("envelope_band_hz") && !j.at("envelope_band_hz").is_null()) {
      auto& eb = j.at("envelope_band_hz");
      if (!eb.is_array() || eb.size() != 2 || !eb[0].is_number() || !eb[1].is_number())
        return bad("envelope_band_hz must be [lo, hi] in Hz (or null for automatic)");
      d.machine_.envelope_lo_hz = eb[0].get<double>();
      d.machine_.envelope_hi_hz = eb[1].get<double>();
      if (auto st = check_envelope_band(d.machine_.envelope_lo_hz, d.machine_.envelope_hi_hz); !st.ok())
        return bad(st.message());
    }
    d.bin_path_ = (fs::path(manifest_path).parent_path() / j.at("file").get<std::string>()).string();
  } catch (const std::exception& e) {
    return bad(std::string("wrong type: ") + e.what());
  }
  std::error_code ec;
  auto size = fs::file_size(d.bin_path_, ec);
  if (ec) return Status::NotFound("waveform file '" + d.bin_path_ + "': " + ec.message());
  const std::uintmax_t want = static_cast<std::uintmax_t>(d.timestamps_.size()) * d.channels_.size() *
                              static_cast<std::uintmax_t>(d.samples_) * 2;
  if (size != want)
    return Status::Corruption("waveform file '" + d.bin_path_ + "' has " + std::to_string(size) +
                              " bytes, manifest implies " + std::to_string(want));
  d.in_ = std::make_shared<std::ifstream>(d.bin_path_, std::ios::binary);
  if (!*d.in_) return Status::IoError("cannot open waveform file '" + d.bin_path_ + "'");
  return d;
}

Status WaveformDataset::read_snapshot(std::size_t i, std::vector<float>& out) {
  if (i >= snapshots()) return Status::InvalidArgument("snapshot index out of range");
  const std::size_t n = channels_.size() * static_cast<std::size_t>(samples_);
  buf_.resize(n);
  in_->seekg(static_cast<std::streamoff>(i * n * 2));
  in_->read(reinterpret_cast<char*>(buf_.data()), static_cast<std::streamsize>(n * 2));
  if (!*in_) return Status::IoError("short read of snapshot " + std::to_string(i) + " from '" + bin_path_ + "'");
  out.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    // little-endian on disk; convert explicitly so big-endian hosts work too
    auto u = static_cast<std::uint16_t>(buf_[k]);
    const auto* b = reinterpret_cast<const unsigned char*>(&u);
    auto le = static_cast<std::int16_t>(static_cast<std::uint16_t>(b[0] | (b[1] << 8)));
    out[k] = static_cast<float>(le * scale_);
  }
  return Status::Ok();
}

Result<CsvSeries> read_csv_series(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound("cannot open CSV '" + path + "'");
  return parse_csv_series(f, path);
}

Result<CsvSeries> parse_csv_series(std::istream& f, const std::string& path) {
  CsvSeries out;
  std::string line;
  std::size_t lineno = 0;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::string cur;
    bool q = false;
    for (char c : l) {
      if (c == '"') q = !q;
      else if (c == ',' && !q) { cells.push_back(trim(cur)); cur.clear(); }
      else cur += c;
    }
    cells.push_back(trim(cur));
    return cells;
  };
  while (std::getline(f, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty() || line[0] == '#') continue;
    auto cells = split(line);
    auto where = path + ":" + std::to_string(lineno) + ": ";
    if (cells.size() < 2) return Status::InvalidArgument(where + "need timestamp,value[,value…]");
    auto ts = parse_timestamp(cells[0]);
    if (!ts) {
      if (out.columns.empty() && out.ts.empty()) {  // header row
        out.columns.assign(cells.begin() + 1, cells.end());
        continue;
      }
      return Status::InvalidArgument(where + ts.status().message());
    }
    if (out.columns.empty()) {
      for (std::size_t c = 1; c < cells.size(); ++c)
        out.columns.push_back(c == 1 ? "value" : "value" + std::to_string(c));
    }
    if (cells.size() != out.columns.size() + 1)
      return Status::InvalidArgument(where + "expected " + std::to_string(out.columns.size() + 1) +
                                     " fields, got " + std::to_string(cells.size()));
    std::vector<std::optional<double>> row;
    for (std::size_t c = 1; c < cells.size(); ++c) {
      if (cells[c].empty()) { row.push_back(std::nullopt); continue; }
      auto v = parse_number(cells[c]);
      if (!v) return Status::InvalidArgument(where + "not a number: '" + cells[c] + "'");
      row.push_back(v);
    }
    out.ts.push_back(*ts);
    out.ts_text.push_back(cells[0]);
    out.rows.push_back(std::move(row));
  }
  if (out.rows.empty()) return Status::InvalidArgument(path + ": no data rows");
  return out;
}

}  // namespace vigil::analytics
