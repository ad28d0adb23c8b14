// SPDX-License-Identifier: MIT OR Apache-2.0
// C4: share<T> and share_weak<T>, state shared by the actors of one runtime.
#include "stakker/share.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor_own;
using stakker::call;
using stakker::cx;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;
using stakker::share;
using stakker::share_weak;
using stakker::stop_cause;
using stakker::testing::counted;
using stakker::testing::counts;

TEST(share, rw_writes_and_ro_reads) {
  runtime rt;
  share<int> s(rt, 5);
  EXPECT_EQ(*s.ro(rt), 5);
  *s.rw(rt) = 6;
  EXPECT_EQ(*s.ro(rt), 6);
  s.rw(rt).get() += 1;
  EXPECT_EQ(s.ro(rt).get(), 7);
}

TEST(share, constructs_the_value_from_arguments) {
  runtime rt;
  share<std::pair<int, std::string>> s(rt, 3, "abc");
  EXPECT_EQ(s.ro(rt)->first, 3);
  EXPECT_EQ(s.ro(rt)->second, "abc");
  s.rw(rt)->second += "d";
  EXPECT_EQ(s.ro(rt)->second, "abcd");
  share<std::vector<int>> v(rt, 4u, 9);
  EXPECT_EQ(*v.ro(rt), (std::vector<int>{9, 9, 9, 9}));
}

TEST(share, ro_borrow_is_const) {
  runtime rt;
  share<int> s(rt, 1);
  auto r = s.ro(rt);
  static_assert(std::is_same_v<decltype(r.get()), const int&>);
  static_assert(std::is_same_v<decltype(s.rw(rt).get()), int&>);
  EXPECT_EQ(*r, 1);
}

TEST(share, several_ro_borrows_at_once_then_rw) {
  runtime rt;
  share<int> s(rt, 2);
  {
    auto a = s.ro(rt);
    auto b = s.ro(rt);
    EXPECT_EQ(*a + *b, 4);
    EXPECT_EQ(&*a, &*b);
  }
  *s.rw(rt) = 3;  // allowed again once the ro borrows are gone
  EXPECT_EQ(*s.ro(rt), 3);
}

TEST(share, copies_share_the_value) {
  runtime rt;
  share<std::string> s(rt, "one");
  share<std::string> t = s;
  EXPECT_EQ(s.strong_count(), 2u);
  *t.rw(rt) = "two";
  EXPECT_EQ(*s.ro(rt), "two");
  EXPECT_EQ(&*s.ro(rt), &*t.ro(rt));
  share<std::string> u(rt, "other");
  u = s;
  EXPECT_EQ(s.strong_count(), 3u);
  EXPECT_EQ(*u.ro(rt), "two");
  share<std::string> moved = std::move(u);
  EXPECT_EQ(s.strong_count(), 3u);
  EXPECT_EQ(moved.strong_count(), 3u);
}

TEST(share, value_destroyed_when_the_last_share_goes) {
  counts c;
  runtime rt;
  {
    share<counted> s(rt, c, 1);
    EXPECT_EQ(c.alive(), 1);
    {
      share<counted> t = s;
      share<counted> u = t;
      EXPECT_EQ(u.ro(rt)->value(), 1);
    }
    EXPECT_EQ(c.alive(), 1) << "destroyed while a share remains";
    EXPECT_EQ(c.copied + c.moved, 0) << "copying a share copied the value";
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(share, assignment_releases_the_old_value) {
  counts c;
  runtime rt;
  share<counted> s(rt, c, 1);
  share<counted> t(rt, c, 2);
  EXPECT_EQ(c.alive(), 2);
  s = t;
  EXPECT_EQ(c.alive(), 1);
  EXPECT_EQ(s.ro(rt)->value(), 2);
  share<counted>& self = s;
  s = self;
  EXPECT_EQ(c.alive(), 1);
  EXPECT_EQ(s.strong_count(), 2u);
}

TEST(share_weak, upgrades_while_a_share_lives) {
  runtime rt;
  share<int> s(rt, 4);
  share_weak<int> w = s.downgrade();
  EXPECT_EQ(s.weak_count(), 1u);
  EXPECT_FALSE(w.expired());
  std::optional<share<int>> up = w.upgrade();
  ASSERT_TRUE(up);
  EXPECT_EQ(s.strong_count(), 2u);
  *up->rw(rt) = 8;
  EXPECT_EQ(*s.ro(rt), 8);
  share_weak<int> w2 = w;
  EXPECT_EQ(s.weak_count(), 2u);
}

TEST(share_weak, expires_when_the_last_share_goes_and_the_value_dies_then) {
  counts c;
  runtime rt;
  share_weak<counted> w;
  {
    share<counted> s(rt, c, 7);
    w = s.downgrade();
    share_weak<counted> w2 = w;
    EXPECT_EQ(s.weak_count(), 2u);
  }
  EXPECT_TRUE(w.expired());
  EXPECT_FALSE(w.upgrade());
  EXPECT_EQ(c.alive(), 0) << "a weak reference kept the value alive";
  share_weak<counted> copy = w;
  EXPECT_TRUE(copy.expired());
  EXPECT_TRUE(c.balanced());
}

TEST(share_weak, default_is_expired) {
  share_weak<int> w;
  EXPECT_TRUE(w.expired());
  EXPECT_FALSE(w.upgrade());
}

// Two actors share a counter: one writes, the other reads in a later call.
struct writer {
  share<int> s;
  static writer init(cx<writer>&, share<int> s) { return writer{std::move(s)}; }
  void add(cx<writer>& x, int k) { *s.rw(x) += k; }
};
struct reader {
  share<int> s;
  std::vector<int>* seen;
  static reader init(cx<reader>&, share<int> s, std::vector<int>* seen) {
    return reader{std::move(s), seen};
  }
  void look(cx<reader>& x) { seen->push_back(*s.ro(x)); }
};

TEST(share, shared_by_actors_of_one_runtime) {
  std::vector<int> seen;
  {
    runtime rt;
    share<int> s(rt, 0);
    auto w = make_actor<&writer::init>(rt, ret_nop<stop_cause>(), s);
    auto r = make_actor<&reader::init>(rt, ret_nop<stop_cause>(), s, &seen);
    call<&reader::look>(r);
    call<&writer::add>(w, 5);
    call<&reader::look>(r);
    call<&writer::add>(w, 2);
    call<&reader::look>(r);
    rt.run(rt.now(), false);
    EXPECT_EQ(s.strong_count(), 3u);
    EXPECT_EQ(*s.ro(rt), 7);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 5, 7}));
}

