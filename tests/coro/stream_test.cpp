// SPDX-License-Identifier: MIT OR Apache-2.0
// Stream → fwd (docs/design.md, "Push and pull"): async_generator,
// awaited directly with next() or forwarded to a fwd by spawn_stream (contracts K1–K4).
#include "stakker/coro/async_generator.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/sleep.hpp"
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
using stakker::fwd_do;
using stakker::fwd_to;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::async_generator;
using stakker::coro::ret_pipe;
using stakker::coro::sleep_for;
using stakker::coro::spawn;
using stakker::coro::spawn_stream;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

using opt_log = std::vector<std::optional<int>>;

using coro_test::run;

fwd<std::optional<int>> record_into(opt_log& log) {
  return fwd_do<std::optional<int>>([&log](std::optional<int> v) { log.push_back(v); });
}

opt_log values_then_end(int n) {
  opt_log out;
  for (int i = 0; i < n; ++i) out.emplace_back(i);
  out.emplace_back(std::nullopt);
  return out;
}

async_generator<int> count_up(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

// Yields twice each value a ret_pipe receives; the rets are handed out through `asks`.
async_generator<int> doubled_replies(core& c, std::vector<ret<int>>* asks, int n) {
  for (int i = 0; i < n; ++i) {
    auto [aw, r] = ret_pipe<int>(c);
    asks->push_back(std::move(r));
    int v = co_await std::move(aw);
    co_yield 2 * v;
  }
}

// Sleeps `step` before each value.
async_generator<int> sleepy(core& c, duration step, int n) {
  for (int i = 0; i < n; ++i) {
    co_await sleep_for(c, step);
    co_yield i;
  }
}

// Counts its locals: one for the whole body, one per step (alive while suspended there).
async_generator<int> counted_values(counts& k, int n) {
  counted whole(k, -1);
  for (int i = 0; i < n; ++i) {
    counted step(k, i);
    co_yield step.value();
  }
}

// Like counted_values, but each step also waits on a timer.
async_generator<int> counted_sleepy(core& c, counts& k, int n) {
  counted whole(k, -1);
  for (int i = 0; i < n; ++i) {
    counted step(k, i);
    co_await sleep_for(c, 10ms);
    co_yield i;
  }
}

// Like doubled_replies, with counted locals.
async_generator<int> counted_replies(core& c, counts& k, std::vector<ret<int>>* asks) {
  counted whole(k, -1);
  for (;;) {
    counted step(k);
    auto [aw, r] = ret_pipe<int>(c);
    asks->push_back(std::move(r));
    co_yield co_await std::move(aw);
  }
}

async_generator<int> yields_then_throws(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
  throw std::runtime_error("generator broke");
}

// The values a task read from a generator, and what it saw after the end.
struct reading {
  opt_log seen;
  bool again_empty = false;
  std::string error;
};

template <class T>
task<void> read_all(async_generator<T> gen, reading* out) {
  try {
    while (auto v = co_await gen.next()) out->seen.emplace_back(*v);
    out->seen.emplace_back(std::nullopt);
  } catch (const std::exception& e) {
    out->error = e.what();
  }
  auto again = co_await gen.next();  // no co_await inside a handler
  out->again_empty = !again.has_value();
}

// A consumer actor: forwarded values arrive as queued calls to a member.
struct collector {
  opt_log* log;
  static collector init(cx<collector>&, opt_log* log) { return collector{log}; }
  void on_value(cx<collector>&, std::optional<int> v) { log->push_back(v); }
};

// An actor that runs tasks tied to itself.
struct host {
  static host init(cx<host>&) { return {}; }
  void start(cx<host>& x, task<long> t, ret<long> r) { spawn(x, std::move(t), std::move(r)); }
};

// An actor that runs a stream tied to itself.
struct streamer {
  static streamer init(cx<streamer>& x, counts* k, opt_log* log) {
    spawn_stream(x, counted_sleepy(x.core(), *k, 100), record_into(*log));
    return {};
  }
};

// A generator that sleeps between values.
async_generator<int> slow_numbers(core& c) {
  for (int i = 1; i <= 3; ++i) {
    co_await sleep_for(c, 20ms);
    co_yield i;
  }
}

}  // namespace

// --- spawn_stream: Stream → Fwd ---

