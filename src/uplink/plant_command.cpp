// SPDX-License-Identifier: Apache-2.0
#include "uplink/plant_command.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <utility>

#include "core/log.h"
#include "uplink/plant.h"

namespace vigil::uplink {
namespace {
using json = nlohmann::json;
constexpr const char* kCommandType = "vigil.plant.command";
constexpr const char* kResultType = "vigil.plant.result";
constexpr std::size_t kNonce = 12, kTag = 16;

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

std::optional<std::vector<std::uint8_t>> from_hex(const std::string& s) {
  if (s.size() % 2) return std::nullopt;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

// Gateway ids and command ids: what a topic level may safely hold.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

struct CipherCtx {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(c); }
};

const std::string* str_field(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}
}  // namespace

std::string plant_command_topic(const std::string& plant_id, const std::string& gateway_id) {
  return plant_root(plant_id) + "/gateways/" + gateway_id + "/cmd";
}
std::string plant_result_topic(const std::string& plant_id, const std::string& gateway_id) {
  return plant_root(plant_id) + "/gateways/" + gateway_id + "/result";
}

Result<PlantKey> read_plant_key(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound("plant command key file " + path + ": cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s;
  for (char c : ss.str().substr(0, 4096))
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  auto b = from_hex(s);
  if (!b || b->size() != 32)
    return Status::InvalidArgument("plant command key file " + path + ": must hold 64 hex digits (32 bytes)");
  PlantKey k{};
  std::copy(b->begin(), b->end(), k.begin());
  bool zero = true;
  for (auto x : k) zero = zero && x == 0;
  if (zero) return Status::InvalidArgument("plant command key file " + path + ": a key of zeros is not a key");
  return k;
}

bool allowed_remote_route(const std::string& method, const std::string& path) {
  static const std::regex post_sensor(R"(^/api/v1/sensors(/[1-9][0-9]{0,17}/(decommission|move|replace|reassign))?$)");
  static const std::regex patch_sensor(R"(^/api/v1/sensors/[1-9][0-9]{0,17}$)");
  if (path.size() > 128) return false;
  if (method == "POST") return std::regex_match(path, post_sensor);
  if (method == "PATCH") return std::regex_match(path, patch_sensor);
  if (method == "GET") return path == "/api/v1/sensors" || path == "/api/v1/sensors/discovered";
  return false;
}

std::string plant_command_aad(const std::string& type, const std::string& plant_id, const std::string& from,
                              const std::string& to, const std::string& id, TimestampMs ts_ms) {
  // Length-prefixed, so no two field lists give the same bytes.
  std::string out;
  for (const std::string* s : {&type, &plant_id, &from, &to, &id}) out += std::to_string(s->size()) + ":" + *s;
  return out + std::to_string(ts_ms);
}

Result<std::string> seal_hex(const PlantKey& key, const std::string& plain, const std::string& aad) {
  std::uint8_t nonce[kNonce];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return Status::Internal("plant command: no random nonce");
  CipherCtx ctx;
  std::vector<std::uint8_t> out(kNonce + plain.size() + kTag);
  std::copy(nonce, nonce + kNonce, out.begin());
  int len = 0, fin = 0;
  if (!ctx.c || EVP_EncryptInit_ex(ctx.c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.c, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.c, nullptr, nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.c, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.c, out.data() + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.c, out.data() + kNonce + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.c, EVP_CTRL_GCM_GET_TAG, kTag, out.data() + kNonce + plain.size()) != 1)
    return Status::Internal("plant command: encryption failed");
  return to_hex(out.data(), out.size());
}

Result<std::string> open_hex(const PlantKey& key, const std::string& sealed_hex, const std::string& aad) {
  auto b = from_hex(sealed_hex);
  if (!b || b->size() < kNonce + kTag) return Status::InvalidArgument("sealed part is not hex of nonce, data and tag");
  const std::size_t n = b->size() - kNonce - kTag;
  std::string plain(n, '\0');
  CipherCtx ctx;
  int len = 0, fin = 0;
  std::uint8_t tag[kTag];
  std::copy(b->end() - kTag, b->end(), tag);
  if (!ctx.c || EVP_DecryptInit_ex(ctx.c, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.c, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.c, nullptr, nullptr, key.data(), b->data()) != 1 ||
      EVP_DecryptUpdate(ctx.c, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.c, reinterpret_cast<unsigned char*>(plain.data()), &len, b->data() + kNonce,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.c, EVP_CTRL_GCM_SET_TAG, kTag, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.c, reinterpret_cast<unsigned char*>(plain.data()) + len, &fin) != 1)
    return Status::PermissionDenied("not sealed with this plant's command key (or altered on the way)");
  return plain;
}

PlantCommands::PlantCommands(PlantCommandOptions o, Publish publish, Apply apply, Audit audit,
                             MetricsRegistry& metrics)
    : o_(std::move(o)),
      publish_(std::move(publish)),
      apply_(std::move(apply)),
      audit_(std::move(audit)),
      metrics_(metrics),
      sent_(metrics.counter("vigil_plant_commands_total", "Plant commands by outcome", "result=\"sent\"")),
      applied_(metrics.counter("vigil_plant_commands_total", "Plant commands by outcome", "result=\"applied\"")) {
  for (const char* r : {"oversized", "malformed", "other_plant", "not_for_us", "bad_seal", "stale", "replayed",
                        "route_not_allowed", "unknown_command"})
    metrics_.counter("vigil_plant_commands_rejected_total", "Plant commands and results refused, by reason",
                     std::string("reason=\"") + r + "\"");
}

bool PlantCommands::reject(const std::string& reason, const std::string& detail, std::string* why) {
  metrics_.counter("vigil_plant_commands_rejected_total", "Plant commands and results refused, by reason",
                   "reason=\"" + reason + "\"")->inc();
  // A forger or a misconfigured peer can send these by the thousand: one
  // warning per reason a minute, the rest at debug (all counted above).
  static log::Throttle throttle;
  std::uint64_t held = 0;
  if (throttle.allow(reason, &held))
    spdlog::warn("plant: command message refused ({}): {}{}", reason, detail,
                 held ? " (" + std::to_string(held) + " more refused for this reason in the last minute)" : "");
  else
    spdlog::debug("plant: command message refused ({}): {}", reason, detail);
  if (why) *why = reason + ": " + detail;
  return false;
}

Result<std::string> PlantCommands::send(const std::string& to, const RemoteRequest& req, const std::string& actor,
                                        TimestampMs now, Then then) {
  if (!valid_name(to)) return Status::InvalidArgument("gateway: not a gateway id");
  if (!allowed_remote_route(req.method, req.path))
    return Status::InvalidArgument(req.method + " " + req.path.substr(0, 128) +
                                   " may not be called on another gateway (sensor lifecycle and "
                                   "GET /api/v1/sensors/discovered only)");
  if (!req.body.is_null() && !req.body.is_object()) return Status::InvalidArgument("body: must be an object");
  const std::string plain = json_text({{"method", req.method}, {"path", req.path}, {"body", req.body}, {"actor", actor}});
  if (plain.size() > kMaxPlantCommandBodyBytes) return Status::InvalidArgument("body: larger than 16 KiB");
  std::string id;
  {
    std::lock_guard lk(mu_);
    id = o_.gateway_id + "-" + std::to_string(now) + "-" + std::to_string(++seq_);
  }
  if (id.size() > 64) id = std::to_string(now) + "-" + std::to_string(seq_);
  Sent s{id, to, actor, req, now, std::nullopt, 0, json(), std::move(then)};
  if (to == o_.gateway_id) {  // our own gateway: no broker needed
    auto [status, body] = apply_(req, "plant:" + o_.gateway_id + ":" + actor);
    s.status = status;
    s.result = std::move(body);
    s.answered_at = now;
    if (s.then) std::exchange(s.then, nullptr)(s.status, s.result);
    keep(std::move(s));
  } else {
    const std::string aad = plant_command_aad(kCommandType, o_.plant_id, o_.gateway_id, to, id, now);
    auto sealed = seal_hex(o_.key, plain, aad);
    if (!sealed) return sealed.status();
    json env = {{"v", 1}, {"type", kCommandType}, {"plant_id", o_.plant_id}, {"from", o_.gateway_id},
                {"to", to},  {"id", id},            {"ts_ms", now},          {"sealed", *sealed}};
    // Kept before it is published: the answer may arrive (on the uplink's
    // thread) before publish_ returns.
    keep(std::move(s));
    if (auto st = publish_(plant_command_topic(o_.plant_id, to), json_text(env)); !st.ok()) {
      std::lock_guard lk(mu_);
      std::erase_if(sent_list_, [&](const Sent& x) { return x.id == id; });
      return st;
    }
    sent_->inc();
  }
  if (audit_) audit_(actor, "plant.cmd.sent", "gateway/" + to, req.method + " " + req.path + " id=" + id);
  return id;
}

void PlantCommands::keep(Sent s) {
  std::lock_guard lk(mu_);
  sent_list_.push_back(std::move(s));
  while (sent_list_.size() > o_.max_kept) sent_list_.pop_front();
}

bool PlantCommands::remember(const std::string& from, const std::string& id, TimestampMs now) {
  std::lock_guard lk(mu_);
  // Forget what is older than the skew window (a replay of it is stale anyway).
  while (!seen_order_.empty() &&
         (seen_order_.front().first < now - 2 * o_.max_skew_ms || seen_order_.size() >= o_.max_seen)) {
    seen_.erase(seen_order_.front().second);
    seen_order_.pop_front();
  }
  const std::string k = from + "\n" + id;
  if (seen_.count(k)) return false;
  seen_[k] = now;
  seen_order_.emplace_back(now, k);
  return true;
}

bool PlantCommands::on_message(const std::string& topic, const std::string& payload, TimestampMs now,
                               std::string* why) {
  if (payload.size() > kMaxPlantCommandBytes) return reject("oversized", topic, why);
  json env = json::parse(payload, nullptr, false);
  if (!env.is_object() || env.value("v", 0) != 1) return reject("malformed", "not a version 1 envelope", why);
  const std::string *type = str_field(env, "type"), *plant = str_field(env, "plant_id"),
                    *from = str_field(env, "from"), *to = str_field(env, "to"), *id = str_field(env, "id"),
                    *sealed = str_field(env, "sealed");
  auto ts = env.find("ts_ms");
  if (!type || !plant || !from || !to || !id || !sealed || ts == env.end() || !ts->is_number_integer() ||
      !valid_name(*from) || !valid_name(*to) || !valid_name(*id))
    return reject("malformed", "missing or malformed envelope fields", why);
  if (*plant != o_.plant_id) return reject("other_plant", "plant " + plant->substr(0, 64), why);
  const bool is_cmd = *type == kCommandType, is_result = *type == kResultType;
  if (!is_cmd && !is_result) return reject("malformed", "unknown type", why);
  const std::string expect = is_cmd ? plant_command_topic(o_.plant_id, o_.gateway_id)
                                    : plant_result_topic(o_.plant_id, o_.gateway_id);
  if (*to != o_.gateway_id || topic != expect) return reject("not_for_us", "to " + *to + " on " + topic, why);
  const TimestampMs t = ts->get<TimestampMs>();
  const std::string aad = plant_command_aad(*type, *plant, *from, *to, *id, t);
  auto plain = open_hex(o_.key, *sealed, aad);
  if (!plain) return reject("bad_seal", "from " + *from + ": " + plain.status().message(), why);
  // Authentic from here on; freshness next (a recorded message replayed later).
  if (t < now - o_.max_skew_ms || t > now + o_.max_skew_ms)
    return reject("stale", "from " + *from + ": " + std::to_string((now - t) / 1000) + " s off our clock", why);
  if (!remember(*from, *id + (is_result ? "/r" : ""), now))
    return reject("replayed", "from " + *from + " id " + *id, why);
  json inner = json::parse(*plain, nullptr, false);
  if (!inner.is_object()) return reject("malformed", "sealed part is not a JSON object", why);
  inner["_from"] = *from;
  inner["_id"] = *id;
  return is_cmd ? on_command(inner, now, why) : on_result(inner, now, why);
}

bool PlantCommands::on_command(const json& c, TimestampMs now, std::string* why) {
  const std::string from = c["_from"], id = c["_id"];
  const std::string *method = str_field(c, "method"), *path = str_field(c, "path"), *actor = str_field(c, "actor");
  if (!method || !path || !actor || actor->size() > 128) return reject("malformed", "command fields", why);
  auto result = [&](int status, json body) {
    std::string b = json_text(body);
    if (b.size() > kMaxPlantResultBodyBytes) body = {{"truncated", true}, {"bytes", b.size()}};
    const std::string plain = json_text({{"status", status}, {"body", body}});
    const std::string aad = plant_command_aad(kResultType, o_.plant_id, o_.gateway_id, from, id, now);
    auto sealed = seal_hex(o_.key, plain, aad);
    if (!sealed) return;
    json env = {{"v", 1}, {"type", kResultType}, {"plant_id", o_.plant_id}, {"from", o_.gateway_id},
                {"to", from}, {"id", id}, {"ts_ms", now}, {"sealed", *sealed}};
    auto s = publish_(plant_result_topic(o_.plant_id, from), json_text(env));
    if (!s.ok()) spdlog::warn("plant: result of command {} from {} not sent: {}", id, from, s.ToString());
  };
  if (!allowed_remote_route(*method, *path)) {
    result(403, {{"error", "route_not_allowed"}, {"detail", *method + " " + path->substr(0, 128)}});
    return reject("route_not_allowed", "from " + from + ": " + *method + " " + path->substr(0, 128), why);
  }
  RemoteRequest req{*method, *path, c.contains("body") ? c["body"] : json()};
  const std::string who = "plant:" + from + ":" + *actor;
  auto [status, body] = apply_(req, who);
  applied_->inc();
  spdlog::info("plant: {} {} from {} ({}) → {}", *method, *path, from, *actor, status);
  result(status, std::move(body));
  return true;
}

bool PlantCommands::on_result(const json& r, TimestampMs now, std::string* why) {
  const std::string id = r["_id"], from = r["_from"];
  auto st = r.find("status");
  if (st == r.end() || !st->is_number_integer()) return reject("malformed", "result without status", why);
  Then then;
  json body;
  bool found = false;
  {
    std::lock_guard lk(mu_);
    for (auto& s : sent_list_) {
      if (s.id == id && s.to == from && !s.answered_at) {
        s.status = st->get<int>();
        s.result = r.contains("body") ? r["body"] : json();
        s.answered_at = now;
        then = std::exchange(s.then, nullptr);
        body = s.result;
        found = true;
        break;
      }
    }
  }
  if (found) {
    if (then) then(st->get<int>(), body);
    return true;
  }
  metrics_.counter("vigil_plant_commands_rejected_total", "Plant commands and results refused, by reason",
                   "reason=\"unknown_command\"")->inc();
  if (why) *why = "unknown_command: " + id;
  return false;
}

json PlantCommands::render(const Sent& s, TimestampMs now) const {
  const char* state = s.answered_at ? (s.status >= 200 && s.status < 300 ? "applied" : "failed")
                      : now - s.sent_at > o_.answer_timeout_ms ? "no_answer"
                                                               : "pending";
  json j = {{"id", s.id},         {"to", s.to},         {"method", s.req.method}, {"path", s.req.path},
            {"actor", s.actor},   {"sent_at", s.sent_at}, {"state", state}};
  if (s.answered_at) {
    j["status"] = s.status;
    j["result"] = s.result;
    j["answered_at"] = *s.answered_at;
  }
  return j;
}

json PlantCommands::list(TimestampMs now) const {
  std::lock_guard lk(mu_);
  json out = json::array();
  for (auto it = sent_list_.rbegin(); it != sent_list_.rend(); ++it) out.push_back(render(*it, now));
  return out;
}

std::optional<json> PlantCommands::get(const std::string& id, TimestampMs now) const {
  std::lock_guard lk(mu_);
  for (const auto& s : sent_list_)
    if (s.id == id) return render(s, now);
  return std::nullopt;
}

}  // namespace vigil::uplink
