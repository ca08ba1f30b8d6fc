// SPDX-License-Identifier: Apache-2.0
#include "app/sensor_import.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "app/admin_commands.h"
#include "app/store_options.h"
#include "http/sensor_csv.h"
#include "vigil/store.h"

namespace vigil::app {
namespace {

constexpr const char* kCommand = "vigil sensor import";

void print_errors(const std::string& file, const std::vector<SensorImportError>& errors, std::ostream& err) {
  for (const auto& e : errors) {
    err << file;
    if (e.line > 0) err << ":" << e.line;
    err << ": " << e.message << "\n";
  }
  err << kCommand << ": " << errors.size() << " bad row(s) in " << file << ": nothing was imported\n";
}

nlohmann::json to_json(const SensorImportResult& r, bool dry_run) {
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json counts = {{"new", 0}, {"recommissioned", 0}, {"unchanged", 0}};
  for (const auto& o : r.rows) {
    rows.push_back({{"line", o.line},
                    {"address", o.address},
                    {"position_id", o.position_id},
                    {"action", o.action},
                    {"sensor_id", o.sensor_id ? nlohmann::json(*o.sensor_id) : nlohmann::json(nullptr)}});
    counts[o.action] = counts[o.action].get<int>() + 1;
  }
  return {{"dry_run", dry_run}, {"applied", r.applied}, {"counts", counts}, {"rows", rows},
          {"errors", nlohmann::json::array()}};
}

}  // namespace

int sensor_import(const Config& config, const SensorImportOptions& o, std::ostream& out, std::ostream& err) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    err << kCommand << ": cannot read " << o.file << "\n";
    return 2;
  }
  // Read one byte past the limit: a bigger file is refused, never read whole.
  std::string text(http::kSensorCsvMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto csv = http::parse_sensor_csv(text);
  if (!csv.errors.empty()) {
    print_errors(o.file, csv.errors, err);
    return 2;
  }
  if (auto rc = refuse_while_served("sensor import", config.storage.path,
                                    "import with POST /api/v1/sensors/import (text/csv; ?dry_run=1 for a dry run)",
                                    err))
    return *rc;
  StoreOptions so = store_options(config.storage);
  so.reader_connections = 1;
  so.owner = kCommand;
  auto store = Store::open(so);
  if (!store) {
    err << kCommand << ": " << store.status().message() << "\n";
    return 1;
  }
  auto r = (*store)->import_sensors(csv.rows, o.dry_run, "cli");
  if (!r) {
    err << kCommand << ": " << r.status().message() << "\n";
    return 1;
  }
  if (!r->errors.empty()) {
    print_errors(o.file, r->errors, err);
    return 2;
  }
  if (o.json) {
    out << to_json(*r, o.dry_run).dump(2) << "\n";
    return 0;
  }
  int counts[3] = {0, 0, 0};
  for (const auto& row : r->rows) {
    counts[row.action == "new" ? 0 : row.action == "recommissioned" ? 1 : 2]++;
    out << o.file << ":" << row.line << ": " << row.address << " on position " << row.position_id << ": "
        << row.action << "\n";
  }
  out << (o.dry_run ? "dry run: " : "imported: ") << counts[0] << " new, " << counts[1] << " recommissioned, "
      << counts[2] << " unchanged" << (o.dry_run ? "; nothing was written" : "") << "\n";
  return 0;
}

}  // namespace vigil::app
