// SPDX-License-Identifier: MIT OR Apache-2.0
// K3, K4: a dropped task's frames die at their suspension points with every local destroyed
// exactly once; whatever still holds a resume for them is disarmed; a task spawned by an
// actor dies with it; destroying the runtime destroys every suspended task.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
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
using stakker::core;
using stakker::cx;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::coro::result;
using stakker::coro::ret_pipe;
using stakker::coro::ret_pipe_result;
using stakker::coro::spawn;
using stakker::coro::spawn_result;
using stakker::coro::task;
using stakker::testing::counted;
using stakker::testing::counts;
using namespace std::chrono_literals;

using coro_test::run;

using coro_test::answer;

// How far a task got.
struct trace {
  int reached = 0;
  int after = 0;
};

task<int> quick_value(int v) { co_return v; }

using int_pipe = decltype(ret_pipe<int>(std::declval<core&>()).first);
using int_pipe_result = decltype(ret_pipe_result<int>(std::declval<core&>()).first);

// A counted parameter and a counted local; awaits `aw`.
template <class A>
task<int> leaf(A aw, counted param, counts& c, trace& t) {
  counted local(c, param.value() + 1);
  ++t.reached;
  auto v = co_await std::move(aw);
  ++t.after;
  counted never(c, 99);  // constructed only if the await resumes
  if constexpr (std::is_same_v<decltype(v), int>) {
    co_return v + local.value() + never.value();
  } else {
    co_return v ? *v : -1;
  }
}

// Three levels: each frame has counted locals and awaits the next.
task<int> middle(int_pipe aw, counts& c, trace& t) {
  counted local(c, 10);
  ++t.reached;
  int v = co_await leaf(std::move(aw), counted(c, 20), c, t);
  ++t.after;
  co_return v + local.value();
}
task<int> outer(int_pipe aw, counts& c, trace& t) {
  counted local(c, 30);
  std::vector<counted> several{counted(c, 1), counted(c, 2)};
  ++t.reached;
  int v = co_await middle(std::move(aw), c, t);
  ++t.after;
  co_return v;
}

// An actor that spawns tasks tied to itself.
struct owner {
  static owner init(cx<owner>&) { return {}; }
  static owner init_spawning(cx<owner>& x, task<int> t, ret<int> r) {
    spawn(x, std::move(t), std::move(r));
    return {};
  }
  static std::optional<owner> init_spawning_then_failing(cx<owner>& x, task<int> t, ret<int> r) {
    spawn(x, std::move(t), std::move(r));
    throw std::runtime_error("init failed");
  }

  void start(cx<owner>& x, task<int> t, ret<int> r) { spawn(x, std::move(t), std::move(r)); }
  void start_result(cx<owner>& x, task<int> t, ret<result<int>> r) {
    spawn_result(x, std::move(t), std::move(r));
  }
  // Spawned on the core, not tied to the actor.
  void start_untied(cx<owner>& x, task<int> t, ret<int> r) {
    spawn(x.core(), std::move(t), std::move(r));
  }
  void start_and_stop(cx<owner>& x, task<int> t, ret<int> r) {
    spawn(x, std::move(t), std::move(r));
    x.stop();
  }
  // Spawns, then queues a kill of itself behind the task's first step.
  void start_then_kill(cx<owner>& x, task<int> t, ret<int> r, actor_own<owner>* own) {
    spawn(x, std::move(t), std::move(r));
    x.defer([own](core&) { own->kill("killed from the queue"); });
  }
  void stop(cx<owner>& x) { x.stop(); }
  void fail(cx<owner>&) { throw std::runtime_error("owner failed"); }
};

struct owner_fixture {
  std::optional<stop_cause> cause;
  int notified = 0;
  runtime rt;
  actor_own<owner> a;

  owner_fixture()
      : a(make_actor<&owner::init>(rt, ret_do<stop_cause>([this](std::optional<stop_cause> c) {
                                     ++notified;
                                     cause = std::move(c);
                                   }))) {}
  void run() { ::run(rt); }
};

}  // namespace

// Dropped chains.

