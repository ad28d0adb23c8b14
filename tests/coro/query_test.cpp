// SPDX-License-Identifier: MIT OR Apache-2.0
// K3 ("Push and pull", "Actor calls from async code"): query and query_result call a member that
// answers through a trailing ret<R>, in drop mode and in result mode.
#include "stakker/coro/query.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "coro/coro_support.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::call;
using stakker::cx;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::coro::query;
using stakker::coro::query_result;
using stakker::coro::result;
using stakker::coro::spawn;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;

using coro_test::run;

using coro_test::answer;

struct server {
  std::vector<std::string>* log;
  std::optional<ret<int>> held;

  static server init(cx<server>&, std::vector<std::string>* l) { return server{l, {}}; }

  void square(cx<server>&, int v, ret<int> r) {
    log->push_back("square");
    r(v * v);
  }
  void join(cx<server>&, std::string a, counted k, ret<std::string> r) {
    r(a + std::to_string(k.value()));
  }
  void ping(cx<server>&, ret<void> r) { r(); }
  void ignore(cx<server>&, ret<int>) { log->push_back("ignore"); }
  void ignore_void(cx<server>&, ret<void>) {}
  void hold(cx<server>&, ret<int> r) {
    log->push_back("hold");
    held = std::move(r);
  }
  void answer_held(cx<server>&, int v) { (*std::exchange(held, std::nullopt))(v); }
  void fail(cx<server>&) { throw std::runtime_error("server failed"); }
  void fail_holding(cx<server>&, ret<int>) { throw std::runtime_error("server failed"); }
  void stop(cx<server>& x) { x.stop(); }
  // No cx: accepted by call, and so by query (one rule: the last parameter is the ret).
  void triple(int v, ret<int> r) { r(3 * v); }
  void pong(ret<void> r) { r(); }
};

// The awaiter and reader types have public names (for code that stores them).
static_assert(
    std::is_same_v<decltype(stakker::coro::ret_pipe<int>(std::declval<stakker::core&>()).first),
                   stakker::coro::pipe_awaiter<int>>);
static_assert(std::is_same_v<
              decltype(stakker::coro::ret_pipe_result<int>(std::declval<stakker::core&>()).first),
              stakker::coro::pipe_result_awaiter<int>>);
static_assert(std::is_same_v<decltype(stakker::coro::pull<int>(std::declval<stakker::core&>(),
                                                               std::declval<ret<ret<int>>>())),
                             stakker::coro::pull_awaiter<int>>);
static_assert(std::is_same_v<decltype(stakker::coro::fwd_stream<int>(std::declval<stakker::core&>(),
                                                                     std::declval<stakker::fwd<>>())
                                          .first),
                             stakker::coro::stream_reader<int>>);
static_assert(std::is_same_v<decltype(query<&server::square>(std::declval<actor<server>&>(), 1)),
                             stakker::coro::query_awaiter<server, &server::square, int>>);

// What a task did around its query.
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

// An actor and a notify that records its stop cause.
struct fixture {
  std::vector<std::string> log;
  std::optional<stop_cause> cause;
  runtime rt;
  actor_own<server> s;

  fixture()
      : s(make_actor<&server::init>(
            rt, ret_do<stop_cause>([this](std::optional<stop_cause> c) { cause = std::move(c); }),
            &log)) {}
  void run() { ::run(rt); }
};

}  // namespace

// Drop mode.

TEST(coro_query, a_query_gives_the_members_answer) {
  fixture f;
  counts c;
  trace t;
  answer<int> a;
  spawn(f.rt, await_holding(query(f.s, &server::square, 9), c, t), a.to());
  f.run();
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 81);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, a_member_without_cx_is_queried_as_call_takes_it) {
  fixture f;
  answer<int> a;
  spawn(f.rt, query(f.s, &server::triple, 14), a.to());
  answer<int> b;
  spawn(f.rt, query<&server::triple>(f.s, 5), b.to());
  answer<void> c;
  spawn(f.rt, query(f.s, &server::pong), c.to());
  f.run();
  EXPECT_EQ(a.value, 42);
  EXPECT_EQ(b.value, 15);
  EXPECT_TRUE(c.once_with_value());
}

TEST(coro_query, a_query_carries_its_arguments_and_destroys_them_once) {
  fixture f;
  counts c;
  answer<std::string> a;
  spawn(f.rt, query(f.s.ref(), &server::join, std::string("k"), counted(c, 7)), a.to());
  f.run();
  EXPECT_EQ(a.value, "k7");
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, a_query_of_a_member_answering_void_resumes_the_task) {
  fixture f;
  answer<void> a;
  spawn(f.rt, query(f.s, &server::ping), a.to());
  f.run();
  EXPECT_TRUE(a.once_with_value());
}

