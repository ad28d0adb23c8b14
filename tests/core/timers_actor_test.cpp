// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/timers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/stop_cause.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"
#include "stakker/timer_key.hpp"

// The timer forms that call an actor's member: after, at, timer_max_add, timer_min_add, with
// an actor handle or the calling actor's cx as the target.

namespace {

using namespace std::chrono_literals;
using stakker::actor;
using stakker::actor_new;
using stakker::actor_own;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::duration;
using stakker::inspect;
using stakker::instant;
using stakker::make_actor;
using stakker::max_timer_key;
using stakker::min_timer_key;
using stakker::ret_nop;
using stakker::stop_cause;
using stakker::timer_key;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

constexpr duration ns1 = std::chrono::nanoseconds(1);

// What a member saw: its argument and the time of the run.
using seen_log = std::vector<std::pair<int, instant>>;

// Records its calls in a log outside the actor, so they stay observable after it stopped.
struct clock_actor {
  seen_log* log;
  timer_key last_key{};

  static clock_actor init(cx<clock_actor>&, seen_log* l) { return clock_actor{l, {}}; }
  // Starts a chain of `n` ticks `every` apart, set from inside the actor through its cx.
  static clock_actor init_ticking(cx<clock_actor>& x, seen_log* l, int n, duration every) {
    stakker::after<&clock_actor::tick>(x, every, n, every);
    return clock_actor{l, {}};
  }

  void hit(cx<clock_actor>& x, int v) { log->emplace_back(v, x.now()); }
  void take(cx<clock_actor>& x, counted k) { log->emplace_back(k.value(), x.now()); }
  void tick(cx<clock_actor>& x, int left, duration every) {
    log->emplace_back(left, x.now());
    if (left > 1) last_key = stakker::after<&clock_actor::tick>(x, every, left - 1, every);
  }
  // Sets timers of every form with its cx as the target.
  void arm_all(cx<clock_actor>& x) {
    instant t = x.now();
    stakker::after<&clock_actor::hit>(x, 10ms, 1);
    stakker::at<&clock_actor::hit>(x, t + 20ms, 2);
    max_timer_key mx = stakker::timer_max_add<&clock_actor::hit>(x, t + 5ms, 4);
    x.core().timer_max_upd(mx, t + 40ms);
    min_timer_key mn = stakker::timer_min_add<&clock_actor::hit>(x, t + 1h, 3);
    x.core().timer_min_upd(mn, t + 30ms);
  }
  void cancel_last(cx<clock_actor>& x) { x.core().timer_del(last_key); }
  void stop(cx<clock_actor>& x) { x.stop(); }
};

std::vector<int> values(const seen_log& log) {
  std::vector<int> v;
  for (const auto& e : log) v.push_back(e.first);
  return v;
}

TEST(timers_actor, after_calls_the_member_with_its_arguments_when_the_timer_fires) {
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  loop.run();
  instant t = loop.now();
  timer_key k = stakker::after<&clock_actor::hit>(a, 10ms, 42);
  EXPECT_TRUE(static_cast<bool>(k));
  EXPECT_TRUE(loop.core().timer_active(k));
  loop.advance(10ms - ns1);
  EXPECT_TRUE(log.empty());
  loop.advance(ns1);
  ASSERT_EQ(values(log), std::vector<int>{42});
  EXPECT_EQ(log[0].second, t + 10ms);
  EXPECT_FALSE(loop.core().timer_active(k));
}

TEST(timers_actor, at_calls_the_member_through_an_owning_or_a_plain_handle) {
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  actor<clock_actor> ref = a.ref();
  instant t = loop.now();
  stakker::at<&clock_actor::hit>(ref, t + 2s, 2);
  stakker::at<&clock_actor::hit>(a, t + 1s, 1);
  loop.advance(1s);
  EXPECT_EQ(values(log), std::vector<int>{1});
  loop.advance(1s);
  EXPECT_EQ(values(log), (std::vector<int>{1, 2}));
  EXPECT_EQ(log[1].second, t + 2s);
}

TEST(timers_actor, max_and_min_timers_call_the_member_at_their_latest_and_earliest_expiry) {
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  instant t = loop.now();
  max_timer_key mx = stakker::timer_max_add<&clock_actor::hit>(a, t + 10ms, 1);
  min_timer_key mn = stakker::timer_min_add<&clock_actor::hit>(a, t + 50ms, 2);
  EXPECT_TRUE(loop.core().timer_max_upd(mx, t + 30ms));
  EXPECT_TRUE(loop.core().timer_max_upd(mx, t + 20ms));
  EXPECT_TRUE(loop.core().timer_min_upd(mn, t + 20ms));
  EXPECT_TRUE(loop.core().timer_min_upd(mn, t + 40ms));
  loop.advance(20ms - ns1);
  EXPECT_TRUE(log.empty());
  loop.advance(ns1);
  EXPECT_EQ(values(log), std::vector<int>{2});
  loop.advance(10ms - ns1);
  EXPECT_EQ(values(log), std::vector<int>{2});
  loop.advance(ns1);
  EXPECT_EQ(values(log), (std::vector<int>{2, 1}));
  EXPECT_EQ(log[1].second, t + 30ms);
  loop.advance(1s);
  EXPECT_EQ(log.size(), 2u);
}

TEST(timers_actor, a_member_sets_timers_of_every_form_with_its_cx_as_the_target) {
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  instant t = loop.now();
  call<&clock_actor::arm_all>(a);
  loop.run();
  EXPECT_EQ(loop.core().timer_count(), 4u);
  for (int i = 0; i < 10; ++i) loop.advance(5ms);
  EXPECT_EQ(values(log), (std::vector<int>{1, 2, 3, 4}));
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].second, t + 10ms);
  EXPECT_EQ(log[1].second, t + 20ms);
  EXPECT_EQ(log[2].second, t + 30ms);
  EXPECT_EQ(log[3].second, t + 40ms);
}

