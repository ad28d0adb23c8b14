// SPDX-License-Identifier: MIT OR Apache-2.0
// K3 ("Push and pull": "Push pipe" and "Pull pipe"): ret_pipe,
// ret_pipe_result, pull and pull_result, in drop mode and in result mode.
#include "stakker/coro/ret_pipe.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::core;
using stakker::cx;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::coro::pull;
using stakker::coro::pull_result;
using stakker::coro::result;
using stakker::coro::ret_pipe;
using stakker::coro::ret_pipe_result;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;

using coro_test::run;

using coro_test::answer;

// What a drop-mode task did: whether it reached its await and got past it.
struct trace {
  bool reached = false;
  bool after = false;
};

// Awaits `aw` holding a counted local; returns what the await gave.
template <class A>
auto await_holding(A aw, counts& c, trace& t) -> task<decltype(std::move(aw).await_resume())> {
  counted local(c, 1);
  t.reached = true;
  if constexpr (std::is_void_v<decltype(std::move(aw).await_resume())>) {
    co_await std::move(aw);
    t.after = true;
  } else {
    auto v = co_await std::move(aw);
    t.after = true;
    co_return v;
  }
}

}  // namespace

// Push pipe, drop mode.

TEST(coro_ret_pipe, a_value_given_before_the_await_is_taken_without_suspending) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  r(5);
  answer<int> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.after);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 5);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe, a_value_given_after_the_await_resumes_the_task_from_the_queue) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  r(6);
  EXPECT_FALSE(t.after);  // never inline from the ret
  EXPECT_EQ(a.calls, 0);
  run(rt);
  EXPECT_TRUE(t.after);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 6);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe, a_ret_dropped_before_the_await_drops_the_task_at_the_await) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  r.reset();
  answer<int> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_EQ(c.constructed, 1);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe, a_ret_dropped_after_the_await_drops_the_task_at_the_await) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  answer<int> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_EQ(c.alive(), 1);
  { auto gone = std::move(r); }
  EXPECT_EQ(a.calls, 0);  // the drop is queued too
  EXPECT_EQ(c.alive(), 1);
  run(rt);
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_EQ(c.constructed, 1);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe, a_ret_of_void_resumes_the_task_or_drops_it) {
  counts c;
  trace t1, t2;
  runtime rt;
  auto [aw1, r1] = ret_pipe<void>(rt);
  auto [aw2, r2] = ret_pipe<void>(rt);
  answer<void> a1, a2;
  spawn(rt, await_holding(std::move(aw1), c, t1), a1.to());
  spawn(rt, await_holding(std::move(aw2), c, t2), a2.to());
  run(rt);
  r1();
  r2.reset();
  run(rt);
  EXPECT_TRUE(t1.after);
  EXPECT_TRUE(a1.once_with_value());
  EXPECT_FALSE(t2.after);
  EXPECT_TRUE(a2.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe, a_value_of_void_given_before_the_await_is_taken_without_suspending) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe<void>(rt);
  r();
  answer<void> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.after);
  EXPECT_TRUE(a.once_with_value());
}

TEST(coro_ret_pipe, a_pipe_carries_a_move_only_value) {
  runtime rt;
  auto [aw, r] = ret_pipe<std::unique_ptr<int>>(rt);
  std::optional<int> got;
  spawn(
      rt, [](auto p) -> task<int> { co_return *co_await std::move(p); }(std::move(aw)),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  run(rt);
  r(std::make_unique<int>(11));
  run(rt);
  EXPECT_EQ(got, 11);
}

namespace {
struct answerer {
  static answerer init(cx<answerer>&) { return {}; }
  void respond(cx<answerer>&, int v, ret<int> r) { r(v + 1); }
};
}  // namespace

TEST(coro_ret_pipe, a_pipe_fed_by_an_actor_through_a_call) {
  runtime rt;
  auto act = make_actor<&answerer::init>(rt, ret_nop<stop_cause>());
  auto [aw, r] = ret_pipe<int>(rt);
  std::optional<int> got;
  spawn(
      rt, [](auto p) -> task<int> { co_return co_await std::move(p); }(std::move(aw)),
      ret_do<int>([&](std::optional<int> v) { got = v; }));
  stakker::call<&answerer::respond>(act, 41, std::move(r));
  run(rt);
  EXPECT_EQ(got, 42);
}

// Push pipe, result mode.

TEST(coro_ret_pipe_result, a_value_given_before_the_await_comes_as_a_result) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe_result<int>(rt);
  r(5);
  answer<result<int>> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_TRUE(a.value->has_value());
  EXPECT_EQ(**a.value, 5);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe_result, a_value_given_after_the_await_comes_as_a_result) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe_result<int>(rt);
  answer<result<int>> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_FALSE(t.after);
  r(6);
  EXPECT_FALSE(t.after);
  run(rt);
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value->value(), 6);
}