TEST(coro_query, the_call_is_made_when_the_query_is_first_awaited_not_when_it_is_made) {
  fixture f;
  auto [gate, open] = stakker::coro::ret_pipe<void>(f.rt);
  answer<int> a;
  spawn(
      f.rt,
      [](auto g, auto q) -> task<int> {
        co_await std::move(g);
        co_return co_await std::move(q);
      }(std::move(gate), query(f.s, &server::square, 3)),
      a.to());
  f.run();
  EXPECT_TRUE(f.log.empty());
  open();
  f.run();
  EXPECT_EQ(f.log, (std::vector<std::string>{"square"}));
  EXPECT_EQ(a.value, 9);
}

TEST(coro_query, a_query_never_awaited_calls_nothing) {
  fixture f;
  answer<int> a;
  spawn(
      f.rt, [](auto) -> task<int> { co_return 0; }(query(f.s, &server::square, 3)), a.to());
  f.run();
  EXPECT_TRUE(f.log.empty());
  EXPECT_EQ(a.value, 0);
}

TEST(coro_query, an_answer_given_later_by_another_call_resumes_the_task) {
  fixture f;
  answer<int> a;
  spawn(f.rt, query(f.s, &server::hold), a.to());
  f.run();
  EXPECT_EQ(f.log, (std::vector<std::string>{"hold"}));
  EXPECT_EQ(a.calls, 0);
  call<&server::answer_held>(f.s, 5);
  f.run();
  EXPECT_EQ(a.value, 5);
}

TEST(coro_query, a_member_that_drops_the_ret_drops_the_task_at_the_await) {
  fixture f;
  counts c;
  trace t, tv;
  answer<int> a;
  answer<void> av;
  spawn(f.rt, await_holding(query(f.s, &server::ignore), c, t), a.to());
  spawn(f.rt, await_holding(query(f.s, &server::ignore_void), c, tv), av.to());
  f.run();
  EXPECT_EQ(f.log, (std::vector<std::string>{"ignore"}));
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_FALSE(tv.after);
  EXPECT_TRUE(av.once_none());
  EXPECT_EQ(c.constructed, 2);
  EXPECT_TRUE(c.balanced());
  EXPECT_TRUE(f.s.is_ready());  // the actor itself is unaffected
}

