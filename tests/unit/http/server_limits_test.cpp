// SPDX-License-Identifier: Apache-2.0
//
// The HTTP server's pure parts: the connection admission/eviction policy
// (ConnectionLimiter) and the bounded handler pool (WorkerPool).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "http/conn_limits.h"
#include "http/worker_pool.h"

using namespace vigil::http;
using vigil::Status;

TEST_CASE("connections are admitted freely below both caps") {
  ConnectionLimiter l(4, 4);
  for (int i = 0; i < 4; ++i) {
    auto a = l.admit("10.0.0.1", i);
    CHECK(a.admitted);
    CHECK_FALSE(a.evicted);
    CHECK(a.cap == ConnCap::kNone);
  }
  CHECK(l.size() == 4);
  CHECK(l.client_connections("10.0.0.1") == 4);
}

TEST_CASE("at the total cap the connection waiting longest for a request head makes room") {
  ConnectionLimiter l(3, 100);
  auto a = l.admit("10.0.0.1", 100);
  auto b = l.admit("10.0.0.2", 200);
  auto c = l.admit("10.0.0.3", 300);
  // b finished a request and went back to waiting: its wait starts again later than c's.
  REQUIRE(l.set_phase(b.id, ConnPhase::kBusy, 400));
  REQUIRE(l.set_phase(b.id, ConnPhase::kAwaitingHead, 500));
  auto d = l.admit("10.0.0.4", 600);
  REQUIRE(d.admitted);
  REQUIRE(d.evicted);
  CHECK(*d.evicted == a.id);
  CHECK(d.cap == ConnCap::kTotal);
  auto e = l.admit("10.0.0.5", 700);
  REQUIRE(e.evicted);
  CHECK(*e.evicted == c.id);  // c has waited since 300, b only since 500
  CHECK(l.size() == 3);
}

TEST_CASE("a connection with a request in progress is never evicted, so a full house of them refuses newcomers") {
  ConnectionLimiter l(2, 100);
  auto a = l.admit("10.0.0.1", 0);
  auto b = l.admit("10.0.0.2", 1);
  REQUIRE(l.set_phase(a.id, ConnPhase::kBusy, 2));
  REQUIRE(l.set_phase(b.id, ConnPhase::kBusy, 3));
  auto c = l.admit("10.0.0.3", 4);
  CHECK_FALSE(c.admitted);
  CHECK_FALSE(c.evicted);
  CHECK(c.cap == ConnCap::kTotal);
  CHECK(l.size() == 2);
  // One reply written, back to idle keep-alive: now there is someone to evict.
  REQUIRE(l.set_phase(a.id, ConnPhase::kAwaitingHead, 5));
  auto d = l.admit("10.0.0.3", 6);
  REQUIRE(d.admitted);
  CHECK(*d.evicted == a.id);
}

TEST_CASE("closing connections go first, then those waiting for a head, then slow bodies") {
  ConnectionLimiter l(3, 100);
  auto body = l.admit("10.0.0.1", 0);
  auto head = l.admit("10.0.0.2", 10);
  auto closing = l.admit("10.0.0.3", 20);
  REQUIRE(l.set_phase(body.id, ConnPhase::kReadingBody, 1));
  REQUIRE(l.set_phase(closing.id, ConnPhase::kClosing, 30));
  auto n1 = l.admit("10.0.0.4", 40);
  CHECK(*n1.evicted == closing.id);
  REQUIRE(l.set_phase(n1.id, ConnPhase::kBusy, 41));
  auto n2 = l.admit("10.0.0.5", 50);
  CHECK(*n2.evicted == head.id);
  REQUIRE(l.set_phase(n2.id, ConnPhase::kBusy, 51));
  auto n3 = l.admit("10.0.0.6", 60);
  CHECK(*n3.evicted == body.id);
}

TEST_CASE("a client at its own cap makes room among its own connections, not another client's") {
  ConnectionLimiter l(100, 2);
  auto other = l.admit("127.0.0.1", 0);  // oldest of all, but another client
  auto a = l.admit("127.0.0.2", 10);
  auto b = l.admit("127.0.0.2", 20);
  auto c = l.admit("127.0.0.2", 30);
  REQUIRE(c.admitted);
  REQUIRE(c.evicted);
  CHECK(*c.evicted == a.id);
  CHECK(c.cap == ConnCap::kPerClient);
  CHECK(l.client_connections("127.0.0.2") == 2);
  CHECK(l.client_connections("127.0.0.1") == 1);
  (void)other;
  (void)b;
}

TEST_CASE("loopback has the same per-client cap as anyone, and a client whose connections are all busy is refused") {
  ConnectionLimiter l(100, 2);
  auto a = l.admit("127.0.0.1", 0);
  auto b = l.admit("127.0.0.1", 1);
  REQUIRE(l.set_phase(a.id, ConnPhase::kBusy, 2));
  REQUIRE(l.set_phase(b.id, ConnPhase::kBusy, 3));
  auto c = l.admit("127.0.0.1", 4);
  CHECK_FALSE(c.admitted);
  CHECK(c.cap == ConnCap::kPerClient);
  CHECK(l.admit("192.0.2.7", 5).admitted);  // the server itself still has room
}