TEST(coro_ret_pipe_result, a_ret_dropped_before_the_await_gives_actor_fail) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe_result<int>(rt);
  r.reset();
  answer<result<int>> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.after);  // the task goes on with the failure
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_FALSE(a.value->error().exception);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe_result, a_ret_dropped_after_the_await_gives_actor_fail_from_the_queue) {
  counts c;
  trace t;
  runtime rt;
  auto [aw, r] = ret_pipe_result<int>(rt);
  answer<result<int>> a;
  spawn(rt, await_holding(std::move(aw), c, t), a.to());
  run(rt);
  r.reset();
  EXPECT_FALSE(t.after);
  run(rt);
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_FALSE(a.value->error().exception);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_ret_pipe_result, a_ret_of_void_gives_an_empty_result_or_actor_fail) {
  counts c;
  trace t1, t2, t3;
  runtime rt;
  auto [aw1, r1] = ret_pipe_result<void>(rt);
  auto [aw2, r2] = ret_pipe_result<void>(rt);
  auto [aw3, r3] = ret_pipe_result<void>(rt);
  r3.reset();  // before the await
  answer<result<void>> a1, a2, a3;
  spawn(rt, await_holding(std::move(aw1), c, t1), a1.to());
  spawn(rt, await_holding(std::move(aw2), c, t2), a2.to());
  spawn(rt, await_holding(std::move(aw3), c, t3), a3.to());
  run(rt);
  r1();
  r2.reset();
  run(rt);
  ASSERT_TRUE(a1.once_with_value());
  EXPECT_TRUE(a1.value->has_value());
  ASSERT_TRUE(a2.once_with_value());
  EXPECT_FALSE(a2.value->has_value());
  ASSERT_TRUE(a3.once_with_value());
  EXPECT_FALSE(a3.value->has_value());
  EXPECT_TRUE(t1.after && t2.after && t3.after);
  EXPECT_TRUE(c.balanced());
}

// Pull pipe.

namespace {

// A requester that keeps the reply ret it is given, to answer or drop later.
struct keeper {
  int requests = 0;
  bool heard_none = false;
  std::optional<ret<int>> reply;

  ret<ret<int>> request() {
    return ret_do<ret<int>>([this](std::optional<ret<int>> r) {
      ++requests;
      if (r)
        reply = std::move(*r);
      else
        heard_none = true;
    });
  }
};

// An actor that answers requests: the reply ret comes as a message.
struct provider {
  int base;
  static provider init(cx<provider>&, int b) { return provider{b}; }
  void serve(cx<provider>&, ret<int> reply) { reply(base); }
  void stop(cx<provider>& x) { x.stop(); }
};

}  // namespace

TEST(coro_pull, a_value_answered_later_reaches_the_awaiting_task) {
  counts c;
  trace t;
  keeper k;
  runtime rt;
  answer<int> a;
  spawn(rt, await_holding(pull<int>(rt, k.request()), c, t), a.to());
  run(rt);
  EXPECT_EQ(k.requests, 1);
  ASSERT_TRUE(k.reply);
  (*k.reply)(3);
  EXPECT_FALSE(t.after);
  run(rt);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 3);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull, a_request_answered_at_once_does_not_suspend) {
  runtime rt;
  answer<int> a;
  spawn(
      rt,
      [](core& cc) -> task<int> {
        co_return co_await pull<int>(cc,
                                     ret_do<ret<int>>([](std::optional<ret<int>> r) { (*r)(4); }));
      }(rt),
      a.to());
  run(rt);
  EXPECT_EQ(a.value, 4);
}

TEST(coro_pull, a_request_to_an_actor_gets_its_answer) {
  runtime rt;
  auto p = make_actor<&provider::init>(rt, ret_nop<stop_cause>(), 12);
  answer<int> a;
  answer<result<int>> b;
  spawn(rt, pull<int>(rt, stakker::ret_some_to<ret<int>, &provider::serve>(p)), a.to());
  spawn(rt, pull_result<int>(rt, stakker::ret_some_to<ret<int>, &provider::serve>(p)), b.to());
  run(rt);
  EXPECT_EQ(a.value, 12);
  ASSERT_TRUE(b.value);
  EXPECT_EQ(b.value->value(), 12);
}

TEST(coro_pull, the_request_is_sent_only_when_first_awaited) {
  runtime rt;
  keeper k;
  auto [gate, open] = ret_pipe<void>(rt);
  auto aw = pull<int>(rt, k.request());
  EXPECT_EQ(k.requests, 0);  // not at creation
  answer<int> a;
  spawn(
      rt,
      [](auto g, auto p) -> task<int> {
        co_await std::move(g);
        co_return co_await std::move(p);
      }(std::move(gate), std::move(aw)),
      a.to());
  run(rt);
  EXPECT_EQ(k.requests, 0);  // the task waits on the gate first
  open();
  run(rt);
  EXPECT_EQ(k.requests, 1);
  (*k.reply)(9);
  run(rt);
  EXPECT_EQ(a.value, 9);
  EXPECT_EQ(k.requests, 1);
}