TEST(spawn_stream, forwards_every_value_then_nullopt_in_order) {
  runtime rt;
  opt_log log;
  spawn_stream(rt, count_up(100), record_into(log));
  EXPECT_TRUE(log.empty());  // queued: nothing runs inside spawn_stream
  run(rt);
  EXPECT_EQ(log, values_then_end(100));
}

TEST(spawn_stream, a_default_made_or_moved_from_generator_is_a_logic_error_before_anything_runs) {
  runtime rt;
  opt_log log;
  EXPECT_THROW(spawn_stream(rt, async_generator<int>(), record_into(log)), std::logic_error);
  auto g = count_up(2);
  auto h = std::move(g);
  EXPECT_THROW(spawn_stream(rt, std::move(g), record_into(log)), std::logic_error);
  run(rt);
  EXPECT_TRUE(log.empty());
}

TEST(spawn_stream, an_empty_generator_forwards_only_nullopt) {
  runtime rt;
  opt_log log;
  spawn_stream(rt, count_up(0), record_into(log));
  run(rt);
  EXPECT_EQ(log, opt_log{std::nullopt});
}

TEST(spawn_stream, forwards_to_an_actor_member_as_queued_calls_in_order) {
  runtime rt;
  opt_log log;
  actor_own<collector> c = make_actor<&collector::init>(rt, ret_nop<stop_cause>(), &log);
  spawn_stream(rt, count_up(20), fwd_to<std::optional<int>, &collector::on_value>(c.ref()));
  run(rt);
  EXPECT_EQ(log, values_then_end(20));
}

TEST(spawn_stream, a_long_generator_of_ready_values_does_not_overflow_the_stack) {
  runtime rt;
  long count = 0;
  long sum = 0;
  bool ended = false;
  spawn_stream(rt, count_up(200'000), fwd_do<std::optional<int>>([&](std::optional<int> v) {
                 if (v) {
                   ++count;
                   sum += *v;
                 } else {
                   ended = true;
                 }
               }));
  run(rt);
  EXPECT_EQ(count, 200'000);
  EXPECT_EQ(sum, 200'000L * 199'999L / 2);
  EXPECT_TRUE(ended);
}

TEST(spawn_stream,
     a_generator_awaiting_a_ret_pipe_between_yields_forwards_each_value_when_it_arrives) {
  runtime rt;
  opt_log log;
  std::vector<ret<int>> asks;
  spawn_stream(rt, doubled_replies(rt, &asks, 3), record_into(log));
  run(rt);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_TRUE(log.empty());
  asks[0](5);
  EXPECT_TRUE(log.empty());  // the wake-up is queued, never inline
  run(rt);
  EXPECT_EQ(log, (opt_log{10}));
  ASSERT_EQ(asks.size(), 2u);
  asks[1](7);
  run(rt);
  ASSERT_EQ(asks.size(), 3u);
  asks[2](-1);
  run(rt);
  EXPECT_EQ(log, (opt_log{10, 14, -2, std::nullopt}));
}

TEST(spawn_stream, a_generator_sleeping_between_yields_forwards_each_value_at_its_virtual_time) {
  virtual_loop loop;
  const auto t0 = loop.now();
  std::vector<std::pair<std::optional<int>, duration>> log;
  spawn_stream(loop.rt(), sleepy(loop.rt(), 10ms, 3),
               fwd_do<std::optional<int>>(
                   [&](std::optional<int> v) { log.emplace_back(v, loop.rt().now() - t0); }));
  loop.run();
  EXPECT_TRUE(log.empty());
  for (int ms = 1; ms <= 9; ++ms) {
    loop.advance(1ms);
    EXPECT_TRUE(log.empty()) << "at " << ms << " ms";
  }
  for (int ms = 10; ms <= 40; ++ms) loop.advance(1ms);
  using entry = std::pair<std::optional<int>, duration>;
  EXPECT_EQ(log, (std::vector<entry>{{0, 10ms}, {1, 20ms}, {2, 30ms}, {std::nullopt, 30ms}}));
}

TEST(spawn_stream, a_generator_that_throws_still_ends_the_stream_and_the_exception_is_reported) {
  runtime rt;
  opt_log log;
  spawn_stream(rt, yields_then_throws(2), record_into(log));
  ::testing::internal::CaptureStderr();
  run(rt);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log, (opt_log{0, 1, std::nullopt}));
  EXPECT_NE(err.find("generator broke"), std::string::npos) << err;
}

