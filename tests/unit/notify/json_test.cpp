// SPDX-License-Identifier: Apache-2.0
// Channels and routes as the REST API reads and writes them: validation that
// names the field, redaction of secrets, webhook URLs, body templates.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>

#include "notify/internal.h"
#include "rig.h"

using namespace notify_test;
using nlohmann::json;
namespace detail = vigil::notify::detail;

namespace {
NotifierOptions gateway_opts() {
  NotifierOptions o;
  o.own_http_host = "gw.plant";
  o.own_http_port = 8080;
  return o;
}
json hook(const std::string& url) {
  return {{"name", "ops"}, {"type", "webhook"}, {"webhook", {{"url", url}}}};
}
}  // namespace

TEST_CASE("secrets are never in to_json", "[notify][json]") {
  auto c = channel_from_json(json{{"name", "ops"},
                                  {"type", "webhook"},
                                  {"webhook",
                                   {{"url", "https://hooks.example/x"},
                                    {"secret", "hmac-key-42"},
                                    {"headers", {{"Authorization", "Bearer tok-99"}}}}}},
                             gateway_opts());
  REQUIRE(c.ok());
  CHECK(c->webhook.secret == "hmac-key-42");
  const json j = to_json(*c);
  const std::string text = j.dump();
  CHECK(text.find("hmac-key-42") == std::string::npos);
  CHECK(text.find("tok-99") == std::string::npos);
  CHECK(j["webhook"]["secret_set"] == true);
  CHECK(j["webhook"]["headers"]["Authorization"] == "\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2");
  CHECK(!j["webhook"].contains("secret"));
  c->webhook.secret.clear();
  CHECK(to_json(*c)["webhook"]["secret_set"] == false);
}

TEST_CASE("a webhook to the gateway's own port is refused", "[notify][json]") {
  const auto o = gateway_opts();
  for (const char* url : {"http://127.0.0.1:8080/api/v1/alerts", "https://localhost:8080/", "http://[::1]:8080/x",
                          "http://0.0.0.0:8080/", "http://GW.PLANT:8080/", "http://127.0.0.2:8080/"}) {
    INFO(url);
    auto c = channel_from_json(hook(url), o);
    REQUIRE(!c.ok());
    CHECK(c.status().code() == Status::Code::kInvalidArgument);
    CHECK(c.status().message() == "webhook.url: points at this gateway's own HTTP listener");
  }
  // A port-less URL means the scheme's port.
  auto self_default = gateway_opts();
  self_default.own_http_port = 443;
  CHECK(!channel_from_json(hook("https://gw.plant/hook"), self_default).ok());
  // Other loopback ports (a receiver on the same machine) and other hosts are fine.
  for (const char* url : {"http://127.0.0.1:9000/hook", "https://gw.plant:8443/x", "https://hooks.example/x",
                          "http://[::1]:9000/"}) {
    INFO(url);
    CHECK(channel_from_json(hook(url), o).ok());
  }
}

TEST_CASE("webhook URLs must be http or https", "[notify][json]") {
  for (const char* url : {"file:///etc/passwd", "ftp://x/y", "gopher://x", "smtp://x", "not a url", "", "http://"}) {
    INFO(url);
    auto c = channel_from_json(hook(url), gateway_opts());
    REQUIRE(!c.ok());
    CHECK(c.status().message().rfind("webhook.url: ", 0) == 0);
  }
}