TEST(timers_actor, a_member_re_arms_itself_through_its_cx_from_init_onwards) {
  seen_log log;
  virtual_loop loop;
  instant t = loop.now();
  auto a = make_actor<&clock_actor::init_ticking>(loop.core(), ret_nop<stop_cause>(), &log, 5,
                                                  duration(100ms));
  loop.run();
  for (int i = 0; i < 10; ++i) loop.advance(50ms);
  EXPECT_EQ(values(log), (std::vector<int>{5, 4, 3, 2, 1}));
  ASSERT_EQ(log.size(), 5u);
  for (std::size_t i = 0; i < log.size(); ++i)
    EXPECT_EQ(log[i].second, t + static_cast<int>(i + 1) * 100ms) << "tick " << i;
  EXPECT_EQ(loop.core().timer_count(), 0u);
  EXPECT_TRUE(a.is_ready());
}

TEST(timers_actor, a_key_kept_by_the_actor_deletes_its_own_timer) {
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init_ticking>(loop.core(), ret_nop<stop_cause>(), &log, 5,
                                                  duration(100ms));
  loop.run();
  loop.advance(100ms);
  loop.advance(100ms);
  ASSERT_EQ(values(log), (std::vector<int>{5, 4}));
  call<&clock_actor::cancel_last>(a);
  loop.run();
  EXPECT_EQ(loop.core().timer_count(), 0u);
  loop.advance(1s);
  EXPECT_EQ(values(log), (std::vector<int>{5, 4}));
}

TEST(timers_actor, a_timer_call_to_an_actor_that_stopped_is_dropped_and_its_arguments_destroyed) {
  counts c;
  seen_log log;
  {
    virtual_loop loop;
    auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
    stakker::after<&clock_actor::take>(a, 10ms, counted(c, 1));
    stakker::timer_max_add<&clock_actor::take>(a, loop.now() + 10ms, counted(c, 2));
    stakker::timer_min_add<&clock_actor::take>(a, loop.now() + 10ms, counted(c, 3));
    call<&clock_actor::stop>(a);
    loop.run();
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(c.alive(), 3);  // still held by the pending timers
    loop.advance(10ms);
    EXPECT_EQ(c.alive(), 0);  // fired and dropped, arguments destroyed
    EXPECT_EQ(loop.core().timer_count(), 0u);
  }
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced());
}

TEST(timers_actor, a_timer_call_to_an_actor_whose_owner_was_dropped_is_dropped) {
  counts c;
  seen_log log;
  virtual_loop loop;
  {
    auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
    loop.run();
    stakker::after<&clock_actor::take>(a, 10ms, counted(c, 1));
  }  // the last owner goes: the actor stops with "dropped"
  loop.run();
  loop.advance(10ms);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(c.alive(), 0);
  EXPECT_TRUE(c.balanced());
}