TEST(coro_lifetime, the_locals_and_parameters_of_a_dropped_task_are_destroyed_exactly_once) {
  counts c;
  trace t;
  answer<int> a;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  spawn(rt, leaf(std::move(aw), counted(c, 1), c, t), a.to());
  run(rt);
  EXPECT_EQ(t.reached, 1);
  EXPECT_EQ(c.alive(), 2);  // the parameter and the local
  r.reset();
  run(rt);
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  EXPECT_EQ(c.double_destroys, 0);
}

TEST(coro_lifetime,
     the_locals_of_nested_child_tasks_are_destroyed_exactly_once_when_the_chain_is_dropped) {
  counts c;
  trace t;
  answer<int> a;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  spawn(rt, outer(std::move(aw), c, t), a.to());
  run(rt);
  EXPECT_EQ(t.reached, 3);
  // outer: local + 2 in the vector; middle: local + the leaf's argument temporary;
  // leaf: its parameter and local.
  EXPECT_EQ(c.alive(), 7);
  r.reset();
  run(rt);
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_nested_chain_that_is_answered_completes_with_every_local_destroyed_once) {
  counts c;
  trace t;
  answer<int> a;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  spawn(rt, outer(std::move(aw), c, t), a.to());
  run(rt);
  r(100);
  run(rt);
  EXPECT_EQ(t.after, 3);
  // leaf: 100 + 21 + 99; middle adds 10.
  EXPECT_EQ(a.value, 230);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_nested_chain_spawned_in_result_mode_answers_actor_fail_when_dropped) {
  counts c;
  trace t;
  answer<result<int>> a;
  runtime rt;
  auto [aw, r] = ret_pipe<int>(rt);
  spawn_result(rt, outer(std::move(aw), c, t), a.to());
  run(rt);
  r.reset();
  run(rt);
  EXPECT_EQ(t.after, 0);
  ASSERT_TRUE(a.once_with_value());
  EXPECT_FALSE(a.value->has_value());
  EXPECT_TRUE(c.balanced());
}

// Disarmed resumes: a ret firing into a destroyed task does nothing (run under ASan).

TEST(coro_lifetime, a_ret_called_after_its_task_was_dropped_does_nothing) {
  counts c;
  answer<int> a;
  runtime rt;
  auto [first, r1] = ret_pipe<int>(rt);
  auto [second, r2] = ret_pipe<int>(rt);
  auto [third, r3] = ret_pipe_result<int>(rt);
  // The task holds two awaitables it has not reached yet and waits on the first.
  spawn(
      rt,
      [](int_pipe a1, int_pipe a2, int_pipe_result a3, counts& cc) -> task<int> {
        counted local(cc, 1);
        int v = co_await std::move(a1);
        v += co_await std::move(a2);
        co_return v + (co_await std::move(a3)).value_or(0);
      }(std::move(first), std::move(second), std::move(third), c),
      a.to());
  run(rt);
  r1.reset();  // drops the task at its first await
  run(rt);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  r2(5);  // into a destroyed task
  r3.reset();
  run(rt);
  EXPECT_EQ(a.calls, 1);
}

TEST(coro_lifetime, a_ret_called_after_its_tasks_actor_stopped_does_nothing) {
  counts c;
  trace t;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  call<&owner::start>(f.a, leaf(std::move(aw), counted(c, 1), c, t), a.to());
  f.run();
  EXPECT_EQ(t.reached, 1);
  call<&owner::stop>(f.a);
  f.run();
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  r(7);  // the awaiter is gone: the value is dropped, nothing is resumed
  f.run();
  EXPECT_EQ(t.after, 0);
  EXPECT_EQ(a.calls, 1);
}

