// SPDX-License-Identifier: Apache-2.0
// Images and rollouts against a real SQLite file, with a fake DFU transport
// playing the sensors.
#include "vigil_test/open_store.h"
#include "vigil_test/temp_dir.h"

#include <tuple>

#include "firmware/engine_worker.h"
#include "firmware/firmware_service.h"
#include "vigil_test/eventually.h"
#include "fw_test_util.h"
#include "vigil/store.h"

using namespace vigil;
using namespace vigil::firmware;
using namespace vigil::firmware::test;

namespace {

using vigil_test::open_store;

std::unique_ptr<FirmwareService> open_service(Store& store, const Clock& clock, DfuTransport& t) {
  FirmwareOptions o;
  o.signing_public_key_pem = vendor_key().public_pem;
  auto svc = FirmwareService::open(store, clock, t, o);
  REQUIRE(svc.ok());
  return std::move(*svc);
}

// n commissioned vigil (nrf52840) sensors with keys, registered with the fake.
std::vector<Id> add_sensors(Store& store, FakeDfu& dfu, int n, const char* format = "vigil") {
  std::vector<Id> ids;
  for (int i = 0; i < n; ++i) {
    Sensor s;
    char mac[32];
    std::snprintf(mac, sizeof mac, "C0:00:00:00:%02X:%02X", static_cast<unsigned>(ids.size()), static_cast<unsigned>(i + 16 * (format[0] == 'b')));
    s.address = mac;
    s.format = format;
    std::vector<std::uint8_t> key(16, static_cast<std::uint8_t>(i + 1));
    auto id = store.commission_sensor(s, key);
    REQUIRE(id.ok());
    ids.push_back(*id);
    dfu.sensors[*id].key = key;
  }
  return ids;
}

// A database, the fake sensors and the service over them: what most cases start from.
struct Rig {
  TempDir dir;
  ManualClock clock{1'800'000'000'000};
  std::unique_ptr<Store> store = open_store(dir.file("vigil.db"), clock);
  FakeDfu dfu;
  std::unique_ptr<FirmwareService> svc = open_service(*store, clock, dfu);
  std::tuple<ManualClock&, std::unique_ptr<Store>&, FakeDfu&, std::unique_ptr<FirmwareService>&> parts() {
    return {clock, store, dfu, svc};
  }
};

Rollout create(FirmwareService& svc, Id image, int wave, const std::string& threshold) {
  RolloutRequest r;
  r.image_id = image;
  r.wave_size = wave;
  r.failure_threshold = threshold;
  auto ro = svc.create_rollout(r, "admin");
  REQUIRE(ro.ok());
  return *ro;
}

const RolloutTarget& target(const Rollout& r, Id sensor) {
  for (auto& t : r.targets)
    if (t.sensor_id == sensor) return t;
  FAIL("no target for sensor " << sensor);
  return r.targets.front();
}

}  // namespace

TEST_CASE("an upload is refused naming the cause: other board, wrong key, unsigned, duplicate", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto other = svc->upload_image(signed_image(0x11223344, "1.0.0"), "admin");
  CHECK_THAT(other.status().message(), Catch::StartsWith("other board"));
  auto foreign = generate_keypair();
  REQUIRE(foreign.ok());
  CHECK(svc->upload_image(signed_image(kBoardHost, "1.0.0", 50, foreign->private_pem), "admin").status().code() ==
        Status::Code::kPermissionDenied);
  auto img = signed_image(kBoardNrf52840, "1.4.0");
  std::vector<std::uint8_t> cut(img.begin(), img.end() - 64);
  CHECK_THAT(svc->upload_image(cut, "admin").status().message(), Catch::StartsWith("unsigned"));
  auto ok = svc->upload_image(img, "admin");
  REQUIRE(ok.ok());
  CHECK(ok->board_id == kBoardNrf52840);
  CHECK(ok->uploaded_by == "admin");
  CHECK(svc->upload_image(img, "admin").status().code() == Status::Code::kAlreadyExists);
  CHECK(svc->images()->size() == 1);
}

TEST_CASE("waves run one after another and every sensor confirms the new version", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 5);
  add_sensors(*store, dfu, 1, "bthome");  // no board: never a target
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  REQUIRE(img.ok());
  auto r = create(*svc, img->id, 2, "1");
  REQUIRE(r.targets.size() == 5);
  CHECK(target(r, ids[4]).wave == 2);

  REQUIRE(*svc->step() == 2);  // wave 0 only
  auto now = svc->rollout(r.id);
  CHECK(target(*now, ids[0]).state == "confirmed");
  CHECK(target(*now, ids[1]).state == "confirmed");
  CHECK(target(*now, ids[2]).state == "queued");
  REQUIRE(*svc->step() == 2);
  REQUIRE(*svc->step() == 1);
  now = svc->rollout(r.id);
  CHECK(now->state == "completed");
  for (Id id : ids) CHECK(dfu.sensors[id].running == 0x010400);
  CHECK(target(*now, ids[0]).bytes_sent == 1000);
}

