// SPDX-License-Identifier: Apache-2.0
// The limiters behind sign-in and setup: token buckets per address,
// exponential back-off per key, the cap on concurrent hashes, bounded memory.
#include <catch2/catch.hpp>

#include <string>

#include "auth/rate_limit.h"

using namespace vigil;
using namespace vigil::auth;

TEST_CASE("a token bucket allows a burst of five, then one a second") {
  TokenBucketLimiter tb({5, 1, 100});
  const TimestampMs t0 = 1'000'000;
  for (int i = 0; i < 5; ++i) CHECK(tb.take("10.0.0.1", t0) == 0);
  const auto wait = tb.take("10.0.0.1", t0);
  CHECK(wait == 1000);
  CHECK(tb.take("10.0.0.1", t0 + 500) == 500);  // a refusal takes nothing
  CHECK(tb.take("10.0.0.1", t0 + 1000) == 0);
  CHECK(tb.take("10.0.0.1", t0 + 1000) > 0);
  // A long pause refills to the burst, not beyond it.
  for (int i = 0; i < 5; ++i) CHECK(tb.take("10.0.0.1", t0 + 3'600'000) == 0);
  CHECK(tb.take("10.0.0.1", t0 + 3'600'000) > 0);
}

TEST_CASE("one address's empty bucket does not limit another address") {
  TokenBucketLimiter tb({5, 1, 100});
  for (int i = 0; i < 6; ++i) (void)tb.take("10.0.0.1", 0);
  CHECK(tb.take("10.0.0.1", 0) > 0);
  CHECK(tb.take("10.0.0.2", 0) == 0);
}

TEST_CASE("failures cost nothing three times, then back off 1 s, 2 s, 4 s up to the cap") {
  FailureBackoff b({3, 1000, 15 * 60 * 1000, 60 * 60 * 1000, 100});
  const TimestampMs t = 5'000'000;
  for (int i = 0; i < 2; ++i) b.failure("k", t);
  CHECK(b.retry_after_ms("k", t) == 0);
  b.failure("k", t);
  CHECK(b.retry_after_ms("k", t) == 1000);
  CHECK(b.retry_after_ms("k", t + 1000) == 0);
  b.failure("k", t + 1000);
  CHECK(b.retry_after_ms("k", t + 1000) == 2000);
  b.failure("k", t + 3000);
  CHECK(b.retry_after_ms("k", t + 3000) == 4000);
  CHECK(b.wait_after(3) == 1000);
  CHECK(b.wait_after(12) == 512 * 1000);
  CHECK(b.wait_after(13) == 15 * 60 * 1000);   // capped at 15 minutes
  CHECK(b.wait_after(500) == 15 * 60 * 1000);  // no overflow however many
}

TEST_CASE("a success clears a key's back-off and leaves other keys alone") {
  FailureBackoff b;
  for (int i = 0; i < 5; ++i) {
    b.failure("a", 0);
    b.failure("b", 0);
  }
  b.success("a");
  CHECK(b.retry_after_ms("a", 1) == 0);
  CHECK(b.retry_after_ms("b", 1) > 0);
}

TEST_CASE("a key without failures for the forget time starts afresh") {
  FailureBackoff b({3, 1000, 15 * 60 * 1000, 60 * 60 * 1000, 100});
  for (int i = 0; i < 10; ++i) b.failure("k", 0);
  CHECK(b.retry_after_ms("k", 1) > 0);
  b.failure("k", 60 * 60 * 1000);  // an hour later: counts as the first again
  CHECK(b.retry_after_ms("k", 60 * 60 * 1000) == 0);
}

TEST_CASE("a flood of distinct addresses or names keeps the limiters' memory bounded") {
  TokenBucketLimiter tb({5, 1, 1000});
  FailureBackoff b({3, 1000, 1000, 1000, 1000});
  for (int i = 0; i < 50'000; ++i) {
    const std::string k = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                          std::to_string(i % 256);
    (void)tb.take(k, i);
    b.failure(k, i);
  }
  CHECK(tb.size() == 1000);
  CHECK(b.size() == 1000);
  // The newest keys are the ones kept.
  CHECK(b.retry_after_ms("10.0.195.79", 49'999) == 0);  // key 49999 has one failure: free
  b.failure("10.0.195.79", 49'999);
  b.failure("10.0.195.79", 49'999);
  CHECK(b.retry_after_ms("10.0.195.79", 49'999) > 0);
}

TEST_CASE("the concurrency limit refuses at once beyond its holders and frees a slot on release") {
  ConcurrencyLimit lim(2);
  auto a = lim.try_acquire();
  auto b = lim.try_acquire();
  CHECK(a);
  CHECK(b);
  CHECK_FALSE(lim.try_acquire());
  CHECK(lim.in_use() == 2);
  a = ConcurrencyLimit::Slot();
  CHECK(lim.in_use() == 1);
  {
    auto c = lim.try_acquire();
    CHECK(c);
  }
  CHECK(lim.in_use() == 1);
}

TEST_CASE("IPv6 clients are limited per /64 and IPv4-mapped ones as their IPv4 address") {
  CHECK(client_key("192.0.2.7") == "192.0.2.7");
  CHECK(client_key("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9"));
  CHECK(client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1"));
  CHECK(client_key("") == "");
}

TEST_CASE("a token given back for work not done can be taken again, up to the burst") {
  TokenBucketLimiter tb({2, 1, 100});
  CHECK(tb.take("a", 0) == 0);
  CHECK(tb.take("a", 0) == 0);
  CHECK(tb.take("a", 0) > 0);
  tb.give_back("a");
  CHECK(tb.take("a", 0) == 0);
  tb.give_back("a");
  tb.give_back("a");
  tb.give_back("a");
  CHECK(tb.take("a", 0) == 0);
  CHECK(tb.take("a", 0) == 0);
  CHECK(tb.take("a", 0) > 0);
}
