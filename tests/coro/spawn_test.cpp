// SPDX-License-Identifier: MIT OR Apache-2.0
// K1, K3 ("Push and pull", "Spawn"): spawn and spawn_result deliver a task's outcome
// to a ret; the first step is queued; exceptions are stored and rethrown at co_await.
#include "stakker/coro/spawn.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/runtime.hpp"

namespace {

using stakker::core;
using stakker::ret;
using stakker::ret_do;
using stakker::runtime;
using stakker::coro::actor_fail;
using stakker::coro::result;
using stakker::coro::ret_pipe;
using stakker::coro::ret_pipe_result;
using stakker::coro::spawn;
using stakker::coro::spawn_result;
using stakker::coro::task;

using coro_test::run;

// What a spawn's ret heard: how many times, and the last value ("none" is an empty optional).
using coro_test::answer;

task<int> add(int a, int b) { co_return a + b; }

task<int> twice(int a) {
  int x = co_await add(a, a);
  co_return x;
}

task<void> set_flag(bool& flag) {
  flag = true;
  co_return;
}

task<int> throws_after(std::vector<std::string>& log) {
  log.push_back("before throw");
  throw std::runtime_error("task failed");
  co_return 0;  // makes this a coroutine returning int
}

task<void> throws_void() {
  throw std::runtime_error("void task failed");
  co_return;
}

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  }
}

}  // namespace

TEST(coro_spawn, a_spawned_task_delivers_its_value_to_the_ret_once) {
  runtime rt;
  answer<int> a;
  spawn(rt, twice(21), a.to());
  run(rt);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 42);
}

TEST(coro_spawn, a_task_of_void_answers_its_ret_once_when_it_finishes) {
  runtime rt;
  bool ran = false;
  answer<void> a;
  spawn(rt, set_flag(ran), a.to());
  run(rt);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(a.once_with_value());
}

TEST(coro_spawn, a_value_of_a_move_only_type_is_moved_to_the_ret) {
  runtime rt;
  std::optional<std::unique_ptr<int>> got;
  spawn(
      rt, []() -> task<std::unique_ptr<int>> { co_return std::make_unique<int>(5); }(),
      ret_do<std::unique_ptr<int>>(
          [&](std::optional<std::unique_ptr<int>> v) { got = std::move(v); }));
  run(rt);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, 5);
}

TEST(coro_spawn, nothing_runs_inside_spawn_the_first_step_is_queued) {
  runtime rt;
  std::vector<std::string> log;
  rt.defer([&](core&) { log.push_back("queued before"); });
  spawn(
      rt,
      [](std::vector<std::string>& l) -> task<int> {
        l.push_back("task");
        co_return 1;
      }(log),
      ret_do<int>([&](std::optional<int>) { log.push_back("answer"); }));
  rt.defer([&](core&) { log.push_back("queued after"); });
  EXPECT_TRUE(log.empty());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"queued before", "task", "answer", "queued after"}));
}

TEST(coro_spawn, a_spawn_from_inside_a_queued_closure_starts_after_that_closure_returns) {
  runtime rt;
  std::vector<std::string> log;
  rt.defer([&](core& c) {
    spawn(
        c,
        [](std::vector<std::string>& l) -> task<void> {
          l.push_back("task");
          co_return;
        }(log),
        stakker::ret_nop<void>());
    log.push_back("closure returns");
  });
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"closure returns", "task"}));
}

TEST(coro_spawn, a_plain_awaitable_is_spawned_without_a_task) {
  runtime rt;
  // One of ours: a push pipe's awaiter, answered later.
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> a;
  spawn(rt, std::move(aw), a.to());
  run(rt);
  EXPECT_EQ(a.calls, 0);
  r(17);
  EXPECT_EQ(a.calls, 0);  // the wake-up is queued
  run(rt);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 17);
}

namespace {
// Another library's awaitable, ready at once.
struct ready_now {
  int v;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  int await_resume() const noexcept { return v; }
};
}  // namespace

