// SPDX-License-Identifier: Apache-2.0
//
// Offline inputs of `vigil backtest`: the waveform dataset format of
// shared/data (docs/datasets.md: manifest.json + little-endian int16
// [snapshots][channels][samples]) and `timestamp,value[,value…]` CSV files.
//
// Thread-safety: a WaveformDataset reads its file through its own stream;
// one thread at a time.
#pragma once

#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analytics/csv_series.h"
#include "analytics/position.h"
#include "vigil/clock.h"
#include "vigil/status.h"

namespace vigil::analytics {

// parse_timestamp, CsvSeries, read_csv_series: analytics/csv_series.h (public).

class WaveformDataset {
 public:
  // Reads and checks the manifest; the binary file must exist and hold
  // snapshots × channels × samples int16 values. The machine comes from the
  // optional keys machine_class, shaft_rpm, bearing_geometry and
  // envelope_band_hz ([lo, hi] Hz, vigil::check_envelope_band; null or
  // absent = automatic).
  static Result<WaveformDataset> open(const std::string& manifest_path);

  std::size_t snapshots() const { return timestamps_.size(); }
  const std::vector<std::string>& channels() const { return channels_; }
  int samples_per_snapshot() const { return samples_; }
  double sample_rate_hz() const { return fs_; }
  TimestampMs timestamp(std::size_t i) const { return timestamps_[i]; }
  const std::string& timestamp_text(std::size_t i) const { return timestamp_text_[i]; }
  const MachineInfo& machine() const { return machine_; }
  // name → one value per snapshot (nullopt where the manifest has null).
  const std::map<std::string, std::vector<std::optional<double>>>& scalars() const { return scalars_; }

  // Reads snapshot i: [channels][samples] in g.
  Status read_snapshot(std::size_t i, std::vector<float>& out);

 private:
  std::string bin_path_;
  std::shared_ptr<std::ifstream> in_;
  double scale_ = 1, fs_ = 0;
  int samples_ = 0;
  std::vector<std::string> channels_;
  std::vector<TimestampMs> timestamps_;
  std::vector<std::string> timestamp_text_;
  std::map<std::string, std::vector<std::optional<double>>> scalars_;
  MachineInfo machine_;
  std::vector<std::int16_t> buf_;
};


}  // namespace vigil::analytics
