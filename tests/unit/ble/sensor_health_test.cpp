// SPDX-License-Identifier: Apache-2.0
// The sensor health tracker alone: rates, the learnt interval, battery,
// silence and spoofing alerts with their hourly limit, frame loss from counter
// gaps, and what is persisted.
#include <catch2/catch.hpp>

#include "ble/sensor_health.h"

using namespace vigil;
using namespace vigil::ble;

namespace {

constexpr const char* kMac = "C0:FF:EE:00:00:01";
constexpr TimestampMs kT = 1767225600000;
constexpr TimestampMs kHour = 3600 * 1000;

CommissionedSensor sensor() {
  CommissionedSensor s;
  s.id = 7;
  s.address = kMac;
  s.name = "pump DE";
  s.position_id = 3;
  s.asset_id = 2;
  return s;
}

protocol::DecodedFrame frame(std::uint32_t counter, std::optional<double> battery = std::nullopt) {
  protocol::DecodedFrame f;
  f.counter = counter;
  if (battery) f.values.push_back({"battery_pct", *battery});
  f.values.push_back({"temperature_c", 25.0});
  return f;
}

struct Rig {
  ScannerOptions o;
  SensorHealthTracker h{o};
  std::vector<SensorAlert> raised;
  explicit Rig(ScannerOptions opts = {}) : o(opts), h(o) { h.track(sensor()); }
  // An advert carrying one accepted frame.
  void heard(TimestampMs t, std::uint32_t counter, std::optional<double> battery = std::nullopt) {
    h.on_advert(kMac, -60, t);
    h.on_frame(kMac, frame(counter, battery), t, raised);
  }
  const SensorHealth& health() const { return *h.find(kMac); }
};

}  // namespace

TEST_CASE("Health follows adverts and frames: last seen, RSSI, rate, counter, battery") {
  Rig r;
  for (int i = 0; i < 5; ++i) r.heard(kT + i * 1000, 10 + i, 90.0);
  r.h.on_advert(kMac, -55, kT + 70000);
  const auto& h = r.health();
  CHECK(h.sensor_id == 7);
  CHECK(h.position_id == 3);
  CHECK(h.last_seen == kT + 70000);
  CHECK(h.rssi_dbm == -55);
  CHECK(h.adverts == 6);
  CHECK(h.frames_accepted == 5);
  CHECK(h.last_counter == 14u);
  CHECK(h.battery_pct == Approx(90));
  CHECK(h.advert_rate_per_min == Approx(1));  // the five early ones are over a minute old
  CHECK(r.raised.empty());
}

TEST_CASE("The expected interval is the median gap between frames; bursts count once") {
  Rig r;
  TimestampMs t = kT;
  std::uint32_t c = 1;
  for (TimestampMs gap : {10000, 10000, 30000, 10000, 200}) {  // one outlier, one burst repeat
    r.heard(t, c++);
    t += gap;
  }
  r.heard(t, c++);
  CHECK(r.health().expected_interval_ms == 10000);
}

TEST_CASE("A low battery raises one warning, re-armed only once it is replaced") {
  Rig r;
  r.heard(kT, 1, 12.0);
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].kind == "battery_low");
  CHECK(r.raised[0].severity == "warning");
  CHECK(r.raised[0].sensor_id == 7);
  CHECK(r.raised[0].position_id == 3);
  CHECK(r.raised[0].asset_id == 2);
  CHECK(r.raised[0].explanation.find("12 %") != std::string::npos);
  r.heard(kT + 2 * kHour, 2, 11.0);
  r.heard(kT + 3 * kHour, 3, 20.0);  // between low and ok: still the same low battery
  r.heard(kT + 4 * kHour, 4, 12.0);
  CHECK(r.raised.size() == 1);
  r.heard(kT + 5 * kHour, 5, 100.0);  // replaced
  r.heard(kT + 6 * kHour, 6, 10.0);
  CHECK(r.raised.size() == 2);
}

TEST_CASE("A battery low again within the hour is raised once the hour has passed") {
  Rig r;
  r.heard(kT, 1, 12.0);
  r.heard(kT + 60000, 2, 100.0);  // replaced, then a bad cell
  r.heard(kT + 120000, 3, 10.0);
  CHECK(r.raised.size() == 1);
  r.heard(kT + kHour, 4, 10.0);
  CHECK(r.raised.size() == 2);
}