TEST(coro_spawn, a_foreign_awaitable_is_spawned_without_a_task) {
  runtime rt;
  answer<int> a;
  spawn(rt, ready_now{8}, a.to());
  EXPECT_EQ(a.calls, 0);
  run(rt);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 8);
}

TEST(coro_spawn, a_spawned_plain_awaitable_in_drop_mode_answers_none_when_its_ret_is_dropped) {
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> a;
  spawn(rt, std::move(aw), a.to());
  run(rt);
  r.reset();
  run(rt);
  EXPECT_TRUE(a.once_none());
}

TEST(coro_spawn, spawned_tasks_run_independently_and_answer_in_completion_order) {
  runtime rt;
  auto [aw1, r1] = ret_pipe<int>(rt);
  auto [aw2, r2] = ret_pipe<int>(rt);
  std::vector<int> order;
  auto body = [](auto aw) -> task<int> { co_return co_await std::move(aw); };
  spawn(rt, body(std::move(aw1)),
        ret_do<int>([&](std::optional<int> v) { order.push_back(v.value_or(-1)); }));
  spawn(rt, body(std::move(aw2)),
        ret_do<int>([&](std::optional<int> v) { order.push_back(v.value_or(-1)); }));
  run(rt);
  r2(2);
  run(rt);
  r1(1);
  run(rt);
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST(coro_spawn, an_empty_task_cannot_be_spawned) {
  runtime rt;
  answer<int> a;
  EXPECT_THROW(spawn(rt, task<int>(), a.to()), std::logic_error);
  EXPECT_TRUE(a.once_none());  // the ret was destroyed uncalled
}

TEST(coro_spawn, a_finished_or_moved_from_task_is_a_logic_error_and_its_ret_answers_none) {
  runtime rt;
  answer<int> first;
  answer<int> refused;
  answer<int> moved_from;
  task<int> t = twice(2);
  spawn(
      rt, [](task<int>* tp) -> task<int> { co_return co_await *tp; }(&t),  // finishes `t`
      first.to());
  run(rt);
  ASSERT_TRUE(first.once_with_value());
  EXPECT_THROW(spawn(rt, std::move(t), refused.to()), std::logic_error);
  EXPECT_TRUE(refused.once_none());
  task<int> u = twice(3);
  task<int> v = std::move(u);
  EXPECT_THROW(spawn(rt, std::move(u), moved_from.to()), std::logic_error);
  EXPECT_TRUE(moved_from.once_none());
  run(rt);
  std::string what;
  try {
    spawn(rt, std::move(u), stakker::ret_nop<int>());
  } catch (const std::logic_error& e) {
    what = e.what();
  }
  EXPECT_EQ(what, "stakker::coro::spawn: an empty, finished or already awaited task");
}

// Result mode.

TEST(coro_spawn, spawn_result_delivers_the_value_in_a_result) {
  runtime rt;
  answer<result<int>> a;
  spawn_result(rt, twice(4), a.to());
  run(rt);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_TRUE(a.value->has_value());
  EXPECT_EQ(a.value->value(), 8);
}

TEST(coro_spawn, spawn_result_of_a_task_of_void_delivers_an_empty_result) {
  runtime rt;
  bool ran = false;
  answer<result<void>> a;
  spawn_result(rt, set_flag(ran), a.to());
  run(rt);
  EXPECT_TRUE(ran);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_TRUE(a.value->has_value());
}

TEST(coro_spawn, spawn_result_gets_actor_fail_holding_the_exception_when_the_task_throws) {
  runtime rt;
  std::vector<std::string> log;
  answer<result<int>> a;
  spawn_result(rt, throws_after(log), a.to());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"before throw"}));
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  const actor_fail& f = a.value->error();
  ASSERT_TRUE(f.exception);
  EXPECT_EQ(message_of(f.exception), "task failed");
  EXPECT_EQ(f.what(), "actor_fail: task failed");
  EXPECT_THROW(a.value->value(), stakker::coro::bad_result_access);
}

TEST(coro_spawn, spawn_result_of_a_task_of_void_gets_actor_fail_when_the_task_throws) {
  runtime rt;
  answer<result<void>> a;
  spawn_result(rt, throws_void(), a.to());
  run(rt);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_EQ(message_of(a.value->error().exception), "void task failed");
}