TEST(spawn_stream, a_generator_that_throws_before_its_first_value_forwards_only_nullopt) {
  runtime rt;
  opt_log log;
  spawn_stream(rt, yields_then_throws(0), record_into(log));
  ::testing::internal::CaptureStderr();
  run(rt);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log, opt_log{std::nullopt});
  EXPECT_NE(err.find("generator broke"), std::string::npos) << err;
}

TEST(spawn_stream,
     a_stream_whose_actor_stops_destroys_the_generator_where_it_waits_and_forwards_nothing_more) {
  virtual_loop loop;
  counts k;
  opt_log log;
  {
    actor_own<streamer> s = make_actor<&streamer::init>(loop.rt(), ret_nop<stop_cause>(), &k, &log);
    loop.run();
    loop.advance(10ms);
    EXPECT_EQ(log, (opt_log{0}));
    EXPECT_EQ(k.alive(), 2);  // the body's local and the current step's
    EXPECT_EQ(loop.rt().timer_count(), 1u);
    s.kill("stop the stream");
  }
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(k.constructed, 3);
  EXPECT_EQ(loop.rt().timer_count(), 0u);  // the sleep's timer went with the frame
  loop.advance(1s);
  EXPECT_EQ(log, (opt_log{0}));  // no more values, and no end either
  EXPECT_TRUE(k.balanced());
}

TEST(spawn_stream, a_drop_mode_await_failing_inside_the_generator_drops_the_stream_without_an_end) {
  runtime rt;
  counts k;
  opt_log log;
  std::vector<ret<int>> asks;
  spawn_stream(rt, counted_replies(rt, k, &asks), record_into(log));
  run(rt);
  ASSERT_EQ(asks.size(), 1u);
  asks[0](4);
  run(rt);
  ASSERT_EQ(asks.size(), 2u);
  EXPECT_EQ(k.alive(), 2);
  asks[1].reset();  // "none": the awaiting generator, and its whole stream, are dropped
  run(rt);
  EXPECT_EQ(log, (opt_log{4}));
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(asks.size(), 2u);
}

TEST(spawn_stream, destroying_the_runtime_destroys_a_suspended_generator_once) {
  counts k;
  opt_log log;
  std::vector<ret<int>> asks;
  {
    runtime rt;
    spawn_stream(rt, counted_replies(rt, k, &asks), record_into(log));
    run(rt);
    ASSERT_EQ(asks.size(), 1u);
    EXPECT_EQ(k.alive(), 2);
  }
  EXPECT_TRUE(k.balanced());
  EXPECT_TRUE(log.empty());
  asks.clear();  // answering "none" to a runtime that is gone does nothing
  EXPECT_TRUE(k.balanced());
}

// --- async_generator awaited directly ---

TEST(async_generator, is_read_directly_in_a_task_with_next_until_nullopt) {
  runtime rt;
  reading r;
  spawn(rt, read_all(count_up(5), &r), ret_nop<void>());
  run(rt);
  EXPECT_EQ(r.seen, values_then_end(5));
  EXPECT_TRUE(r.again_empty);  // next() after the end gives nullopt again
  EXPECT_TRUE(r.error.empty());
}

TEST(async_generator, is_lazy_nothing_runs_before_the_first_next) {
  runtime rt;
  bool started = false;
  auto gen = [](bool* s) -> async_generator<int> {
    *s = true;
    co_yield 1;
  }(&started);
  run(rt);
  EXPECT_FALSE(started);
  reading r;
  spawn(rt, read_all(std::move(gen), &r), ret_nop<void>());
  EXPECT_FALSE(started);
  run(rt);
  EXPECT_TRUE(started);
  EXPECT_EQ(r.seen, (opt_log{1, std::nullopt}));
}

TEST(async_generator, an_exception_it_throws_is_rethrown_at_next_then_it_gives_nullopt) {
  runtime rt;
  reading r;
  spawn(rt, read_all(yields_then_throws(3), &r), ret_nop<void>());
  run(rt);
  EXPECT_EQ(r.seen, (opt_log{0, 1, 2}));
  EXPECT_EQ(r.error, "generator broke");
  EXPECT_TRUE(r.again_empty);
}

