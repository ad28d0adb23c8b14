// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/timers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"
#include "stakker/timer_key.hpp"

// Contract R3 (timers) and the timer side of R2 (next_expiry, next_wait, next_wait_max),
// all in virtual time.

namespace {

using namespace std::chrono_literals;
using stakker::core;
using stakker::duration;
using stakker::instant;
using stakker::max_timer_key;
using stakker::min_timer_key;
using stakker::runtime;
using stakker::timer_key;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

constexpr duration ns1 = std::chrono::nanoseconds(1);

// Records, for each firing, which timer fired and the time of the run it fired in.
struct firings {
  std::vector<std::pair<int, instant>> log;
  // A closure that records `id` and the time of the run.
  auto rec(int id) {
    return [this, id](core& c) { log.emplace_back(id, c.now()); };
  }
  std::vector<int> ids() const {
    std::vector<int> v;
    for (const auto& e : log) v.push_back(e.first);
    return v;
  }
};

// A closure too large to be stored inline (more than 40 bytes), counted.
struct big_closure {
  counted k;
  std::array<char, 64> pad{};
  int* fired;
  void operator()(core&) { ++*fired; }
};
static_assert(sizeof(big_closure) > stakker::detail::timer_store::inline_bytes);

// A small closure, counted.
struct small_closure {
  counted k;
  int* fired;
  void operator()(core&) { ++*fired; }
};
static_assert(sizeof(small_closure) <= stakker::detail::timer_store::inline_bytes);

// ---- never early, never at the same time as set ----

TEST(timers, a_timer_never_fires_early) {
  virtual_loop loop;
  firings f;
  loop.core().after(10ms, f.rec(1));
  loop.advance(5ms);
  loop.advance(5ms - ns1);
  loop.run();
  loop.run();
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_timer_fires_on_the_run_at_exactly_its_expiry) {
  virtual_loop loop;
  firings f;
  instant due = loop.now() + 250ms;
  loop.core().at(due, f.rec(1));
  loop.advance(250ms);
  ASSERT_EQ(f.log.size(), 1u);
  EXPECT_EQ(f.log[0].second, due);
}

TEST(timers, a_timer_fires_on_the_first_run_whose_time_is_at_or_after_its_expiry) {
  virtual_loop loop;
  firings f;
  loop.core().after(10ms, f.rec(1));
  loop.advance(3ms);
  EXPECT_TRUE(f.log.empty());
  loop.advance(1h);  // one run far past the expiry
  ASSERT_EQ(f.log.size(), 1u);
  EXPECT_EQ(f.log[0].second, loop.now());
  loop.advance(1h);
  EXPECT_EQ(f.log.size(), 1u);  // once only
}

TEST(timers, a_timer_set_for_now_fires_on_the_next_run_with_a_later_time_not_at_the_same_time) {
  virtual_loop loop;
  firings f;
  loop.core().after(duration::zero(), f.rec(1));
  loop.core().at(loop.now(), f.rec(2));
  loop.run();
  loop.run();
  EXPECT_TRUE(f.log.empty());
  EXPECT_EQ(loop.core().timer_count(), 2u);
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
  EXPECT_EQ(f.log[0].second, loop.now());
}

TEST(timers, a_timer_set_in_the_past_fires_on_the_next_run_with_a_later_time) {
  virtual_loop loop;
  firings f;
  loop.core().at(loop.now() - 30min, f.rec(1));
  loop.core().after(-5s, f.rec(2));
  loop.run();
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
}

TEST(timers, a_timer_set_for_the_past_before_the_first_run_waits_for_a_later_time) {
  // The start time of a runtime counts as "now" before any run.
  runtime rt(instant(10h));
  firings f;
  rt.at(instant(1h), f.rec(1));
  rt.run(instant(10h), false);
  EXPECT_TRUE(f.log.empty());
  rt.run(instant(10h) + ns1, false);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_run_with_an_earlier_time_fires_nothing) {
  virtual_loop loop;
  firings f;
  loop.core().after(1ns, f.rec(1));
  loop.rt().run(loop.now() - 1s, false);
  loop.rt().run(loop.now() - ns1, false);
  EXPECT_TRUE(f.log.empty());
  EXPECT_EQ(loop.rt().now(), loop.now());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_timer_set_for_now_from_inside_a_run_waits_for_the_next_later_run) {
  virtual_loop loop;
  firings f;
  loop.core().defer([&](core& c) { c.after(duration::zero(), f.rec(1)); });
  loop.core().after(1ms, [&](core& c) {
    f.log.emplace_back(2, c.now());
    c.at(c.now() - 1s, f.rec(3));  // from inside a firing timer, for the past
  });
  loop.run();
  EXPECT_TRUE(f.log.empty());
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
  loop.run();
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

// ---- order ----

TEST(timers, expired_timers_run_in_expiry_order) {
  virtual_loop loop;
  firings f;
  const int offsets_ms[] = {70, 10, 50, 30, 90, 20, 80, 60, 40, 5000, 1, 1000};
  for (int ms : offsets_ms) loop.core().after(std::chrono::milliseconds(ms), f.rec(ms));
  loop.advance(10s);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 1000, 5000}));
}

TEST(timers, expired_timers_of_all_kinds_run_in_expiry_order) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  c.timer_max_add(t + 30ms, f.rec(30));
  auto mx = c.timer_max_add(t + 5ms, f.rec(50));
  c.after(40ms, f.rec(40));
  auto mn = c.timer_min_add(t + 90ms, f.rec(20));
  c.timer_min_add(t + 10ms, f.rec(10));
  ASSERT_TRUE(c.timer_max_upd(mx, t + 50ms));
  ASSERT_TRUE(c.timer_min_upd(mn, t + 20ms));
  loop.advance(1s);
  EXPECT_EQ(f.ids(), (std::vector<int>{10, 20, 30, 40, 50}));
}

TEST(timers, timers_with_equal_expiries_run_in_the_order_they_were_set) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant due = loop.now() + 7ms;
  for (int i = 0; i < 100; ++i) {
    switch (i % 4) {
      case 0:
        c.at(due, f.rec(i));
        break;
      case 1:
        c.after(7ms, f.rec(i));
        break;
      case 2:
        c.timer_max_add(due, f.rec(i));
        break;
      default:
        c.timer_min_add(due, f.rec(i));
        break;
    }
  }
  loop.advance(1s);
  std::vector<int> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(i);
  EXPECT_EQ(f.ids(), expected);
}