TEST_CASE("a dropped transfer resumes where the sensor stopped", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 1);
  dfu.sensors[ids[0]].drop_at = 480;
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0", 2000), "admin");
  auto r = create(*svc, img->id, 1, "1");
  REQUIRE(svc->step().ok());
  auto now = svc->rollout(r.id);
  CHECK(target(*now, ids[0]).state == "queued");
  CHECK(target(*now, ids[0]).bytes_sent == 480);
  CHECK_THAT(target(*now, ids[0]).reason, Catch::Contains("connection lost"));
  REQUIRE(svc->step().ok());
  now = svc->rollout(r.id);
  CHECK(target(*now, ids[0]).state == "confirmed");
  CHECK(target(*now, ids[0]).attempts == 2);
  CHECK(dfu.sensors[ids[0]].bytes_written == 2000);  // nothing sent twice
  CHECK(now->state == "completed");
}

TEST_CASE("a corrupted transfer is rejected by the sensor and a revert is recorded", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 3);
  dfu.sensors[ids[0]].corrupt = true;
  dfu.sensors[ids[1]].revert = true;
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  auto r = create(*svc, img->id, 3, "100%");
  REQUIRE(svc->step().ok());
  auto now = svc->rollout(r.id);
  CHECK(target(*now, ids[0]).state == "failed");
  CHECK(target(*now, ids[0]).reason == "crc_mismatch");
  CHECK(target(*now, ids[1]).state == "reverted");
  CHECK(dfu.sensors[ids[1]].running == 0x010300);
  CHECK(target(*now, ids[2]).state == "confirmed");
  CHECK(now->state == "completed");
}

TEST_CASE("crossing the failure threshold stops the rollout before the next wave", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 6);
  dfu.sensors[ids[0]].revert = true;
  dfu.sensors[ids[1]].corrupt = true;
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  auto r = create(*svc, img->id, 3, "2");
  REQUIRE(svc->step().ok());
  auto now = svc->rollout(r.id);
  CHECK(now->state == "failed");
  CHECK_THAT(now->reason, Catch::Contains("failure threshold 2"));
  CHECK(target(*now, ids[2]).state == "queued");  // the wave stopped at the second failure
  CHECK(target(*now, ids[3]).state == "queued");
  REQUIRE(*svc->step() == 0);
  CHECK(dfu.sensors[ids[3]].starts == 0);
}

TEST_CASE("an admin stops and resumes a rollout", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 2);
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  auto r = create(*svc, img->id, 1, "1");
  REQUIRE(svc->stop(r.id).ok());
  CHECK(svc->stop(r.id).code() == Status::Code::kFailedPrecondition);
  REQUIRE(*svc->step() == 0);
  CHECK(svc->rollout(r.id)->state == "stopped");
  REQUIRE(svc->resume(r.id).ok());
  REQUIRE(*svc->step() == 1);
  CHECK(svc->rollout(r.id)->state == "running");
}

TEST_CASE("a downgrade is refused unless forced, and sensors already there are left out", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 3);
  REQUIRE(store->set_sensor_firmware(store->sensor(ids[0])->address, "1.5.0").ok());
  REQUIRE(store->set_sensor_firmware(store->sensor(ids[1])->address, "1.4.0").ok());
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  RolloutRequest req{img->id, std::nullopt, std::nullopt, 1, "1", false};
  auto refused = svc->create_rollout(req, "admin");
  CHECK(refused.status().code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(refused.status().message(), Catch::StartsWith("downgrade"));
  req.force = true;
  auto forced = svc->create_rollout(req, "admin");
  REQUIRE(forced.ok());
  CHECK(forced->targets.size() == 3);
  CHECK(forced->force);
}

