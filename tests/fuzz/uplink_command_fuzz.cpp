// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for commands that arrive from the cloud broker
// (src/uplink/messages: parse_command). Input: the topic, a newline, the
// payload. Oracle: no crash; an accepted command's arguments are read with
// exactly the accessors Uplink::execute uses, which throw (and so crash the
// fuzzer) if validation let a wrong type through.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "uplink/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string topic = in.substr(0, nl);
  const std::string payload = nl == std::string::npos ? std::string() : in.substr(nl + 1);
  auto c = vigil::uplink::parse_command("vigil/gw-1", topic, payload);
  if (!c.ok()) return 0;
  if (c->id.empty() || c->id.size() > 64) std::abort();
  if (c->name == "ack") {
    if (c->args["alert_id"].get<std::int64_t>() <= 0) std::abort();
  } else if (c->name == "threshold") {
    (void)c->args["machine_class"].get<std::string>();
    const double ab = c->args["ab"].get<double>(), bc = c->args["bc"].get<double>(), cd = c->args["cd"].get<double>();
    if (!(0 < ab && ab < bc && bc < cd && cd <= 1000)) std::abort();
  } else if (c->name == "summary") {
    if (c->args.contains("position_id") && c->args["position_id"].get<std::int64_t>() <= 0) std::abort();
  } else {
    std::abort();
  }
  return 0;
}