TEST(timers, timers_set_for_the_past_and_for_one_tick_ahead_are_equal_and_keep_their_order) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(ns1, f.rec(1));
  c.at(loop.now() - 1h, f.rec(2));
  c.after(duration::zero(), f.rec(3));
  c.after(ns1, f.rec(4));
  loop.advance(1s);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3, 4}));
}

TEST(timers, expired_timers_run_after_closures_already_queued_on_the_main_queue) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(1ms, f.rec(10));
  c.after(2ms, f.rec(11));
  loop.advance(500us);
  c.defer(f.rec(1));
  c.defer(f.rec(2));
  loop.advance(2ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 10, 11}));
}

TEST(timers, closures_queued_by_a_firing_timer_run_after_every_timer_due_in_that_run) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(1ms, [&](core& cc) {
    f.log.emplace_back(1, cc.now());
    cc.defer(f.rec(3));
  });
  c.after(2ms, f.rec(2));
  loop.advance(5ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

TEST(timers, expired_timers_run_before_the_lazy_queue) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(1ms, f.rec(2));
  c.lazy(f.rec(3));
  c.defer(f.rec(1));
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

TEST(timers, timers_due_in_different_runs_fire_each_in_its_own_run) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  c.after(1ms, f.rec(1));
  c.after(2ms, f.rec(2));
  c.after(3ms, f.rec(3));
  loop.advance(1ms);
  loop.advance(1ms);
  loop.advance(1ms);
  ASSERT_EQ(f.log.size(), 3u);
  EXPECT_EQ(f.log[0].second, t + 1ms);
  EXPECT_EQ(f.log[1].second, t + 2ms);
  EXPECT_EQ(f.log[2].second, t + 3ms);
}

// ---- fixed timers ----

TEST(timers, after_and_at_for_the_same_instant_fire_in_the_same_run) {
  virtual_loop loop;
  firings f;
  loop.advance(3s);  // now() is not the start time
  loop.core().after(40ms, f.rec(1));
  loop.core().at(loop.now() + 40ms, f.rec(2));
  loop.advance(40ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
}

TEST(timers, after_counts_from_the_time_of_the_current_run) {
  virtual_loop loop;
  firings f;
  loop.core().after(10ms, [&](core& c) { c.after(10ms, f.rec(1)); });
  loop.advance(15ms);  // the first fires at +15 ms, so the second is due at +25 ms
  loop.advance(10ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, timer_del_returns_true_once_then_false) {
  virtual_loop loop;
  firings f;
  timer_key k = loop.core().after(1s, f.rec(1));
  EXPECT_TRUE(loop.core().timer_del(k));
  EXPECT_FALSE(loop.core().timer_del(k));
  EXPECT_FALSE(loop.core().timer_del(k));
}

TEST(timers, a_deleted_timer_never_fires) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(1s, f.rec(1));
  timer_key k = c.after(1s, f.rec(2));
  c.after(1s, f.rec(3));
  loop.advance(500ms);
  EXPECT_TRUE(c.timer_del(k));
  loop.advance(10s);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 3}));
}

TEST(timers, a_timer_deleted_in_the_run_it_is_due_but_before_it_fired_does_not_fire) {
  // Deleting from a closure that runs before the timers of the same run are moved: the
  // idle item runs first.
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  timer_key k = c.after(1ms, f.rec(1));
  bool deleted = false;
  c.idle([&](core& cc) { deleted = cc.timer_del(k); });
  loop.rt().run(loop.now() + 1ms, true);
  EXPECT_TRUE(deleted);
  EXPECT_TRUE(f.log.empty());
}

TEST(timers, deleting_a_timer_destroys_its_closure_at_once) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    timer_key small = loop.core().after(1s, small_closure{counted(c), &fired});
    timer_key big = loop.core().after(1s, big_closure{counted(c), {}, &fired});
    EXPECT_EQ(c.alive(), 2);
    EXPECT_TRUE(loop.core().timer_del(small));
    EXPECT_EQ(c.alive(), 1);
    EXPECT_TRUE(loop.core().timer_del(big));
    EXPECT_EQ(c.alive(), 0);
    loop.advance(2s);
  }
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(c.balanced());
}

TEST(timers, timer_active_is_true_only_while_the_timer_is_pending) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  timer_key fires = c.after(1ms, f.rec(1));
  timer_key deleted = c.after(1ms, f.rec(2));
  EXPECT_TRUE(c.timer_active(fires));
  EXPECT_TRUE(c.timer_active(deleted));
  c.timer_del(deleted);
  EXPECT_FALSE(c.timer_active(deleted));
  EXPECT_TRUE(c.timer_active(fires));
  loop.advance(1ms);
  EXPECT_FALSE(c.timer_active(fires));
}

TEST(timers, a_timer_is_no_longer_active_inside_its_own_closure) {
  virtual_loop loop;
  core& c = loop.core();
  timer_key k;
  std::optional<bool> active_inside, deleted_inside;
  k = c.after(1ms, [&](core& cc) {
    active_inside = cc.timer_active(k);
    deleted_inside = cc.timer_del(k);
  });
  loop.advance(1ms);
  ASSERT_TRUE(active_inside.has_value());
  EXPECT_FALSE(*active_inside);
  EXPECT_FALSE(*deleted_inside);
}

TEST(timers, timer_count_counts_pending_timers_of_every_kind) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  EXPECT_EQ(c.timer_count(), 0u);
  timer_key k = c.after(1ms, f.rec(1));
  max_timer_key mx = c.timer_max_add(loop.now() + 2ms, f.rec(2));
  c.timer_min_add(loop.now() + 3ms, f.rec(3));
  c.after(4ms, f.rec(4));
  EXPECT_EQ(c.timer_count(), 4u);
  c.timer_max_upd(mx, loop.now() + 10ms);
  EXPECT_EQ(c.timer_count(), 4u);
  c.timer_del(k);
  EXPECT_EQ(c.timer_count(), 3u);
  loop.advance(3ms);
  EXPECT_EQ(c.timer_count(), 2u);  // the max timer was pushed to +10 ms
  loop.advance(1s);
  EXPECT_EQ(c.timer_count(), 0u);
}

