// SPDX-License-Identifier: MIT OR Apache-2.0
// Timers for coroutines (docs/design.md, "Push and pull"): sleep_for, sleep_until and with_timeout
// in virtual time (contracts R3 and K3: never early, and a destroyed task's timer goes).
#include "stakker/coro/sleep.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/coro/async_generator.hpp"
#include "stakker/coro/fwd_stream.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/spawn.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor_own;
using stakker::core;
using stakker::cx;
using stakker::duration;
using stakker::fwd;
using stakker::instant;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::async_generator;
using stakker::coro::fwd_stream;
using stakker::coro::ret_pipe;
using stakker::coro::sleep_for;
using stakker::coro::sleep_until;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::coro::with_timeout;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

// When a task woke, as an offset from the loop's start.
struct wake_log {
  std::vector<std::pair<int, duration>> woke;  // (tag, time since t0)
};

task<void> sleep_then_note(core& c, duration d, int tag, wake_log* log, instant t0) {
  co_await sleep_for(c, d);
  log->woke.emplace_back(tag, c.now() - t0);
}

task<void> sleep_until_then_note(core& c, instant t, int tag, wake_log* log, instant t0) {
  co_await sleep_until(c, t);
  log->woke.emplace_back(tag, c.now() - t0);
}

// Sleeps `d` holding a counted local, then gives `v`.
task<int> slow_value(core& c, duration d, int v, counts* k) {
  counted local(*k, v);
  co_await sleep_for(c, d);
  co_return local.value();
}

task<void> slow_void(core& c, duration d, counts* k) {
  counted local(*k);
  co_await sleep_for(c, d);
}

// An actor whose tasks are tied to it.
struct host {
  static host init(cx<host>&) { return {}; }
  void start(cx<host>& x, task<void> t, ret<void> r) { spawn(x, std::move(t), std::move(r)); }
};

using entry = std::pair<int, duration>;

// Yields each value a ret_pipe receives; the rets are handed out through `asks`.
async_generator<int> replies(core& c, std::vector<ret<int>>* asks) {
  for (;;) {
    auto [aw, r] = ret_pipe<int>(c);
    asks->push_back(std::move(r));
    co_yield co_await std::move(aw);
  }
}

}  // namespace

// --- sleep_for, sleep_until ---

