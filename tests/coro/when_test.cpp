// SPDX-License-Identifier: MIT OR Apache-2.0
// Combinators (docs/design.md, "Push and pull"): when_all and when_any over tasks, inside the
// awaiting task's chain (contracts K1–K4).
#include "stakker/coro/when.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/ret_pipe.hpp"
#include "stakker/coro/sleep.hpp"
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
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::ret_pipe;
using stakker::coro::sleep_for;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::coro::when_all;
using stakker::coro::when_any;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

using coro_test::run;

task<int> value_of(int v) { co_return v; }
task<void> nothing() { co_return; }
task<std::string> text(std::string s) { co_return s; }

task<int> throws_now(std::string what) {
  throw std::runtime_error(what);
  co_return 0;
}

// Waits for a ret_pipe whose ret goes into `rets[slot]`; logs its slot when it finishes.
task<int> wait_reply(core& c, std::vector<ret<int>>* rets, std::size_t slot,
                     std::vector<std::size_t>* finished, counts* k) {
  counted local(*k);
  auto [aw, r] = ret_pipe<int>(c);
  (*rets)[slot] = std::move(r);
  int v = co_await std::move(aw);
  finished->push_back(slot);
  co_return v;
}

// Same, then throws.
task<int> wait_then_throw(core& c, std::vector<ret<int>>* rets, std::size_t slot,
                          std::vector<std::size_t>* finished, counts* k) {
  counted local(*k);
  auto [aw, r] = ret_pipe<int>(c);
  (*rets)[slot] = std::move(r);
  co_await std::move(aw);
  finished->push_back(slot);
  throw std::runtime_error("child " + std::to_string(slot) + " failed");
}

task<int> sleep_value(core& c, duration d, int v, counts* k) {
  counted local(*k, v);
  co_await sleep_for(c, d);
  co_return v;
}

// Holds a counted parameter; never started by the tests that use it.
task<int> holds_counted(counts& k) {
  counted local(k);
  co_return 0;
}

task<void> sleep_void(core& c, duration d, counts* k) {
  counted local(*k);
  co_await sleep_for(c, d);
}

// An actor whose tasks are tied to it.
struct host {
  static host init(cx<host>&) { return {}; }
  void start(cx<host>& x, task<int> t, ret<int> r) { spawn(x, std::move(t), std::move(r)); }
};

struct answer {
  int calls = 0;
  std::optional<int> value;
};
ret<int> answer_into(answer& a) {
  return ret_do<int>([&a](std::optional<int> v) {
    ++a.calls;
    a.value = v;
  });
}

}  // namespace

// --- when_all ---

TEST(when_all, gives_a_tuple_of_the_values_with_monostate_for_void) {
  runtime rt;
  std::optional<bool> ok;
  spawn(
      rt,
      []() -> task<bool> {
        auto all = co_await when_all(value_of(1), nothing(), text("two"));
        static_assert(std::is_same_v<decltype(all), std::tuple<int, std::monostate, std::string>>);
        co_return std::get<0>(all) == 1 && std::get<2>(all) == "two";
      }(),
      ret_do<bool>([&](std::optional<bool> v) { ok = v; }));
  run(rt);
  EXPECT_EQ(ok, true);
}

TEST(when_all, of_no_tasks_gives_an_empty_tuple_at_once) {
  runtime rt;
  std::optional<bool> ok;
  spawn(
      rt,
      []() -> task<bool> {
        auto all = co_await when_all();
        static_assert(std::is_same_v<decltype(all), std::tuple<>>);
        co_return true;
      }(),
      ret_do<bool>([&](std::optional<bool> v) { ok = v; }));
  run(rt);
  EXPECT_EQ(ok, true);
}