TEST(timers, timers_of_every_kind_survive_many_set_and_cancelled_timeouts) {
  // Each cancelled timeout leaves a stale record behind in the store, which cleans them up
  // from time to time; the pending timers must come through every clean-up intact.
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  c.after(5ms, f.rec(1));
  max_timer_key mx = c.timer_max_add(t + 2ms, f.rec(3));
  c.timer_max_upd(mx, t + 30ms);
  min_timer_key mn = c.timer_min_add(t + 1h, f.rec(2));
  c.timer_min_upd(mn, t + 20ms);
  c.after(3s, f.rec(4));
  c.at(t + 48h, f.rec(5));
  for (int i = 0; i < 20'000; ++i) {
    timer_key k = c.after(std::chrono::milliseconds(1 + i * 7919 % 5000), f.rec(-1));
    ASSERT_TRUE(c.timer_del(k));
    if (i % 1000 == 999) loop.advance(50us);  // entries move between buckets too
  }
  EXPECT_EQ(c.timer_count(), 5u);
  EXPECT_TRUE(f.log.empty());
  ASSERT_TRUE(loop.rt().next_expiry().has_value());
  EXPECT_LE(*loop.rt().next_expiry(), t + 2ms);
  for (int i = 0; i < 40; ++i) loop.advance(1ms);
  loop.advance(3s);
  loop.advance(48h);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3, 4, 5}));
  ASSERT_EQ(f.log.size(), 5u);
  EXPECT_EQ(f.log[0].second, t + 5ms);
  EXPECT_EQ(f.log[1].second, t + 20ms);
  EXPECT_EQ(f.log[2].second, t + 30ms);
}

// ---- keys ----

TEST(timers, the_key_of_a_fired_timer_matches_nothing) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  timer_key k = c.after(1ms, f.rec(1));
  loop.advance(1ms);
  ASSERT_EQ(f.log.size(), 1u);
  EXPECT_FALSE(c.timer_active(k));
  EXPECT_FALSE(c.timer_del(k));
}

TEST(timers, a_stale_key_whose_slot_was_reused_does_not_touch_the_newer_timer) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  timer_key old_deleted = c.after(1s, f.rec(-1));
  ASSERT_TRUE(c.timer_del(old_deleted));
  timer_key old_fired = c.after(1ms, f.rec(0));
  loop.advance(1ms);
  ASSERT_EQ(f.ids(), std::vector<int>{0});
  // Newer timers now occupy the freed slots (and more).
  std::vector<timer_key> newer;
  for (int i = 1; i <= 8; ++i) newer.push_back(c.after(5ms, f.rec(i)));
  for (timer_key k : newer) {
    EXPECT_NE(k, old_deleted);
    EXPECT_NE(k, old_fired);
  }
  for (timer_key stale : {old_deleted, old_fired}) {
    EXPECT_FALSE(c.timer_active(stale));
    EXPECT_FALSE(c.timer_del(stale));
  }
  for (timer_key k : newer) EXPECT_TRUE(c.timer_active(k));
  EXPECT_EQ(c.timer_count(), 8u);
  loop.advance(5ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(timers, a_stale_key_does_not_touch_a_newer_timer_of_another_kind_in_its_slot) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  timer_key fixed = c.after(1s, f.rec(-1));
  ASSERT_TRUE(c.timer_del(fixed));
  max_timer_key mx = c.timer_max_add(t + 1s, f.rec(-2));
  ASSERT_TRUE(c.timer_max_del(mx));
  min_timer_key mn = c.timer_min_add(t + 1s, f.rec(-3));
  ASSERT_TRUE(c.timer_min_del(mn));
  // The freed slot is reused by each kind in turn; the stale keys of every kind miss.
  timer_key f2 = c.after(2ms, f.rec(1));
  max_timer_key mx2 = c.timer_max_add(t + 2ms, f.rec(2));
  min_timer_key mn2 = c.timer_min_add(t + 2ms, f.rec(3));
  EXPECT_FALSE(c.timer_del(fixed));
  EXPECT_FALSE(c.timer_max_del(mx));
  EXPECT_FALSE(c.timer_max_upd(mx, t + 1h));
  EXPECT_FALSE(c.timer_max_active(mx));
  EXPECT_FALSE(c.timer_min_del(mn));
  EXPECT_FALSE(c.timer_min_upd(mn, t + 1ms));
  EXPECT_FALSE(c.timer_min_active(mn));
  EXPECT_TRUE(c.timer_active(f2));
  EXPECT_TRUE(c.timer_max_active(mx2));
  EXPECT_TRUE(c.timer_min_active(mn2));
  loop.advance(1ms);
  EXPECT_TRUE(f.log.empty());  // the stale min update did not move the new min timer
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

TEST(timers, default_constructed_keys_match_nothing) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  // Pending timers of every kind occupy the first slots.
  c.after(1ms, f.rec(1));
  c.timer_max_add(t + 1ms, f.rec(2));
  c.timer_min_add(t + 1ms, f.rec(3));
  timer_key k;
  max_timer_key mx;
  min_timer_key mn;
  EXPECT_FALSE(static_cast<bool>(k));
  EXPECT_FALSE(static_cast<bool>(mx));
  EXPECT_FALSE(static_cast<bool>(mn));
  EXPECT_FALSE(c.timer_active(k));
  EXPECT_FALSE(c.timer_del(k));
  EXPECT_FALSE(c.timer_max_active(mx));
  EXPECT_FALSE(c.timer_max_upd(mx, t + 1h));
  EXPECT_FALSE(c.timer_max_del(mx));
  EXPECT_FALSE(c.timer_min_active(mn));
  EXPECT_FALSE(c.timer_min_upd(mn, t + ns1));
  EXPECT_FALSE(c.timer_min_del(mn));
  EXPECT_EQ(c.timer_count(), 3u);
  loop.advance(ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

TEST(timers, keys_returned_by_add_are_non_empty_and_distinct) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  std::vector<timer_key> keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back(c.after(1s, f.rec(i)));
    EXPECT_TRUE(static_cast<bool>(keys.back()));
    for (std::size_t j = 0; j + 1 < keys.size(); ++j) EXPECT_NE(keys[j], keys.back());
  }
  EXPECT_TRUE(static_cast<bool>(c.timer_max_add(loop.now() + 1s, f.rec(100))));
  EXPECT_TRUE(static_cast<bool>(c.timer_min_add(loop.now() + 1s, f.rec(101))));
}