TEST(coro_lifetime, a_wake_queued_before_the_task_was_destroyed_does_nothing) {
  counts c;
  trace t1, t2;
  answer<int> a1;
  answer<result<int>> a2;
  owner_fixture f;
  auto [aw1, r1] = ret_pipe<int>(f.rt);
  auto [aw2, r2] = ret_pipe_result<int>(f.rt);
  call<&owner::start>(f.a, leaf(std::move(aw1), counted(c, 1), c, t1), a1.to());
  call<&owner::start_result>(f.a, leaf(std::move(aw2), counted(c, 1), c, t2), a2.to());
  f.run();
  r1(7);                                 // queues the resumption of the first task
  r2.reset();                            // queues the resumption of the second (with actor_fail)
  f.a.kill("killed with wakes queued");  // not running: destroys both tasks at once
  EXPECT_TRUE(a1.once_none());
  ASSERT_TRUE(a2.once_with_value());
  EXPECT_FALSE(a2.value->has_value());  // spawn_result: actor_fail
  EXPECT_TRUE(c.balanced());
  f.run();  // the queued wakes find nothing to resume
  EXPECT_EQ(t1.after + t2.after, 0);
  EXPECT_EQ(a1.calls + a2.calls, 2);
}

TEST(coro_lifetime, a_queued_bounce_of_a_destroyed_task_does_nothing) {
  // A long run of ready child awaits bounces through the queue (see stack_test); the task is
  // destroyed while such a bounce is queued.
  int done = 0;
  answer<int> a;
  owner_fixture f;
  auto body = [](int& d) -> task<int> {
    auto child = [](int v) -> task<int> { co_return v; };
    for (int i = 0; i < 100000; ++i) d += co_await child(1);
    co_return d;
  };
  call<&owner::start_then_kill>(f.a, body(done), a.to(), &f.a);
  f.run();
  EXPECT_GT(done, 0);
  EXPECT_LT(done, 100000);
  EXPECT_TRUE(a.once_none());
  ASSERT_TRUE(f.cause);
  EXPECT_EQ(*f.cause, stop_kind::killed);
}

// K4: a task spawned by an actor dies with it.

