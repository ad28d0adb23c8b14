// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/sync/waker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::runtime;
using stakker::waker;
using stakker::testing::counted;
using stakker::testing::counts;

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

// --- Handlers that change the waker table, throw, or drop their own waker ---

// The handler's captures live inside the table (two references: stored in place by
// std::function). Growing the table under a running handler freed them (ASan).
TEST(waker, a_handler_that_creates_wakers_does_not_invalidate_the_running_handler) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<waker> made;
  int made_calls = 0, after = 0;
  waker w = rt.waker([&made, &after](core& c, bool deleted) {
    if (deleted) return;
    for (int i = 0; i < 200; ++i) made.push_back(c.waker([](core&, bool) {}));
    ++after;  // reads a capture after the table grew
  });
  w.wake();
  run(rt);
  EXPECT_EQ(after, 1);
  ASSERT_EQ(made.size(), 200u);
  made[0] = rt.waker([&made_calls](core&, bool deleted) { made_calls += deleted ? 0 : 1; });
  made[0].wake();
  run(rt);
  EXPECT_EQ(made_calls, 1);
}

TEST(waker, a_deleted_call_that_creates_wakers_does_not_disturb_the_other_deleted_calls) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  std::vector<waker> made;
  int deleted_calls = 0;
  {
    waker first = rt.waker([&made, &deleted_calls](core& co, bool deleted) {
      if (!deleted) return;
      ++deleted_calls;
      for (int i = 0; i < 100; ++i) made.push_back(co.waker([](core&, bool) {}));
    });
    waker second = rt.waker([k = counted(c), &deleted_calls](core&, bool deleted) {
      if (deleted) deleted_calls += k.value() + 1;
    });
  }
  run(rt);
  EXPECT_EQ(deleted_calls, 2);
  EXPECT_EQ(made.size(), 100u);
  EXPECT_TRUE(c.balanced());  // the second handler went with its deleted call
}

TEST(waker, a_handler_that_destroys_another_waker_gives_it_exactly_one_deleted_call) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  auto victim = std::make_unique<waker>();
  int victim_deleted = 0, victim_calls = 0;
  waker killer = rt.waker([&victim](core&, bool deleted) {
    if (!deleted) victim.reset();
  });
  *victim = rt.waker([&, k = counted(c)](core&, bool deleted) {
    (void)k.value();
    ++(deleted ? victim_deleted : victim_calls);
  });
  victim->wake();
  killer.wake();
  run(rt);
  run(rt);
  EXPECT_EQ(victim_deleted, 1);
  EXPECT_LE(victim_calls, 1);  // its wake may still be delivered (a spurious call is allowed)
  EXPECT_TRUE(c.balanced());
}

TEST(waker, a_handler_that_resets_its_own_waker_gets_one_deleted_call_after_it_returns) {
  runtime rt;
  rt.set_poll_waker([] {});
  counts c;
  waker w;
  std::vector<std::string> log;
  w = rt.waker([&w, &log, k = counted(c)](core&, bool deleted) {
    (void)k.value();  // the handler is intact while it runs
    log.push_back(deleted ? "deleted" : "wake");
    if (!deleted) w.reset();
  });
  w.wake();
  run(rt);
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"wake", "deleted"}));
  EXPECT_TRUE(c.balanced());
}

// The thrower is id 0; the others sit in the same bit word, another word of the same group,
// and another group, so every level of the bitmap has wake-ups left to put back.
TEST(waker, a_throwing_handler_propagates_and_the_other_wakes_are_delivered_on_the_next_run) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  constexpr std::size_t n = 5000;
  std::vector<int> calls(n, 0);
  std::vector<waker> ws;
  for (std::size_t i = 0; i < n; ++i)
    ws.push_back(rt.waker([&calls, i](core&, bool deleted) {
      if (deleted) return;
      ++calls[i];
      if (i == 0) throw std::runtime_error("handler 0 broke");
    }));
  const std::vector<std::size_t> woken{0, 1, 63, 64, 200, 4095, 4096, 4999};
  for (std::size_t i : woken) ws[i].wake();
  const int polls_before = polls;
  EXPECT_THROW(run(rt), std::runtime_error);
  EXPECT_GT(polls, polls_before) << "the loop must be woken for the wakes left over";
  run(rt);
  for (std::size_t i = 0; i < n; ++i) {
    const bool was_woken = std::find(woken.begin(), woken.end(), i) != woken.end();
    ASSERT_EQ(calls[i], was_woken ? 1 : 0) << "waker " << i;
  }
  // And wakes keep working afterwards.
  ws[4999].wake();
  ws[1].wake();
  run(rt);
  EXPECT_EQ(calls[4999], 2);
  EXPECT_EQ(calls[1], 2);
}