// ---- max timers ----

TEST(timers, a_max_timer_fires_at_its_expiry_when_never_updated) {
  virtual_loop loop;
  firings f;
  instant due = loop.now() + 300ms;
  loop.core().timer_max_add(due, f.rec(1));
  loop.advance(300ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, due);
}

TEST(timers, updating_a_max_timer_later_moves_its_expiry) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 100ms, f.rec(1));
  EXPECT_TRUE(c.timer_max_upd(k, t + 250ms));
  loop.advance(100ms);  // the first expiry passes: it re-arms, does not fire
  loop.advance(150ms - ns1);
  EXPECT_TRUE(f.log.empty());
  EXPECT_TRUE(c.timer_max_active(k));
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, t + 250ms);
  EXPECT_FALSE(c.timer_max_active(k));
}

TEST(timers, updating_a_max_timer_past_its_first_expiry_in_one_jump_fires_it_at_the_target) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 1ms, f.rec(1));
  c.after(2ms, f.rec(2));
  c.timer_max_upd(k, t + 3ms);
  c.after(4ms, f.rec(4));
  loop.advance(1s);  // one run past both the first expiry and the target
  EXPECT_EQ(f.ids(), (std::vector<int>{2, 1, 4}));  // in the order of the target
}

TEST(timers, updating_a_max_timer_earlier_is_ignored) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 100ms, f.rec(1));
  EXPECT_TRUE(c.timer_max_upd(k, t + 50ms));  // a live key: accepted, no effect
  EXPECT_TRUE(c.timer_max_upd(k, t - 1h));
  EXPECT_TRUE(c.timer_max_upd(k, t + 100ms));
  loop.advance(100ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_max_timer_updated_later_then_earlier_keeps_the_latest) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 10ms, f.rec(1));
  c.timer_max_upd(k, t + 40ms);
  c.timer_max_upd(k, t + 20ms);
  loop.advance(20ms);
  loop.advance(20ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_max_timer_updated_many_times_fires_once_after_the_last_update) {
  // "300 ms after the last keypress", with a keypress every 100 ms.
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  max_timer_key k = c.timer_max_add(loop.now() + 300ms, f.rec(1));
  for (int key = 0; key < 50; ++key) {
    loop.advance(100ms);
    ASSERT_TRUE(f.log.empty()) << "fired early, after keypress " << key;
    ASSERT_TRUE(c.timer_max_upd(k, loop.now() + 300ms));
  }
  instant last = loop.now();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(c.timer_max_upd(k, last + 300ms));
  loop.advance(300ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, last + 300ms);
  loop.advance(1h);
  EXPECT_EQ(f.log.size(), 1u);
  EXPECT_EQ(c.timer_count(), 0u);
}

TEST(timers, updating_a_max_timer_from_inside_a_run_at_its_first_expiry_still_moves_it) {
  // The update lands in the run in which the first expiry is passed, before the timers are
  // expired (the idle item runs first).
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 10ms, f.rec(1));
  c.idle([&](core& cc) { cc.timer_max_upd(k, t + 30ms); });
  loop.rt().run(t + 10ms, true);
  EXPECT_TRUE(f.log.empty());
  loop.advance(30ms);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, t + 30ms);
}

TEST(timers, max_timer_upd_on_a_stale_key_returns_false_and_changes_nothing) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key fired = c.timer_max_add(t + 1ms, f.rec(1));
  loop.advance(1ms);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  max_timer_key deleted = c.timer_max_add(t + 1s, f.rec(2));
  EXPECT_TRUE(c.timer_max_del(deleted));
  EXPECT_FALSE(c.timer_max_del(deleted));
  max_timer_key live = c.timer_max_add(t + 5ms, f.rec(3));  // reuses a freed slot
  EXPECT_FALSE(c.timer_max_upd(fired, t + 1h));
  EXPECT_FALSE(c.timer_max_upd(deleted, t + 1h));
  EXPECT_FALSE(c.timer_max_active(fired));
  EXPECT_FALSE(c.timer_max_active(deleted));
  EXPECT_FALSE(c.timer_max_del(fired));
  EXPECT_TRUE(c.timer_max_active(live));
  loop.advance(4ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 3}));  // not pushed to +1 h by a stale key
}

TEST(timers, deleting_a_max_timer_that_was_pushed_later_stops_it_and_destroys_its_closure) {
  counts cnt;
  int fired = 0;
  virtual_loop loop;
  core& c = loop.core();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 10ms, small_closure{counted(cnt), &fired});
  c.timer_max_upd(k, t + 50ms);
  loop.advance(20ms);  // re-armed at +50 ms
  EXPECT_TRUE(c.timer_max_active(k));
  EXPECT_TRUE(c.timer_max_del(k));
  EXPECT_EQ(cnt.alive(), 0);
  EXPECT_FALSE(c.timer_max_active(k));
  EXPECT_FALSE(c.timer_max_del(k));
  loop.advance(1s);
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(cnt.balanced());
}

// ---- min timers ----

TEST(timers, a_min_timer_fires_at_its_expiry_when_never_updated) {
  virtual_loop loop;
  firings f;
  loop.core().timer_min_add(loop.now() + 300ms, f.rec(1));
  loop.advance(300ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, updating_a_min_timer_earlier_moves_its_expiry) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  min_timer_key k = c.timer_min_add(t + 10s, f.rec(1));
  EXPECT_TRUE(c.timer_min_upd(k, t + 2s));
  EXPECT_TRUE(c.timer_min_upd(k, t + 700ms));
  loop.advance(700ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, t + 700ms);
}

TEST(timers, updating_a_min_timer_later_is_ignored) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  min_timer_key k = c.timer_min_add(t + 100ms, f.rec(1));
  EXPECT_TRUE(c.timer_min_upd(k, t + 200ms));  // a live key: accepted, no effect
  EXPECT_TRUE(c.timer_min_upd(k, t + 5h));
  loop.advance(100ms - ns1);
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, t + 100ms);
}