TEST(sleep, sleep_for_resumes_at_the_right_virtual_time_and_not_before) {
  virtual_loop loop;
  const instant t0 = loop.now();
  wake_log log;
  spawn(loop.rt(), sleep_then_note(loop.rt(), 10ms, 1, &log, t0), ret_nop<void>());
  loop.run();
  EXPECT_EQ(loop.rt().timer_count(), 1u);
  for (int ms = 1; ms < 10; ++ms) {
    loop.advance(1ms);
    ASSERT_TRUE(log.woke.empty()) << "woke early, at " << ms << " ms";
  }
  loop.advance(1ms);
  EXPECT_EQ(log.woke, (std::vector<entry>{{1, 10ms}}));
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(sleep, sleep_until_resumes_at_that_instant_and_not_before) {
  virtual_loop loop;
  const instant t0 = loop.now();
  wake_log log;
  spawn(loop.rt(), sleep_until_then_note(loop.rt(), t0 + 25ms, 2, &log, t0), ret_nop<void>());
  loop.run();
  loop.advance(24ms);
  loop.advance(999us);
  EXPECT_TRUE(log.woke.empty());
  loop.advance(1us);
  EXPECT_EQ(log.woke, (std::vector<entry>{{2, 25ms}}));
}

TEST(sleep, the_deadline_is_taken_when_the_task_reaches_the_await) {
  virtual_loop loop;
  const instant t0 = loop.now();
  wake_log log;
  spawn(
      loop.rt(),
      [](core& c, wake_log* l, instant start) -> task<void> {
        co_await sleep_for(c, 5ms);
        co_await sleep_for(c, 5ms);  // from 5 ms: wakes at 10 ms
        l->woke.emplace_back(3, c.now() - start);
      }(loop.rt(), &log, t0),
      ret_nop<void>());
  loop.run();
  loop.advance(7ms);  // late for the first sleep: the second starts at 7 ms
  loop.advance(4ms);
  EXPECT_TRUE(log.woke.empty());
  loop.advance(1ms);
  EXPECT_EQ(log.woke, (std::vector<entry>{{3, 12ms}}));
}

TEST(sleep, sleepers_resume_in_deadline_order_even_after_one_big_jump) {
  virtual_loop loop;
  const instant t0 = loop.now();
  wake_log log;
  spawn(loop.rt(), sleep_then_note(loop.rt(), 30ms, 30, &log, t0), ret_nop<void>());
  spawn(loop.rt(), sleep_then_note(loop.rt(), 10ms, 10, &log, t0), ret_nop<void>());
  spawn(loop.rt(), sleep_until_then_note(loop.rt(), t0 + 20ms, 20, &log, t0), ret_nop<void>());
  loop.run();
  loop.advance(1s);
  ASSERT_EQ(log.woke.size(), 3u);
  EXPECT_EQ(log.woke[0].first, 10);
  EXPECT_EQ(log.woke[1].first, 20);
  EXPECT_EQ(log.woke[2].first, 30);
  for (const auto& w : log.woke) EXPECT_EQ(w.second, 1s);  // all woke in the run at 1 s
}

TEST(sleep, a_zero_or_negative_sleep_does_not_suspend) {
  virtual_loop loop;
  const instant t0 = loop.now();
  wake_log log;
  spawn(loop.rt(), sleep_then_note(loop.rt(), 0ms, 1, &log, t0), ret_nop<void>());
  spawn(loop.rt(), sleep_then_note(loop.rt(), -5ms, 2, &log, t0), ret_nop<void>());
  spawn(loop.rt(), sleep_until_then_note(loop.rt(), t0 - 1s, 3, &log, t0), ret_nop<void>());
  spawn(loop.rt(), sleep_until_then_note(loop.rt(), t0, 4, &log, t0), ret_nop<void>());
  loop.run();  // no time passes
  EXPECT_EQ(log.woke, (std::vector<entry>{{1, 0ms}, {2, 0ms}, {3, 0ms}, {4, 0ms}}));
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(sleep, many_zero_sleeps_in_a_row_do_not_overflow_the_stack) {
  virtual_loop loop;
  std::optional<int> got;
  spawn(
      loop.rt(),
      [](core& c) -> task<int> {
        int n = 0;
        for (; n < 100'000; ++n) co_await sleep_for(c, 0ms);
        co_return n;
      }(loop.rt()),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  loop.run();
  EXPECT_EQ(got, 100'000);
}

TEST(sleep, a_task_destroyed_while_sleeping_deletes_its_timer_and_never_resumes) {
  virtual_loop loop;
  counts k;
  int answers = 0;
  bool resumed = false;
  actor_own<host> h = make_actor<&host::init>(loop.rt(), ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](core& c, counts* kk, bool* after) -> task<void> {
        counted local(*kk);
        co_await sleep_for(c, 10ms);
        *after = true;
      }(loop.rt(), &k, &resumed),
      ret_do<void>([&](std::optional<std::monostate>) { ++answers; }));
  loop.run();
  loop.advance(5ms);
  EXPECT_EQ(loop.rt().timer_count(), 1u);
  EXPECT_EQ(k.alive(), 1);
  h.kill("owner stopped");
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);
  EXPECT_EQ(answers, 1);
  loop.advance(1s);
  EXPECT_FALSE(resumed);
  EXPECT_EQ(answers, 1);
}

TEST(sleep, destroying_the_runtime_while_a_task_sleeps_destroys_the_task_once) {
  counts k;
  bool resumed = false;
  std::optional<bool> none;
  {
    virtual_loop loop;
    spawn(
        loop.rt(),
        [](core& c, counts* kk, bool* after) -> task<void> {
          counted local(*kk);
          co_await sleep_for(c, 10ms);
          *after = true;
        }(loop.rt(), &k, &resumed),
        ret_do<void>([&](std::optional<std::monostate> v) { none = !v; }));
    loop.run();
    EXPECT_EQ(k.alive(), 1);
  }
  EXPECT_TRUE(k.balanced());
  EXPECT_FALSE(resumed);
  EXPECT_EQ(none, true);
}

// --- with_timeout ---

TEST(with_timeout, gives_the_value_when_the_awaitable_finishes_first) {
  virtual_loop loop;
  const instant t0 = loop.now();
  counts k;
  std::optional<std::optional<int>> got;
  std::optional<duration> at;
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::optional<duration>* when,
         instant start) -> task<std::optional<int>> {
        auto v = co_await with_timeout(c, 10ms, slow_value(c, 5ms, 7, kk));
        *when = c.now() - start;
        co_return v;
      }(loop.rt(), &k, &at, t0),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { got = v; }));
  loop.run();
  for (int i = 0; i < 20; ++i) loop.advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 7);
  EXPECT_EQ(at, 5ms);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);  // the timeout's timer went with the loser
}