TEST_CASE("a tag and a percentage narrow the selection", "[firmware]") {
  Rig rig;
  auto [clock, store, dfu, svc] = rig.parts();
  auto ids = add_sensors(*store, dfu, 4);
  for (int i = 0; i < 3; ++i) REQUIRE(store->set_tags(TagKind::kSensor, ids[i], {{"line", "2"}}, "admin").ok());
  REQUIRE(store->set_tags(TagKind::kSensor, ids[3], {{"board", "host"}}, "admin").ok());
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  RolloutRequest req{img->id, std::string("line=2"), 50.0, 1, "10%", false};
  auto r = svc->create_rollout(req, "admin");
  REQUIRE(r.ok());
  REQUIRE(r->targets.size() == 2);  // ceil(3 × 50 %)
  CHECK(r->targets[0].sensor_id == ids[0]);
  auto host = svc->upload_image(signed_image(kBoardHost, "2.0.0"), "admin");
  auto hr = svc->create_rollout({host->id, std::nullopt, std::nullopt, 1, "1", false}, "admin");
  REQUIRE(hr.ok());
  REQUIRE(hr->targets.size() == 1);
  CHECK(hr->targets[0].sensor_id == ids[3]);
  CHECK(svc->create_rollout({img->id, std::nullopt, std::nullopt, 0, "1", false}, "admin").status().message() ==
        "wave_size: must be a whole number from 1 to 10000");
  CHECK_THAT(svc->create_rollout({img->id, std::nullopt, std::nullopt, 1, "0%", false}, "admin").status().message(),
             Catch::StartsWith("failure_threshold"));
}

TEST_CASE("a rollout survives a restart and its in-flight sensors are requeued", "[firmware]") {
  TempDir dir;
  ManualClock clock(1'800'000'000'000);
  FakeDfu dfu;
  Id rollout_id = 0;
  std::vector<Id> ids;
  {
    auto store = open_store(dir.file("vigil.db"), clock);
    auto svc = open_service(*store, clock, dfu);
    ids = add_sensors(*store, dfu, 2);
    auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
    rollout_id = create(*svc, img->id, 1, "1").id;
    // The gateway dies mid-transfer: the first sensor is left "transferring".
    struct Dying final : DfuTransport {
      Result<DfuOutcome> update(const SensorTarget&, const DfuImage&, const std::array<std::uint8_t, 16>&,
                                const DfuProgress& p) override {
        p(DfuPhase::kTransferring, 240);
        throw std::runtime_error("power cut");
      }
    } dying;
    auto svc2 = open_service(*store, clock, dying);
    CHECK_THROWS(svc2->step());
    CHECK(target(*svc->rollout(rollout_id), ids[0]).state == "transferring");
  }
  auto store = open_store(dir.file("vigil.db"), clock);
  auto svc = open_service(*store, clock, dfu);
  auto r = svc->rollout(rollout_id);
  REQUIRE(r.ok());
  CHECK(r->state == "running");
  CHECK(target(*r, ids[0]).state == "queued");
  CHECK(target(*r, ids[0]).reason == "requeued after a restart");
  REQUIRE(svc->step().ok());
  REQUIRE(svc->step().ok());
  CHECK(svc->rollout(rollout_id)->state == "completed");
}

TEST_CASE("without a transport for the sensors, targets wait with the reason", "[firmware]") {
  TempDir dir;
  ManualClock clock(1'800'000'000'000);
  auto store = open_store(dir.file("vigil.db"), clock);
  FakeDfu dfu;
  UnsupportedDfuTransport none;
  auto svc = open_service(*store, clock, none);
  auto ids = add_sensors(*store, dfu, 2);
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  auto r = create(*svc, img->id, 2, "1");
  REQUIRE(*svc->step() == 0);
  auto now = svc->rollout(r.id);
  CHECK(now->state == "running");
  CHECK(target(*now, ids[0]).state == "queued");
  CHECK(target(*now, ids[0]).reason == "waiting: firmware update is not yet supported over BLE");
  CHECK(target(*now, ids[0]).attempts == 0);
  // Later passes leave the row alone (no write every pass).
  const TimestampMs written = target(*now, ids[0]).updated_at;
  clock.advance(60'000);
  REQUIRE(*svc->step() == 0);
  CHECK(target(*svc->rollout(r.id), ids[0]).updated_at == written);
}

TEST_CASE("the engine worker drives a rollout to completion on its own thread and stops", "[firmware]") {
  Rig rig;
  auto& store = rig.store;  // plain references: the lambda below captures svc
  auto& dfu = rig.dfu;
  auto& svc = rig.svc;
  add_sensors(*store, dfu, 3);
  auto img = svc->upload_image(signed_image(kBoardNrf52840, "1.4.0"), "admin");
  auto r = create(*svc, img->id, 1, "1");
  firmware::EngineWorker worker(*svc, std::chrono::milliseconds(5));
  worker.start();
  CHECK(eventually([&] {
    auto now = svc->rollout(r.id);
    return now.ok() && now->state == "completed";
  }));
  worker.stop();
}