TEST(timers, a_min_timer_updated_earlier_fires_exactly_once) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  min_timer_key k = c.timer_min_add(t + 100ms, f.rec(1));
  for (int ms = 90; ms >= 10; ms -= 10) c.timer_min_upd(k, t + std::chrono::milliseconds(ms));
  loop.advance(10ms);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_FALSE(c.timer_min_active(k));
  EXPECT_EQ(c.timer_count(), 0u);
  for (int i = 0; i < 20; ++i) loop.advance(10ms);  // past every superseded expiry
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, a_min_timer_updated_to_the_past_fires_on_the_next_later_run) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  min_timer_key k = c.timer_min_add(loop.now() + 1h, f.rec(1));
  loop.advance(1s);
  EXPECT_TRUE(c.timer_min_upd(k, loop.now() - 1s));
  loop.run();
  EXPECT_TRUE(f.log.empty());
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
  loop.advance(2h);
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, min_timer_upd_on_a_stale_key_returns_false_and_changes_nothing) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  min_timer_key fired = c.timer_min_add(t + 1ms, f.rec(1));
  loop.advance(1ms);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  min_timer_key deleted = c.timer_min_add(t + 1s, f.rec(2));
  EXPECT_TRUE(c.timer_min_del(deleted));
  EXPECT_FALSE(c.timer_min_del(deleted));
  min_timer_key live = c.timer_min_add(t + 1h, f.rec(3));  // reuses a freed slot
  EXPECT_FALSE(c.timer_min_upd(fired, t + 2ms));
  EXPECT_FALSE(c.timer_min_upd(deleted, t + 2ms));
  EXPECT_FALSE(c.timer_min_active(fired));
  EXPECT_FALSE(c.timer_min_active(deleted));
  EXPECT_FALSE(c.timer_min_del(fired));
  EXPECT_TRUE(c.timer_min_active(live));
  loop.advance(1s);
  EXPECT_EQ(f.ids(), std::vector<int>{1});  // not brought forward by a stale key
  loop.advance(1h);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 3}));
}

TEST(timers, deleting_a_min_timer_that_was_brought_earlier_stops_it_everywhere) {
  counts cnt;
  int fired = 0;
  virtual_loop loop;
  core& c = loop.core();
  instant t = loop.now();
  min_timer_key k = c.timer_min_add(t + 50ms, small_closure{counted(cnt), &fired});
  c.timer_min_upd(k, t + 20ms);
  EXPECT_TRUE(c.timer_min_active(k));
  EXPECT_TRUE(c.timer_min_del(k));
  EXPECT_EQ(cnt.alive(), 0);
  EXPECT_FALSE(c.timer_min_active(k));
  loop.advance(20ms);
  loop.advance(30ms);
  loop.advance(1s);
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(cnt.balanced());
}

// ---- very long timers ----

TEST(timers, a_timer_three_days_out_fires_then_and_next_expiry_reports_it) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant due = loop.now() + 72h;
  c.after(72h, f.rec(1));
  ASSERT_TRUE(loop.rt().next_expiry().has_value());
  EXPECT_EQ(*loop.rt().next_expiry(), due);
  EXPECT_EQ(loop.rt().next_wait(loop.now()), std::optional<duration>(72h));
  for (int h = 0; h < 71; ++h) loop.advance(1h);
  loop.advance(1h - ns1);
  EXPECT_TRUE(f.log.empty());
  EXPECT_EQ(*loop.rt().next_expiry(), due);
  loop.advance(ns1);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, due);
}

TEST(timers, long_timers_of_every_kind_fire_in_order_among_short_ones) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  instant t = loop.now();
  c.after(10h, f.rec(3));  // longer than the 9.1 h horizon of Rust Stakker's keys
  c.at(t + 400 * 24h, f.rec(6));
  auto mx = c.timer_max_add(t + 1h, f.rec(5));
  c.timer_max_upd(mx, t + 72h);
  auto mn = c.timer_min_add(t + 900 * 24h, f.rec(4));
  c.timer_min_upd(mn, t + 30h);
  c.after(1ms, f.rec(1));
  c.after(9h, f.rec(2));
  loop.advance(1ms);
  loop.advance(9h);
  loop.advance(1h);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
  loop.advance(20h);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3, 4}));
  loop.advance(42h);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3, 4, 5}));
  loop.advance(t + 400 * 24h - ns1 - loop.now());
  EXPECT_EQ(f.log.size(), 5u);
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(f.log.back().second, t + 400 * 24h);
}

TEST(timers, a_timer_set_after_a_very_long_idle_stretch_fires_on_time) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.after(1ms, f.rec(1));
  loop.advance(5 * 24h);  // far past, in one jump
  c.after(2ms, f.rec(2));
  c.after(1ms, f.rec(3));
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 3}));
  loop.advance(1ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 3, 2}));
}

// ---- next_expiry, next_wait, next_wait_max ----

TEST(timers, next_expiry_is_the_earliest_pending_expiry) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  runtime& rt = loop.rt();
  instant t = loop.now();
  EXPECT_FALSE(rt.next_expiry().has_value());
  c.after(30ms, f.rec(1));
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 30ms));
  c.after(10ms, f.rec(2));
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 10ms));
  c.after(20ms, f.rec(3));
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 10ms));
  loop.advance(10ms);
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 20ms));
  loop.advance(10ms);
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 30ms));
  loop.advance(10ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{2, 3, 1}));
  EXPECT_FALSE(rt.next_expiry().has_value());
}

TEST(timers, next_expiry_of_a_timer_set_for_now_is_one_tick_later) {
  virtual_loop loop;
  firings f;
  loop.core().after(duration::zero(), f.rec(1));
  ASSERT_TRUE(loop.rt().next_expiry().has_value());
  EXPECT_GT(*loop.rt().next_expiry(), loop.now());
  EXPECT_LE(*loop.rt().next_expiry(), loop.now() + 1us);
  // A loop that sleeps until then and runs fires it.
  loop.advance(*loop.rt().next_expiry() - loop.now());
  EXPECT_EQ(f.ids(), std::vector<int>{1});
}

