// SPDX-License-Identifier: Apache-2.0
//
// `vigil import FILE --config FILE --format csv|monitron [--dry-run]`: a
// migrating plant starts with its past (docs/storage.md "Import").
//
//   csv       any CSV of readings with a header naming the columns
//             timestamp, position, metric, value (unit optional, ignored:
//             the metric's unit is vigil's); position is an id or
//             "Site/Asset/Position" of an existing position; timestamp is
//             epoch ms or ISO 8601.
//   monitron  an Amazon Monitron data export, v2 schema (one JSON record per
//             line, as the Kinesis/Firehose export writes them): measurement
//             events become points on site → asset → position (created when
//             missing), with the features mapped to vigil's metrics
//             (velocity_rms_mm_s, acceleration_m_s2, crest_factor,
//             temperature_c), and the states of Monitron's models
//             (temperatureML, vibrationISO, vibrationML: pointwise and
//             persistent HEALTHY/WARNING/ALARM) become the position's health
//             history (analytics/health_history.h: a row per state change);
//             other event types, results of unknown models and unknown
//             fields are counted and skipped.
//
// Two passes over the file: the first checks every line and writes
// nothing; any bad line fails the import with FILE:LINE: message (at most
// 20 shown), so a broken file changes nothing. The second writes through
// the store, which `vigil serve` owns: while it runs the import refuses
// (exit 3). Imported points belong to an import "sensor" per position
// (address import:<source id>), decommissioned after the import, so the
// history follows the position and nothing waits for its adverts.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "vigil/model.h"

namespace vigil::app {

struct ImportOptions {
  std::string file;
  std::string format = "csv";  // csv | monitron
  bool dry_run = false;
};

int import_command(const Config& config, const ImportOptions& o, std::ostream& out, std::ostream& err);

// The parsers, pure (fuzz target import_formats): one line of a Monitron
// export, and a timestamp as Monitron and CSV files write them.
struct ImportedPoint {
  std::string site, asset, position, source, metric;
  TimestampMs ts = 0;
  double value = 0;
};
// One model's result in a Monitron measurement, in vigil's words: `model` is
// vigil's model name (analytics kTemperatureMl, kVibrationIso, kVibrationMl,
// which Monitron's names are), states healthy/warning/alarm. A result that
// gives only one of the two outputs has it for both.
struct ImportedModelState {
  std::string site, asset, position, model;
  TimestampMs ts = 0;
  HealthState pointwise = HealthState::kUnknown;
  HealthState persistent = HealthState::kUnknown;
};
struct MonitronMeasurement {
  std::vector<ImportedPoint> points;
  std::vector<ImportedModelState> states;
  int unknown_models = 0;  // results of models vigil has no counterpart of (skipped)
};
enum class LineKind { kPoints, kOtherEvent, kBad };
// kBad with `error` set (and `out` empty); kOtherEvent for events that are
// not measurements. A state value other than HEALTHY, WARNING or ALARM (any
// case) is kBad, naming the model and the value.
LineKind parse_monitron_line(const std::string& line, MonitronMeasurement& out, std::string& error);
// The points only (states parsed and dropped).
LineKind parse_monitron_line(const std::string& line, std::vector<ImportedPoint>& out, std::string& error);
std::optional<TimestampMs> parse_import_time(std::string s);

}  // namespace vigil::app
