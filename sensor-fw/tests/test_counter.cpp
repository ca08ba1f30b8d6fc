// SPDX-License-Identifier: Apache-2.0
#include "fakes.h"
#include "test.h"
#include "vigil_fw/counter.h"

using namespace vigil_fw;

TEST("counters increase and never repeat across reboots") {
  vtest::MemStorage st;
  std::uint32_t last = 0;
  bool first = true;
  for (int boot = 0; boot < 5; ++boot) {
    FrameCounter c(st, 16);
    REQUIRE(c.init());
    for (int k = 0; k < 5 + boot * 7; ++k) {  // reboot at various points in a block
      std::uint32_t v = 0;
      REQUIRE(c.next(&v));
      CHECK(first || v > last);
      first = false;
      last = v;
    }
  }
}

TEST("a block is reserved in storage before its first counter is used") {
  vtest::MemStorage st;
  FrameCounter c(st, 4);
  REQUIRE(c.init());
  CHECK(st.writes == 1);
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k) REQUIRE(c.next(&v));
  CHECK(st.writes == 1);
  st.fail_writes = true;  // the next block cannot be reserved: no counter
  CHECK(!c.next(&v));
  st.fail_writes = false;
  CHECK(c.next(&v));
  CHECK(v == 4);
  CHECK(c.reserved() == 8);
}

TEST("the counter refuses to wrap around") {
  vtest::MemStorage st;
  const std::uint8_t near_end[4] = {0xFD, 0xFF, 0xFF, 0xFF};
  st.write(Record::kCounterReserved, near_end, 4);
  FrameCounter c(st, 1024);
  REQUIRE(c.init());
  std::uint32_t v = 0;
  CHECK(c.next(&v) && v == 0xFFFFFFFDu);
  CHECK(c.next(&v) && v == 0xFFFFFFFEu);
  CHECK(!c.next(&v));
  CHECK(c.reset_for_new_key());
  CHECK(c.next(&v) && v == 0);
}