TEST(timers, next_expiry_is_empty_after_the_last_timer_fired_or_was_deleted) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  runtime& rt = loop.rt();
  instant t = loop.now();
  timer_key k = c.after(5s, f.rec(1));
  max_timer_key mx = c.timer_max_add(t + 6s, f.rec(2));
  min_timer_key mn = c.timer_min_add(t + 7s, f.rec(3));
  c.timer_min_upd(mn, t + 6500ms);
  c.after(1ms, f.rec(4));
  loop.advance(1ms);
  ASSERT_TRUE(rt.next_expiry().has_value());
  c.timer_del(k);
  ASSERT_TRUE(rt.next_expiry().has_value());
  c.timer_max_del(mx);
  ASSERT_TRUE(rt.next_expiry().has_value());
  c.timer_min_del(mn);
  EXPECT_FALSE(rt.next_expiry().has_value());
  EXPECT_FALSE(rt.next_wait(loop.now()).has_value());
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1min, false), duration(1min));
  // And after a firing, with stale entries left behind by a deletion.
  c.after(1s, f.rec(5));
  timer_key gone = c.after(2s, f.rec(6));
  c.timer_del(gone);
  loop.advance(1s);
  EXPECT_EQ(f.ids(), (std::vector<int>{4, 5}));
  EXPECT_FALSE(rt.next_expiry().has_value());
  EXPECT_FALSE(rt.next_wait(loop.now()).has_value());
}

TEST(timers, next_expiry_is_never_later_than_a_pending_timer_after_deletions) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  runtime& rt = loop.rt();
  instant t = loop.now();
  timer_key a = c.after(1s, f.rec(1));
  c.after(3s, f.rec(2));
  c.timer_del(a);
  ASSERT_TRUE(rt.next_expiry().has_value());
  EXPECT_LE(*rt.next_expiry(), t + 3s);  // may still say +1 s: a wake-up for nothing
  EXPECT_GT(*rt.next_expiry(), t);
  loop.advance(*rt.next_expiry() - loop.now());
  ASSERT_TRUE(rt.next_expiry().has_value());
  EXPECT_EQ(*rt.next_expiry(), t + 3s);
}

TEST(timers, next_expiry_of_a_max_timer_is_never_later_than_its_target) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  runtime& rt = loop.rt();
  instant t = loop.now();
  max_timer_key k = c.timer_max_add(t + 100ms, f.rec(1));
  c.timer_max_upd(k, t + 400ms);
  ASSERT_TRUE(rt.next_expiry().has_value());
  EXPECT_GT(*rt.next_expiry(), t);
  EXPECT_LE(*rt.next_expiry(), t + 400ms);
  // A loop that sleeps exactly as told reaches the target and fires it, on time.
  for (int wakes = 0; wakes < 10 && f.log.empty(); ++wakes) {
    ASSERT_TRUE(rt.next_expiry().has_value());
    loop.advance(*rt.next_expiry() - loop.now());
  }
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_EQ(f.log[0].second, t + 400ms);
}

TEST(timers, next_expiry_of_a_min_timer_follows_it_earlier) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  runtime& rt = loop.rt();
  instant t = loop.now();
  min_timer_key k = c.timer_min_add(t + 1h, f.rec(1));
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 1h));
  c.timer_min_upd(k, t + 90s);
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 90s));
  c.timer_min_upd(k, t + 2h);
  EXPECT_EQ(rt.next_expiry(), std::optional<instant>(t + 90s));
}

TEST(timers, next_wait_is_the_time_left_until_the_next_expiry) {
  virtual_loop loop;
  firings f;
  runtime& rt = loop.rt();
  loop.core().after(250ms, f.rec(1));
  EXPECT_EQ(rt.next_wait(loop.now()), std::optional<duration>(250ms));
  EXPECT_EQ(rt.next_wait(loop.now() + 100ms), std::optional<duration>(150ms));
  loop.advance(50ms);
  EXPECT_EQ(rt.next_wait(loop.now()), std::optional<duration>(200ms));
}

TEST(timers, next_wait_is_zero_when_a_timer_is_overdue) {
  virtual_loop loop;
  firings f;
  runtime& rt = loop.rt();
  loop.core().after(250ms, f.rec(1));
  EXPECT_EQ(rt.next_wait(loop.now() + 250ms), std::optional<duration>(duration::zero()));
  EXPECT_EQ(rt.next_wait(loop.now() + 1h), std::optional<duration>(duration::zero()));
  EXPECT_EQ(rt.next_wait_max(loop.now() + 1h, 1s, false), duration::zero());
}

TEST(timers, next_wait_is_zero_when_work_is_queued_even_with_a_timer_pending) {
  virtual_loop loop;
  firings f;
  runtime& rt = loop.rt();
  loop.core().after(250ms, f.rec(1));
  loop.core().defer(f.rec(2));
  EXPECT_EQ(rt.next_wait(loop.now()), std::optional<duration>(duration::zero()));
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, false), duration::zero());
  loop.run();
  EXPECT_EQ(rt.next_wait(loop.now()), std::optional<duration>(250ms));
}

TEST(timers, next_wait_max_is_the_smaller_of_the_wait_and_max_and_zero_when_pending) {
  virtual_loop loop;
  firings f;
  runtime& rt = loop.rt();
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, false), duration(1s));
  loop.core().after(250ms, f.rec(1));
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, false), duration(250ms));
  EXPECT_EQ(rt.next_wait_max(loop.now(), 100ms, false), duration(100ms));
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, true), duration::zero());
  loop.core().after(72h, f.rec(2));
  loop.advance(250ms);
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, false), duration(1s));
  EXPECT_EQ(rt.next_wait_max(loop.now(), 100h, false), duration(72h - 250ms));
  loop.core().timer_del(stakker::timer_key{});  // a no-op
  EXPECT_EQ(rt.next_wait(loop.now()), std::optional<duration>(72h - 250ms));
}

TEST(timers, next_wait_max_is_max_after_the_last_timer_fired) {
  virtual_loop loop;
  firings f;
  runtime& rt = loop.rt();
  loop.core().after(10ms, f.rec(1));
  loop.advance(10ms);
  ASSERT_EQ(f.ids(), std::vector<int>{1});
  EXPECT_FALSE(rt.next_wait(loop.now()).has_value());
  EXPECT_EQ(rt.next_wait_max(loop.now(), 1s, false), duration(1s));
}

