// SPDX-License-Identifier: Apache-2.0
//
// Sensor firmware images and rollouts (contract in api_firmware.h).
#include "http/api_firmware.h"

#include <cmath>
#include <map>
#include <set>

#include "http/api_internal.h"

namespace vigil::http {
namespace {

using detail::json;

json fw_image_json(const firmware::StoredImage& i) {
  return {{"id", i.id},
          {"board", firmware::board_name(i.board_id)},
          {"version", firmware::version_string(i.version)},
          {"sha256", i.sha256},
          {"size", i.size},
          {"uploaded_by", i.uploaded_by},
          {"uploaded_at", iso8601(i.uploaded_at)}};
}

json fw_time(const std::optional<TimestampMs>& t) { return t ? json(iso8601(*t)) : json(nullptr); }

json fw_rollout_json(const firmware::Rollout& r) {
  json targets = json::array();
  std::map<std::string, int> counts;
  for (auto& t : r.targets) {
    ++counts[t.state];
    targets.push_back({{"sensor_id", t.sensor_id},
                       {"address", t.address},
                       {"wave", t.wave},
                       {"state", t.state},
                       {"reason", t.reason},
                       {"attempts", t.attempts},
                       {"bytes_sent", t.bytes_sent},
                       {"started_at", fw_time(t.started_at)},
                       {"finished_at", fw_time(t.finished_at)},
                       {"updated_at", iso8601(t.updated_at)}});
  }
  return {{"id", r.id},
          {"image_id", r.image_id},
          {"tag", r.tag ? json(*r.tag) : json(nullptr)},
          {"percent", r.percent ? json(*r.percent) : json(nullptr)},
          {"wave_size", r.wave_size},
          {"failure_threshold", r.failure_threshold},
          {"force", r.force},
          {"state", r.state},
          {"reason", r.reason},
          {"created_by", r.created_by},
          {"created_at", iso8601(r.created_at)},
          {"updated_at", iso8601(r.updated_at)},
          {"counts", counts},
          {"targets", targets}};
}

std::optional<Id> fw_path_id(const Request& req) {
  auto v = detail::to_int(req.params.at("id"));
  if (!v || *v <= 0) return std::nullopt;
  return *v;
}

Response fw_bad_id(const char* what, const Request& req) {
  return problem(404, "not_found", std::string("no firmware ") + what + " '" + req.params.at("id") + "'");
}

// A problem that also names the field: `field`, or the "name: why" prefix
// of the detail.
Response fw_problem(int status, const std::string& code, const std::string& m, std::string field = "") {
  json j = {{"type", "about:blank"}, {"title", status == 413 ? "Payload Too Large" : "Unprocessable Content"},
            {"status", status}, {"code", code}, {"detail", m}};
  auto colon = m.find(": ");
  if (field.empty() && colon != std::string::npos && colon < 40 && m.find(' ') >= colon) field = m.substr(0, colon);
  if (!field.empty()) j["field"] = field;
  return Response::text(status, detail::json_text(j), "application/problem+json");
}

// Refusals of the service: the cause is in the message. An image's refusal
// names the body as the field.
Response fw_refused(const Status& s, const char* invalid_code) {
  const bool image = std::string(invalid_code) == "bad_image";
  switch (s.code()) {
    case Status::Code::kInvalidArgument: return fw_problem(422, invalid_code, s.message(), image ? "body" : "");
    case Status::Code::kPermissionDenied: return fw_problem(422, "bad_signature", s.message(), "body");
    case Status::Code::kNotFound: return problem(404, "not_found", s.message());
    case Status::Code::kAlreadyExists: return problem(409, "already_exists", s.message());
    case Status::Code::kFailedPrecondition: return problem(409, "conflict", s.message());
    default: return detail::from_status(s);
  }
}

}  // namespace

void register_firmware_api(Router& router, ApiContext& ctx, firmware::FirmwareService& svc) {
  using namespace detail;
  router.add("POST", "/api/v1/firmware/images", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    if (req.body.size() > kMaxFirmwareUploadBytes)
      return fw_problem(413, "body_too_large", "body: a firmware image is at most 128 KiB (got " +
                                                std::to_string(req.body.size()) + " bytes)");
    auto type = req.header("content-type");
    if (type.rfind("application/octet-stream", 0) != 0)
      return problem(415, "unsupported_media_type", "send the .vgfw bytes as application/octet-stream");
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(req.body.data()), req.body.size());
    auto img = svc.upload_image(bytes, who.name);
    if (!img) return fw_refused(img.status(), "bad_image");
    audit(ctx, who, "firmware.image.upload", std::to_string(img->id), fw_image_json(*img).dump());
    return created(fw_image_json(*img));
  });

  router.add("GET", "/api/v1/firmware/images", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto imgs = svc.images();
    if (!imgs) return from_status(imgs.status());
    json arr = json::array();
    for (auto& i : *imgs) arr.push_back(fw_image_json(i));
    return ok(arr);
  });

  router.add("GET", "/api/v1/firmware/images/{id}", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = fw_path_id(req);
    if (!id) return fw_bad_id("image", req);
    auto img = svc.image(*id);
    if (!img) return fw_refused(img.status(), "bad_field");
    return ok(fw_image_json(*img));
  });

  router.add("DELETE", "/api/v1/firmware/images/{id}", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto id = fw_path_id(req);
    if (!id) return fw_bad_id("image", req);
    auto st = svc.delete_image(*id);
    if (!st.ok()) return fw_refused(st, "bad_field");
    audit(ctx, who, "firmware.image.delete", std::to_string(*id), "");
    return ok(json{{"deleted", *id}});
  });

  router.add("POST", "/api/v1/firmware/rollouts", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kAdmin);
    auto b = json_body(req);
    if (auto* r = std::get_if<Response>(&b)) return *r;
    const json& body = std::get<json>(b);
    if (!body.is_object()) return problem(400, "bad_request", "the body must be a JSON object");
    static const std::set<std::string> kFields = {"image_id", "tag", "percent", "wave_size", "failure_threshold", "force"};
    for (auto it = body.begin(); it != body.end(); ++it)
      if (!kFields.count(it.key())) return fw_problem(422, "bad_field", it.key() + ": unknown field", it.key());
    firmware::RolloutRequest rr;
    double image_id = 0, wave = 0, pct = 0;
    if (auto e = get_number(body, "image_id", image_id, true)) return *e;
    if (image_id != std::floor(image_id) || image_id < 1) return fw_problem(422, "bad_field", "image_id: must be a positive id");
    rr.image_id = static_cast<Id>(image_id);
    if (auto e = get_number(body, "wave_size", wave, true)) return *e;
    if (wave != std::floor(wave) || wave < 1 || wave > 10000)
      return fw_problem(422, "bad_field", "wave_size: must be a whole number from 1 to 10000");
    rr.wave_size = static_cast<int>(wave);
    if (body.contains("percent") && !body["percent"].is_null()) {
      if (auto e = get_number(body, "percent", pct, true)) return *e;
      rr.percent = pct;
    }
    if (body.contains("tag") && !body["tag"].is_null()) {
      std::string tag;
      if (auto e = get_string(body, "tag", tag, true)) return *e;
      rr.tag = tag;
    }
    if (!body.contains("failure_threshold")) return fw_problem(422, "missing_field", "failure_threshold: required");
    const json& ft = body["failure_threshold"];
    if (ft.is_number_integer()) rr.failure_threshold = std::to_string(ft.get<long long>());
    else if (ft.is_string()) rr.failure_threshold = ft.get<std::string>();
    else return fw_problem(422, "bad_field", "failure_threshold: a count (3) or a percentage (\"10%\")");
    if (body.contains("force")) {
      if (!body["force"].is_boolean()) return fw_problem(422, "bad_field", "force: must be true or false");
      rr.force = body["force"].get<bool>();
    }
    auto r = svc.create_rollout(rr, who.name);
    if (!r) return fw_refused(r.status(), "bad_field");
    audit(ctx, who, "firmware.rollout.create", std::to_string(r->id), body.dump());
    return created(fw_rollout_json(*r));
  });

  router.add("GET", "/api/v1/firmware/rollouts", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto rs = svc.rollouts();
    if (!rs) return from_status(rs.status());
    json arr = json::array();
    for (auto& r : *rs) arr.push_back(fw_rollout_json(r));
    return ok(arr);
  });

  router.add("GET", "/api/v1/firmware/rollouts/{id}", [&ctx, &svc](const Request& req) {
    VIGIL_REQUIRE(req, Role::kViewer);
    auto id = fw_path_id(req);
    if (!id) return fw_bad_id("rollout", req);
    auto r = svc.rollout(*id);
    if (!r) return fw_refused(r.status(), "bad_field");
    return ok(fw_rollout_json(*r));
  });

  for (const char* action : {"stop", "resume"}) {
    const bool stop = std::string(action) == "stop";
    router.add("POST", std::string("/api/v1/firmware/rollouts/{id}/") + action, [&ctx, &svc, stop](const Request& req) {
      VIGIL_REQUIRE(req, Role::kAdmin);
      auto id = fw_path_id(req);
      if (!id) return fw_bad_id("rollout", req);
      auto st = stop ? svc.stop(*id) : svc.resume(*id);
      if (!st.ok()) return fw_refused(st, "bad_field");
      audit(ctx, who, stop ? "firmware.rollout.stop" : "firmware.rollout.resume", std::to_string(*id), "");
      auto r = svc.rollout(*id);
      if (!r) return from_status(r.status());
      return ok(fw_rollout_json(*r));
    });
  }
}

}  // namespace vigil::http