TEST(coro_spawn, spawn_result_gets_actor_fail_without_an_exception_when_the_task_is_dropped) {
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  answer<result<int>> a;
  spawn_result(
      rt, [](auto p) -> task<int> { co_return co_await std::move(p); }(std::move(aw)), a.to());
  run(rt);
  r.reset();  // drop mode: the task is dropped at its await
  run(rt);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_FALSE(a.value->error().exception);
}

TEST(coro_spawn, a_plain_spawn_answers_none_and_reports_on_stderr_when_the_task_throws) {
  runtime rt;
  std::vector<std::string> log;
  answer<int> a;
  answer<void> b;
  spawn(rt, throws_after(log), a.to());
  spawn(rt, throws_void(), b.to());
  ::testing::internal::CaptureStderr();
  run(rt);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log, (std::vector<std::string>{"before throw"}));
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(b.once_none());
  EXPECT_NE(err.find("stakker::coro: a spawned task threw; its ret answers none: actor_fail: "
                     "task failed"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("actor_fail: void task failed"), std::string::npos) << err;
}

// K1: exceptions are stored and rethrown at co_await.

TEST(coro_task_exception,
     an_exception_in_a_child_task_is_rethrown_at_the_parents_co_await_and_caught_there) {
  runtime rt;
  std::vector<std::string> log;
  answer<std::string> a;
  spawn(
      rt,
      [](std::vector<std::string>& l) -> task<std::string> {
        try {
          co_await throws_after(l);
          l.push_back("not reached");
        } catch (const std::runtime_error& e) {
          l.push_back(std::string("caught ") + e.what());
        }
        int v = co_await add(1, 2);  // the parent goes on normally
        co_return "after " + std::to_string(v);
      }(log),
      a.to());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"before throw", "caught task failed"}));
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, "after 3");
}

TEST(coro_task_exception, an_exception_passes_up_through_several_awaiting_tasks) {
  runtime rt;
  std::vector<std::string> log;
  answer<result<int>> a;
  auto middle = [](std::vector<std::string>& l) -> task<int> {
    int v = co_await throws_after(l);
    l.push_back("middle not reached");
    co_return v;
  };
  spawn_result(
      rt,
      [](auto mid, std::vector<std::string>& l) -> task<int> {
        try {
          co_return co_await mid(l);
        } catch (const std::runtime_error& e) {
          l.push_back(std::string("outer caught ") + e.what());
          throw std::logic_error("rethrown differently");
        }
      }(middle, log),
      a.to());
  run(rt);
  EXPECT_EQ(log, (std::vector<std::string>{"before throw", "outer caught task failed"}));
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_EQ(message_of(a.value->error().exception), "rethrown differently");
}

TEST(coro_task_exception, an_exception_in_a_child_after_it_suspended_is_rethrown_at_the_parent) {
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  answer<std::string> a;
  spawn(
      rt,
      [](auto p) -> task<std::string> {
        auto child = [](auto q) -> task<int> {
          int v = co_await std::move(q);
          if (v < 0) throw std::out_of_range("negative");
          co_return v;
        };
        try {
          co_await child(std::move(p));
        } catch (const std::out_of_range& e) {
          co_return std::string("caught ") + e.what();
        }
        co_return "no exception";
      }(std::move(aw)),
      a.to());
  run(rt);
  r(-1);
  run(rt);
  EXPECT_EQ(a.value, "caught negative");
}

TEST(coro_task_exception, a_task_awaited_twice_is_a_logic_error) {
  runtime rt;
  answer<std::string> a;
  spawn(
      rt,
      []() -> task<std::string> {
        task<int> t = add(1, 1);
        int v = co_await t;
        try {
          co_await t;
        } catch (const std::logic_error&) {
          co_return "second await refused after " + std::to_string(v);
        }
        co_return "second await accepted";
      }(),
      a.to());
  run(rt);
  EXPECT_EQ(a.value, "second await refused after 2");
}