TEST(with_timeout, gives_nullopt_when_the_timeout_wins_and_destroys_the_awaitable_where_it_waits) {
  virtual_loop loop;
  const instant t0 = loop.now();
  counts k;
  std::optional<std::optional<int>> got;
  std::optional<long> alive_at_resume;
  std::optional<duration> at;
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::optional<long>* alive, std::optional<duration>* when,
         instant start) -> task<std::optional<int>> {
        auto v = co_await with_timeout(c, 10ms, slow_value(c, 1s, 7, kk));
        *alive = kk->alive();
        *when = c.now() - start;
        co_return v;
      }(loop.rt(), &k, &alive_at_resume, &at, t0),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { got = v; }));
  loop.run();
  for (int i = 0; i < 9; ++i) loop.advance(1ms);
  EXPECT_FALSE(got);
  EXPECT_EQ(k.alive(), 1);
  loop.advance(1ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, std::nullopt);
  EXPECT_EQ(at, 10ms);
  EXPECT_EQ(alive_at_resume, 0);  // the loser was destroyed before the task went on
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);  // and its sleep's timer with it
}

TEST(with_timeout, for_a_void_awaitable_gives_whether_it_finished) {
  virtual_loop loop;
  counts k;
  std::optional<bool> fast;
  std::optional<bool> slow;
  spawn(
      loop.rt(),
      [](core& c, counts* kk) -> task<bool> {
        co_return co_await with_timeout(c, 10ms, slow_void(c, 3ms, kk));
      }(loop.rt(), &k),
      ret_do<bool>([&](std::optional<bool> v) { fast = v; }));
  spawn(
      loop.rt(),
      [](core& c, counts* kk) -> task<bool> {
        co_return co_await with_timeout(c, 10ms, slow_void(c, 30ms, kk));
      }(loop.rt(), &k),
      ret_do<bool>([&](std::optional<bool> v) { slow = v; }));
  loop.run();
  for (int i = 0; i < 50; ++i) loop.advance(1ms);
  EXPECT_EQ(fast, true);
  EXPECT_EQ(slow, false);
  EXPECT_TRUE(k.balanced());
  static_assert(
      std::is_same_v<decltype(with_timeout(std::declval<core&>(), 1ms, std::declval<task<void>>())),
                     task<bool>>);
  static_assert(
      std::is_same_v<decltype(with_timeout(std::declval<core&>(), 1ms, std::declval<task<int>>())),
                     task<std::optional<int>>>);
}

TEST(with_timeout, wraps_a_ret_pipe_whose_value_arrives_in_time) {
  virtual_loop loop;
  auto [aw, r] = ret_pipe<int>(loop.rt());
  std::optional<std::optional<int>> got;
  spawn(
      loop.rt(),
      [](core& c, auto a) -> task<std::optional<int>> {
        co_return co_await with_timeout(c, 10ms, std::move(a));
      }(loop.rt(), std::move(aw)),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { got = v; }));
  loop.run();
  loop.advance(9ms);
  r(42);
  loop.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 42);
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(with_timeout, a_ret_pipe_that_times_out_is_disarmed_so_its_late_ret_does_nothing) {
  virtual_loop loop;
  auto [aw, r] = ret_pipe<int>(loop.rt());
  std::optional<std::optional<int>> got;
  int answers = 0;
  spawn(
      loop.rt(),
      [](core& c, auto a) -> task<std::optional<int>> {
        co_return co_await with_timeout(c, 10ms, std::move(a));
      }(loop.rt(), std::move(aw)),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) {
        ++answers;
        got = v;
      }));
  loop.run();
  loop.advance(10ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, std::nullopt);
  r(1);  // late
  loop.advance(1ms);
  EXPECT_EQ(answers, 1);
}