TEST(when_all, children_that_suspend_may_finish_in_any_order_and_values_keep_argument_order) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(3);
  std::vector<std::size_t> finished;
  std::optional<std::tuple<int, int, int>> got;
  bool resumed_early = false;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::optional<std::tuple<int, int, int>>* out) -> task<int> {
        auto all = co_await when_all(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk),
                                     wait_reply(c, r, 2, f, kk));
        *out = all;
        co_return static_cast<int>(f->size());
      }(rt, &rets, &finished, &k, &got),
      ret_do<int>([&](std::optional<int> v) { resumed_early = v && *v != 3; }));
  run(rt);
  EXPECT_EQ(k.alive(), 3);  // all three started, each waiting
  rets[2](30);
  run(rt);
  rets[0](10);
  run(rt);
  EXPECT_FALSE(got);  // still one to go
  rets[1](20);
  EXPECT_FALSE(got);  // the wake-up is queued
  run(rt);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, std::make_tuple(10, 20, 30));
  EXPECT_EQ(finished, (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_FALSE(resumed_early);
  EXPECT_TRUE(k.balanced());
}

TEST(when_all, children_sleeping_in_virtual_time_all_finish_before_the_task_goes_on) {
  virtual_loop loop;
  counts k;
  std::optional<int> sum;
  std::optional<duration> at;
  const auto t0 = loop.now();
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::optional<duration>* when, stakker::instant start) -> task<int> {
        auto [a, b, v] = co_await when_all(sleep_value(c, 30ms, 3, kk), sleep_value(c, 10ms, 1, kk),
                                           sleep_void(c, 20ms, kk));
        (void)v;
        *when = c.now() - start;
        co_return a + b;
      }(loop.rt(), &k, &at, t0),
      ret_do<int>([&](std::optional<int> v) { sum = v; }));
  loop.run();
  for (int i = 0; i < 29; ++i) loop.advance(1ms);
  EXPECT_FALSE(sum);
  EXPECT_EQ(k.alive(), 1);  // the 30 ms child
  loop.advance(1ms);
  EXPECT_EQ(sum, 4);
  EXPECT_EQ(at, 30ms);
  EXPECT_TRUE(k.balanced());
}

TEST(when_all, an_exception_in_one_child_is_rethrown_only_after_all_finished) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  std::string caught;
  std::size_t finished_when_caught = 0;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::string* what, std::size_t* fin) -> task<void> {
        try {
          co_await when_all(throws_now("first failed"), wait_reply(c, r, 1, f, kk));
        } catch (const std::runtime_error& e) {
          *what = e.what();
          *fin = f->size();
        }
      }(rt, &rets, &finished, &k, &caught, &finished_when_caught),
      ret_nop<void>());
  run(rt);
  EXPECT_TRUE(caught.empty());  // the other child still waits
  rets[1](5);
  run(rt);
  EXPECT_EQ(caught, "first failed");
  EXPECT_EQ(finished_when_caught, 1u);
  EXPECT_TRUE(k.balanced());
}

TEST(when_all, when_several_children_throw_the_first_in_argument_order_is_rethrown) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  std::string caught;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::string* what) -> task<void> {
        try {
          co_await when_all(wait_then_throw(c, r, 0, f, kk), wait_then_throw(c, r, 1, f, kk));
        } catch (const std::runtime_error& e) {
          *what = e.what();
        }
      }(rt, &rets, &finished, &k, &caught),
      ret_nop<void>());
  run(rt);
  rets[1](0);  // child 1 fails first in time
  run(rt);
  EXPECT_TRUE(caught.empty());
  rets[0](0);
  run(rt);
  EXPECT_EQ(finished, (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(caught, "child 0 failed");
  EXPECT_TRUE(k.balanced());
}

TEST(when_all, a_drop_mode_failure_in_one_child_drops_the_whole_task_and_every_child) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(3);
  std::vector<std::size_t> finished;
  answer a;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk) -> task<int> {
        counted local(*kk);
        auto [x, y, z] = co_await when_all(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk),
                                           wait_reply(c, r, 2, f, kk));
        co_return x + y + z;
      }(rt, &rets, &finished, &k),
      answer_into(a));
  run(rt);
  rets[0](1);
  run(rt);
  EXPECT_EQ(k.alive(), 3);  // the task's local and the two waiting children
  rets[2].reset();          // "none": drop mode
  run(rt);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
  rets[1](2);  // disarmed: nothing happens
  run(rt);
  EXPECT_EQ(a.calls, 1);
}

TEST(when_all, children_of_a_task_whose_actor_stops_are_all_destroyed) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  answer a;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk) -> task<int> {
        auto [x, y] = co_await when_all(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk));
        co_return x + y;
      }(rt, &rets, &finished, &k),
      answer_into(a));
  run(rt);
  EXPECT_EQ(k.alive(), 2);
  h.kill("owner stopped");
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
  rets[0](1);
  rets[1](1);
  run(rt);
  EXPECT_TRUE(finished.empty());
}

TEST(when_all, many_children_that_finish_at_once_do_not_overflow_the_stack) {
  runtime rt;
  std::optional<int> sum;
  spawn(
      rt,
      []() -> task<int> {
        int total = 0;
        for (int i = 0; i < 20'000; ++i) {
          auto [a, b] = co_await when_all(value_of(i), value_of(1));
          total += a - i + b - 1;
        }
        co_return total;
      }(),
      ret_do<int>([&](std::optional<int> v) { sum = v; }));
  run(rt);
  EXPECT_EQ(sum, 0);
}