TEST_CASE("malformed channels and routes are refused naming the field", "[notify][json]") {
  const auto o = gateway_opts();
  auto msg = [&](const json& j) { return channel_from_json(j, o).status().message(); };
  CHECK(msg(json{{"type", "email"}, {"email", {{"to", {"a@b"}}}}}) == "name: required");
  CHECK(msg(json{{"name", "x"}, {"type", "sms"}}) == "type: must be email or webhook");
  CHECK(msg(json{{"name", "x"}, {"type", "email"}, {"email", {{"to", json::array()}}}}) ==
        "email.to: at least one address");
  CHECK(msg(json{{"name", "x"}, {"type", "email"}, {"email", {{"to", {"ok@x", "bad\r\nBcc: y@z"}}}}}) ==
        "email.to[1]: not an e-mail address");
  CHECK(msg(json{{"name", "x"}, {"type", "email"}, {"email", {{"to", {"a@b"}}}}, {"rate_per_minute", -1}}) ==
        "rate_per_minute: must be 0..6000 (0 = unlimited)");
  CHECK(msg(json{{"name", "x"}, {"type", "email"}, {"email", {{"to", {"a@b"}}}}, {"colour", "red"}}) ==
        "colour: unknown member");
  json h = hook("https://hooks.example/x");
  h["webhook"]["headers"] = {{"X-Vigil-Signature", "forged"}};
  CHECK(msg(h) == "webhook.headers.X-Vigil-Signature: set by vigil");
  h["webhook"]["headers"] = {{"X-Ok", "a\r\nInjected: 1"}};
  CHECK(msg(h) == "webhook.headers.X-Ok: control characters");

  auto rmsg = [](const json& j) { return route_from_json(j).status().message(); };
  CHECK(rmsg(json{{"name", "r"}, {"channels", {1}}, {"severities", {"info"}}}) ==
        "severities[0]: must be warning or alarm");
  CHECK(rmsg(json{{"name", "r"}, {"channels", {1, "two"}}}) == "channels[1]: must be an id (a non-negative integer)");
  CHECK(rmsg(json{{"name", "r"}, {"channels", {1}}, {"quiet_hours", {{"from", "25:00"}, {"to", "06:00"}}}}) ==
        "quiet_hours.from: not HH:MM");
  CHECK(rmsg(json{{"name", "r"},
                  {"channels", {1}},
                  {"quiet_hours", {{"from", "22:00"}, {"to", "06:00"}, {"timezone", "Mars/Olympus"}}}}) ==
        "quiet_hours.timezone: unknown time zone 'Mars/Olympus'");
  CHECK(rmsg(json{{"name", "r"}, {"channels", {1}}, {"escalate_after_min", 30}}) ==
        "escalate_to: required with escalate_after_min");
  CHECK(rmsg(json{{"name", "r"}, {"channels", {1}}, {"events", {"exploded"}}}) ==
        "events[0]: must be one of opened, escalated, updated, acknowledged, muted, unmuted, closed");
}

TEST_CASE("a route reads back as it was written", "[notify][json]") {
  json j = {{"name", "night shift"},
            {"severities", {"warning", "alarm"}},
            {"site_ids", {1}},
            {"asset_ids", json::array()},
            {"channels", {2, 3}},
            {"quiet_hours", {{"from", "22:00"}, {"to", "06:00"}, {"timezone", "Europe/Berlin"}, {"alarms_too", false}}},
            {"escalate_after_min", 30},
            {"escalate_to", {4}}};
  auto r = route_from_json(j);
  REQUIRE(r.ok());
  CHECK(r->events == std::vector<std::string>{"opened", "escalated"});
  auto back = to_json(*r);
  for (const auto& key : {"name", "severities", "site_ids", "asset_ids", "channels", "quiet_hours",
                          "escalate_after_min", "escalate_to"})
    CHECK(back[key] == j[key]);
}