TEST_CASE("A silent sensor raises one warning; heard again it is re-armed, at most once an hour") {
  ScannerOptions o;
  o.missed_intervals_alert = 3;
  Rig r(o);
  for (std::uint32_t c = 0; c < 4; ++c) r.heard(kT + c * 10000, c + 1);  // every 10 s
  const TimestampMs last = kT + 30000;
  r.h.check_silence(last + 30000, r.raised);
  CHECK(r.raised.empty());
  r.h.check_silence(last + 30001, r.raised);
  r.h.check_silence(last + 60000, r.raised);
  REQUIRE(r.raised.size() == 1);
  CHECK(r.raised[0].kind == "silent");
  CHECK(r.raised[0].title.find("not heard for 3 intervals") != std::string::npos);

  r.heard(last + 70000, 5);  // back, then silent again within the hour
  r.h.check_silence(last + 200000, r.raised);
  CHECK(r.raised.size() == 1);
  r.h.check_silence(last + 30001 + kHour, r.raised);  // still silent an hour after the first
  CHECK(r.raised.size() == 2);
}

TEST_CASE("Frames failing authentication, replay or downgrade checks raise a spoofing alarm per reason, hourly") {
  Rig r;
  r.h.on_rejected(kMac, protocol::Reject::kBadMic, "bad_mic: MIC mismatch", kT, r.raised);
  r.h.on_rejected(kMac, protocol::Reject::kBadMic, "bad_mic: MIC mismatch", kT + 1000, r.raised);
  r.h.on_rejected(kMac, protocol::Reject::kReplay, "replay: counter 4 <= 5", kT + 2000, r.raised);
  r.h.on_rejected(kMac, protocol::Reject::kDowngrade, "downgrade: plain frame", kT + 3000, r.raised);
  r.h.on_rejected(kMac, protocol::Reject::kDuplicate, "duplicate", kT + 4000, r.raised);  // not spoofing
  REQUIRE(r.raised.size() == 3);
  for (auto& a : r.raised) {
    CHECK(a.kind == "spoofing");
    CHECK(a.severity == "alarm");
  }
  CHECK(r.raised[0].title.find("authentication") != std::string::npos);
  CHECK(r.raised[1].title.find("replayed") != std::string::npos);
  CHECK(r.raised[2].title.find("unencrypted") != std::string::npos);
  CHECK(r.health().rejected.at("bad_mic") == 2);
  CHECK(r.health().rejected.at("duplicate") == 1);
  CHECK(r.health().last_error == "downgrade: plain frame");
  r.h.on_rejected(kMac, protocol::Reject::kBadMic, "bad_mic", kT + kHour, r.raised);
  CHECK(r.raised.size() == 4);
}

TEST_CASE("An RSSI reading is due at most once per interval") {
  Rig r;
  CHECK_FALSE(r.h.rssi_reading("AA:BB:CC:DD:EE:02", kT));
  r.heard(kT, 1);
  auto first = r.h.rssi_reading(kMac, kT);
  REQUIRE(first);
  CHECK(first->metric == "rssi_dbm");
  CHECK(first->value == -60);
  CHECK_FALSE(r.h.rssi_reading(kMac, kT + 59000));
  CHECK(r.h.rssi_reading(kMac, kT + 60000));
}

TEST_CASE("Ingest rejections and waveform pulls are recorded") {
  Rig r;
  IngestResult ir;
  ir.rejected[RejectReason::kOutOfRange] = 2;
  r.h.on_ingested(kMac, ir);
  CHECK(r.health().readings_rejected == 2);
  CHECK(r.health().last_error.find("out_of_range=2") != std::string::npos);
  r.h.on_waveform(kMac, Status::Ok(), kT);
  r.h.on_waveform(kMac, Status::Unavailable("link lost"), kT + 1000);
  CHECK(r.health().waveforms == 1);
  CHECK(r.health().last_waveform == kT);
  CHECK(r.health().waveform_failures == 1);
  CHECK(r.health().last_error == "waveform: link lost");
}

TEST_CASE("Changed rows are handed out once for persistence; all of them on demand") {
  Rig r;
  CHECK(r.h.take_dirty(false).empty());
  r.heard(kT, 1);
  auto rows = r.h.take_dirty(false);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].frames_accepted == 1);
  CHECK(r.h.take_dirty(false).empty());
  CHECK(r.h.take_dirty(true).size() == 1);
}

TEST_CASE("A restored row keeps its counters; a low battery restored does not alert again") {
  Rig r;
  SensorHealth stored;
  stored.last_seen = kT - 1000;
  stored.frames_accepted = 40;
  stored.battery_pct = 9;
  stored.rejected["replay"] = 3;
  r.h.restore(kMac, stored, 77u);
  CHECK(r.health().frames_accepted == 40);
  CHECK(r.health().last_counter == 77u);
  CHECK(r.health().rejected.at("replay") == 3);
  r.heard(kT, 78, 9.0);
  CHECK(r.raised.empty());
  r.h.forget_counter(kMac);
  CHECK_FALSE(r.health().last_counter);
  r.h.forget(kMac);
  CHECK_FALSE(r.h.find(kMac));
}