TEST_CASE("an evicted connection learns it when it next changes phase, and releasing it is harmless") {
  ConnectionLimiter l(1, 1);
  auto a = l.admit("10.0.0.1", 0);
  auto b = l.admit("10.0.0.1", 1);
  REQUIRE(*b.evicted == a.id);
  CHECK_FALSE(l.set_phase(a.id, ConnPhase::kBusy, 2));
  l.release(a.id);
  CHECK(l.size() == 1);
  CHECK(l.client_connections("10.0.0.1") == 1);
  l.release(b.id);
  CHECK(l.size() == 0);
  CHECK(l.client_connections("10.0.0.1") == 0);
}

TEST_CASE("requests in flight are the connections reading a body or busy") {
  ConnectionLimiter l(10, 10);
  auto a = l.admit("10.0.0.1", 0);
  auto b = l.admit("10.0.0.1", 0);
  auto c = l.admit("10.0.0.1", 0);
  CHECK(l.in_flight() == 0);
  REQUIRE(l.set_phase(a.id, ConnPhase::kReadingBody, 1));
  REQUIRE(l.set_phase(b.id, ConnPhase::kBusy, 1));
  CHECK(l.in_flight() == 2);
  REQUIRE(l.set_phase(a.id, ConnPhase::kBusy, 2));
  REQUIRE(l.set_phase(b.id, ConnPhase::kClosing, 2));
  CHECK(l.in_flight() == 1);
  l.release(a.id);
  CHECK(l.in_flight() == 0);
  (void)c;
}

TEST_CASE("a flood of idle connections from one address never pushes out a busy one") {
  ConnectionLimiter l(8, 8);
  auto legit = l.admit("127.0.0.1", 0);
  REQUIRE(l.set_phase(legit.id, ConnPhase::kBusy, 1));
  for (int i = 0; i < 1000; ++i) {
    auto a = l.admit("127.0.0.1", 2 + i);
    REQUIRE(a.admitted);
    if (a.evicted) CHECK(*a.evicted != legit.id);
  }
  CHECK(l.size() == 8);
  CHECK(l.set_phase(legit.id, ConnPhase::kAwaitingHead, 5000));
}

TEST_CASE("the worker pool runs jobs off the caller's thread") {
  WorkerPool pool(2, 8);
  CHECK(pool.threads() == 2);
  std::promise<std::thread::id> where;
  auto f = where.get_future();
  REQUIRE(pool.submit([&] { where.set_value(std::this_thread::get_id()); }).ok());
  REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(f.get() != std::this_thread::get_id());
  CHECK(pool.wait_idle(std::chrono::seconds(10)));
}

TEST_CASE("a full worker queue refuses at once with resource_exhausted instead of growing") {
  WorkerPool pool(1, 2);
  std::promise<void> started, release;
  auto release_f = release.get_future().share();
  REQUIRE(pool.submit([&, release_f] {
                started.set_value();
                release_f.wait_for(std::chrono::seconds(10));
              }).ok());
  started.get_future().wait();  // the one thread is busy
  std::atomic<int> ran{0};
  CHECK(pool.submit([&] { ++ran; }).ok());
  CHECK(pool.submit([&] { ++ran; }).ok());
  CHECK(pool.queued() == 2);
  Status s = pool.submit([&] { ++ran; });
  CHECK(s.code() == Status::Code::kResourceExhausted);
  release.set_value();
  REQUIRE(pool.wait_idle(std::chrono::seconds(10)));
  CHECK(ran == 2);
  CHECK(pool.submit([&] { ++ran; }).ok());  // room again
  REQUIRE(pool.wait_idle(std::chrono::seconds(10)));
  CHECK(ran == 3);
}

TEST_CASE("stopping the worker pool lets the running job finish, drops queued ones and refuses new ones") {
  auto pool = std::make_unique<WorkerPool>(1, 8);
  std::promise<void> started, release;
  auto release_f = release.get_future().share();
  std::atomic<bool> finished{false};
  REQUIRE(pool->submit([&, release_f] {
                 started.set_value();
                 release_f.wait_for(std::chrono::seconds(10));
                 finished = true;
               }).ok());
  started.get_future().wait();
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  std::atomic<bool> queued_ran{false};
  REQUIRE(pool->submit([&, token] { queued_ran = true; }).ok());
  token.reset();
  std::thread stopper([&] { pool->stop(); });
  while (pool->queued() != 0) std::this_thread::yield();  // stop() has dropped the queue
  release.set_value();
  stopper.join();
  CHECK(finished);
  CHECK_FALSE(queued_ran);
  CHECK(watch.expired());  // what the dropped job held is released
  CHECK(pool->submit([] {}).code() == Status::Code::kUnavailable);
  pool.reset();
}

TEST_CASE("a job that throws does not take its worker thread with it") {
  WorkerPool pool(1, 8);
  REQUIRE(pool.submit([] { throw std::runtime_error("handler bug"); }).ok());
  std::promise<void> done;
  REQUIRE(pool.submit([&] { done.set_value(); }).ok());
  CHECK(done.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
}