TEST(coro_pull, an_awaitable_never_awaited_drops_the_request_and_the_requester_hears_none) {
  runtime rt;
  keeper k1, k2;
  { auto aw = pull<int>(rt, k1.request()); }
  EXPECT_EQ(k1.requests, 1);
  EXPECT_TRUE(k1.heard_none);
  EXPECT_FALSE(k1.reply);

  // Inside a task that finishes without awaiting it.
  answer<int> a;
  spawn(
      rt, [](auto) -> task<int> { co_return 1; }(pull_result<int>(rt, k2.request())), a.to());
  EXPECT_EQ(k2.requests, 0);
  run(rt);
  EXPECT_EQ(a.value, 1);
  EXPECT_EQ(k2.requests, 1);
  EXPECT_TRUE(k2.heard_none);
}

TEST(coro_pull, a_dropped_request_drops_the_task_at_the_await) {
  counts c;
  trace t;
  runtime rt;
  answer<int> a;
  // The requester drops the reply ret it is given, without answering.
  auto request = ret_do<ret<int>>([](std::optional<ret<int>> r) { r.reset(); });
  spawn(rt, await_holding(pull<int>(rt, std::move(request)), c, t), a.to());
  run(rt);
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull, a_request_to_a_stopped_actor_drops_the_task_at_the_await) {
  counts c;
  trace t;
  runtime rt;
  auto p = make_actor<&provider::init>(rt, ret_nop<stop_cause>(), 1);
  stakker::call<&provider::stop>(p);
  run(rt);
  ASSERT_TRUE(p.is_zombie());
  answer<int> a;
  spawn(rt, await_holding(pull<int>(rt, stakker::ret_some_to<ret<int>, &provider::serve>(p)), c, t),
        a.to());
  run(rt);
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull, a_dropped_reply_drops_the_task_at_the_await) {
  counts c;
  trace t;
  keeper k;
  runtime rt;
  answer<int> a;
  spawn(rt, await_holding(pull<int>(rt, k.request()), c, t), a.to());
  run(rt);
  ASSERT_TRUE(k.reply);
  k.reply.reset();
  run(rt);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull_result, a_value_comes_as_a_result) {
  counts c;
  trace t;
  keeper k;
  runtime rt;
  answer<result<int>> a;
  spawn(rt, await_holding(pull_result<int>(rt, k.request()), c, t), a.to());
  EXPECT_EQ(k.requests, 0);
  run(rt);
  EXPECT_EQ(k.requests, 1);
  (*k.reply)(3);
  run(rt);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value->value(), 3);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull_result, a_dropped_request_gives_actor_fail) {
  counts c;
  trace t1, t2;
  runtime rt;
  auto p = make_actor<&provider::init>(rt, ret_nop<stop_cause>(), 1);
  stakker::call<&provider::stop>(p);
  run(rt);
  answer<result<int>> a1, a2;
  spawn(
      rt,
      await_holding(pull_result<int>(rt, ret_do<ret<int>>([](std::optional<ret<int>>) {})), c, t1),
      a1.to());
  spawn(rt,
        await_holding(pull_result<int>(rt, stakker::ret_some_to<ret<int>, &provider::serve>(p)), c,
                      t2),
        a2.to());
  run(rt);
  EXPECT_TRUE(t1.after);
  EXPECT_TRUE(t2.after);
  ASSERT_TRUE(a1.once_with_value());
  EXPECT_FALSE(a1.value->has_value());
  ASSERT_TRUE(a2.once_with_value());
  EXPECT_FALSE(a2.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull_result, a_dropped_reply_gives_actor_fail) {
  counts c;
  trace t;
  keeper k;
  runtime rt;
  answer<result<int>> a;
  spawn(rt, await_holding(pull_result<int>(rt, k.request()), c, t), a.to());
  run(rt);
  k.reply.reset();
  EXPECT_FALSE(t.after);
  run(rt);
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_FALSE(a.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_pull_result, a_pull_of_void_gives_an_empty_result_or_actor_fail) {
  runtime rt;
  std::optional<ret<void>> kept;
  answer<result<void>> a1, a2;
  spawn(rt, pull_result<void>(rt, ret_do<ret<void>>([](std::optional<ret<void>> r) { (*r)(); })),
        a1.to());
  spawn(rt, pull_result<void>(rt, ret_do<ret<void>>([&](std::optional<ret<void>> r) {
                                kept = std::move(r);
                              })),
        a2.to());
  run(rt);
  ASSERT_TRUE(a1.once_with_value());
  EXPECT_TRUE(a1.value->has_value());
  ASSERT_TRUE(kept && *kept);
  kept.reset();
  run(rt);
  ASSERT_TRUE(a2.once_with_value());
  EXPECT_FALSE(a2.value->has_value());
}