TEST(waker, a_throwing_deleted_call_propagates_and_the_other_deleted_calls_follow_on_the_next_run) {
  runtime rt;
  int polls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  counts c;
  int deleted_calls = 0;
  {
    std::vector<waker> ws;
    for (int i = 0; i < 4; ++i)
      ws.push_back(rt.waker([&deleted_calls, i, k = counted(c)](core&, bool deleted) {
        if (!deleted) return;
        ++deleted_calls;
        if (i == 0) throw std::runtime_error("deleted call 0 broke");
      }));
  }  // destroyed in order: waker 0 first
  const int polls_before = polls;
  EXPECT_THROW(run(rt), std::runtime_error);
  EXPECT_EQ(deleted_calls, 1);
  EXPECT_GT(polls, polls_before);
  run(rt);
  EXPECT_EQ(deleted_calls, 4);
  EXPECT_TRUE(c.balanced());  // every handler destroyed once, the thrower's too
  // The freed ids are reused normally.
  int calls = 0;
  waker again = rt.waker([&calls](core&, bool deleted) { calls += deleted ? 0 : 1; });
  again.wake();
  run(rt);
  EXPECT_EQ(calls, 1);
}

TEST(waker, poll_wake_from_inside_a_handler_is_refused_with_logic_error) {
  runtime rt;
  rt.set_poll_waker([] {});
  int calls = 0;
  waker w = rt.waker([&calls](core& c, bool deleted) {
    if (deleted) return;
    ++calls;
    if (calls == 1) c.poll_wake();
  });
  w.wake();
  EXPECT_THROW(run(rt), std::logic_error);
  w.wake();
  run(rt);
  EXPECT_EQ(calls, 2);
}

// --- Replacing and clearing the poll waker (what a loop does when it goes) ---

TEST(waker, the_poll_waker_may_be_replaced_while_wakers_exist) {
  runtime rt;
  int first = 0, second = 0, calls = 0;
  rt.set_poll_waker([&first] { ++first; });
  waker w = rt.waker([&calls](core&, bool deleted) { calls += deleted ? 0 : 1; });
  w.wake();
  EXPECT_EQ(first, 1);
  run(rt);
  EXPECT_NO_THROW(rt.set_poll_waker([&second] { ++second; }));
  w.wake();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  run(rt);
  EXPECT_EQ(calls, 2);
}

// A wake that reached the old poll waker (a loop now gone) must not be stranded: the new
// one is called at once when wake-ups are waiting.
TEST(waker, a_new_poll_waker_is_called_at_once_if_wakes_are_waiting) {
  runtime rt;
  rt.set_poll_waker([] {});
  int calls = 0, polls = 0;
  waker w = rt.waker([&calls](core&, bool deleted) { calls += deleted ? 0 : 1; });
  w.wake();
  rt.clear_poll_waker();
  rt.set_poll_waker([&polls] { ++polls; });
  EXPECT_EQ(polls, 1);
  run(rt);
  EXPECT_EQ(calls, 1);
}

TEST(waker, after_the_poll_waker_is_cleared_new_wakers_are_refused_and_wakes_wait_for_a_run) {
  runtime rt;
  int polls = 0, calls = 0;
  rt.set_poll_waker([&polls] { ++polls; });
  waker w = rt.waker([&calls](core&, bool deleted) { calls += deleted ? 0 : 1; });
  rt.clear_poll_waker();
  EXPECT_THROW((void)rt.waker([](core&, bool) {}), std::logic_error);
  w.wake();  // nobody to call: the wake waits
  EXPECT_EQ(polls, 0);
  run(rt);
  EXPECT_EQ(calls, 1);
}

}  // namespace