// ---- frame loss (FrameGap) ----

TEST_CASE("Frame loss: a counter step of 3 loses 2 frames; a repeat or an older counter loses none") {
  Rig r;
  CHECK(r.h.on_frame(kMac, frame(1), kT, r.raised).lost == 0);  // the first since start: nothing to compare
  CHECK(r.h.on_frame(kMac, frame(2), kT + 1000, r.raised).lost == 0);
  const auto gap = r.h.on_frame(kMac, frame(5), kT + 4000, r.raised);
  CHECK(gap.lost == 2);
  CHECK_FALSE(gap.jump);
  CHECK(r.health().frames_lost == 2);
  CHECK(r.health().loss_ratio == Approx(2.0 / 5.0));  // 3 frames heard, 2 lost
  // The decoder rejects duplicates and replays before the tracker sees them;
  // were one to reach it (an accepted reset), it is a jump, never loss.
  const auto back = r.h.on_frame(kMac, frame(5), kT + 4100, r.raised);
  CHECK(back.lost == 0);
  CHECK(back.jump);
  CHECK(r.health().frames_lost == 2);
  CHECK(r.h.on_frame(kMac, frame(6), kT + 5000, r.raised).lost == 0);
  CHECK(r.health().frames_lost == 2);
}

TEST_CASE("Frame loss: a sensor reboot or counter reset is a jump, not a huge loss") {
  Rig r;
  r.heard(kT, 1000);
  // vigil firmware resumes after a reboot at its next reserved block: up to 1,024 ahead.
  auto reboot = r.h.on_frame(kMac, frame(2048), kT + 5000, r.raised);
  CHECK(reboot.lost == 0);
  CHECK(reboot.jump);
  // A counter reset the decoder accepted (storage wiped): back to 3.
  auto f = frame(3);
  f.counter_reset = true;
  auto reset = r.h.on_frame(kMac, f, kT + 6000, r.raised);
  CHECK(reset.lost == 0);
  CHECK(reset.jump);
  // The largest step still counted as loss, and one beyond it.
  CHECK(r.h.on_frame(kMac, frame(3 + kMaxLossCounterStep), kT + 7000, r.raised).lost == kMaxLossCounterStep - 1);
  CHECK(r.h.on_frame(kMac, frame(4 + 2 * kMaxLossCounterStep + 1), kT + 8000, r.raised).jump);
  CHECK(r.health().frames_lost == kMaxLossCounterStep - 1);
}

TEST_CASE("Frame loss: a restored counter is not a baseline; a re-key restarts the sequence") {
  Rig r;
  SensorHealth stored;
  stored.frames_accepted = 40;
  r.h.restore(kMac, stored, 40u);  // vigil was stopped while the sensor went on counting
  CHECK(r.h.on_frame(kMac, frame(90), kT, r.raised).lost == 0);
  CHECK(r.h.on_frame(kMac, frame(92), kT + 2000, r.raised).lost == 1);
  r.h.forget_counter(kMac);  // new key: the sensor counts afresh from 1
  auto first = r.h.on_frame(kMac, frame(1), kT + 3000, r.raised);
  CHECK(first.lost == 0);
  CHECK_FALSE(first.jump);
  CHECK(r.health().frames_lost == 1);
}

TEST_CASE("Frame loss of plain BTHome sensors: the one-byte packet id, wrapping at 256") {
  Rig r;
  auto plain = [](std::uint8_t id) {
    protocol::DecodedFrame f;
    f.packet_id = id;
    f.values.push_back({"temperature_c", 20.0});
    return f;
  };
  CHECK(r.h.on_frame(kMac, plain(250), kT, r.raised).lost == 0);
  CHECK(r.h.on_frame(kMac, plain(254), kT + 1000, r.raised).lost == 3);
  CHECK(r.h.on_frame(kMac, plain(1), kT + 2000, r.raised).lost == 2);  // 255 and 0 missing across the wrap
  CHECK(r.h.on_frame(kMac, plain(1), kT + 2100, r.raised).lost == 0);  // the same packet again
  auto late = r.h.on_frame(kMac, plain(200), kT + 3000, r.raised);      // behind: a restart or a late frame
  CHECK(late.lost == 0);
  CHECK(late.jump);
  CHECK(r.health().frames_lost == 5);
  CHECK(to_json(r.health())["frames_lost"] == 5);
}