TEST(coro_lifetime, a_task_spawned_by_an_actor_is_destroyed_when_the_actor_stops) {
  counts c;
  trace t;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  call<&owner::start>(f.a, leaf(std::move(aw), counted(c, 1), c, t), a.to());
  f.run();
  EXPECT_EQ(c.alive(), 2);
  call<&owner::stop>(f.a);
  f.run();
  EXPECT_EQ(f.notified, 1);
  EXPECT_EQ(*f.cause, stop_kind::stopped);
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_spawned_by_an_actor_is_destroyed_when_the_actor_fails) {
  counts c;
  trace t;
  answer<int> a;
  answer<result<int>> b;
  owner_fixture f;
  auto [aw1, r1] = ret_pipe<int>(f.rt);
  auto [aw2, r2] = ret_pipe<int>(f.rt);
  call<&owner::start>(f.a, outer(std::move(aw1), c, t), a.to());
  call<&owner::start_result>(f.a, leaf(std::move(aw2), counted(c, 1), c, t), b.to());
  f.run();
  EXPECT_EQ(t.reached, 4);
  call<&owner::fail>(f.a);
  f.run();
  EXPECT_EQ(*f.cause, stop_kind::failed);
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  ASSERT_TRUE(b.once_with_value());
  EXPECT_FALSE(b.value->has_value());  // spawn_result: actor_fail
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_spawned_by_an_actor_is_destroyed_when_the_actor_is_killed_or_dropped) {
  counts c;
  trace t1, t2;
  answer<int> a1, a2;
  owner_fixture f, g;
  auto [aw1, r1] = ret_pipe<int>(f.rt);
  auto [aw2, r2] = ret_pipe<int>(g.rt);
  call<&owner::start>(f.a, leaf(std::move(aw1), counted(c, 1), c, t1), a1.to());
  call<&owner::start>(g.a, leaf(std::move(aw2), counted(c, 1), c, t2), a2.to());
  f.run();
  g.run();
  EXPECT_EQ(c.alive(), 4);
  f.a.kill("killed");
  EXPECT_TRUE(a1.once_none());  // at once: the actor was not running
  EXPECT_EQ(*f.cause, stop_kind::killed);
  g.a.reset();  // its last owner: the stop is queued
  EXPECT_EQ(a2.calls, 0);
  g.run();
  EXPECT_EQ(*g.cause, stop_kind::dropped);
  EXPECT_TRUE(a2.once_none());
  EXPECT_EQ(t1.after + t2.after, 0);
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, only_the_stopping_actors_tasks_are_destroyed) {
  counts c;
  trace t1, t2, t3;
  answer<int> a1, a2, a3;
  owner_fixture f;
  actor_own<owner> other = make_actor<&owner::init>(f.rt, stakker::ret_nop<stop_cause>());
  auto [aw1, r1] = ret_pipe<int>(f.rt);
  auto [aw2, r2] = ret_pipe<int>(f.rt);
  auto [aw3, r3] = ret_pipe<int>(f.rt);
  call<&owner::start>(f.a, leaf(std::move(aw1), counted(c, 1), c, t1), a1.to());
  call<&owner::start>(other, leaf(std::move(aw2), counted(c, 1), c, t2), a2.to());
  // Spawned on the core from inside the actor: not tied to it.
  call<&owner::start_untied>(f.a, leaf(std::move(aw3), counted(c, 1), c, t3), a3.to());
  f.run();
  call<&owner::stop>(f.a);
  f.run();
  EXPECT_TRUE(a1.once_none());
  EXPECT_EQ(a2.calls + a3.calls, 0);
  r2(1);
  r3(1);
  f.run();
  EXPECT_TRUE(a2.once_with_value());
  EXPECT_TRUE(a3.once_with_value());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_spawned_by_an_actor_that_stops_in_the_same_call_never_runs) {
  counts c;
  trace t;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  call<&owner::start_and_stop>(f.a, leaf(std::move(aw), counted(c, 1), c, t), a.to());
  f.run();
  EXPECT_EQ(*f.cause, stop_kind::stopped);
  EXPECT_EQ(t.reached, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_spawned_by_an_actors_init_is_tied_to_the_actor) {
  counts c;
  trace t1, t2;
  answer<int> a1, a2;
  std::optional<stop_cause> cause2;
  runtime rt;
  auto [aw1, r1] = ret_pipe<int>(rt);
  auto [aw2, r2] = ret_pipe<int>(rt);
  auto x1 = make_actor<&owner::init_spawning>(rt, stakker::ret_nop<stop_cause>(),
                                              leaf(std::move(aw1), counted(c, 1), c, t1), a1.to());
  auto x2 = make_actor<&owner::init_spawning_then_failing>(
      rt, ret_do<stop_cause>([&](std::optional<stop_cause> sc) { cause2 = std::move(sc); }),
      leaf(std::move(aw2), counted(c, 1), c, t2), a2.to());
  run(rt);
  // The failed init's task was destroyed before its first step.
  ASSERT_TRUE(cause2);
  EXPECT_EQ(*cause2, stop_kind::failed);
  EXPECT_EQ(t2.reached, 0);
  EXPECT_TRUE(a2.once_none());
  // The other runs until its actor stops.
  EXPECT_TRUE(x1.is_ready());
  EXPECT_EQ(t1.reached, 1);
  call<&owner::stop>(x1);
  run(rt);
  EXPECT_EQ(t1.after, 0);
  EXPECT_TRUE(a1.once_none());
  EXPECT_TRUE(c.balanced());
}

// K4 with many tasks: an actor's tied tasks are listed in one record, kept in its notify slot
// from the first task tied to it until it stops; whatever order they end in, the rest die
// with the actor, and its own notify hears the stop once.

TEST(coro_lifetime, many_tasks_tied_to_one_actor_are_all_destroyed_when_it_stops) {
  constexpr int n = 100;
  counts c;
  trace t;
  owner_fixture f;
  std::vector<answer<int>> answers(n);
  std::vector<ret<int>> rets;
  for (int i = 0; i < n; ++i) {
    auto [aw, r] = ret_pipe<int>(f.rt);
    rets.push_back(std::move(r));
    call<&owner::start>(f.a, leaf(std::move(aw), counted(c, 1), c, t),
                        answers[static_cast<std::size_t>(i)].to());
  }
  f.run();
  EXPECT_EQ(t.reached, n);
  EXPECT_EQ(c.alive(), 2 * n);
  call<&owner::stop>(f.a);
  f.run();
  EXPECT_EQ(f.notified, 1);
  EXPECT_EQ(*f.cause, stop_kind::stopped);
  EXPECT_EQ(t.after, 0);
  for (const auto& a : answers) EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  rets.clear();  // the rets outlived their tasks: answering now reaches no one
  f.run();
  for (const auto& a : answers) EXPECT_EQ(a.calls, 1);
}

TEST(coro_lifetime, tasks_tied_to_one_actor_finish_in_any_order_and_the_rest_die_with_it) {
  std::array<int, 3> order{0, 1, 2};
  do {
    for (int finished = 0; finished <= 3; ++finished) {  // how many end before the stop
      counts c;
      trace t;
      owner_fixture f;
      std::array<answer<int>, 3> answers;
      std::vector<ret<int>> rets;
      for (auto& a : answers) {
        auto [aw, r] = ret_pipe<int>(f.rt);
        rets.push_back(std::move(r));
        call<&owner::start>(f.a, leaf(std::move(aw), counted(c, 1), c, t), a.to());
      }
      f.run();
      for (int k = 0; k < finished; ++k) {
        const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(k)]);
        rets[i](10);
        f.run();
        EXPECT_TRUE(answers[i].once_with_value());
      }
      EXPECT_EQ(c.alive(), 2 * (3 - finished));
      // Another task tied after some ended joins the same list.
      answer<int> late;
      auto [aw, r] = ret_pipe<int>(f.rt);
      call<&owner::start>(f.a, leaf(std::move(aw), counted(c, 1), c, t), late.to());
      f.run();
      call<&owner::stop>(f.a);
      f.run();
      EXPECT_EQ(f.notified, 1);
      EXPECT_EQ(*f.cause, stop_kind::stopped);
      for (int k = finished; k < 3; ++k)
        EXPECT_TRUE(
            answers[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])].once_none());
      EXPECT_TRUE(late.once_none());
      EXPECT_EQ(t.after, finished);
      EXPECT_TRUE(c.balanced());
    }
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(coro_lifetime, an_actor_whose_tied_tasks_all_ended_still_hears_its_stop_once) {
  owner_fixture f;
  answer<int> a;
  call<&owner::start>(f.a, quick_value(5), a.to());
  f.run();
  EXPECT_TRUE(a.once_with_value());
  f.a.kill("killed");
  EXPECT_EQ(f.notified, 1);
  EXPECT_EQ(*f.cause, stop_kind::killed);
}