TEST(async_generator, awaiting_timers_inside_it_suspends_the_reading_task_in_virtual_time) {
  virtual_loop loop;
  reading r;
  spawn(loop.rt(), read_all(sleepy(loop.rt(), 5ms, 2), &r), ret_nop<void>());
  loop.run();
  loop.advance(4ms);
  EXPECT_TRUE(r.seen.empty());
  loop.advance(1ms);
  EXPECT_EQ(r.seen, (opt_log{0}));
  loop.advance(5ms);
  EXPECT_EQ(r.seen, values_then_end(2));
}

TEST(async_generator, destroying_it_mid_stream_destroys_its_frame_and_locals_exactly_once) {
  runtime rt;
  counts k;
  std::optional<long> alive_after;
  spawn(
      rt,
      [](counts* kk) -> task<long> {
        {
          auto gen = counted_values(*kk, 10);
          auto a = co_await gen.next();
          auto b = co_await gen.next();
          if (!a || !b || *a != 0 || *b != 1) co_return -1;
        }  // suspended at its second co_yield: destroyed here
        co_return kk->alive();
      }(&k),
      ret_do<long>([&](std::optional<long> v) { alive_after = v; }));
  run(rt);
  EXPECT_EQ(alive_after, 0);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(k.constructed, 3);  // the body's local and two steps: nothing else ran
}

TEST(async_generator, destroying_it_before_it_starts_destroys_its_parameters_once) {
  counts k;
  {
    auto gen = [](counted c) -> async_generator<int> { co_yield c.value(); }(counted(k, 3));
    EXPECT_TRUE(static_cast<bool>(gen));
  }
  EXPECT_TRUE(k.balanced());
}

TEST(async_generator, a_reader_task_killed_with_its_actor_destroys_the_generator_where_it_awaits) {
  runtime rt;
  counts k;
  std::vector<ret<int>> asks;
  bool answered = false;
  bool none = false;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](core& c, counts* kk, std::vector<ret<int>>* a) -> task<long> {
        auto gen = counted_replies(c, *kk, a);
        long total = 0;
        while (auto v = co_await gen.next()) total += *v;
        co_return total;
      }(rt, &k, &asks),
      ret_do<long>([&](std::optional<long> v) {
        answered = true;
        none = !v;
      }));
  run(rt);
  ASSERT_EQ(asks.size(), 1u);
  asks[0](8);
  run(rt);
  ASSERT_EQ(asks.size(), 2u);  // the generator waits in its second ret_pipe
  EXPECT_EQ(k.alive(), 2);
  h.kill("stop the reader");
  EXPECT_TRUE(answered);
  EXPECT_TRUE(none);
  EXPECT_TRUE(k.balanced());
  asks.clear();  // a late "none" for the destroyed frame does nothing
  run(rt);
  EXPECT_TRUE(k.balanced());
}

TEST(async_generator, yields_move_only_values) {
  runtime rt;
  std::vector<int> seen;
  spawn(
      rt,
      [](std::vector<int>* out) -> task<void> {
        auto gen = []() -> async_generator<std::unique_ptr<int>> {
          for (int i = 1; i <= 3; ++i) co_yield std::make_unique<int>(i * 11);
        }();
        while (auto p = co_await gen.next()) out->push_back(**p);
      }(&seen),
      ret_nop<void>());
  run(rt);
  EXPECT_EQ(seen, (std::vector<int>{11, 22, 33}));
}

TEST(async_generator, a_task_dropped_while_it_reads_destroys_the_generator_too) {
  runtime rt;
  counts k;
  std::vector<ret<int>> asks;
  bool answered = false;
  bool none = false;
  spawn(
      rt,
      [](core& c, counts* kk, std::vector<ret<int>>* a) -> task<int> {
        auto gen = counted_replies(c, *kk, a);
        int total = 0;
        while (auto v = co_await gen.next()) total += *v;
        co_return total;
      }(rt, &k, &asks),
      ret_do<int>([&](std::optional<int> v) {
        answered = true;
        none = !v;
      }));
  run(rt);
  asks.at(0)(1);
  run(rt);
  EXPECT_EQ(k.alive(), 2);
  asks.at(1).reset();  // drop mode: the generator's await fails, the reading task is dropped
  run(rt);
  EXPECT_TRUE(answered);
  EXPECT_TRUE(none);
  EXPECT_TRUE(k.balanced());
}

