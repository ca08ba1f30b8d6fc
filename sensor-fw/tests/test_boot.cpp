// SPDX-License-Identifier: Apache-2.0
// Image header checks, the boot-state log and the bootloader's swap, test
// boot, confirm and revert, including power cuts at every flash operation.
#include "fake_flash.h"
#include "test.h"
#include "vigil_fw/boot.h"
#include "vigil_fw/crypto.h"

using namespace vigil_fw;
using vtest::FakeFlash;

namespace {
const std::uint8_t kKey[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
const std::uint8_t kOtherKey[16] = {15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
constexpr std::uint32_t kBoard = kBoardNrf52840;
std::uint8_t g_old[3 * 4096];
std::uint8_t g_new[3 * 4096];
std::size_t g_old_len = 0, g_new_len = 0;
SoftAes g_aes;

// Slot A runs v1.0.0 (9000 bytes); slot B holds v1.1.0 (11000 bytes),
// staged and pending as the DFU service leaves it after VERIFY.
void install(FakeFlash& f, std::uint32_t new_version = version_of(1, 1, 0), std::uint8_t flags = 0,
             const std::uint8_t* tag_key = kKey, std::uint32_t board = kBoard) {
  g_old_len = vtest::make_image(version_of(1, 0, 0), 9000, 1, kBoard, g_old);
  g_new_len = vtest::make_image(new_version, 11000, 2, board, g_new);
  std::uint8_t tag[16];
  image_tag(g_aes, tag_key, flags, g_new, g_new + kImageHeaderSize, g_new_len - kImageHeaderSize, tag);
  vtest::program(f, vtest::kTestLayout.slot_a, g_old, g_old_len);
  vtest::program(f, vtest::kTestLayout.slot_b, g_new, g_new_len);
  write_staging_meta(f, vtest::kTestLayout.scratch, flags, tag);
  BootStateLog log(f, vtest::kTestLayout.state);
  log.load();
  BootRecord p;
  p.phase = BootPhase::kPending;
  log.append(p);
}

BootReport boot(FakeFlash& f, std::uint8_t max_test_boots = 1) {
  Bootloader b(f, vtest::kTestLayout, g_aes, kKey, kBoard, max_test_boots);
  return b.boot();
}
bool slot_a_is(FakeFlash& f, const std::uint8_t* img, std::size_t len) {
  return vtest::flash_equals(f, vtest::kTestLayout.slot_a, img, len);
}
DfuError confirm(FakeFlash& f) {
  BootStateLog log(f, vtest::kTestLayout.state);
  return confirm_running_image(log);
}
}  // namespace

TEST("an image header round-trips and a malformed one is refused") {
  std::uint8_t h[64];
  ImageHeader in;
  in.board_id = kBoardHost;
  in.version = version_of(2, 3, 4);
  in.payload_size = 1234;
  in.payload_crc32 = 0xDEADBEEF;
  encode_image_header(in, h);
  CHECK(h[0] == 'V' && h[3] == 'W' && h[4] == 1 && h[6] == 64);
  ImageHeader out;
  REQUIRE(parse_image_header(h, &out) == DfuError::kNone);
  CHECK(out.board_id == kBoardHost && out.version == 0x020304 && out.payload_size == 1234 &&
        out.payload_crc32 == 0xDEADBEEF);
  h[0] = 'X';
  CHECK(parse_image_header(h, &out) == DfuError::kBadHeader);
  encode_image_header(in, h);
  h[6] = 128;  // header_size
  CHECK(parse_image_header(h, &out) == DfuError::kBadHeader);
  encode_image_header(in, h);
  h[60] = 1;  // reserved
  CHECK(parse_image_header(h, &out) == DfuError::kBadHeader);
}

TEST("the image tag equals an independent AES-CMAC (OpenSSL) of the same bytes") {
  // Header: HOST board, 1.1.0, payload 00 01 .. 1f (CRC-32, SHA-256 filled in);
  // key 000102..0f, flags 0. Tag from `openssl mac -cipher AES-128-CBC
  // -macopt hexkey:000102030405060708090a0b0c0d0e0f CMAC` over
  // "VGDFU1" 00 header payload (also in /work/notes/dfu-protocol.md).
  const char* const header =
      "564746570100400054534f4800010100200000008a7e2691630dcd2966c4336691125448"
      "bbb25b4ff412a49c732db2c8abc1b8581bd710dd0000000000000000";
  std::uint8_t h[64], payload[32], tag[16];
  REQUIRE(vtest::hex_to_bytes(header, h, sizeof h) == 64);
  for (int i = 0; i < 32; ++i) payload[i] = static_cast<std::uint8_t>(i);
  ImageHeader parsed;
  REQUIRE(parse_image_header(h, &parsed) == DfuError::kNone);
  CHECK(parsed.payload_crc32 == crc32(payload, 32) && parsed.version == version_of(1, 1, 0));
  REQUIRE(image_tag(g_aes, kKey, 0, h, payload, 32, tag));
  CHECK(vtest::bytes_equal_hex(tag, 16, "5b9c85a16507aff3196a1d2913928f16"));
}

TEST("refuses an image for another board") {
  ImageHeader h;
  h.board_id = kBoardHost;
  h.version = version_of(1, 1, 0);
  CHECK(check_image_header(h, kBoardNrf52840, 96 * 1024, version_of(1, 0, 0), false) == DfuError::kWrongBoard);
  FakeFlash f;
  install(f, version_of(1, 1, 0), 0, kKey, kBoardHost);
  const BootReport r = boot(f);
  CHECK(r.outcome == BootOutcome::kRejected && r.error == DfuError::kWrongBoard);
  CHECK(slot_a_is(f, g_old, g_old_len));
}

TEST("refuses a downgrade unless forced") {
  ImageHeader h;
  h.board_id = kBoard;
  h.version = version_of(1, 0, 0);
  CHECK(check_image_header(h, kBoard, 96 * 1024, version_of(1, 0, 0), false) == DfuError::kDowngrade);
  CHECK(check_image_header(h, kBoard, 96 * 1024, version_of(1, 0, 0), true) == DfuError::kNone);
  h.version = version_of(0, 9, 9);
  CHECK(check_image_header(h, kBoard, 96 * 1024, version_of(1, 0, 0), false) == DfuError::kDowngrade);
  FakeFlash f;
  install(f, version_of(0, 9, 0));
  CHECK(boot(f).error == DfuError::kDowngrade);
  CHECK(slot_a_is(f, g_old, g_old_len));
  FakeFlash g;
  install(g, version_of(0, 9, 0), kDfuFlagForce);
  const BootReport r = boot(g);
  CHECK(r.outcome == BootOutcome::kTestBoot && r.version == version_of(0, 9, 0));
}

TEST("refuses an image larger than its slot") {
  ImageHeader h;
  h.board_id = kBoard;
  h.version = version_of(1, 1, 0);
  h.payload_size = 96 * 1024 - 64;
  CHECK(check_image_header(h, kBoard, 96 * 1024, version_of(1, 0, 0), false) == DfuError::kNone);
  h.payload_size += 1;
  CHECK(check_image_header(h, kBoard, 96 * 1024, version_of(1, 0, 0), false) == DfuError::kTooLarge);
}

TEST("boots the confirmed image when nothing is pending") {
  FakeFlash f;
  g_old_len = vtest::make_image(version_of(1, 0, 0), 9000, 1, kBoard, g_old);
  vtest::program(f, vtest::kTestLayout.slot_a, g_old, g_old_len);
  const std::uint32_t ops = f.ops;
  const BootReport r = boot(f);
  CHECK(r.outcome == BootOutcome::kConfirmed && r.version == version_of(1, 0, 0));
  CHECK(f.ops == ops);  // a plain boot writes nothing
  FakeFlash blank;
  CHECK(boot(blank).outcome == BootOutcome::kNoImage);
}

TEST("test-boots a verified image and keeps it once it confirms") {
  FakeFlash f;
  install(f);
  BootReport r = boot(f);
  CHECK(r.outcome == BootOutcome::kTestBoot && r.version == version_of(1, 1, 0) && r.attempts == 1);
  CHECK(slot_a_is(f, g_new, g_new_len));
  CHECK(vtest::flash_equals(f, vtest::kTestLayout.slot_b, g_old, g_old_len));  // the way back
  CHECK(confirm(f) == DfuError::kNone);
  r = boot(f);
  CHECK(r.outcome == BootOutcome::kConfirmed && r.version == version_of(1, 1, 0));
  CHECK(boot(f).outcome == BootOutcome::kConfirmed);
  CHECK(f.bad_writes == 0);
}

TEST("reverts to the old image when the new one resets before confirming") {
  FakeFlash f;
  install(f);
  REQUIRE(boot(f).outcome == BootOutcome::kTestBoot);
  const BootReport r = boot(f);  // reset without CONFIRM
  CHECK(r.outcome == BootOutcome::kReverted && r.error == DfuError::kReverted);
  CHECK(r.version == version_of(1, 0, 0));
  CHECK(slot_a_is(f, g_old, g_old_len));
  CHECK(confirm(f) == DfuError::kNone);  // nothing to confirm: harmless
  CHECK(boot(f).outcome == BootOutcome::kConfirmed);
  BootStateLog log(f, vtest::kTestLayout.state);
  REQUIRE(log.load());
  CHECK(log.current().last_error == DfuError::kReverted);  // the DFU status reports it
  CHECK(f.bad_writes == 0);
}

TEST("gives a test image as many boots as configured before reverting") {
  FakeFlash f;
  install(f);
  CHECK(boot(f, 2).outcome == BootOutcome::kTestBoot);
  const BootReport second = boot(f, 2);
  CHECK(second.outcome == BootOutcome::kTestBoot && second.attempts == 2);
  CHECK(boot(f, 2).outcome == BootOutcome::kReverted);
}

TEST("refuses an image whose tag was made with another key") {
  FakeFlash f;
  install(f, version_of(1, 1, 0), 0, kOtherKey);
  const BootReport r = boot(f);
  CHECK(r.outcome == BootOutcome::kRejected && r.error == DfuError::kBadTag);
  CHECK(slot_a_is(f, g_old, g_old_len));
  CHECK(boot(f).outcome == BootOutcome::kConfirmed);  // not retried on every boot
}

TEST("refuses a staged image changed after VERIFY, and a forged force flag") {
  FakeFlash f;
  install(f);
  const std::uint8_t zero[4] = {0, 0, 0, 0};
  f.write(vtest::kTestLayout.slot_b + 64 + 100, zero, 4);  // a flash bit error or tampering
  CHECK(boot(f).error == DfuError::kCrcMismatch);
  FakeFlash g;
  install(g, version_of(0, 9, 0), 0);  // tagged without force...
  std::uint8_t tag[16], flags = 0;
  REQUIRE(read_staging_meta(g, vtest::kTestLayout.scratch, &flags, tag));
  write_staging_meta(g, vtest::kTestLayout.scratch, kDfuFlagForce, tag);  // ...force added later
  CHECK(boot(g).error == DfuError::kBadTag);
}

TEST("finishes an interrupted swap after a power loss at every flash operation") {
  FakeFlash probe;
  install(probe);
  const std::uint32_t before = probe.ops;
  REQUIRE(boot(probe).outcome == BootOutcome::kTestBoot);
  const std::uint32_t total = probe.ops - before;
  CHECK(total > 3 * 3);  // at least the erases of 3 pages × 3 steps
  int failures = 0;
  for (std::uint32_t cut = 1; cut <= total; ++cut) {
    FakeFlash f;
    install(f);
    f.ops_left = cut;
    CHECK(boot(f).outcome == BootOutcome::kFlashError || cut == total);
    f.power_on();
    BootReport r = boot(f);
    if (r.outcome != BootOutcome::kTestBoot || !slot_a_is(f, g_new, g_new_len) ||
        !vtest::flash_equals(f, vtest::kTestLayout.slot_b, g_old, g_old_len))
      ++failures;
  }
  CHECK(failures == 0);
}

TEST("finishes an interrupted revert after a power loss at every flash operation") {
  FakeFlash probe;
  install(probe);
  REQUIRE(boot(probe).outcome == BootOutcome::kTestBoot);
  const std::uint32_t before = probe.ops;
  REQUIRE(boot(probe).outcome == BootOutcome::kReverted);
  const std::uint32_t total = probe.ops - before;
  int failures = 0;
  for (std::uint32_t cut = 1; cut <= total; ++cut) {
    FakeFlash f;
    install(f);
    REQUIRE(boot(f).outcome == BootOutcome::kTestBoot);
    f.ops_left = cut;
    boot(f);
    f.power_on();
    BootReport r = boot(f);
    // A cut before the revert record even started leaves one more test boot
    // used up; the boot after that reverts.
    if (r.outcome == BootOutcome::kTestBoot) r = boot(f);
    if (r.outcome != BootOutcome::kReverted || !slot_a_is(f, g_old, g_old_len)) ++failures;
  }
  CHECK(failures == 0);
}

TEST("the boot-state log skips a torn record and compacts only when quiescent") {
  FakeFlash f;
  BootStateLog log(f, vtest::kTestLayout.state);
  REQUIRE(log.load());
  CHECK(log.current().phase == BootPhase::kConfirmed && log.free_cells() == BootStateLog::kCells);
  BootRecord t;
  t.phase = BootPhase::kTesting;
  t.attempts = 1;
  REQUIRE(log.append(t));
  f.ops_left = 1;  // the next record tears
  BootRecord c;
  CHECK(!log.append(c));
  f.power_on();
  BootStateLog again(f, vtest::kTestLayout.state);
  REQUIRE(again.load());
  CHECK(again.current().phase == BootPhase::kTesting && again.current().attempts == 1);
  CHECK(again.free_cells() == BootStateLog::kCells - 2);
  while (again.free_cells() > 0) REQUIRE(again.append(t));
  CHECK(!again.append(t));        // a test boot record never erases the page
  CHECK(again.append_with_room(c, BootStateLog::kUpdateRecords));  // confirmed may compact
  CHECK(again.free_cells() == BootStateLog::kCells - 1);
  CHECK(BootStateLog::kUpdateRecords < BootStateLog::kCells);
}