TEST(timers_actor, an_actor_that_stops_inside_the_run_in_which_its_timer_fires_misses_it) {
  // The stop is queued before the timer is moved onto the main queue, so it runs first.
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  loop.run();
  stakker::after<&clock_actor::hit>(a, 10ms, 1);
  call<&clock_actor::stop>(a);
  loop.advance(10ms);
  EXPECT_TRUE(a.is_zombie());
  EXPECT_TRUE(log.empty());
}

TEST(timers_actor, deleting_an_actor_timer_destroys_its_arguments_at_once) {
  counts c;
  seen_log log;
  virtual_loop loop;
  auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
  timer_key k = stakker::after<&clock_actor::take>(a, 10ms, counted(c, 1));
  max_timer_key mx =
      stakker::timer_max_add<&clock_actor::take>(a, loop.now() + 10ms, counted(c, 2));
  min_timer_key mn =
      stakker::timer_min_add<&clock_actor::take>(a, loop.now() + 10ms, counted(c, 3));
  EXPECT_EQ(c.alive(), 3);
  EXPECT_TRUE(loop.core().timer_del(k));
  EXPECT_EQ(c.alive(), 2);
  EXPECT_TRUE(loop.core().timer_max_del(mx));
  EXPECT_EQ(c.alive(), 1);
  EXPECT_TRUE(loop.core().timer_min_del(mn));
  EXPECT_EQ(c.alive(), 0);
  loop.advance(1s);
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced());
}

TEST(timers_actor, a_fired_actor_timer_destroys_its_arguments_exactly_once) {
  counts c;
  seen_log log;
  {
    virtual_loop loop;
    auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
    stakker::after<&clock_actor::take>(a, 10ms, counted(c, 7));
    loop.advance(10ms);
    EXPECT_EQ(values(log), std::vector<int>{7});
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(timers_actor, pending_actor_timers_are_destroyed_unrun_with_the_runtime) {
  counts c;
  seen_log log;
  {
    virtual_loop loop;
    auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
    loop.run();
    stakker::after<&clock_actor::take>(a, 1h, counted(c, 1));
    auto mx = stakker::timer_max_add<&clock_actor::take>(a, loop.now() + 1h, counted(c, 2));
    loop.core().timer_max_upd(mx, loop.now() + 2h);
    stakker::timer_min_add<&clock_actor::take>(a, loop.now() + 1h, counted(c, 3));
    EXPECT_EQ(c.alive(), 3);
  }
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced());
}

TEST(timers_actor, a_timer_that_fires_while_the_actor_is_in_prep_is_called_once_it_is_ready) {
  seen_log log;
  virtual_loop loop;
  auto a = actor_new<clock_actor>(loop.core(), ret_nop<stop_cause>());
  stakker::after<&clock_actor::hit>(a, 10ms, 1);
  loop.advance(10ms);
  EXPECT_TRUE(a.is_prep());
  EXPECT_TRUE(log.empty());
  call_prep<&clock_actor::init>(a, &log);
  loop.advance(5ms);
  EXPECT_TRUE(a.is_ready());
  ASSERT_EQ(values(log), std::vector<int>{1});
  EXPECT_EQ(log[0].second, loop.now());  // called in the run that made it ready
}

TEST(timers_actor, an_actor_timer_returns_an_empty_key_once_the_runtime_is_gone) {
  counts c;
  seen_log log;
  std::optional<actor<clock_actor>> ref;
  {
    virtual_loop loop;
    auto a = make_actor<&clock_actor::init>(loop.core(), ret_nop<stop_cause>(), &log);
    loop.run();
    ref = a.ref();
  }
  EXPECT_FALSE(static_cast<bool>(stakker::after<&clock_actor::take>(*ref, 1s, counted(c, 1))));
  EXPECT_FALSE(static_cast<bool>(stakker::at<&clock_actor::hit>(*ref, instant{}, 1)));
  EXPECT_FALSE(static_cast<bool>(stakker::timer_max_add<&clock_actor::hit>(*ref, instant{}, 1)));
  EXPECT_FALSE(static_cast<bool>(stakker::timer_min_add<&clock_actor::hit>(*ref, instant{}, 1)));
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced());
}

}  // namespace