TEST(async_generator,
     a_next_abandoned_by_a_timeout_leaves_the_generator_usable_and_loses_no_value) {
  virtual_loop loop;
  counts k;
  std::vector<ret<int>> asks;
  std::vector<std::string> log;
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::vector<ret<int>>* a,
         std::vector<std::string>* out) -> task<void> {
        auto gen = counted_replies(c, *kk, a);
        // The generator waits in its ret_pipe when the timeout wins: this next() is
        // abandoned, the generator is not.
        auto first = co_await stakker::coro::with_timeout(c, 10ms, gen.next());
        out->push_back(first ? "value" : "timeout");
        auto second = co_await gen.next();  // the same pending value, when it comes
        out->push_back(second ? std::to_string(*second) : "end");
        auto third = co_await stakker::coro::with_timeout(c, 10ms, gen.next());
        out->push_back(third && *third ? std::to_string(**third) : "timeout");
      }(loop.rt(), &k, &asks, &log),
      ret_nop<void>());
  loop.run();
  ASSERT_EQ(asks.size(), 1u);
  loop.advance(10ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout"}));
  asks[0](21);  // the answer to the abandoned next() reaches the next one
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "21"}));
  ASSERT_EQ(asks.size(), 2u);
  asks[1](22);
  loop.advance(1ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "21", "22"}));
  EXPECT_TRUE(k.balanced());
}

TEST(async_generator, a_value_yielded_after_its_next_was_abandoned_is_kept_for_the_next_next) {
  virtual_loop loop;
  counts k;
  std::vector<ret<int>> asks;
  std::vector<std::string> log;
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::vector<ret<int>>* a,
         std::vector<std::string>* out) -> task<void> {
        auto gen = counted_replies(c, *kk, a);
        auto first = co_await stakker::coro::with_timeout(c, 10ms, gen.next());
        out->push_back(first ? "value" : "timeout");
        co_await sleep_for(c, 10ms);  // meanwhile the generator yields, to nobody
        auto second = co_await gen.next();
        out->push_back(second ? std::to_string(*second) : "end");
      }(loop.rt(), &k, &asks, &log),
      ret_nop<void>());
  loop.run();
  ASSERT_EQ(asks.size(), 1u);
  loop.advance(10ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout"}));
  asks[0](31);
  loop.advance(1ms);  // the generator runs to its co_yield, with no next() waiting
  EXPECT_EQ(asks.size(), 1u);
  loop.advance(9ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "31"}));
  EXPECT_TRUE(k.balanced());
}

TEST(async_generator, one_kept_after_the_task_that_abandoned_its_next_runs_on_and_yields_later) {
  // The reading task gives up on a next() (timeout) and ends, handing the generator out
  // while it still sleeps inside that next(): the sleep's wake must not refer to the
  // finished task. A later task reads on from where it is.
  virtual_loop loop;
  std::optional<async_generator<int>> kept;
  std::vector<std::string> log;
  spawn(
      loop.rt(),
      [](core& c, std::optional<async_generator<int>>* out,
         std::vector<std::string>* l) -> task<void> {
        auto gen = slow_numbers(c);
        auto first = co_await stakker::coro::with_timeout(c, 5ms, gen.next());
        l->push_back(first ? "value" : "timeout");
        *out = std::move(gen);  // the generator outlives this task
      }(loop.rt(), &kept, &log),
      ret_nop<void>());
  loop.run();
  loop.advance(5ms);  // the timeout wins; the task ends
  EXPECT_EQ(log, (std::vector<std::string>{"timeout"}));
  loop.advance(20ms);  // the generator's sleep ends: it runs on to its co_yield
  spawn(
      loop.rt(),
      [](async_generator<int>* g, std::vector<std::string>* l) -> task<void> {
        while (auto v = co_await g->next()) l->push_back(std::to_string(*v));
      }(&*kept, &log),
      ret_nop<void>());
  for (int i = 0; i < 5; ++i) loop.advance(20ms);
  EXPECT_EQ(log, (std::vector<std::string>{"timeout", "1", "2", "3"}));
}
