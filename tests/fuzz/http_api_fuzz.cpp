// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the REST API (src/http): every /api/v1 route behind
// the real Router, with authentication, against a real Store on a temp
// SQLite file (the unit tests' ApiFixture: one site, asset, position,
// sensor, 48 readings) and the real machine-class registry wired in as the
// gateway wires it. The request is built the way the Beast server
// builds it: url_decode of the path, parse_query of the query.
//
// Input: byte 0 picks the credentials (bits 0-1: none, viewer, technician,
// admin) and whether the body is declared JSON (bit 2); then
// "METHOD TARGET\n" and the body.
// Oracle: no crash, no sanitizer report, and no 500: bad input must be
// answered with a 4xx problem, never an internal error (the router turns a
// handler's exception into a 500, so a validation hole shows up here).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../unit/http/fixture.h"
#include "analytics/machine_classes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One plant for the whole run (never destroyed: libFuzzer exits from anywhere).
  static vigil::test::ApiFixture* f = [] {
    auto* fx = new vigil::test::ApiFixture();
    auto* zones = new vigil::analytics::ZoneTable();
    auto* classes = new vigil::analytics::MachineClasses(*fx->store, *zones);
    if (!classes->load({}).ok()) std::abort();
    fx->ctx.machine_classes = [classes] { return classes->list(); };
    fx->ctx.put_machine_class = [classes](const std::string& n, const vigil::ZoneLimits& l) { return classes->put(n, l); };
    fx->ctx.delete_machine_class = [classes](const std::string& n) { return classes->remove(n); };
    return fx;
  }();
  if (size < 2) return 0;
  const std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto nl = in.find('\n');
  const std::string line = in.substr(0, nl);
  const auto sp = line.find(' ');
  if (sp == std::string::npos) return 0;
  vigil::http::Request r;
  r.method = line.substr(0, sp);
  const std::string target = line.substr(sp + 1);
  const auto q = target.find('?');
  r.path = vigil::http::url_decode(target.substr(0, q));
  if (q != std::string::npos) r.query = vigil::http::parse_query(target.substr(q + 1));
  if (nl != std::string::npos) r.body = in.substr(nl + 1);
  const std::string* tokens[] = {nullptr, &f->viewer_token, &f->tech_token, &f->admin_token};
  if (const auto* t = tokens[data[0] & 3]) r.headers["authorization"] = "Bearer " + *t;
  if (data[0] & 4) r.headers["content-type"] = "application/json";
  r.remote = "10.1.2.3";
  const auto res = f->router.dispatch(r);
  if (res.status == 500) {
    std::fprintf(stderr, "500 for %s %s: %s\n", r.method.c_str(), target.c_str(), res.body.c_str());
    std::abort();
  }
  if (res.status < 100 || res.status > 599) std::abort();
  return 0;
}
