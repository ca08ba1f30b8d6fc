// SPDX-License-Identifier: Apache-2.0
//
// vigil_test_uplink_pump: drives the uplink library directly against a
// broker, for the integration tests and the drain benchmark.
//
//   vigil_test_uplink_pump --db F --host H --port P --ca C --cert C --key K
//       [--gateway-id gw] [--count N] [--rate R] [--kind alert|summary]
//       [--exit-when-drained] [--timeout-s S] [--payload-bytes B] [--mqtt311]
//
// Queues N messages {"n": i} (R per second; 0 = all at once) through a real
// Store + Uplink + libmosquitto transport, prints one status JSON line per
// 200 ms and "queued N" once all are committed, and with --exit-when-drained
// exits 0 when the outbox is empty (1 on timeout). Without it it runs until
// killed (the kill -9 test).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "uplink/uplink.h"
#include "vigil/store.h"

using namespace vigil;

int main(int argc, char** argv) {
  std::string db, host = "127.0.0.1", ca, cert, key, gw = "gw-test", kind = "alert";
  int port = 8883, count = 0, payload_bytes = 0;
  double rate = 0, timeout_s = 60;
  bool exit_drained = false, mqtt311 = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") db = next();
    else if (a == "--host") host = next();
    else if (a == "--port") port = std::stoi(next());
    else if (a == "--ca") ca = next();
    else if (a == "--cert") cert = next();
    else if (a == "--key") key = next();
    else if (a == "--gateway-id") gw = next();
    else if (a == "--count") count = std::stoi(next());
    else if (a == "--rate") rate = std::stod(next());
    else if (a == "--kind") kind = next();
    else if (a == "--payload-bytes") payload_bytes = std::stoi(next());
    else if (a == "--timeout-s") timeout_s = std::stod(next());
    else if (a == "--exit-when-drained") exit_drained = true;
    else if (a == "--mqtt311") mqtt311 = true;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  StoreOptions so;
  so.path = db;
  auto store = Store::open(so);
  if (!store) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  UplinkConfig c;
  c.enabled = true;
  c.host = host;
  c.port = port;
  c.protocol = mqtt311 ? "mqttv311" : "mqttv5";
  c.ca_file = ca;
  c.cert_file = cert;
  c.key_file = key;
  c.summary_interval_s = 0;
  auto up = uplink::Uplink::from_config(c, gw, **store, SystemClock::instance(), nullptr, nullptr);
  if (!up) {
    std::cerr << up.status().ToString() << "\n";
    return 1;
  }
  auto& u = **up;
  auto k = uplink::kind_from_string(kind).value_or(uplink::Kind::kAlert);
  u.start();
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0;
  std::string pad(static_cast<std::size_t>(std::max(0, payload_bytes)), 'x');
  int queued = 0;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    double el = std::chrono::duration<double>(now - t0).count();
    int due = rate > 0 ? std::min(count, static_cast<int>(el * rate) + 1) : count;
    for (; queued < due; ++queued) {
      nlohmann::json d = {{"n", queued}};
      if (!pad.empty()) d["pad"] = pad;
      auto s = u.enqueue(k, d);
      if (!s.ok()) {
        std::cerr << s.ToString() << "\n";
        return 1;
      }
      if (queued + 1 == count) std::cout << "queued " << count << std::endl;
    }
    if (now - last_print > std::chrono::milliseconds(200)) {
      last_print = now;
      auto st = u.status();
      std::cout << st.dump() << std::endl;
      if (exit_drained && queued == count && st["backlog"] == 0 && st["delivered"].get<int>() >= count) {
        std::cout << "drained " << count << " in " << el << " s" << std::endl;
        return 0;
      }
    }
    if (exit_drained && el > timeout_s) {
      std::cout << "timeout" << std::endl;
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rate > 0 ? 2 : 10));
  }
}