TEST(coro_lifetime,
     a_runtime_destroyed_with_tasks_tied_to_a_live_actor_drops_them_and_the_actor_hears_none_once) {
  for (const bool own_outlives_runtime : {true, false}) {
    counts c;
    trace t;
    answer<int> a1, a2;
    int notified = 0;
    std::optional<stop_cause> cause;
    {
      std::optional<actor_own<owner>> outliving;
      runtime rt;
      actor_own<owner> own =
          make_actor<&owner::init>(rt, ret_do<stop_cause>([&](std::optional<stop_cause> sc) {
                                     ++notified;
                                     cause = std::move(sc);
                                   }));
      auto [aw1, r1] = ret_pipe<int>(rt);
      auto [aw2, r2] = ret_pipe<int>(rt);
      call<&owner::start>(own, leaf(std::move(aw1), counted(c, 1), c, t), a1.to());
      call<&owner::start>(own, leaf(std::move(aw2), counted(c, 1), c, t), a2.to());
      run(rt);
      EXPECT_EQ(c.alive(), 4);
      if (own_outlives_runtime) outliving.emplace(std::move(own));
    }
    EXPECT_EQ(notified, 1) << own_outlives_runtime;
    EXPECT_FALSE(cause) << own_outlives_runtime;
    EXPECT_TRUE(a1.once_none());
    EXPECT_TRUE(a2.once_none());
    EXPECT_EQ(t.after, 0);
    EXPECT_TRUE(c.balanced());
  }
}