TEST(coro_query, a_query_to_a_stopped_actor_drops_the_task_at_the_await) {
  fixture f;
  call<&server::stop>(f.s);
  f.run();
  ASSERT_TRUE(f.s.is_zombie());
  counts c;
  trace t;
  answer<int> a;
  spawn(f.rt, await_holding(query(f.s, &server::square, 2), c, t), a.to());
  f.run();
  EXPECT_TRUE(f.log.empty());
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, a_query_to_an_actor_whose_owner_was_dropped_drops_the_task) {
  fixture f;
  actor<server> ref = f.s.ref();
  f.s.reset();
  f.run();
  ASSERT_TRUE(ref.is_zombie());
  ASSERT_TRUE(f.cause && *f.cause == stop_kind::dropped);
  counts c;
  trace t;
  answer<int> a;
  spawn(f.rt, await_holding(query(ref, &server::square, 2), c, t), a.to());
  f.run();
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, an_actor_that_fails_while_holding_the_ret_drops_the_task) {
  fixture f;
  counts c;
  trace t;
  answer<int> a;
  spawn(f.rt, await_holding(query(f.s, &server::hold), c, t), a.to());
  f.run();
  EXPECT_EQ(a.calls, 0);
  EXPECT_EQ(c.alive(), 1);
  call<&server::fail>(f.s);
  f.run();
  ASSERT_TRUE(f.cause && *f.cause == stop_kind::failed);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, an_actor_that_fails_in_the_member_given_the_ret_drops_the_task) {
  fixture f;
  counts c;
  trace t;
  answer<int> a;
  spawn(f.rt, await_holding(query(f.s, &server::fail_holding), c, t), a.to());
  f.run();
  ASSERT_TRUE(f.cause && *f.cause == stop_kind::failed);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

// Result mode.

TEST(coro_query_result, a_query_gives_the_members_answer_as_a_result) {
  fixture f;
  counts c;
  trace t;
  answer<result<int>> a;
  answer<result<void>> av;
  spawn(f.rt, await_holding(query_result(f.s, &server::square, 9), c, t), a.to());
  spawn(f.rt, query_result(f.s, &server::ping), av.to());
  f.run();
  ASSERT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value->value(), 81);
  ASSERT_TRUE(av.once_with_value());
  EXPECT_TRUE(av.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query_result, a_member_that_drops_the_ret_gives_actor_fail) {
  fixture f;
  counts c;
  trace t;
  answer<result<int>> a;
  answer<result<void>> av;
  spawn(f.rt, await_holding(query_result(f.s, &server::ignore), c, t), a.to());
  spawn(f.rt, query_result(f.s, &server::ignore_void), av.to());
  f.run();
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  ASSERT_FALSE(a.value->has_value());
  EXPECT_FALSE(a.value->error().exception);
  ASSERT_TRUE(av.once_with_value());
  EXPECT_FALSE(av.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query_result, a_query_to_a_stopped_actor_gives_actor_fail) {
  fixture f;
  call<&server::stop>(f.s);
  f.run();
  ASSERT_TRUE(f.s.is_zombie());
  counts c;
  trace t;
  answer<result<int>> a;
  spawn(f.rt, await_holding(query_result(f.s, &server::square, 2), c, t), a.to());
  f.run();
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_FALSE(a.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query_result, an_actor_that_fails_while_holding_the_ret_gives_actor_fail) {
  fixture f;
  counts c;
  trace t;
  answer<result<int>> a;
  spawn(f.rt, await_holding(query_result(f.s, &server::hold), c, t), a.to());
  f.run();
  EXPECT_FALSE(t.after);
  call<&server::fail>(f.s);
  f.run();
  ASSERT_TRUE(f.cause && *f.cause == stop_kind::failed);
  EXPECT_TRUE(t.after);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_FALSE(a.value->has_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query_result, an_actor_that_fails_in_the_member_given_the_ret_gives_actor_fail) {
  fixture f;
  answer<result<int>> a;
  spawn(f.rt, query_result(f.s, &server::fail_holding), a.to());
  f.run();
  ASSERT_TRUE(f.cause && *f.cause == stop_kind::failed);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_FALSE(a.value->has_value());
}

TEST(coro_query_result, a_task_can_go_on_after_a_failed_query_and_query_again) {
  fixture f;
  answer<std::string> a;
  spawn(
      f.rt,
      [](actor<server> s) -> task<std::string> {
        result<int> first = co_await query_result(s, &server::ignore);
        result<int> second = co_await query_result(s, &server::square, 4);
        co_return std::string(first ? "value" : "fail") + "," + std::to_string(*second);
      }(f.s),
      a.to());
  f.run();
  EXPECT_EQ(a.value, "fail,16");
}

// A query's answer queues the task's wake; what happens to it when the task has gone by
// then, and when many answers queue at once.

namespace {

// Hands the ret of each query to the test (which answers it outside any run).
struct holder {
  std::optional<ret<counted>>* out;
  static holder init(cx<holder>&, std::optional<ret<counted>>* o) { return holder{o}; }
  void give(cx<holder>&, ret<counted> r) { *out = std::move(r); }
};

// Spawns a task tied to itself that queries a holder.
struct asker {
  static asker init(cx<asker>&) { return {}; }
  void start(cx<asker>& x, actor<holder> h, answer<counted>* a, counts* c, trace* t) {
    spawn(x, await_holding(query<&holder::give>(h), *c, *t), a->to());
  }
  void stop(cx<asker>& x) { x.stop(); }
};

struct echo {
  static echo init(cx<echo>&) { return {}; }
  void back(cx<echo>&, int v, ret<int> r) { r(v); }
};

}  // namespace

TEST(coro_query,
     a_task_dropped_while_its_answer_is_queued_is_not_resumed_and_the_answer_goes_once) {
  counts c;
  trace t;
  answer<counted> a;
  std::optional<ret<counted>> held;
  runtime rt;
  auto h = make_actor<&holder::init>(rt, ret_nop<stop_cause>(), &held);
  auto k = make_actor<&asker::init>(rt, ret_nop<stop_cause>());
  call<&asker::start>(k, h.ref(), &a, &c, &t);
  run(rt);
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(t.reached);
  // The stop is queued first, the wake after it: the task (tied to the asker) is dropped
  // while its wake waits in the queue, holding the answer.
  call<&asker::stop>(k);
  (*std::exchange(held, std::nullopt))(counted(c, 5));
  run(rt);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, a_runtime_destroyed_with_an_answers_wake_queued_frees_it_and_answers_none) {
  counts c;
  trace t;
  answer<counted> a;
  std::optional<ret<counted>> held;
  {
    runtime rt;
    auto h = make_actor<&holder::init>(rt, ret_nop<stop_cause>(), &held);
    spawn(rt, await_holding(query<&holder::give>(h), c, t), a.to());
    run(rt);
    ASSERT_TRUE(held.has_value());
    (*std::exchange(held, std::nullopt))(counted(c, 5));  // its wake queued, never run
  }
  EXPECT_TRUE(t.reached);
  EXPECT_FALSE(t.after);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_query, answers_that_grow_the_queue_each_resume_their_task_once) {
  // 4000 wakes of 16 bytes queued in one run, among the calls: more than a 16 KiB chunk.
  constexpr int n = 4000;
  runtime rt;
  auto e = make_actor<&echo::init>(rt, ret_nop<stop_cause>());
  std::vector<answer<int>> answers(n);
  for (int i = 0; i < n; ++i)
    spawn(rt, query<&echo::back>(e, i), answers[static_cast<std::size_t>(i)].to());
  run(rt);
  long sum = 0;
  for (const auto& a : answers) {
    ASSERT_TRUE(a.once_with_value());
    sum += *a.value;
  }
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
}
