// SPDX-License-Identifier: Apache-2.0
// The DFU GATT service: START/data/VERIFY/ACTIVATE/CONFIRM/ABORT against a
// fake flash, then the bootloader on the same flash.
#include "fake_flash.h"
#include "test.h"
#include "vigil_fw/boot.h"
#include "vigil_fw/crypto.h"
#include "vigil_fw/dfu_service.h"

using namespace vigil_fw;
using vtest::FakeFlash;

namespace {
const std::uint8_t kKey[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                               0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
constexpr std::uint32_t kBoard = kBoardHost;
std::uint8_t g_running[3 * 4096];
std::uint8_t g_image[3 * 4096];
std::size_t g_image_len = 0;
SoftAes g_dfu_aes;

// Slot A runs 1.0.0; g_image is the candidate.
void setup(FakeFlash& f, std::uint32_t version = version_of(1, 1, 0), std::uint32_t size = 10001,
           std::uint32_t board = kBoard) {
  const std::size_t n = vtest::make_image(version_of(1, 0, 0), 8000, 9, kBoard, g_running);
  vtest::program(f, vtest::kTestLayout.slot_a, g_running, n);
  g_image_len = vtest::make_image(version, size, 5, board, g_image);
}
void start_value(std::uint8_t flags, const std::uint8_t* key, std::uint8_t out[kDfuStartSize]) {
  out[0] = static_cast<std::uint8_t>(DfuOp::kStart);
  out[1] = flags;
  memcpy(out + 2, g_image, kImageHeaderSize);
  image_tag(g_dfu_aes, key, flags, g_image, g_image + kImageHeaderSize, g_image_len - kImageHeaderSize,
            out + 2 + kImageHeaderSize);
}
std::uint8_t op(DfuService& d, DfuOp o) {
  const std::uint8_t v = static_cast<std::uint8_t>(o);
  return d.write_control(&v, 1);
}
// Sends payload bytes [from, to) in chunks of `chunk`.
void send(DfuService& d, std::uint32_t from, std::uint32_t to, std::uint32_t chunk = kDfuDataMax) {
  std::uint8_t v[4 + kDfuDataMax];
  for (std::uint32_t off = from; off < to; off += chunk) {
    const std::uint32_t n = to - off < chunk ? to - off : chunk;
    for (int i = 0; i < 4; ++i) v[i] = static_cast<std::uint8_t>(off >> (8 * i));
    memcpy(v + 4, g_image + kImageHeaderSize + off, n);
    d.write_data(v, 4 + n);
  }
}
struct Status { std::uint8_t state, error; std::uint32_t received, running, staged; std::uint8_t boots; };
Status status(const DfuService& d) {
  std::uint8_t b[kDfuStatusSize];
  Status s{};
  if (d.read_status(b, sizeof b) != kDfuStatusSize) return s;
  auto u32 = [&](int o) { return static_cast<std::uint32_t>(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24); };
  s = {b[0], b[1], u32(2), u32(6), u32(10), b[14]};
  return s;
}
DfuService make(FakeFlash& f) { return DfuService(f, vtest::kTestLayout, g_dfu_aes, kKey, kBoard); }
BootReport reboot(FakeFlash& f) { return Bootloader(f, vtest::kTestLayout, g_dfu_aes, kKey, kBoard).boot(); }
}  // namespace

TEST("an image streamed over DFU test-boots after ACTIVATE and stays once confirmed") {
  FakeFlash f;
  setup(f);
  DfuService d = make(f);
  d.init();
  CHECK(status(d).state == 0 && status(d).running == version_of(1, 0, 0));
  std::uint8_t start[kDfuStartSize];
  start_value(0, kKey, start);
  REQUIRE(d.write_control(start, sizeof start) == 0);
  CHECK(status(d).state == 1 && status(d).staged == version_of(1, 1, 0));
  send(d, 0, 10001, 237);  // odd sizes exercise the partial-word tail
  CHECK(status(d).received == 10001 && status(d).error == 0);
  CHECK(op(d, DfuOp::kActivate) == kAttAppError + 9);  // not verified yet
  REQUIRE(op(d, DfuOp::kVerify) == 0);
  CHECK(status(d).state == 2);
  REQUIRE(op(d, DfuOp::kActivate) == 0);
  CHECK(d.reboot_requested());
  const BootReport r = reboot(f);
  CHECK(r.outcome == BootOutcome::kTestBoot && r.version == version_of(1, 1, 0));
  DfuService after = make(f);
  after.init();
  const Status s = status(after);
  CHECK(s.state == 3 && s.running == version_of(1, 1, 0) && s.boots == 1);
  CHECK(op(after, DfuOp::kConfirm) == 0);
  CHECK(status(after).state == 0);
  CHECK(reboot(f).outcome == BootOutcome::kConfirmed);
  CHECK(vtest::flash_equals(f, vtest::kTestLayout.slot_a, g_image, g_image_len));
  CHECK(f.bad_writes == 0);
}

TEST("a dropped transfer resumes at status.received after the same START") {
  FakeFlash f;
  setup(f);
  DfuService d = make(f);
  d.init();
  std::uint8_t start[kDfuStartSize];
  start_value(0, kKey, start);
  REQUIRE(d.write_control(start, sizeof start) == 0);
  send(d, 0, 4800);
  send(d, 6000, 6240);  // a write after a lost one: dropped
  CHECK(status(d).error == 5 && status(d).received == 4800);
  REQUIRE(d.write_control(start, sizeof start) == 0);  // reconnect
  CHECK(status(d).received == 4800 && status(d).error == 0);
  send(d, status(d).received, 10001);
  CHECK(op(d, DfuOp::kVerify) == 0);
  CHECK(f.bad_writes == 0);
}

TEST("START refuses another board, a downgrade, an oversized image and a bad header") {
  FakeFlash f;
  std::uint8_t start[kDfuStartSize];
  setup(f, version_of(1, 1, 0), 1000, kBoardNrf52840);
  DfuService d = make(f);
  d.init();
  start_value(0, kKey, start);
  CHECK(d.write_control(start, sizeof start) == kAttAppError + 2);
  CHECK(status(d).state == 4 && status(d).error == 2);
  setup(f, version_of(0, 9, 0), 1000);
  start_value(0, kKey, start);
  CHECK(d.write_control(start, sizeof start) == kAttAppError + 3);
  start_value(kDfuFlagForce, kKey, start);
  CHECK(d.write_control(start, sizeof start) == 0);  // forced
  setup(f, version_of(1, 1, 0), 3 * 4096 - 63);
  start_value(0, kKey, start);
  CHECK(d.write_control(start, sizeof start) == kAttAppError + 4);
  start[2] = 'X';
  CHECK(d.write_control(start, sizeof start) == kAttAppError + 1);
  CHECK(d.write_control(start, sizeof start - 1) == kAttInvalidLength);
  const std::uint8_t unknown = 0x09;
  CHECK(d.write_control(&unknown, 1) == kAttValueNotAllowed);
}

TEST("VERIFY refuses an image whose tag was made with another key") {
  FakeFlash f;
  setup(f);
  DfuService d = make(f);
  d.init();
  const std::uint8_t other[16] = {1};
  std::uint8_t start[kDfuStartSize];
  start_value(0, other, start);
  REQUIRE(d.write_control(start, sizeof start) == 0);
  send(d, 0, 5000);
  CHECK(op(d, DfuOp::kVerify) == kAttAppError + 9);  // not all there: the transfer goes on
  CHECK(status(d).state == 1);
  send(d, 5000, 10001);
  CHECK(op(d, DfuOp::kVerify) == kAttAppError + 7);
  CHECK(status(d).state == 4 && status(d).error == 7);
  CHECK(op(d, DfuOp::kActivate) == kAttAppError + 9);
  CHECK(reboot(f).outcome == BootOutcome::kConfirmed);
}

TEST("status says reverted after the test image resets before confirming") {
  FakeFlash f;
  setup(f);
  DfuService d = make(f);
  d.init();
  std::uint8_t start[kDfuStartSize];
  start_value(0, kKey, start);
  REQUIRE(d.write_control(start, sizeof start) == 0);
  send(d, 0, 10001);
  REQUIRE(op(d, DfuOp::kVerify) == 0);
  REQUIRE(reboot(f).outcome == BootOutcome::kTestBoot);
  DfuService during = make(f);
  during.init();
  CHECK(during.write_control(start, sizeof start) == kAttAppError + 9);  // slot B is the way back
  CHECK(reboot(f).outcome == BootOutcome::kReverted);
  DfuService after = make(f);
  after.init();
  const Status s = status(after);
  CHECK(s.state == 4 && s.error == 10 && s.running == version_of(1, 0, 0));
  REQUIRE(after.write_control(start, sizeof start) == 0);  // a new attempt clears it
  CHECK(status(after).state == 1 && status(after).error == 0);
}

TEST("ABORT discards a verified image so the next boot keeps the old one") {
  FakeFlash f;
  setup(f);
  DfuService d = make(f);
  d.init();
  std::uint8_t start[kDfuStartSize];
  start_value(0, kKey, start);
  REQUIRE(d.write_control(start, sizeof start) == 0);
  send(d, 0, 10001);
  REQUIRE(op(d, DfuOp::kVerify) == 0);
  CHECK(op(d, DfuOp::kAbort) == 0);
  CHECK(status(d).state == 0);
  const BootReport r = reboot(f);
  CHECK(r.outcome == BootOutcome::kConfirmed && r.version == version_of(1, 0, 0));
}

TEST("a power cut at any flash operation of VERIFY never swaps in an unverified image") {
  FakeFlash probe;
  setup(probe);
  DfuService p = make(probe);
  p.init();
  std::uint8_t start[kDfuStartSize];
  start_value(0, kKey, start);
  REQUIRE(p.write_control(start, sizeof start) == 0);
  send(p, 0, 10001);
  const std::uint32_t before = probe.ops;
  REQUIRE(op(p, DfuOp::kVerify) == 0);
  const std::uint32_t total = probe.ops - before;
  int bad = 0;
  for (std::uint32_t cut = 1; cut <= total; ++cut) {
    FakeFlash f;
    setup(f);
    DfuService d = make(f);
    d.init();
    d.write_control(start, sizeof start);
    send(d, 0, 10001);
    f.ops_left = cut;
    op(d, DfuOp::kVerify);
    f.power_on();
    const BootReport r = reboot(f);
    const bool old_runs = r.outcome == BootOutcome::kConfirmed && r.version == version_of(1, 0, 0);
    const bool new_runs = r.outcome == BootOutcome::kTestBoot &&
                          vtest::flash_equals(f, vtest::kTestLayout.slot_a, g_image, g_image_len);
    if (!old_runs && !new_runs) ++bad;
  }
  CHECK(total >= 1);
  CHECK(bad == 0);
}

TEST("thirty updates in a row fit the boot-state page (compacted between updates)") {
  FakeFlash f;
  setup(f);
  std::uint32_t running = version_of(1, 0, 0);
  int wrong = 0;
  for (std::uint8_t i = 1; i <= 30; ++i) {
    g_image_len = vtest::make_image(version_of(2, i, 0), 6000 + 100u * i, i, kBoard, g_image);
    DfuService d = make(f);
    d.init();
    std::uint8_t start[kDfuStartSize];
    start_value(0, kKey, start);
    if (d.write_control(start, sizeof start) != 0) { ++wrong; continue; }
    send(d, 0, static_cast<std::uint32_t>(g_image_len - kImageHeaderSize));
    if (op(d, DfuOp::kVerify) != 0 || op(d, DfuOp::kActivate) != 0) { ++wrong; continue; }
    if (reboot(f).outcome != BootOutcome::kTestBoot) { ++wrong; continue; }
    if (i % 3 == 0) {  // every third one never confirms: reverted
      if (reboot(f).outcome != BootOutcome::kReverted) ++wrong;
      continue;
    }
    DfuService after = make(f);
    after.init();
    if (op(after, DfuOp::kConfirm) != 0) ++wrong;
    running = version_of(2, i, 0);
  }
  CHECK(wrong == 0);
  const BootReport r = reboot(f);
  CHECK(r.outcome == BootOutcome::kConfirmed && r.version == running);
  CHECK(f.bad_writes == 0);
}