TEST(coro_lifetime,
     a_task_that_kills_its_own_actor_runs_on_until_it_suspends_or_enters_another_frame) {
  // The K4 case "a running task stops its owner": the task holds (a pointer to) its actor's
  // actor_own and kills it. The kill is immediate (the task does not run inside an actor
  // call), so the actor's state goes while the task runs; the task is dropped at its next
  // suspension, or where it would pass control to another frame of its chain (a child task,
  // a generator, a parent): no code of another frame runs after the owner is gone.
  counts c;
  trace t;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  auto [ready, rr] = ret_pipe<int>(f.rt);
  rr(1);
  call<&owner::start>(
      f.a,
      [](actor_own<owner>* own, int_pipe rdy, int_pipe p, counts& cc, trace& tt) -> task<int> {
        counted local(cc, 1);
        own->kill("killed by its own task");
        ++tt.reached;
        int v = co_await std::move(rdy);  // ready: no suspension
        ++tt.reached;
        // Would enter a child task: the whole chain is dropped there instead.
        v += co_await leaf(std::move(p), counted(cc, 2), cc, tt);
        ++tt.after;
        co_return v;
      }(&f.a, std::move(ready), std::move(aw), c, t),
      a.to());
  f.run();
  ASSERT_TRUE(f.cause);
  EXPECT_EQ(*f.cause, stop_kind::killed);
  EXPECT_EQ(t.reached, 2);  // both in the task; the child never ran
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  r(5);  // disarmed
  f.run();
  EXPECT_EQ(a.calls, 1);
}

TEST(coro_lifetime, a_task_that_kills_its_own_actor_and_finishes_without_suspending_answers) {
  answer<int> a;
  owner_fixture f;
  call<&owner::start>(
      f.a,
      [](actor_own<owner>* own) -> task<int> {
        own->kill("killed by its own task");
        co_return 3;
      }(&f.a),
      a.to());
  f.run();
  EXPECT_EQ(*f.cause, stop_kind::killed);
  EXPECT_TRUE(a.once_with_value());
  EXPECT_EQ(a.value, 3);
}

TEST(coro_lifetime, a_task_that_drops_its_actors_last_owner_is_destroyed_at_its_next_await) {
  counts c;
  trace t;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  call<&owner::start>(
      f.a,
      [](actor_own<owner>* own, int_pipe p, counts& cc, trace& tt) -> task<int> {
        counted local(cc, 1);
        own->reset();  // the stop is queued
        ++tt.reached;
        int v = co_await std::move(p);
        ++tt.after;
        co_return v;
      }(&f.a, std::move(aw), c, t),
      a.to());
  f.run();
  EXPECT_EQ(*f.cause, stop_kind::dropped);
  EXPECT_EQ(t.reached, 1);
  EXPECT_EQ(t.after, 0);
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_holding_its_actors_only_owner_and_dropped_at_an_await_drops_the_actor) {
  counts c;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  actor<owner> ref = f.a.ref();
  call<&owner::start>(
      ref,
      [](actor_own<owner> own, int_pipe p, counts& cc) -> task<int> {
        counted local(cc, 1);
        co_return co_await std::move(p) + (own ? 1 : 0);
      }(std::move(f.a), std::move(aw), c),
      a.to());
  f.run();
  EXPECT_TRUE(ref.is_ready());
  r.reset();
  f.run();
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_EQ(f.notified, 1);
  EXPECT_EQ(*f.cause, stop_kind::dropped);
}

TEST(coro_lifetime, a_task_holding_its_actors_only_owner_is_destroyed_when_the_actor_stops) {
  counts c;
  answer<int> a;
  owner_fixture f;
  auto [aw, r] = ret_pipe<int>(f.rt);
  actor<owner> ref = f.a.ref();
  call<&owner::start>(
      ref,
      [](actor_own<owner> own, int_pipe p, counts& cc) -> task<int> {
        counted local(cc, 1);
        co_return co_await std::move(p) + (own ? 1 : 0);
      }(std::move(f.a), std::move(aw), c),
      a.to());
  f.run();
  call<&owner::stop>(ref);
  f.run();
  EXPECT_TRUE(a.once_none());
  EXPECT_TRUE(c.balanced());
  EXPECT_EQ(f.notified, 1);
  EXPECT_EQ(*f.cause, stop_kind::stopped);
}

// R6 with the bridge: destroying the runtime destroys every suspended task.

