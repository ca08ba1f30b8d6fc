// SPDX-License-Identifier: Apache-2.0
//
// SensorHealthTracker: how each commissioned sensor is doing, and the alerts
// that follow from it.
//
// Per sensor: last seen, RSSI, battery, adverts per minute (adverts in the
// last 60 s), the learnt advertising interval (median of the last 9 gaps
// between frames at least interval_min_gap_ms apart), frames accepted,
// counter resets, the last accepted counter, frames rejected by reason,
// readings ingest rejected, waveforms pulled and failed, the last error.
//
// Alerts (SensorAlert, see sensor_alerts.h), appended to the caller's list:
//   - "silent" (warning): not heard for missed_intervals_alert learnt
//     intervals; re-armed when the sensor is heard again;
//   - "battery_low" (warning): battery below battery_low_pct; re-armed at
//     battery_ok_pct or more;
//   - "spoofing" (alarm): every frame that fails authentication (bad_mic),
//     the replay check or the downgrade check; one condition per reason.
// Each is raised when (re)detected, at most once per condition and sensor
// per sensor_alert_min_gap_s; a detection inside that gap is not dropped for
// good: a condition that still holds once the gap has passed is raised then.
//
// Persistence is the caller's: take_dirty() hands out the rows that changed
// (sensor_health_table.h writes them), restore() loads one at start.
//
// Threading: none of its own. The Scanner keeps it under its mutex. No I/O.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ble/commissioned_sensors.h"
#include "ble/scanner_types.h"
#include "ble/sensor_alerts.h"
#include "protocol/types.h"
#include "vigil/ingest.h"

namespace vigil::ble {

// Frame loss between a sensor and the gateway, from the sequence numbers of
// the frames the decoder accepted (so duplicates and replays, rejected
// before, never count):
//   - encrypted frames: the frame counter, +1 per frame (docs/protocol.md §5);
//     a step of k (1 < k <= kMaxLossCounterStep) means k-1 frames lost;
//   - plain BTHome frames with a packet id (object 0x00, one byte, wraps):
//     a step of k = (id - previous) mod 256, 1 < k <= kMaxLossPacketIdStep,
//     means k-1 frames lost; a same id is a repeat (0).
// Not loss, counted as a `jump` instead: a larger step forward (a sensor
// reboot: vigil firmware resumes at its next reserved counter block, up to
// 1,024 ahead; or an outage so long the silence alert has said so already),
// a counter that went back (a reset the decoder accepted, a packet id that
// restarted or arrived late), and the first frame after start or after a
// re-key (there is no previous frame to compare with). Per sensor the state
// is the replay counter the health keeps anyway (last_counter) and one byte
// for the packet id.
inline constexpr std::uint32_t kMaxLossCounterStep = 256;
inline constexpr std::uint32_t kMaxLossPacketIdStep = 128;

struct FrameGap {
  std::uint64_t lost = 0;  // frames missing just before this one
  bool jump = false;       // a step not taken for loss (see above)
};

class SensorHealthTracker {
 public:
  explicit SensorHealthTracker(const ScannerOptions& options);

  // Starts tracking a commissioned sensor, or refreshes its identity (name,
  // position, asset) when it is tracked already.
  void track(const CommissionedSensor& s);
  void forget(const std::string& address);
  // The sensor got a new key: its last accepted counter means nothing now.
  void forget_counter(const std::string& address);
  // At start: the persisted row of a tracked sensor; `counter` is its replay
  // counter when that is still valid (same key). A battery that was low
  // stays alerted (no new alert for it after a restart).
  void restore(const std::string& address, const SensorHealth& stored, std::optional<std::uint32_t> counter);

  // An advert from a tracked sensor (any payload, even one that is rejected).
  // `via`: "radio" or "relay:<topic>" (where the sensor was last heard).
  void on_advert(const std::string& address, std::optional<int> rssi_dbm, TimestampMs t,
                 const std::string& via = "radio");
  // A frame the decoder accepted. Returns what its counter says about frames
  // that never arrived (FrameGap below), added to the sensor's frames_lost.
  FrameGap on_frame(const std::string& address, const protocol::DecodedFrame& f, TimestampMs t,
                    std::vector<SensorAlert>& raise);
  // A frame the decoder rejected; `message` is the decoder's.
  void on_rejected(const std::string& address, protocol::Reject why, const std::string& message, TimestampMs t,
                   std::vector<SensorAlert>& raise);
  // The sensor's rssi_dbm as a reading, at most once per rssi_reading_interval_s.
  std::optional<Reading> rssi_reading(const std::string& address, TimestampMs t);
  // What ingest made of the sensor's readings.
  void on_ingested(const std::string& address, const IngestResult& r);
  // A waveform pull ended (ok: stored).
  void on_waveform(const std::string& address, const Status& result, TimestampMs t);
  // Silence check over every tracked sensor (periodic).
  void check_silence(TimestampMs t, std::vector<SensorAlert>& raise);

  const SensorHealth* find(const std::string& address) const;
  std::optional<SensorHealth> by_id(Id sensor_id) const;
  std::vector<SensorHealth> all() const;
  std::size_t heard() const;  // tracked sensors heard at least once
  // The rows changed since the last call (every row when `all`), now clean.
  std::vector<SensorHealth> take_dirty(bool all);

 private:
  struct Entry {
    SensorHealth h;
    std::optional<Id> asset_id;
    std::deque<TimestampMs> advert_times;  // last 60 s, bounded
    std::deque<TimestampMs> gaps;          // recent gaps between frames, bounded
    TimestampMs last_frame = 0;
    // Loss accounting (FrameGap): h.last_counter was set by a frame since
    // start, not restored (frames missed while vigil was stopped are not
    // link loss); the last packet id of a plain frame; frames in sequence.
    bool counter_live = false;
    std::optional<std::uint8_t> last_packet_id;
    std::uint64_t sequenced = 0;
    TimestampMs last_rssi_reading = 0;
    bool silent_alerted = false;
    bool battery_alerted = false;
    std::map<std::string, TimestampMs> last_raised;  // condition → when
    bool dirty = false;
  };
  Entry* entry(const std::string& address);
  // Appends the alert unless its condition was raised less than the minimum
  // gap ago; true when appended.
  bool raise_if_due(Entry& e, const std::string& condition, TimestampMs t, const char* kind, const char* severity,
                    std::string title, std::string explanation, std::vector<SensorAlert>& raise);

  ScannerOptions o_;
  std::map<std::string, Entry> sensors_;  // address → entry
};

}  // namespace vigil::ble
