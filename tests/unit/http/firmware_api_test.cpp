// SPDX-License-Identifier: Apache-2.0
// The firmware REST routes over a real FirmwareService (transport: the
// gateway's "not yet supported over BLE").
#include <catch2/catch.hpp>

#include "fixture.h"
#include "firmware/firmware_service.h"
#include "firmware/image.h"
#include "http/api_firmware.h"

using namespace vigil;
using vigil::test::ApiFixture;

namespace {

struct FirmwareApiFixture : ApiFixture {
  firmware::KeyPair vendor = *firmware::generate_keypair();
  firmware::UnsupportedDfuTransport dfu;
  std::unique_ptr<firmware::FirmwareService> svc;

  FirmwareApiFixture() {
    firmware::FirmwareOptions o;
    o.signing_public_key_pem = vendor.public_pem;
    svc = firmware::FirmwareService::open(*store, clock, dfu, o).value();
    http::register_firmware_api(router, ctx, *svc);
  }

  std::string vgfw(std::uint32_t board, std::uint32_t version, std::size_t n = 500, const std::string& key = "") {
    std::vector<std::uint8_t> app(n, 0x5A);
    app[0] = static_cast<std::uint8_t>(version);
    auto img = firmware::build_image(board, version, app, key.empty() ? vendor.private_pem : key);
    REQUIRE(img.ok());
    return std::string(img->begin(), img->end());
  }

  http::Response upload(const std::string& bytes, const std::string& token) {
    return call("POST", "/api/v1/firmware/images", token, bytes, {{"content-type", "application/octet-stream"}});
  }
};

}  // namespace

TEST_CASE("an admin uploads a signed image and everyone lists it", "[http][firmware]") {
  FirmwareApiFixture f;
  auto r = f.upload(f.vgfw(firmware::kBoardNrf52840, 0x010400), f.admin_token);
  REQUIRE(r.status == 201);
  auto j = ApiFixture::js(r);
  CHECK(j["board"] == "nrf52840");
  CHECK(j["version"] == "1.4.0");
  CHECK(j["uploaded_by"] == "token:a");
  auto list = f.call("GET", "/api/v1/firmware/images", f.viewer_token);
  REQUIRE(list.status == 200);
  CHECK(ApiFixture::js(list).size() == 1);
  CHECK(f.call("GET", "/api/v1/firmware/images/" + std::to_string(j["id"].get<Id>()), f.viewer_token).status == 200);
  CHECK(f.upload(f.vgfw(firmware::kBoardNrf52840, 0x010400), f.viewer_token).status == 403);
  CHECK(f.store->audit_log(5)->front().action == "firmware.image.upload");
}

TEST_CASE("refused uploads name the cause", "[http][firmware]") {
  FirmwareApiFixture f;
  auto img = f.vgfw(firmware::kBoardNrf52840, 0x010400);
  auto unsigned_r = f.upload(img.substr(0, img.size() - 64), f.admin_token);
  CHECK(unsigned_r.status == 422);
  CHECK_THAT(unsigned_r.body, Catch::Contains("unsigned"));
  CHECK(ApiFixture::js(unsigned_r)["field"] == "body");
  auto other = firmware::generate_keypair();
  auto wrong = f.upload(f.vgfw(firmware::kBoardHost, 0x010000, 300, other->private_pem), f.admin_token);
  CHECK(wrong.status == 422);
  CHECK_THAT(wrong.body, Catch::Contains("wrong signature"));
  auto board = f.upload(f.vgfw(0x0BADB0A2, 0x010000), f.admin_token);
  CHECK(board.status == 422);
  CHECK_THAT(board.body, Catch::Contains("other board"));
  auto cut = f.upload(img.substr(0, 100), f.admin_token);
  CHECK(cut.status == 422);
  CHECK_THAT(cut.body, Catch::Contains("truncated"));
  auto big = f.upload(std::string(http::kMaxFirmwareUploadBytes + 1, 'x'), f.admin_token);
  CHECK(big.status == 413);
  CHECK(f.call("POST", "/api/v1/firmware/images", f.admin_token, img).status == 415);  // JSON content type
  REQUIRE(f.upload(img, f.admin_token).status == 201);
  CHECK(f.upload(img, f.admin_token).status == 409);
}

