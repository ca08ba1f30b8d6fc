// SPDX-License-Identifier: Apache-2.0
//
// WaveformPuller: when to pull a vigil sensor's raw waveform over GATT, and
// the pull itself (docs/protocol.md §4).
//
// Schedule: a sensor is eligible when it is commissioned with a position,
// speaks vigil frames (commissioned as "vigil", or a vigil frame was seen)
// and BlueZ knows its device object. Its first pull is waveform_first_delay_s
// after it was first heard, then every waveform_pull_interval_s (or the
// interval the sensor itself reports, Candidate::interval_s), and at once
// (at most every waveform_trigger_min_gap_s) when an advertised total
// velocity reaches waveform_trigger_velocity_mm_s. A failed pull is retried
// after waveform_retry_s, at most waveform_max_attempts times per interval.
// One pull per tick at most.
//
// Pull: Connect → find the service's characteristics (GetManagedObjects,
// polled while services resolve) → ReadValue(Info) → WriteValue(Chunk
// Request, offset 0) → ReadValue(Chunk Data) until total_bytes (bounded),
// restarting when the burst is replaced (seq changes) → CRC check →
// Disconnect. Every call blocks with its timeout; the whole pull can take
// tens of seconds on a bad link.
//
// Threading: none of its own; every method runs on the BLE worker thread.
// It holds no lock, so a pull never blocks a snapshot reader. It does not
// store anything: the Scanner hands the waveform to ingest.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ble/bluez_bus.h"
#include "ble/scanner_types.h"
#include "protocol/types.h"
#include "vigil/metrics_registry.h"

namespace vigil::ble {

class WaveformPuller {
 public:
  struct Candidate {
    std::string address;
    TimestampMs last_seen = 0;  // 0: never heard; the first pull waits waveform_first_delay_s from here
    bool commissioned_as_vigil = false;
    int interval_s = 0;  // the sensor's own waveform interval; 0: waveform_pull_interval_s
  };

  WaveformPuller(const ScannerOptions& options, MetricsRegistry& metrics = MetricsRegistry::global());

  // An accepted frame from a commissioned sensor: notes vigil senders and
  // schedules a pull at once when the advertised velocity crosses the trigger.
  void on_frame(const std::string& address, const protocol::DecodedFrame& f, TimestampMs t);
  void forget(const std::string& address);

  // The eligible sensor whose pull is due at t, if any (see the schedule).
  std::optional<std::string> due(const std::vector<Candidate>& eligible, TimestampMs t);
  // The pull of `address` ended: schedules the next one.
  void done(const std::string& address, const Status& result, TimestampMs t);

  // The GATT download from the device object at `device_path` (blocking).
  // `now` stamps the waveform.
  Result<Waveform> pull(BluezBus& bus, const std::string& device_path, TimestampMs now) const;

 private:
  struct Schedule {
    TimestampMs next_pull = 0;  // 0: not scheduled yet
    TimestampMs last_pull = 0;  // the last successful pull
    int interval_s = 0;         // Candidate::interval_s as last seen
    TimestampMs last_trigger = 0;
    int attempts = 0;
    bool seen_vigil = false;
  };
  TimestampMs interval_ms(const Schedule& s) const;
  Result<Waveform> download(BluezBus& bus, const std::string& device_path,
                            const std::map<std::string, std::string>& chars, TimestampMs now) const;

  ScannerOptions o_;
  std::map<std::string, Schedule> sensors_;  // address → schedule
  Counter* c_waveforms_;
  Counter* c_failures_;
};

}  // namespace vigil::ble
