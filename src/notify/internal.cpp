// SPDX-License-Identifier: Apache-2.0
#include "notify/internal.h"

#include <curl/curl.h>
#include <date/tz.h>
#include <openssl/evp.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <memory>

namespace vigil::notify::detail {

const std::vector<std::string>& template_placeholders() {
  static const std::vector<std::string> k = {
      "alert.title", "alert.severity", "alert.status", "alert.asset", "alert.position", "alert.explanation",
      "alert.id",    "event",          "actor",        "link",        "ack_link",       "gateway"};
  return k;
}

std::string json_escape(std::string_view s) {
  std::string d = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return d.substr(1, d.size() - 2);
}

namespace {
// Calls fn(name) for each {{name}} (trimmed) and appends literal text and
// fn's result to the output.
template <typename Fn>
std::string expand(const std::string& t, Fn fn) {
  std::string out;
  out.reserve(t.size());
  std::size_t i = 0;
  while (i < t.size()) {
    auto open = t.find("{{", i);
    if (open == std::string::npos) break;
    auto close = t.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(t, i, open - i);
    std::string name = t.substr(open + 2, close - open - 2);
    auto b = name.find_first_not_of(' ');
    auto e = name.find_last_not_of(' ');
    name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);
    out += fn(name);
    i = close + 2;
  }
  out.append(t, i, std::string::npos);
  return out;
}
}  // namespace

std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& values) {
  return expand(tmpl, [&](const std::string& name) -> std::string {
    auto it = values.find(name);
    return it == values.end() ? std::string() : json_escape(it->second);
  });
}

Status check_template(const std::string& tmpl) {
  std::string unknown;
  const auto& known = template_placeholders();
  std::string probe = expand(tmpl, [&](const std::string& name) -> std::string {
    if (std::find(known.begin(), known.end(), name) == known.end() && unknown.empty()) unknown = name;
    return "0";
  });
  if (!unknown.empty())
    return Status::InvalidArgument("unknown placeholder {{" + unknown + "}} (known: alert.title, alert.severity, "
                                   "alert.status, alert.asset, alert.position, alert.explanation, alert.id, "
                                   "event, actor, link, ack_link, gateway)");
  auto j = nlohmann::json::parse(probe, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("not JSON once the placeholders are filled in");
  return Status::Ok();
}

std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data) {
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &n);
  out.resize(n);
  return out;
}

std::string hex(const std::vector<std::uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

namespace {
constexpr const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string base64url(const std::vector<std::uint8_t>& b) {
  std::string o;
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    o += kB64[(v >> 18) & 63];
    o += kB64[(v >> 12) & 63];
    o += kB64[(v >> 6) & 63];
    o += kB64[v & 63];
  }
  if (b.size() - i == 1) {
    std::uint32_t v = b[i] << 16;
    o += kB64[(v >> 18) & 63];
    o += kB64[(v >> 12) & 63];
  } else if (b.size() - i == 2) {
    std::uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    o += kB64[(v >> 18) & 63];
    o += kB64[(v >> 12) & 63];
    o += kB64[(v >> 6) & 63];
  }
  return o;
}

std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view s) {
  if (s.size() % 4 == 1) return std::nullopt;
  std::vector<std::uint8_t> o;
  std::uint32_t v = 0;
  int bits = 0;
  for (char c : s) {
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    v = (v << 6) | static_cast<std::uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o.push_back(static_cast<std::uint8_t>((v >> bits) & 0xff));
    }
  }
  // Non-canonical trailing bits would let two strings decode alike: refuse.
  if (bits > 0 && (v & ((1u << bits) - 1)) != 0) return std::nullopt;
  return o;
}

std::optional<int> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

Result<std::optional<TimestampMs>> quiet_hours_end(const QuietHours& q, TimestampMs now) {
  auto from = parse_hhmm(q.from), to = parse_hhmm(q.to);
  if (!from) return Status::InvalidArgument("quiet_hours.from: not HH:MM");
  if (!to) return Status::InvalidArgument("quiet_hours.to: not HH:MM");
  if (*from == *to) return std::optional<TimestampMs>();
  try {
    using namespace std::chrono;
    const date::time_zone* tz = date::locate_zone(q.timezone.empty() ? "UTC" : q.timezone);
    const sys_time<milliseconds> t{milliseconds{now}};
    const auto local = tz->to_local(t);
    const auto day = floor<days>(local);
    const int m = static_cast<int>(duration_cast<minutes>(local - day).count());
    bool inside;
    date::local_days end_day = day;
    if (*from < *to) {
      inside = m >= *from && m < *to;
    } else {
      inside = m >= *from || m < *to;
      if (m >= *from) end_day = day + days{1};
    }
    if (!inside) return std::optional<TimestampMs>();
    const auto end_local = end_day + minutes{*to};
    const auto end = tz->to_sys(end_local, date::choose::earliest);
    return std::optional<TimestampMs>(duration_cast<milliseconds>(end.time_since_epoch()).count());
  } catch (const std::exception& e) {
    return Status::InvalidArgument("quiet_hours.timezone: unknown time zone '" + q.timezone + "'");
  }
}

namespace {
// The host names this machine answers to: its hostname and the addresses of
// its interfaces (a listener on 0.0.0.0 is reachable on each of them).
bool names_this_machine(const std::string& host) {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0]) {
    std::string h(name);
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    if (host == h || host.rfind(h + ".", 0) == 0) return true;
  }
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) != 0) return false;
  bool found = false;
  for (ifaddrs* i = ifs; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    else if (i->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, buf, sizeof buf);
    else
      continue;
    found = host == buf;
  }
  freeifaddrs(ifs);
  return found;
}
}  // namespace

