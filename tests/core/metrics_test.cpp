// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/fwd.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/sync/channel.hpp"

// O4 (read in process): a runtime's counters.

namespace {

using stakker::call;
using stakker::cx;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;

void run(runtime& rt) { rt.run(rt.now(), false); }

struct counter {
  int n = 0;
  static counter init(cx<counter>&) { return {}; }
  void add(cx<counter>&, int k) { n += k; }
  void fail(cx<counter>&) { throw std::runtime_error("no"); }
};
struct other {
  static other init(cx<other>&) { return {}; }
  void stop(cx<other>& x) { x.stop(); }
};

const stakker::actor_type_metrics* type(const stakker::runtime_metrics& m, std::string_view t) {
  for (const auto& x : m.types)
    if (x.type == t) return &x;
  return nullptr;
}

}  // namespace

TEST(metrics, actors_created_alive_and_failed_are_counted_always) {
  runtime rt;
  auto a = make_actor<&counter::init>(rt, ret_nop<stakker::stop_cause>());
  auto b = make_actor<&counter::init>(rt, ret_nop<stakker::stop_cause>());
  auto c = make_actor<&other::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  call<&counter::fail>(a);
  call<&other::stop>(c);
  run(rt);
  const auto m = rt.metrics();
  EXPECT_EQ(m.runtime, rt.id());
  EXPECT_EQ(m.actors_created, 3u);
  EXPECT_EQ(m.actors_alive, 1u);
  EXPECT_EQ(m.actors_failed, 1u);
  EXPECT_EQ(m.calls_run, 0u);  // counted only once enabled
  EXPECT_TRUE(m.types.empty());
}

TEST(metrics, calls_queue_depth_and_types_are_counted_once_enabled) {
  runtime rt;
  rt.metrics_enable();
  EXPECT_TRUE(rt.metrics_enabled());
  auto a = make_actor<&counter::init>(rt, ret_nop<stakker::stop_cause>());
  auto c = make_actor<&other::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  for (int i = 0; i < 100; ++i) call<&counter::add>(a, 1);
  auto m = rt.metrics();
  EXPECT_EQ(m.queue_depth, 100u);
  run(rt);
  call<&other::stop>(c);
  call<&counter::fail>(a);
  run(rt);
  m = rt.metrics();
  // 2 inits, 100 adds, a stop and a failure.
  EXPECT_EQ(m.calls_queued, 104u);
  EXPECT_EQ(m.calls_run, 104u);
  EXPECT_EQ(m.queue_depth, 0u);
  EXPECT_EQ(m.queue_depth_max, 100u);
  const auto* tc = type(m, "{anonymous}::counter");
  const auto* to = type(m, "{anonymous}::other");
  ASSERT_NE(tc, nullptr);
  ASSERT_NE(to, nullptr);
  EXPECT_EQ(tc->created, 1u);
  EXPECT_EQ(tc->stopped, 1u);
  EXPECT_EQ(tc->failed, 1u);
  EXPECT_EQ(to->created, 1u);
  EXPECT_EQ(to->stopped, 1u);
  EXPECT_EQ(to->failed, 0u);
  rt.metrics_enable(false);
  call<&counter::add>(a, 1);  // a zombie's call: dropped, and not counted
  run(rt);
  EXPECT_EQ(rt.metrics().calls_queued, 104u);
}

TEST(metrics, calls_dropped_unrun_leave_the_queue_depth) {
  runtime rt;
  rt.metrics_enable();
  // Calls parked on an actor still in Prep, destroyed with it.
  auto never = stakker::actor_new<counter>(rt, ret_nop<stakker::stop_cause>());
  for (int i = 0; i < 5; ++i) call<&counter::add>(never, 1);
  run(rt);  // parked
  EXPECT_EQ(rt.metrics().queue_depth, 5u);
  never.reset();
  run(rt);
  EXPECT_EQ(rt.metrics().queue_depth, 0u);
  // Calls to a Zombie, dropped when they come up.
  auto a = make_actor<&counter::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  call<&counter::fail>(a);
  for (int i = 0; i < 3; ++i) call<&counter::add>(a, 1);
  run(rt);
  const auto m = rt.metrics();
  EXPECT_EQ(m.queue_depth, 0u);
  EXPECT_EQ(m.queue_depth_max, 5u);
  EXPECT_EQ(m.calls_queued, 10u);  // 5 parked, an init, a failure, 3 to the Zombie
  EXPECT_EQ(m.calls_run, 2u);      // the init and the failure
}

TEST(metrics, pending_timers_are_counted) {
  runtime rt;
  auto k1 = rt.after(std::chrono::seconds(1), [](stakker::core&) {});
  rt.after(std::chrono::seconds(2), [](stakker::core&) {});
  EXPECT_EQ(rt.metrics().timers_pending, 2u);
  rt.timer_del(k1);
  EXPECT_EQ(rt.metrics().timers_pending, 1u);
}

TEST(metrics, the_loop_reports_wakeups_and_busy_and_idle_time) {
  runtime rt;
  stakker::loop::epoll_loop loop(rt);
  rt.metrics_enable();
  // Nothing to do: each turn sleeps its whole 5 ms, however slow the machine.
  for (int i = 0; i < 4; ++i) loop.turn(std::chrono::milliseconds(5));
  const auto m = rt.metrics();
  EXPECT_EQ(m.loop_wakeups, 4u);
  EXPECT_GE(m.idle, std::chrono::milliseconds(19));  // 4 x 5 ms (epoll's ms may round)
  EXPECT_LT(m.idle, std::chrono::seconds(5));
  EXPECT_GT(m.busy, stakker::duration::zero());  // between the waits
  // A turn that finds work does not sleep, and is no wake-up.
  rt.defer([](stakker::core&) {});
  loop.turn(std::chrono::milliseconds(5));
  EXPECT_EQ(rt.metrics().loop_wakeups, 4u);
}

TEST(metrics, work_from_other_threads_is_counted) {
  runtime rt;
  stakker::loop::epoll_loop loop(rt);
  rt.metrics_enable();
  int got = 0;
  auto [ch, guard] = stakker::make_channel<int>(rt, stakker::fwd_do<int>([&](int) {
                                                  if (++got == 50)
                                                    rt.shutdown(stakker::stop_cause::stopped());
                                                }));
  std::thread producer([ch = ch] {
    for (int i = 0; i < 50; ++i) ch.send(i);
  });
  loop.run();
  producer.join();
  const auto m = rt.metrics();
  EXPECT_EQ(got, 50);
  EXPECT_EQ(m.cross_thread_items, 50u);
  EXPECT_GE(m.wakes, 1u);
}