TEST_CASE("a rollout is created, shows its sensors waiting, stops and resumes", "[http][firmware]") {
  FirmwareApiFixture f;
  auto id = ApiFixture::js(f.upload(f.vgfw(firmware::kBoardNrf52840, 0x010400), f.admin_token))["id"].get<Id>();
  auto body = nlohmann::json{{"image_id", id}, {"wave_size", 5}, {"failure_threshold", "10%"}}.dump();
  auto r = f.call("POST", "/api/v1/firmware/rollouts", f.admin_token, body);
  REQUIRE(r.status == 201);
  auto j = ApiFixture::js(r);
  CHECK(j["state"] == "running");
  REQUIRE(j["targets"].size() == 1);
  CHECK(j["targets"][0]["address"] == "AA:BB:CC:DD:EE:01");
  CHECK(j["targets"][0]["state"] == "queued");
  const std::string path = "/api/v1/firmware/rollouts/" + std::to_string(j["id"].get<Id>());
  CHECK(f.call("POST", path + "/resume", f.admin_token).status == 409);
  auto stopped = f.call("POST", path + "/stop", f.admin_token);
  REQUIRE(stopped.status == 200);
  CHECK(ApiFixture::js(stopped)["state"] == "stopped");
  CHECK(ApiFixture::js(f.call("GET", path, f.viewer_token))["state"] == "stopped");
  CHECK(ApiFixture::js(f.call("POST", path + "/resume", f.admin_token))["state"] == "running");
  CHECK(ApiFixture::js(f.call("GET", "/api/v1/firmware/rollouts", f.viewer_token)).size() == 1);
  CHECK(f.call("GET", "/api/v1/firmware/rollouts/999", f.viewer_token).status == 404);
  CHECK(f.call("DELETE", "/api/v1/firmware/images/" + std::to_string(id), f.admin_token).status == 409);
}

TEST_CASE("rollout fields are checked and named", "[http][firmware]") {
  FirmwareApiFixture f;
  auto id = ApiFixture::js(f.upload(f.vgfw(firmware::kBoardNrf52840, 0x010400), f.admin_token))["id"].get<Id>();
  auto post = [&](const nlohmann::json& b) { return f.call("POST", "/api/v1/firmware/rollouts", f.admin_token, b.dump()); };
  auto r = post({{"image_id", id}, {"failure_threshold", 1}});
  CHECK(r.status == 422);
  CHECK_THAT(r.body, Catch::Contains("wave_size"));
  r = post({{"image_id", id}, {"wave_size", 1}, {"failure_threshold", "150%"}});
  CHECK(r.status == 422);
  CHECK(ApiFixture::js(r)["field"] == "failure_threshold");
  r = post({{"image_id", id}, {"wave_size", 1}, {"failure_threshold", 1}, {"percent", 0}});
  CHECK(r.status == 422);
  CHECK_THAT(r.body, Catch::Contains("percent"));
  r = post({{"image_id", id}, {"wave_size", 1}, {"failure_threshold", 1}, {"colour", "red"}});
  CHECK(r.status == 422);
  CHECK(ApiFixture::js(r)["field"] == "colour");
  CHECK(post({{"image_id", 77}, {"wave_size", 1}, {"failure_threshold", 1}}).status == 404);
  CHECK(f.call("POST", "/api/v1/firmware/rollouts", f.admin_token, "{not json").status == 400);
  REQUIRE(f.store->set_sensor_firmware("AA:BB:CC:DD:EE:01", "2.0.0").ok());
  r = post({{"image_id", id}, {"wave_size", 1}, {"failure_threshold", 1}});
  CHECK(r.status == 409);
  CHECK_THAT(r.body, Catch::Contains("downgrade"));
  CHECK(post({{"image_id", id}, {"wave_size", 1}, {"failure_threshold", 1}, {"force", true}}).status == 201);
}

TEST_CASE("every firmware route is in the OpenAPI document as the firmware module's", "[http][firmware]") {
  FirmwareApiFixture f;
  const auto& doc = http::openapi_document();
  int n = 0;
  for (const auto& r : f.router.routes()) {
    if (r.pattern.rfind("/api/v1/firmware/", 0) != 0) continue;
    std::string m = r.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    INFO(r.method << " " << r.pattern);
    REQUIRE(doc["paths"].contains(r.pattern));
    REQUIRE(doc["paths"][r.pattern].contains(m));
    CHECK(doc["paths"][r.pattern][m]["x-vigil-module"] == "firmware");
    ++n;
  }
  CHECK(n == 9);
}