// ---- lifetimes: each closure destroyed exactly once ----

TEST(timers, a_fired_timer_closure_is_destroyed_exactly_once_after_it_ran) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    loop.core().after(1ms, small_closure{counted(c), &fired});
    loop.core().after(1ms, big_closure{counted(c), {}, &fired});
    loop.core().timer_max_add(loop.now() + 1ms, small_closure{counted(c), &fired});
    loop.core().timer_max_add(loop.now() + 1ms, big_closure{counted(c), {}, &fired});
    loop.core().timer_min_add(loop.now() + 1ms, small_closure{counted(c), &fired});
    loop.core().timer_min_add(loop.now() + 1ms, big_closure{counted(c), {}, &fired});
    loop.advance(1ms);
    EXPECT_EQ(fired, 6);
    EXPECT_EQ(c.alive(), 0);  // gone right after running, not kept until later
    EXPECT_EQ(c.double_destroys, 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(timers, pending_timer_closures_of_every_kind_are_destroyed_unrun_with_the_runtime) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    core& co = loop.core();
    instant t = loop.now();
    co.after(10s, small_closure{counted(c), &fired});
    co.at(t + 10s, big_closure{counted(c), {}, &fired});
    auto mx1 = co.timer_max_add(t + 1s, small_closure{counted(c), &fired});
    auto mx2 = co.timer_max_add(t + 1s, big_closure{counted(c), {}, &fired});
    auto mn1 = co.timer_min_add(t + 1h, small_closure{counted(c), &fired});
    auto mn2 = co.timer_min_add(t + 1h, big_closure{counted(c), {}, &fired});
    co.timer_max_upd(mx1, t + 2s);
    co.timer_max_upd(mx2, t + 1h);
    co.timer_min_upd(mn1, t + 3s);
    co.timer_min_upd(mn2, t + 2s);
    // A timer whose entry was reached and re-armed, and one set for now.
    co.after(duration::zero(), small_closure{counted(c), &fired});
    loop.advance(1500ms);
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(co.timer_count(), 6u);
    EXPECT_EQ(c.alive(), 6);
  }
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(c.balanced()) << "alive " << c.alive() << " double " << c.double_destroys;
}

TEST(timers, closures_of_deleted_timers_of_every_kind_are_destroyed_once_at_delete_time) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    core& co = loop.core();
    instant t = loop.now();
    timer_key k1 = co.after(1s, small_closure{counted(c), &fired});
    timer_key k2 = co.after(1s, big_closure{counted(c), {}, &fired});
    max_timer_key m1 = co.timer_max_add(t + 1s, small_closure{counted(c), &fired});
    max_timer_key m2 = co.timer_max_add(t + 1s, big_closure{counted(c), {}, &fired});
    min_timer_key n1 = co.timer_min_add(t + 1s, small_closure{counted(c), &fired});
    min_timer_key n2 = co.timer_min_add(t + 1s, big_closure{counted(c), {}, &fired});
    co.timer_max_upd(m2, t + 5s);
    co.timer_min_upd(n2, t + 500ms);
    EXPECT_EQ(c.alive(), 6);
    EXPECT_TRUE(co.timer_del(k1));
    EXPECT_TRUE(co.timer_del(k2));
    EXPECT_TRUE(co.timer_max_del(m1));
    EXPECT_TRUE(co.timer_max_del(m2));
    EXPECT_TRUE(co.timer_min_del(n1));
    EXPECT_TRUE(co.timer_min_del(n2));
    EXPECT_EQ(c.alive(), 0);
    EXPECT_EQ(co.timer_count(), 0u);
    loop.advance(10s);
  }
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(c.balanced());
}

TEST(timers, an_lvalue_closure_is_copied_and_the_original_stays_with_the_caller) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    small_closure s{counted(c), &fired};
    big_closure b{counted(c), {}, &fired};
    loop.core().after(1ms, s);
    loop.core().after(1ms, b);
    EXPECT_EQ(c.alive(), 4);
    loop.advance(1ms);
    EXPECT_EQ(fired, 2);
    EXPECT_EQ(c.alive(), 2);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(timers, many_timers_fired_deleted_and_left_pending_are_each_destroyed_once) {
  counts c;
  int fired = 0;
  {
    virtual_loop loop;
    core& co = loop.core();
    std::vector<timer_key> keys;
    for (int i = 0; i < 3000; ++i) {
      auto d = std::chrono::milliseconds(i % 97);
      if (i % 5 == 0)
        keys.push_back(co.after(d, big_closure{counted(c), {}, &fired}));
      else
        keys.push_back(co.after(d, small_closure{counted(c), &fired}));
    }
    int deleted = 0;
    for (std::size_t i = 0; i < keys.size(); i += 3) deleted += co.timer_del(keys[i]) ? 1 : 0;
    loop.advance(50ms);
    EXPECT_EQ(c.alive(), static_cast<long>(co.timer_count()));
    EXPECT_EQ(fired + deleted + static_cast<int>(co.timer_count()), 3000);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(timers, a_closure_destructor_that_adds_a_timer_during_runtime_teardown_is_handled) {
  // Destroying a pending closure may add another timer; that one is destroyed too.
  struct adds_on_destroy {
    core* co;
    counts* c;
    int depth;
    counted k;
    adds_on_destroy(core* co_, counts* c_, int d) : co(co_), c(c_), depth(d), k(*c_) {}
    adds_on_destroy(adds_on_destroy&& o) noexcept
        : co(std::exchange(o.co, nullptr)), c(o.c), depth(o.depth), k(std::move(o.k)) {}
    ~adds_on_destroy() {
      if (co != nullptr && depth > 0) co->after(1s, adds_on_destroy(co, c, depth - 1));
    }
    void operator()(core&) {}
  };
  counts c;
  {
    virtual_loop loop;
    loop.core().after(1s, adds_on_destroy(&loop.core(), &c, 3));
  }
  EXPECT_EQ(c.constructed - c.moved, 4);  // the chain of four was made
  EXPECT_TRUE(c.balanced());
}

// --- Times at their limits: duration::max() is "never", instant::min() is "long ago".

TEST(timers, saturating_add_and_sub_clamp_at_the_ends_of_time) {
  using stakker::saturating_add;
  using stakker::saturating_sub;
  const instant t = instant(1h);
  EXPECT_EQ(saturating_add(t, duration::max()), instant::max());
  EXPECT_EQ(saturating_add(t, duration::min()), instant(1h + duration::min()));
  EXPECT_EQ(saturating_add(instant(-1h), duration::min()), instant::min());
  EXPECT_EQ(saturating_add(t, 5s), t + 5s);
  EXPECT_EQ(saturating_sub(instant::max(), instant(-1h)), duration::max());
  EXPECT_EQ(saturating_sub(instant::min(), t), duration::min());
  EXPECT_EQ(saturating_sub(t, instant(1s)), 1h - 1s);
}

TEST(timers, a_timer_after_duration_max_never_fires_and_stays_pending) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  timer_key k = c.after(duration::max(), f.rec(1));
  loop.advance(1s);
  loop.advance(24h * 365 * 100);  // a century later
  EXPECT_TRUE(f.log.empty());
  EXPECT_TRUE(c.timer_active(k));
  EXPECT_EQ(loop.rt().next_expiry(), instant::max());
  EXPECT_GT(loop.rt().next_wait(loop.now()), 24h * 365 * 100);
  EXPECT_TRUE(c.timer_del(k));
}

TEST(timers, timers_at_instant_max_of_every_kind_stay_pending_among_ones_that_fire) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.at(instant::max(), f.rec(1));
  c.timer_max_add(instant::max(), f.rec(2));
  c.timer_min_add(instant::max(), f.rec(3));
  c.after(1s, f.rec(4));
  loop.advance(2s);
  EXPECT_EQ(f.ids(), std::vector<int>{4});
  EXPECT_EQ(c.timer_count(), 3u);
}

