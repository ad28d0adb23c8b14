// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/testing/virtual_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "stakker/sync/channel.hpp"
#include "stakker/sync/waker.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::testing::virtual_loop;

TEST(virtual_loop, a_waker_woken_from_another_thread_is_delivered_by_wait_for_wake) {
  virtual_loop loop;
  int calls = 0;
  // A real loop installs a poll waker; without one, making a waker would throw.
  stakker::waker w = loop.core().waker([&](stakker::core&, bool deleted) {
    if (!deleted) ++calls;
  });
  std::thread t([&] { w.wake(); });
  t.join();
  EXPECT_TRUE(loop.wait_for_wake(5s));
  EXPECT_EQ(calls, 1);
}

TEST(virtual_loop, wait_for_wake_gives_false_after_its_timeout_when_nothing_wakes) {
  virtual_loop loop;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(loop.wait_for_wake(20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 19ms);
}

TEST(virtual_loop, values_sent_on_a_channel_by_threads_arrive_in_virtual_time) {
  virtual_loop loop;
  std::atomic<int> sum{0};
  int received = 0;
  auto [tx, guard] = stakker::make_channel<int>(loop.core(), stakker::fwd_do<int>([&](int v) {
                                                  ++received;
                                                  sum += v;
                                                }));
  std::thread t([tx = tx] {
    for (int i = 1; i <= 100; ++i) tx.send(i);
  });
  t.join();
  for (int i = 0; i < 100 && received < 100; ++i) loop.wait_for_wake(1s);
  EXPECT_EQ(received, 100);
  EXPECT_EQ(sum.load(), 5050);
  EXPECT_EQ(loop.now(), virtual_loop().now());  // the clock did not move
}

}  // namespace
