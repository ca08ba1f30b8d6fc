// SPDX-License-Identifier: Apache-2.0
// Uplink::publish_volatile (the plant's relayed adverts, ble/relay_out.h):
// QoS 0, not retained, never in the outbox; refused while the link is down.
#include <catch2/catch.hpp>

#include "vigil_test/eventually.h"
#include "vigil_test/temp_dir.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "uplink/uplink.h"
#include "vigil/store.h"
#include "vigil_test/fake_transport.h"

using namespace vigil;
using namespace vigil::uplink;

TEST_CASE("a volatile message goes out once at QoS 0, unretained and never into the outbox; "
          "while the link is down it is refused") {
  TempDir db;
  ManualClock clock{1'700'000'000'000};
  MetricsRegistry metrics;
  StoreOptions so;
  so.path = db.file("vigil.db");
  so.clock = &clock;
  auto store = Store::open(so);
  REQUIRE(store.ok());
  auto fake = std::make_shared<FakeTransport::State>();
  UplinkOptions o;
  o.gateway_id = "gw-1";
  o.summary_interval_s = 0;
  o.heartbeat_interval_s = 3600;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 80;
  auto up = Uplink::create(o, std::make_unique<FakeTransport>(fake), **store, clock, nullptr, nullptr, metrics);
  REQUIRE(up.ok());

  // Not started, so not connected: refused at once, nothing queued.
  CHECK((*up)->publish_volatile("vigil/plant/p/relay/gw-1/C0FFEE000001", "{}").code() ==
        Status::Code::kUnavailable);

  (*up)->start();
  REQUIRE(eventually([&] { return (*up)->connected(); }));
  REQUIRE((*up)->sync());
  const auto rows_before = (*up)->outbox().rows();
  std::atomic<int> sent{0};
  REQUIRE((*up)->publish_volatile("vigil/plant/p/relay/gw-1/C0FFEE000001", "{\"id\":1}",
                                  [&](bool ok) { sent += ok ? 1 : 100; })
              .ok());
  REQUIRE((*up)->sync());
  CHECK(sent == 1);
  CHECK((*up)->outbox().rows() == rows_before);
  bool found = false;
  {
    std::lock_guard lk(fake->mu);
    for (const auto& p : fake->published)
      if (p.topic == "vigil/plant/p/relay/gw-1/C0FFEE000001") {
        found = true;
        CHECK(p.qos == 0);
        CHECK_FALSE(p.retain);
        CHECK(p.payload == "{\"id\":1}");
      }
  }
  CHECK(found);
  (*up)->stop();
}
