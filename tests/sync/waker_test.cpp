#include "stakker/sync/waker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "stakker/runtime.hpp"

namespace {

using stakker::core;
using stakker::runtime;
using stakker::waker;

void run(runtime& rt) { rt.run(rt.now(), false); }

TEST(waker, making_one_without_a_poll_waker_throws) {
  runtime rt;
  EXPECT_THROW((void)rt.waker([](core&, bool) {}), std::logic_error);
}

TEST(waker, a_wake_runs_the_handler_on_the_next_run_and_calls_the_poll_waker_once) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  int calls = 0, deleted = 0;
  waker w = rt.waker([&](core&, bool del) { ++(del ? deleted : calls); });
  w.wake();
  w.wake();  // merged with the first: still one poll and one call
  EXPECT_EQ(polls, 1);
  EXPECT_EQ(calls, 0);  // never inline
  run(rt);
  EXPECT_EQ(calls, 1);
  w.wake();
  EXPECT_EQ(polls, 2);
  run(rt);
  EXPECT_EQ(calls, 2);
  run(rt);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(deleted, 0);
}

TEST(waker, destroying_it_delivers_one_deleted_call_and_frees_the_id_for_reuse) {
  runtime rt;
  rt.set_poll_waker([] {});
  int deleted = 0, other = 0;
  {
    waker w = rt.waker([&](core&, bool del) { deleted += del ? 1 : 0; });
    waker moved = std::move(w);
  }
  EXPECT_EQ(deleted, 0);
  run(rt);
  EXPECT_EQ(deleted, 1);
  waker again = rt.waker([&](core&, bool) { ++other; });
  again.wake();
  run(rt);
  EXPECT_EQ(other, 1);
  EXPECT_EQ(deleted, 1);
}

TEST(waker, a_waker_outliving_its_runtime_does_nothing) {
  auto rt = std::make_unique<runtime>();
  rt->set_poll_waker([] {});
  int calls = 0;
  waker w = rt->waker([&](core&, bool) { ++calls; });
  rt.reset();
  w.wake();
  w.reset();
  EXPECT_EQ(calls, 0);
}

TEST(waker, many_wakers_across_groups_each_get_their_call) {
  runtime rt;
  rt.set_poll_waker([] {});
  constexpr int n = 10000;  // more than one 4096-bit group
  std::vector<int> calls(n);
  std::vector<waker> ws;
  for (int i = 0; i < n; ++i)
    ws.push_back(rt.waker([&calls, i](core&, bool del) {
      if (!del) ++calls[static_cast<std::size_t>(i)];
    }));
  for (int i = 0; i < n; i += 3) ws[static_cast<std::size_t>(i)].wake();
  run(rt);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(calls[static_cast<std::size_t>(i)], i % 3 == 0 ? 1 : 0) << i;
}

// 4 threads × 100k wakes on 1000 wakers: no wake lost (each handler sees a call after the
// last wake), and every "deleted" delivered exactly once. Run under ThreadSanitizer in CI.
TEST(waker, threads_wake_concurrently_and_no_wake_is_lost) {
  runtime rt;
  std::atomic<int> polls{0};
  rt.set_poll_waker([&polls] { polls.fetch_add(1, std::memory_order_relaxed); });
  constexpr int wakers = 1000, threads = 4, per_thread = 100000;
  std::vector<std::atomic<std::uint64_t>> wakes(wakers);
  std::vector<std::uint64_t> seen(wakers, 0);
  std::vector<int> deleted(wakers, 0);
  std::vector<waker> ws;
  for (int i = 0; i < wakers; ++i)
    ws.push_back(rt.waker([&, i](core&, bool del) {
      auto k = static_cast<std::size_t>(i);
      if (del)
        ++deleted[k];
      else
        seen[k] = wakes[k].load(std::memory_order_acquire);
    }));
  std::atomic<int> done{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::uint32_t x = 12345u + static_cast<std::uint32_t>(t);
      for (int i = 0; i < per_thread; ++i) {
        x = x * 1664525u + 1013904223u;
        auto k = static_cast<std::size_t>(x % wakers);
        wakes[k].fetch_add(1, std::memory_order_acq_rel);
        ws[k].wake();
      }
      done.fetch_add(1, std::memory_order_release);
    });
  while (done.load(std::memory_order_acquire) < threads) run(rt);
  for (auto& th : pool) th.join();
  run(rt);
  for (std::size_t k = 0; k < wakers; ++k)
    ASSERT_EQ(seen[k], wakes[k].load()) << "waker " << k << " lost its last wake";
  EXPECT_GT(polls.load(), 0);
  // Destroy the wakers from the threads.
  std::vector<std::thread> droppers;
  for (int t = 0; t < threads; ++t)
    droppers.emplace_back([&, t] {
      for (std::size_t k = static_cast<std::size_t>(t); k < wakers; k += threads) ws[k].reset();
    });
  for (auto& th : droppers) th.join();
  run(rt);
  for (std::size_t k = 0; k < wakers; ++k) ASSERT_EQ(deleted[k], 1) << k;
}

}  // namespace