TEST(timers, a_timer_at_instant_min_fires_on_the_next_later_run) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  c.at(instant::min(), f.rec(1));
  c.after(duration::min(), f.rec(2));
  loop.run();
  EXPECT_TRUE(f.log.empty());  // never at the time it was set
  loop.advance(ns1);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2}));
}

// --- A max timer moved later keeps its place among timers due at the same time.

TEST(timers, a_max_timer_moved_later_fires_before_timers_set_after_it_for_the_same_time) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  const instant due = loop.now() + 10ms;
  max_timer_key m = c.timer_max_add(loop.now() + 5ms, f.rec(1));
  c.at(due, f.rec(2));
  c.timer_max_upd(m, due);  // re-arms at 5 ms, then is due with timer 2
  c.timer_max_add(due, f.rec(3));
  loop.advance(6ms);
  EXPECT_TRUE(f.log.empty());
  loop.advance(10ms);
  EXPECT_EQ(f.ids(), (std::vector<int>{1, 2, 3}));
}

// --- Many timers due in one run: the store fires a wholly due bucket as one sorted batch.

// The ids of `n` fixed timers at `base + ((i * 7919) % n) ms` (a scrambled order), in the
// order they must fire: by expiry, then by the order they were set.
std::vector<int> expected_order(int n, const std::vector<int>& ms) {
  std::vector<int> ids(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = i;
  std::stable_sort(ids.begin(), ids.end(), [&ms](int a, int b) {
    return ms[static_cast<std::size_t>(a)] < ms[static_cast<std::size_t>(b)];
  });
  return ids;
}

TEST(timers, a_thousand_timers_due_in_one_run_fire_in_expiry_then_insertion_order) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  const int n = 1000;
  std::vector<int> ms;
  for (int i = 0; i < n; ++i) {
    // Scrambled expiries over 1..1000 ms, many of them shared by several timers.
    ms.push_back(1 + (i * 7919) % n / 4);
    c.after(std::chrono::milliseconds(ms.back()), f.rec(i));
  }
  loop.advance(2s);
  EXPECT_EQ(f.ids(), expected_order(n, ms));
  EXPECT_EQ(c.timer_count(), 0u);
}

TEST(timers, a_max_timer_moved_later_inside_a_batch_of_due_timers_fires_in_its_new_place) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  // 1000 timers at 1..1000 ms; the max timer first due at 600 ms, moved to 700.5 ms: when
  // the batch reaches 600 ms it must re-arm between the timers at 700 and 701 ms.
  for (int i = 1; i <= 1000; ++i) c.after(std::chrono::milliseconds(i), f.rec(i));
  max_timer_key m = c.timer_max_add(loop.now() + 600ms, f.rec(-1));
  // And one moved past the whole batch: fires after it, in a later run.
  max_timer_key late = c.timer_max_add(loop.now() + 650ms, f.rec(-2));
  ASSERT_TRUE(c.timer_max_upd(m, loop.now() + 700ms + std::chrono::microseconds(500)));
  ASSERT_TRUE(c.timer_max_upd(late, loop.now() + 3s));
  loop.advance(2s);
  std::vector<int> expected;
  for (int i = 1; i <= 1000; ++i) {
    expected.push_back(i);
    if (i == 700) expected.push_back(-1);
  }
  EXPECT_EQ(f.ids(), expected);
  EXPECT_EQ(c.timer_count(), 1u);
  loop.advance(2s);
  expected.push_back(-2);
  EXPECT_EQ(f.ids(), expected);
}

TEST(timers, timers_deleted_and_min_timers_brought_earlier_inside_a_batch_fire_once_or_never) {
  virtual_loop loop;
  firings f;
  core& c = loop.core();
  std::vector<timer_key> keys;
  for (int i = 1; i <= 1000; ++i) keys.push_back(c.after(std::chrono::milliseconds(i), f.rec(i)));
  min_timer_key m = c.timer_min_add(loop.now() + 900ms, f.rec(-1));
  ASSERT_TRUE(c.timer_min_upd(m, loop.now() + 300ms + std::chrono::microseconds(500)));
  for (std::size_t i = 0; i < keys.size(); i += 3) ASSERT_TRUE(c.timer_del(keys[i]));
  loop.advance(2s);
  std::vector<int> expected;
  for (int i = 1; i <= 1000; ++i) {
    if ((i - 1) % 3 != 0) expected.push_back(i);
    if (i == 300) expected.push_back(-1);
  }
  EXPECT_EQ(f.ids(), expected);
  EXPECT_EQ(c.timer_count(), 0u);
}

}  // namespace
