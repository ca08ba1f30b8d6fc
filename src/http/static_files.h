// SPDX-License-Identifier: Apache-2.0
//
// The dashboard's files, embedded in the binary at build time from web/public
// (no CDN: the dashboard works with no internet). Served with gzip when the
// client accepts it, ETag revalidation, and "/" → /index.html.
#pragma once

#include <cstddef>

#include "http/http_types.h"

namespace vigil::http {

struct EmbeddedFile {
  const char* path;  // "/index.html"
  const unsigned char* data;
  std::size_t size;
  const unsigned char* gz;
  std::size_t gz_size;
};
extern const EmbeddedFile kEmbeddedFiles[];  // terminated by a null path

// Handler for GET/HEAD of static files (the Router's fallback). Unknown
// paths without an extension get index.html (client-side routes).
Response serve_static(const Request& req);

}  // namespace vigil::http
