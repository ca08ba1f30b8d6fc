// SPDX-License-Identifier: Apache-2.0
#include "http/static_files.h"

#include <cstring>
#include <string_view>

namespace vigil::http {
namespace {

const char* content_type(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".webmanifest")) return "application/json";
  if (ends(".woff2")) return "font/woff2";
  return "application/octet-stream";
}

const EmbeddedFile* find(std::string_view path) {
  for (const EmbeddedFile* f = kEmbeddedFiles; f->path; ++f)
    if (path == f->path) return f;
  return nullptr;
}

// FNV-1a of the content: a stable validator across restarts of one build.
std::string etag(const EmbeddedFile& f) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < f.size; ++i) h = (h ^ f.data[i]) * 1099511628211ULL;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

Response serve_static(const Request& req) {
  std::string_view path = req.path;
  if (path.starts_with("/api/")) return problem(404, "not_found", "no such resource: " + req.path);
  const EmbeddedFile* f = find(path == "/" ? "/index.html" : path);
  bool is_index = false;
  if (!f && path.find('.') == std::string_view::npos) {
    f = find("/index.html");  // client-side route
    is_index = true;
  }
  if (!f) return problem(404, "not_found", "no such file: " + req.path);
  is_index = is_index || std::strcmp(f->path, "/index.html") == 0;
  Response r;
  r.status = 200;
  r.content_type = content_type(f->path);
  std::string tag = etag(*f);
  r.headers.push_back({"ETag", tag});
  r.headers.push_back({"Vary", "Accept-Encoding"});
  // index.html revalidates every time so a new build is picked up at once;
  // everything else is cached briefly and revalidated by ETag.
  r.headers.push_back({"Cache-Control", is_index ? "no-cache" : "public, max-age=300"});
  if (is_index) {
    r.headers.push_back({"Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"});
  }
  if (req.header("if-none-match") == tag) {
    r.status = 304;
    return r;
  }
  if (req.header("accept-encoding").find("gzip") != std::string::npos && f->gz_size < f->size) {
    r.headers.push_back({"Content-Encoding", "gzip"});
    r.body.assign(reinterpret_cast<const char*>(f->gz), f->gz_size);
  } else {
    r.body.assign(reinterpret_cast<const char*>(f->data), f->size);
  }
  return r;
}

}  // namespace vigil::http