// --- when_any ---

TEST(when_any, the_first_to_finish_wins_with_its_index_in_the_variant) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(3);
  std::vector<std::size_t> finished;
  std::optional<std::variant<int, int, int>> got;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::optional<std::variant<int, int, int>>* out) -> task<int> {
        *out = co_await when_any(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk),
                                 wait_reply(c, r, 2, f, kk));
        co_return 0;
      }(rt, &rets, &finished, &k, &got),
      ret_nop<int>());
  run(rt);
  EXPECT_EQ(k.alive(), 3);
  rets[1](11);
  run(rt);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->index(), 1u);
  EXPECT_EQ(std::get<1>(*got), 11);
  EXPECT_TRUE(k.balanced());
  rets[0](1);  // the losers' rets are disarmed
  rets[2](2);
  run(rt);
  EXPECT_EQ(finished, (std::vector<std::size_t>{1}));
}

TEST(when_any, losers_are_destroyed_where_they_wait_as_soon_as_the_winner_finishes) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(3);
  std::vector<std::size_t> finished;
  std::optional<long> alive_at_resume;
  std::optional<long> alive_between;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::optional<long>* alive) -> task<int> {
        auto w = co_await when_any(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk),
                                   wait_reply(c, r, 2, f, kk));
        *alive = kk->alive();
        co_return static_cast<int>(w.index());
      }(rt, &rets, &finished, &k, &alive_at_resume),
      ret_nop<int>());
  run(rt);
  rets[2](5);                                           // queues the winner's wake-up ...
  rt.defer([&](core&) { alive_between = k.alive(); });  // ... then this, before the task
  run(rt);
  EXPECT_EQ(finished, (std::vector<std::size_t>{2}));
  EXPECT_EQ(alive_between, 0);  // the winner finished: the losers went with it
  EXPECT_EQ(alive_at_resume, 0);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(k.constructed, 3);
}

TEST(when_any, a_loser_whose_wake_is_already_queued_never_runs_past_its_await) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  std::optional<std::size_t> winner;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::optional<std::size_t>* w) -> task<void> {
        auto v = co_await when_any(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk));
        *w = v.index();
      }(rt, &rets, &finished, &k, &winner),
      ret_nop<void>());
  run(rt);
  rets[1](11);  // queues child 1's wake ...
  rets[0](10);  // ... then child 0's, before the awaiting task's
  run(rt);
  EXPECT_EQ(winner, 1u);
  // Child 0 was destroyed when child 1 finished, so its queued wake found it disarmed: it
  // never took its value (had it been a stream's, the value would have been lost).
  EXPECT_EQ(finished, (std::vector<std::size_t>{1}));
  EXPECT_TRUE(k.balanced());
}

TEST(when_any, in_virtual_time_the_shortest_sleep_wins_and_the_losers_timers_go) {
  virtual_loop loop;
  counts k;
  std::optional<std::size_t> index;
  std::optional<int> value;
  spawn(
      loop.rt(),
      [](core& c, counts* kk, std::optional<int>* v) -> task<std::size_t> {
        auto w = co_await when_any(sleep_value(c, 30ms, 3, kk), sleep_value(c, 10ms, 1, kk),
                                   sleep_void(c, 20ms, kk));
        if (w.index() == 1) *v = std::get<1>(w);
        co_return w.index();
      }(loop.rt(), &k, &value),
      ret_do<std::size_t>([&](std::optional<std::size_t> v) { index = v; }));
  loop.run();
  EXPECT_EQ(loop.rt().timer_count(), 3u);
  loop.advance(9ms);
  EXPECT_FALSE(index);
  loop.advance(1ms);
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(value, 1);
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(loop.rt().timer_count(), 0u);
}

TEST(when_any, a_child_that_finishes_at_once_wins_and_the_others_are_destroyed) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  std::optional<std::size_t> index;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f,
         counts* kk) -> task<std::size_t> {
        auto w =
            co_await when_any(wait_reply(c, r, 0, f, kk), value_of(9), wait_reply(c, r, 1, f, kk));
        if (std::get<1>(w) != 9) co_return 99;
        co_return w.index();
      }(rt, &rets, &finished, &k),
      ret_do<std::size_t>([&](std::optional<std::size_t> v) { index = v; }));
  run(rt);
  EXPECT_EQ(index, 1u);
  EXPECT_TRUE(k.balanced());
}