TEST(coro_lifetime,
     destroying_the_runtime_destroys_suspended_tasks_once_and_their_spawns_answer_none) {
  counts c;
  trace t;
  answer<int> waiting, nested, unstarted, sleeping, tied, woken;
  answer<result<int>> in_result_mode;
  std::optional<ret<int>> kept1, kept2, kept3, kept4, kept5;
  {
    runtime rt;
    auto [aw1, r1] = ret_pipe<int>(rt);
    auto [aw2, r2] = ret_pipe<int>(rt);
    auto [aw3, r3] = ret_pipe<int>(rt);
    auto [aw4, r4] = ret_pipe<int>(rt);
    auto [aw5, r5] = ret_pipe<int>(rt);
    kept1 = std::move(r1);
    kept2 = std::move(r2);
    kept3 = std::move(r3);
    kept4 = std::move(r4);
    kept5 = std::move(r5);
    spawn(rt, leaf(std::move(aw1), counted(c, 1), c, t), waiting.to());
    spawn(rt, outer(std::move(aw2), c, t), nested.to());
    spawn_result(rt, leaf(std::move(aw3), counted(c, 1), c, t), in_result_mode.to());
    spawn(
        rt,
        [](core& cc, counts& k) -> task<int> {
          counted local(k, 1);
          co_await stakker::coro::sleep_for(cc, 1h);
          co_return 1;
        }(rt, c),
        sleeping.to());
    auto a = make_actor<&owner::init>(rt, stakker::ret_nop<stop_cause>());
    call<&owner::start>(a, leaf(std::move(aw4), counted(c, 1), c, t), tied.to());
    spawn(rt, leaf(std::move(aw5), counted(c, 1), c, t), woken.to());
    run(rt);
    EXPECT_EQ(t.reached, 7);
    (*kept5)(3);  // its resumption is queued when the runtime goes
    spawn(rt, leaf(ret_pipe<int>(rt).first, counted(c, 1), c, t), unstarted.to());
    EXPECT_GT(c.alive(), 0);
  }
  EXPECT_EQ(t.after, 0);
  for (auto* a : {&waiting, &nested, &unstarted, &sleeping, &tied, &woken})
    EXPECT_TRUE(a->once_none());
  ASSERT_TRUE(in_result_mode.once_with_value());
  EXPECT_FALSE(in_result_mode.value->has_value());
  EXPECT_TRUE(c.balanced());
  // The rets outlive the runtime; answering or dropping them now is harmless.
  (*kept1)(1);
  kept2.reset();
  kept3->reset();
  (*kept4)(4);
  kept1.reset();
  kept4.reset();
}

TEST(coro_lifetime, a_task_spawned_while_the_runtime_destroys_its_tasks_is_destroyed_too) {
  // A spawn's ret answering "none" while the runtime drops its tasks spawns another task.
  counts c;
  trace t;
  answer<int> second;
  int first_calls = 0;
  {
    runtime rt;
    auto [aw1, r1] = ret_pipe<int>(rt);
    spawn(rt, leaf(std::move(aw1), counted(c, 1), c, t), ret_do<int>([&](std::optional<int>) {
            ++first_calls;
            spawn(rt, leaf(ret_pipe<int>(rt).first, counted(c, 2), c, t), second.to());
          }));
    run(rt);
  }
  EXPECT_EQ(first_calls, 1);
  EXPECT_TRUE(second.once_none());
  EXPECT_TRUE(c.balanced());
}

TEST(coro_lifetime, a_task_spawned_while_the_runtime_destroys_its_queue_is_destroyed_too) {
  // A ret inside a queued closure is dropped when the runtime destroys its queue; answering
  // "none", it spawns a task (after the bridge's own teardown has run).
  counts c;
  trace t;
  answer<int> spawned;
  int calls = 0;
  {
    runtime rt;
    auto a = make_actor<&owner::init>(rt, stakker::ret_nop<stop_cause>());
    run(rt);
    // Queued, never run: the ret goes with the queue.
    call(a, [r = ret_do<int>([&](std::optional<int>) {
               ++calls;
               spawn(rt, leaf(ret_pipe<int>(rt).first, counted(c, 2), c, t), spawned.to());
             })](owner&) {});
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(spawned.once_none());
  EXPECT_TRUE(c.balanced());
}
