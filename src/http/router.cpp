// SPDX-License-Identifier: Apache-2.0
#include <nlohmann/json.hpp>

#include "http/http_types.h"

#include <spdlog/spdlog.h>

#include <atomic>

namespace vigil::http {
namespace {
std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    std::size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

Response problem(int status, const std::string& code, const std::string& detail) {
  static const std::map<int, const char*> kTitles = {
      {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
      {405, "Method Not Allowed"}, {409, "Conflict"}, {413, "Payload Too Large"},
      {415, "Unsupported Media Type"}, {422, "Unprocessable Content"}, {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"}, {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"}};
  auto t = kTitles.find(status);
  nlohmann::json j = {{"type", "about:blank"},
                      {"title", t == kTitles.end() ? "Error" : t->second},
                      {"status", status},
                      {"code", code},
                      {"detail", detail}};
  // replace: the detail may echo a client's bytes that are not UTF-8.
  return Response::text(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        "application/problem+json");
}

void Router::add(const std::string& method, const std::string& pattern, Handler h) {
  routes_.push_back(Route{method, pattern, split_path(pattern), std::move(h)});
}

Response Router::dispatch(Request req) const {
  // A handler's exception is a bug, but it must cost one request a 500, not
  // the gateway its process: nothing below may throw out of here.
  const std::string method = req.method, path = req.path.substr(0, 200);
  try {
    return route(std::move(req));
  } catch (const std::exception& e) {
    // The text may name internals (SQL, paths): it goes to the log under a
    // reference, the client gets the reference only.
    static std::atomic<std::uint64_t> next_ref{1};
    const auto ref = next_ref.fetch_add(1);
    spdlog::error("http: handler for {} {} threw (ref E{}): {}", method, path, ref, e.what());
    return problem(500, "internal", "internal error (ref E" + std::to_string(ref) + ")");
  } catch (...) {
    return problem(500, "internal", "internal error");
  }
}

Response Router::route(Request req) const {
  auto segs = split_path(req.path);
  bool path_matched = false;
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const auto& s = r.segments[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') params[s.substr(1, s.size() - 2)] = segs[i];
      else ok = (s == segs[i]);
    }
    if (!ok) continue;
    path_matched = true;
    if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) continue;
    req.params = std::move(params);
    return r.handler(req);
  }
  if (!path_matched && fallback_ && (req.method == "GET" || req.method == "HEAD")) return fallback_(req);
  if (path_matched) return problem(405, "method_not_allowed", req.method + " is not allowed on " + req.path);
  return problem(404, "not_found", "no such resource: " + req.path);
}

std::string url_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i <= q.size()) {
    std::size_t j = q.find('&', i);
    if (j == std::string::npos) j = q.size();
    std::string kv = q.substr(i, j - i);
    if (!kv.empty()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) out[url_decode(kv)] = "";
      else out[url_decode(kv.substr(0, eq))] = url_decode(kv.substr(eq + 1));
    }
    i = j + 1;
  }
  return out;
}

}  // namespace vigil::http