TEST(when_any, void_children_give_monostate_alternatives) {
  runtime rt;
  std::optional<std::size_t> index;
  spawn(
      rt,
      []() -> task<std::size_t> {
        auto w = co_await when_any(nothing(), value_of(2));
        static_assert(std::is_same_v<decltype(w), std::variant<std::monostate, int>>);
        co_return w.index();
      }(),
      ret_do<std::size_t>([&](std::optional<std::size_t> v) { index = v; }));
  run(rt);
  EXPECT_EQ(index, 0u);
}

TEST(when_any, a_winner_that_threw_is_rethrown_and_the_losers_are_destroyed) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  std::string caught;
  spawn(
      rt,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk,
         std::string* what) -> task<void> {
        try {
          co_await when_any(wait_reply(c, r, 0, f, kk), wait_then_throw(c, r, 1, f, kk));
        } catch (const std::runtime_error& e) {
          *what = e.what();
        }
      }(rt, &rets, &finished, &k, &caught),
      ret_nop<void>());
  run(rt);
  rets[1](0);
  run(rt);
  EXPECT_EQ(caught, "child 1 failed");
  EXPECT_TRUE(k.balanced());
}

TEST(when_any, children_of_a_task_whose_actor_stops_are_all_destroyed) {
  runtime rt;
  counts k;
  std::vector<ret<int>> rets(2);
  std::vector<std::size_t> finished;
  answer a;
  actor_own<host> h = make_actor<&host::init>(rt, ret_nop<stop_cause>());
  stakker::call<&host::start>(
      h,
      [](core& c, std::vector<ret<int>>* r, std::vector<std::size_t>* f, counts* kk) -> task<int> {
        auto w = co_await when_any(wait_reply(c, r, 0, f, kk), wait_reply(c, r, 1, f, kk));
        co_return static_cast<int>(w.index());
      }(rt, &rets, &finished, &k),
      answer_into(a));
  run(rt);
  EXPECT_EQ(k.alive(), 2);
  h.kill("owner stopped");
  EXPECT_TRUE(k.balanced());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.value, std::nullopt);
  rets[0](1);
  run(rt);
  EXPECT_TRUE(finished.empty());
}

// --- consuming a task (a regression) ---

TEST(when_all, an_empty_finished_or_already_awaited_task_is_a_logic_error_and_nothing_runs) {
  runtime rt;
  counts k;
  std::vector<std::string> log;
  spawn(
      rt,
      [](counts* kk, std::vector<std::string>* out) -> task<void> {
        task<int> finished = value_of(1);
        co_await finished;  // now finished: its frame is kept by the task object
        auto attempt = [&](auto make) -> bool {
          try {
            auto aw = make();
            return false;
          } catch (const std::logic_error&) {
            return true;
          }
        };
        out->push_back(attempt([&] { return when_all(std::move(finished)); }) ? "finished refused"
                                                                              : "finished taken");
        out->push_back(attempt([] { return when_all(task<int>()); }) ? "empty refused"
                                                                     : "empty taken");
        // The other tasks given with a refused one are destroyed unstarted.
        out->push_back(attempt([&] { return when_all(holds_counted(*kk), task<int>()); })
                           ? "mixed refused"
                           : "mixed taken");
      }(&k, &log),
      ret_nop<void>());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"finished refused", "empty refused", "mixed refused"}));
  EXPECT_TRUE(k.balanced());
}

TEST(when_any, an_empty_finished_or_already_awaited_task_is_a_logic_error_and_nothing_runs) {
  runtime rt;
  std::vector<std::string> log;
  spawn(
      rt,
      [](std::vector<std::string>* out) -> task<void> {
        task<int> finished = value_of(1);
        co_await finished;
        try {
          co_await when_any(value_of(2), std::move(finished));
          out->push_back("finished taken");
        } catch (const std::logic_error& e) {
          out->push_back(e.what());
        }
        task<int> moved = value_of(3);
        task<int> into = std::move(moved);
        try {
          co_await when_any(std::move(moved));
          out->push_back("moved-from taken");
        } catch (const std::logic_error& e) {
          out->push_back(e.what());
        }
        co_await into;
      }(&log),
      ret_nop<void>());
  run(rt);
  const std::string msg = "stakker::coro::when_any: an empty, finished or already awaited task";
  EXPECT_EQ(log, (std::vector<std::string>{msg, msg}));
}
