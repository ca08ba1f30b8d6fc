// SPDX-License-Identifier: Apache-2.0
// log::Throttle: one warning per key and period, the rest counted; the
// number of keys it tracks is bounded.
#include <catch2/catch.hpp>

#include <thread>

#include "core/log.h"
#include "core/text_escape.h"

using namespace vigil;

TEST_CASE("A throttle lets the first event of each key through and counts the ones it holds back") {
  log::Throttle t(std::chrono::seconds(1));
  std::uint64_t held = 99;
  CHECK(t.allow("bad_seal", &held));
  CHECK(held == 0);
  CHECK_FALSE(t.allow("bad_seal"));
  CHECK_FALSE(t.allow("bad_seal"));
  CHECK(t.allow("stale"));  // another key is not held back
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(t.allow("bad_seal", &held));
  CHECK(held == 2);
}

TEST_CASE("A throttle tracks a bounded number of keys and refuses the rest") {
  log::Throttle t;
  for (std::size_t i = 0; i < log::Throttle::kMaxKeys; ++i) CHECK(t.allow("k" + std::to_string(i)));
  CHECK_FALSE(t.allow("one too many"));
}

TEST_CASE("JSON strings are escaped, and invalid UTF-8 is replaced so the output stays JSON") {
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01");
  CHECK(out == R"("a\"b\\c\u000a\u0001")");
  out.clear();
  append_json_string(out, "caf\xc3\xa9 \xff");
  CHECK(out == "\"caf\xc3\xa9 \xef\xbf\xbd\"");
}

TEST_CASE("HTML special characters become entities") {
  CHECK(html_escape(R"(<a href="x">Tom & 'Jerry'</a>)") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
}