TEST_CASE("template values are JSON-escaped and cannot reach anything but the documented placeholders",
          "[notify][json]") {
  const std::string tmpl = R"({"text": "{{alert.title}} at {{ alert.asset }}", "id": {{alert.id}}})";
  REQUIRE(detail::check_template(tmpl).ok());
  std::map<std::string, std::string> v = {
      {"alert.title", "He said \"stop\"\nnow\\ {{gateway}} </script>"},
      {"alert.asset", "Pump \x01 \xC3\xA9"},
      {"alert.id", "42"},
      {"gateway", "SHOULD-NOT-APPEAR"}};
  const std::string body = detail::render_template(tmpl, v);
  auto j = json::parse(body, nullptr, false);
  REQUIRE(!j.is_discarded());
  CHECK(j["text"] == "He said \"stop\"\nnow\\ {{gateway}} </script> at Pump \x01 \xC3\xA9");
  CHECK(j["id"] == 42);
  CHECK(body.find("SHOULD-NOT-APPEAR") == std::string::npos);
  // Invalid UTF-8 in a value still gives valid JSON.
  v["alert.title"] = "bad \xFF\xFE byte";
  CHECK(!json::parse(detail::render_template(tmpl, v), nullptr, false).is_discarded());

  CHECK(detail::check_template(R"({"k": "{{channel.secret}}"})").message() ==
        "unknown placeholder {{channel.secret}} (known: alert.title, alert.severity, alert.status, alert.asset, "
        "alert.position, alert.explanation, alert.id, event, actor, link, ack_link, gateway)");
  CHECK(detail::check_template(R"({"k": {{alert.title}}})").ok());  // "0" stands in: valid, if odd
  CHECK(!detail::check_template(R"({"k": )").ok());
  CHECK(detail::check_template(default_body_template()).ok());
  auto bad = channel_from_json(json{{"name", "x"},
                                    {"type", "webhook"},
                                    {"webhook", {{"url", "https://h.example/"}, {"body_template", "{{secret}}"}}}},
                               gateway_opts());
  CHECK(bad.status().message().rfind("webhook.body_template: unknown placeholder {{secret}}", 0) == 0);
}

TEST_CASE("base64url round-trips and refuses non-canonical text", "[notify][json]") {
  for (std::size_t n = 0; n < 40; ++n) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 37 + 11);
    auto e = detail::base64url(b);
    CHECK(e.find_first_of("+/=") == std::string::npos);
    auto d = detail::base64url_decode(e);
    REQUIRE(d);
    CHECK(*d == b);
  }
  CHECK(!detail::base64url_decode("AB"));  // "AB" leaves non-zero spare bits... A=0,B=1: 000000 000001
  CHECK(detail::base64url_decode("AA"));
  CHECK(!detail::base64url_decode("A"));
  CHECK(!detail::base64url_decode("AA=="));
}

TEST_CASE("the MIME message carries both parts and no header injection", "[notify]") {
  SmtpSettings s;
  s.from = "vigil@plant.example";
  EmailMessage m;
  m.to = {"a@plant.example", "b@plant.example"};
  m.subject = "[vigil ALARM] Pump \xC3\xA9\r\nBcc: evil@x";
  m.text = "plain";
  m.html = "<p>html</p>";
  const std::string mime = build_mime(s, m, "Thu, 15 Jan 2026 12:00:00 +0000", "b0undary");
  CHECK(mime.find("\r\nBcc:") == std::string::npos);
  CHECK(mime.find("Subject: =?UTF-8?B?") != std::string::npos);
  CHECK(mime.find("To: a@plant.example, b@plant.example\r\n") != std::string::npos);
  CHECK(mime.find("Content-Type: multipart/alternative; boundary=\"b0undary\"") != std::string::npos);
  CHECK(mime.find("Content-Type: text/plain; charset=UTF-8") != std::string::npos);
  CHECK(mime.find("Content-Type: text/html; charset=UTF-8") != std::string::npos);
  CHECK(mime.find("cGxhaW4=") != std::string::npos);  // base64("plain")
  CHECK(mime.find("--b0undary--\r\n") != std::string::npos);
}

TEST_CASE("a webhook to one of this machine's interface addresses on the gateway's port is refused",
          "[notify][json]") {
  // The listener on 0.0.0.0 answers on every interface: the first
  // non-loopback IPv4 address of this machine stands for them.
  std::string addr;
  ifaddrs* ifs = nullptr;
  REQUIRE(getifaddrs(&ifs) == 0);
  for (ifaddrs* i = ifs; i && addr.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    if (std::string(buf).rfind("127.", 0) != 0) addr = buf;
  }
  freeifaddrs(ifs);
  if (addr.empty()) {
    WARN("no non-loopback IPv4 interface: nothing to check");
    return;
  }
  auto o = gateway_opts();
  CHECK(channel_from_json(hook("http://" + addr + ":8080/x"), o).status().message() ==
        "webhook.url: points at this gateway's own HTTP listener");
  CHECK(channel_from_json(hook("http://" + addr + ":9000/x"), o).ok());
}