// --- debug checks ---

struct leaker {
  share<int> s;
  static leaker init(cx<leaker>&, share<int> s) { return leaker{std::move(s)}; }
  // Keeps a borrow past the end of the call (on the heap, so it is never released).
  void leak(cx<leaker>& x) {
    auto* kept = new auto(s.rw(x));
    (void)kept;
  }
  void fine(cx<leaker>& x) { *s.rw(x) += 1; }
};

#if STAKKER_DEBUG_CHECKS
constexpr bool debug_checks = true;
#else
constexpr bool debug_checks = false;
#endif

TEST(share_DeathTest, rw_while_rw_alive_aborts) {
  if (!debug_checks) GTEST_SKIP() << "STAKKER_DEBUG_CHECKS is 0";
  runtime rt;
  share<int> s(rt, 1);
  share<int> t = s;
  EXPECT_DEATH(
      {
        auto a = s.rw(rt);
        auto b = t.rw(rt);
        *a += *b;
      },
      "share borrowed twice");
}

TEST(share_DeathTest, ro_while_rw_alive_aborts) {
  if (!debug_checks) GTEST_SKIP() << "STAKKER_DEBUG_CHECKS is 0";
  runtime rt;
  share<int> s(rt, 1);
  EXPECT_DEATH(
      {
        auto a = s.rw(rt);
        auto b = s.ro(rt);
        *a += *b;
      },
      "share borrowed twice");
}

TEST(share_DeathTest, rw_while_ro_alive_aborts) {
  if (!debug_checks) GTEST_SKIP() << "STAKKER_DEBUG_CHECKS is 0";
  runtime rt;
  share<int> s(rt, 1);
  EXPECT_DEATH(
      {
        auto a = s.ro(rt);
        auto b = s.rw(rt);
        *b += *a;
      },
      "share borrowed twice");
}

TEST(share_DeathTest, borrow_kept_past_the_actor_call_aborts) {
  if (!debug_checks) GTEST_SKIP() << "STAKKER_DEBUG_CHECKS is 0";
  runtime rt;
  share<int> s(rt, 1);
  auto a = make_actor<&leaker::init>(rt, ret_nop<stop_cause>(), s);
  call<&leaker::fine>(a);
  rt.run(rt.now(), false);  // a borrow released within its call is fine
  EXPECT_EQ(*s.ro(rt), 2);
  call<&leaker::leak>(a);
  EXPECT_DEATH(rt.run(rt.now(), false), "borrow outlived the actor call");
}

// A value holding a weak reference to its own share (a "weak self"), counting itself.
struct weak_self {
  counted own;
  std::optional<share_weak<weak_self>> self;
  bool upgraded_while_dying = false;
  ~weak_self() {
    if (self) upgraded_while_dying = self->upgrade().has_value();
  }
};

TEST(share, a_value_holding_the_last_weak_reference_to_itself_is_freed_once) {
  counts c;
  {
    runtime rt;
    share<weak_self> s(rt, weak_self{counted(c, 1), std::nullopt});
    s.rw(rt)->self = s.downgrade();
    EXPECT_EQ(s.weak_count(), 1u);
  }  // ~weak_self drops the box's last weak reference while the box is being released
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

TEST(share, a_weak_reference_cannot_upgrade_while_the_value_is_being_destroyed) {
  runtime rt;
  bool upgraded = true;
  {
    struct probe {
      share_weak<probe> self;
      bool* out;
      ~probe() { *out = self.upgrade().has_value(); }
    };
    share<probe> s(rt, probe{{}, &upgraded});
    s.rw(rt)->self = s.downgrade();
  }
  EXPECT_FALSE(upgraded);
}

}  // namespace