Status check_webhook_url(const std::string& url, const NotifierOptions& opts) {
  if (url.empty()) return Status::InvalidArgument("required");
  if (url.size() > 2048) return Status::InvalidArgument("longer than 2048 characters");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Status::InvalidArgument("contains whitespace or control characters");
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (!u) return Status::Internal("out of memory");
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return Status::InvalidArgument("not a URL");
  auto part = [&](CURLUPart p, unsigned flags) -> std::string {
    char* s = nullptr;
    if (curl_url_get(u.get(), p, &s, flags) != CURLUE_OK || s == nullptr) return {};
    std::string r(s);
    curl_free(s);
    return r;
  };
  std::string scheme = part(CURLUPART_SCHEME, 0);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") return Status::InvalidArgument("must be http or https");
  std::string host = part(CURLUPART_HOST, 0);
  if (host.empty()) return Status::InvalidArgument("has no host");
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  while (!host.empty() && host.back() == '.') host.pop_back();
  const std::string port_s = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  const int port = port_s.empty() ? 0 : std::atoi(port_s.c_str());
  std::string own = opts.own_http_host;
  std::transform(own.begin(), own.end(), own.begin(), [](unsigned char c) { return std::tolower(c); });
  if (own.size() > 1 && own.front() == '[' && own.back() == ']') own = own.substr(1, own.size() - 2);
  const bool self_host = host == "localhost" || host.ends_with(".localhost") || host.starts_with("127.") ||
                         host == "::1" || host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:1" ||
                         host == "::ffff:127.0.0.1" || (!own.empty() && host == own);
  if (opts.own_http_port > 0 && port == opts.own_http_port && (self_host || names_this_machine(host)))
    return Status::InvalidArgument("points at this gateway's own HTTP listener");
  return Status::Ok();
}

TimestampMs backoff_ms(int attempts) {
  TimestampMs d = 10'000;
  for (int i = 1; i < attempts && d < 15 * 60'000; ++i) d *= 2;
  return std::min<TimestampMs>(d, 15 * 60'000);
}

namespace {
std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}
std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}
}  // namespace

std::map<std::string, std::string> template_values(const MessageContext& m) {
  const auto& p = m.payload;
  const nlohmann::json alert = p.contains("alert") && p["alert"].is_object() ? p["alert"] : nlohmann::json::object();
  std::string id = "0";
  if (auto it = alert.find("id"); it != alert.end() && it->is_number_integer()) id = std::to_string(it->get<Id>());
  return {{"alert.title", str(alert, "title")},
          {"alert.severity", str(alert, "severity")},
          {"alert.status", str(alert, "status")},
          {"alert.asset", str(p, "asset")},
          {"alert.position", str(p, "position")},
          {"alert.explanation", str(alert, "explanation")},
          {"alert.id", id},
          {"event", str(p, "event")},
          {"actor", str(p, "actor")},
          {"link", m.link},
          {"ack_link", m.ack_link},
          {"gateway", m.gateway}};
}

EmailMessage compose_email(const MessageContext& m, const std::vector<std::string>& to) {
  auto v = template_values(m);
  EmailMessage e;
  e.to = to;
  const std::string gw = m.gateway.empty() ? "vigil" : m.gateway;
  if (m.kind == "test") {
    e.subject = "[vigil TEST] Test message from " + gw;
    e.text = "This is a test message from the vigil gateway " + gw +
             ".\nIf you can read it, this channel works.\n";
    e.html = "<p>This is a test message from the vigil gateway <b>" + html_escape(gw) +
             "</b>.</p><p>If you can read it, this channel works.</p>";
    return e;
  }
  const std::string sev = upper(v["alert.severity"]);
  std::string title = v["alert.title"];
  if (m.kind == "escalation") title = "Not acknowledged: " + title;
  e.subject = "[vigil " + sev + "] " + title;
  struct Line {
    const char* label;
    std::string value;
  };
  std::vector<Line> lines = {{"Asset", v["alert.asset"]},
                             {"Position", v["alert.position"]},
                             {"Severity", v["alert.severity"]},
                             {"State", v["alert.status"]},
                             {"Event", v["event"] + (v["actor"].empty() ? "" : " (" + v["actor"] + ")")},
                             {"What moved", v["alert.explanation"]},
                             {"Gateway", gw}};
  std::string text = title + "\n\n";
  std::string html = "<html><body style=\"font-family:sans-serif\"><h2>" + html_escape(title) + "</h2><table>";
  for (const auto& l : lines) {
    if (l.value.empty()) continue;
    text += std::string(l.label) + ": " + l.value + "\n";
    html += "<tr><th align=\"left\" style=\"padding-right:1em\">" + std::string(l.label) + "</th><td>" +
            html_escape(l.value) + "</td></tr>";
  }
  html += "</table>";
  text += "\n";
  if (!m.link.empty()) {
    text += "Open the asset: " + m.link + "\n";
    html += "<p><a href=\"" + html_escape(m.link) + "\">Open the asset</a></p>";
  }
  if (!m.ack_link.empty()) {
    text += "Acknowledge: " + m.ack_link + "\n";
    html += "<p><a href=\"" + html_escape(m.ack_link) + "\">Acknowledge this alert</a></p>";
  }
  html += "</body></html>";
  e.text = std::move(text);
  e.html = std::move(html);
  return e;
}

}  // namespace vigil::notify::detail
