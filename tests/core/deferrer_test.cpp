// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/deferrer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::core;
using stakker::deferrer;
using stakker::runtime;
using stakker::testing::counted;
using stakker::testing::counts;

const stakker::instant t0 = stakker::instant(std::chrono::hours(1));

TEST(deferrer, defer_queues_the_closure_on_the_runtime_main_queue) {
  runtime rt(t0);
  deferrer d = rt.get_deferrer();
  EXPECT_TRUE(d.alive());
  int ran = 0;
  core* seen = nullptr;
  EXPECT_TRUE(d.defer([&](core& c) {
    ++ran;
    seen = &c;
  }));
  EXPECT_EQ(ran, 0);  // queued, not run inline
  EXPECT_EQ(rt.next_wait(t0), std::optional<stakker::duration>(stakker::duration::zero()));
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(seen, static_cast<core*>(&rt));
}

TEST(deferrer, deferred_closures_keep_fifo_order_with_closures_queued_on_the_core) {
  runtime rt(t0);
  deferrer d = rt.get_deferrer();
  std::vector<int> order;
  rt.defer([&](core&) { order.push_back(1); });
  d.defer([&](core&) { order.push_back(2); });
  rt.defer([&](core&) { order.push_back(3); });
  d.defer([&](core&) { order.push_back(4); });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(deferrer, a_deferrer_taken_inside_a_closure_queues_into_the_same_run) {
  runtime rt(t0);
  std::vector<int> order;
  rt.defer([&](core& c) {
    deferrer d = c.get_deferrer();
    order.push_back(1);
    d.defer([&](core&) { order.push_back(3); });
  });
  rt.defer([&](core&) { order.push_back(2); });
  rt.run(t0, false);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(deferrer, after_the_runtime_is_destroyed_defer_returns_false_and_destroys_the_closure_unrun) {
  counts k;
  int ran = 0;
  std::optional<runtime> rt(std::in_place, t0);
  deferrer d = rt->get_deferrer();
  rt.reset();
  EXPECT_FALSE(d.alive());
  EXPECT_FALSE(d.defer([t = counted(k), &ran](core&) { ran += 1 + t.value(); }));
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
}

TEST(deferrer, a_closure_moved_into_a_dead_deferrer_is_consumed_and_destroyed) {
  std::optional<runtime> rt(std::in_place, t0);
  deferrer d = rt->get_deferrer();
  rt.reset();
  auto token = std::make_shared<int>(1);
  int ran = 0;
  auto f = [t = token, &ran](core&) { ran += *t; };
  EXPECT_EQ(token.use_count(), 2);
  EXPECT_FALSE(d.defer(std::move(f)));
  // Whatever the closure held (a ret, say) is released now, not when `f` goes out of scope.
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(ran, 0);
}

TEST(deferrer, an_lvalue_closure_given_to_a_dead_deferrer_is_left_to_its_owner) {
  std::optional<runtime> rt(std::in_place, t0);
  deferrer d = rt->get_deferrer();
  rt.reset();
  auto token = std::make_shared<int>(1);
  int ran = 0;
  auto f = [t = token, &ran](core&) { ran += *t; };
  EXPECT_FALSE(d.defer(f));
  EXPECT_EQ(token.use_count(), 2);
  runtime other(t0);
  f(other);
  EXPECT_EQ(ran, 1);
}

TEST(deferrer, a_default_constructed_deferrer_is_not_alive_and_refuses_work) {
  counts k;
  deferrer d;
  EXPECT_FALSE(d.alive());
  int ran = 0;
  EXPECT_FALSE(d.defer([t = counted(k), &ran](core&) { ++ran; }));
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(k.balanced());
}

TEST(deferrer, copies_share_the_link_to_the_runtime) {
  counts k;
  int ran = 0;
  std::optional<runtime> rt(std::in_place, t0);
  deferrer a = rt->get_deferrer();
  deferrer b = a;
  deferrer c;
  c = b;
  EXPECT_TRUE(a.alive());
  EXPECT_TRUE(b.alive());
  EXPECT_TRUE(c.alive());
  EXPECT_TRUE(a.defer([&](core&) { ran += 1; }));
  EXPECT_TRUE(b.defer([&](core&) { ran += 10; }));
  EXPECT_TRUE(c.defer([&](core&) { ran += 100; }));
  rt->run(t0, false);
  EXPECT_EQ(ran, 111);

  rt.reset();
  EXPECT_FALSE(a.alive());
  EXPECT_FALSE(b.alive());
  EXPECT_FALSE(c.alive());
  EXPECT_FALSE(b.defer([t = counted(k), &ran](core&) { ++ran; }));
  EXPECT_FALSE(c.defer([t = counted(k), &ran](core&) { ++ran; }));
  EXPECT_EQ(ran, 111);
  EXPECT_TRUE(k.balanced());
}

TEST(deferrer, a_moved_from_deferrer_is_empty_and_the_target_keeps_the_link) {
  runtime rt(t0);
  deferrer a = rt.get_deferrer();
  deferrer b = std::move(a);
  EXPECT_FALSE(a.alive());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(a.defer([](core&) {}));
  EXPECT_TRUE(b.alive());
  int ran = 0;
  EXPECT_TRUE(b.defer([&](core&) { ++ran; }));
  rt.run(t0, false);
  EXPECT_EQ(ran, 1);
}

TEST(deferrer, closures_pending_in_the_queue_when_the_runtime_dies_are_destroyed_unrun) {
  counts k;
  int ran = 0;
  deferrer d;
  {
    runtime rt(t0);
    d = rt.get_deferrer();
    for (int i = 0; i < 100; ++i) d.defer([t = counted(k, i), &ran](core&) { ++ran; });
    EXPECT_EQ(k.alive(), 100);
  }
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(k.balanced()) << k.alive() << " alive, " << k.double_destroys << " double";
  EXPECT_FALSE(d.alive());
}

TEST(deferrer, deferrers_of_different_runtimes_queue_onto_their_own_runtime) {
  runtime r1(t0);
  runtime r2(t0);
  deferrer d1 = r1.get_deferrer();
  deferrer d2 = r2.get_deferrer();
  core* seen1 = nullptr;
  core* seen2 = nullptr;
  d1.defer([&](core& c) { seen1 = &c; });
  d2.defer([&](core& c) { seen2 = &c; });
  r1.run(t0, false);
  EXPECT_EQ(seen1, static_cast<core*>(&r1));
  EXPECT_EQ(seen2, nullptr);
  r2.run(t0, false);
  EXPECT_EQ(seen2, static_cast<core*>(&r2));
}

}  // namespace