TEST(with_timeout, a_zero_timeout_gives_a_ready_value_and_nullopt_otherwise_without_waiting) {
  virtual_loop loop;
  counts k;
  std::optional<std::optional<int>> ready;
  std::optional<std::optional<int>> pending;
  spawn(
      loop.rt(),
      [](core& c) -> task<std::optional<int>> {
        co_return co_await with_timeout(c, 0ms, []() -> task<int> { co_return 3; }());
      }(loop.rt()),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { ready = v; }));
  spawn(
      loop.rt(),
      [](core& c, counts* kk) -> task<std::optional<int>> {
        co_return co_await with_timeout(c, 0ms, slow_value(c, 1ms, 3, kk));
      }(loop.rt(), &k),
      ret_do<std::optional<int>>([&](std::optional<std::optional<int>> v) { pending = v; }));
  loop.run();  // no time passes
  ASSERT_TRUE(ready);
  EXPECT_EQ(*ready, 3);
  ASSERT_TRUE(pending);
  EXPECT_EQ(*pending, std::nullopt);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(with_timeout, an_exception_from_the_awaitable_propagates) {
  virtual_loop loop;
  std::string caught;
  spawn(
      loop.rt(),
      [](core& c, std::string* out) -> task<void> {
        try {
          co_await with_timeout(c, 10ms, [](core& cc) -> task<int> {
            co_await sleep_for(cc, 1ms);
            throw std::runtime_error("inner failed");
          }(c));
        } catch (const std::runtime_error& e) {
          *out = e.what();
        }
      }(loop.rt(), &caught),
      ret_nop<void>());
  loop.run();
  loop.advance(1ms);
  EXPECT_EQ(caught, "inner failed");
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(with_timeout, a_task_destroyed_while_it_waits_destroys_both_sides_and_their_timers) {
  virtual_loop loop;
  counts k;
  int answers = 0;
  actor_own<host> h = make_actor<&host::init>(loop.rt(), ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](core& c, counts* kk) -> task<void> {
        counted local(*kk);
        co_await with_timeout(c, 1s, slow_void(c, 2s, kk));
      }(loop.rt(), &k),
      ret_do<void>([&](std::optional<std::monostate>) { ++answers; }));
  loop.run();
  loop.advance(1ms);
  EXPECT_EQ(k.alive(), 2);
  EXPECT_EQ(loop.rt().timer_count(), 2u);
  h.kill("owner stopped");
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);
  EXPECT_EQ(answers, 1);
  loop.advance(5s);
  EXPECT_EQ(answers, 1);
}

// --- with_timeout: a value and the timeout in the same run (a regression) ---
//
// In both tests a value's wake is queued after the timeout's timer closure but before the
// awaiting task resumes: the timer registered first (same instant) delivers the value, then
// the timeout's timer ends the sleep, so the loser's wake sits in the queue when the winner
// finishes. The loser must be gone by then, leaving the value for the next next().

TEST(with_timeout,
     a_fwd_stream_value_arriving_in_the_run_the_timeout_fires_is_kept_for_the_next_next) {
  virtual_loop loop;
  auto [reader, f] = fwd_stream<int>(loop.core());
  std::vector<std::string> log;
  loop.core().after(10ms, [f = f](core&) { f(7); });  // due with the timeout, queued first
  spawn(
      loop.rt(),
      [](core& c, decltype(reader) rd, std::vector<std::string>* out) -> task<void> {
        auto first = co_await with_timeout(c, 10ms, rd.next());
        out->push_back(first ? "value" : "timeout");
        auto second = co_await rd.next();
        out->push_back(second ? std::to_string(*second) : "end");
      }(loop.core(), std::move(reader), &log),
      ret_nop<void>());
  loop.run();
  loop.advance(10ms);
  f(std::nullopt);
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "7"}));
}

TEST(with_timeout,
     a_generator_value_arriving_in_the_run_the_timeout_fires_is_kept_for_the_next_next) {
  virtual_loop loop;
  std::vector<ret<int>> asks;
  std::vector<std::string> log;
  // Due with the timeout and registered first: answers the generator's pending ret_pipe,
  // which queues the generator's resumption behind the timeout's.
  loop.core().after(10ms, [&asks](core&) { asks.at(0)(5); });
  spawn(
      loop.rt(),
      [](core& c, std::vector<ret<int>>* a, std::vector<std::string>* out) -> task<void> {
        auto gen = replies(c, a);
        auto first = co_await with_timeout(c, 10ms, gen.next());
        out->push_back(first && *first ? std::to_string(**first) : "timeout");
        auto second = co_await with_timeout(c, 10ms, gen.next());
        out->push_back(second && *second ? std::to_string(**second) : "timeout");
      }(loop.core(), &asks, &log),
      ret_nop<void>());
  loop.run();
  ASSERT_EQ(asks.size(), 1u);
  loop.advance(10ms);
  loop.advance(10ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "5"}));
}
