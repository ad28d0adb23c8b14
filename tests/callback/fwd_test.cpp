// SPDX-License-Identifier: MIT OR Apache-2.0
// C2: fwd<T>, the multi-shot callback, and the ways to aim it at actors.
#include "stakker/fwd.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::call;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_do;
using stakker::fwd_nop;
using stakker::fwd_to;
using stakker::make_actor;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;

static_assert(sizeof(fwd<int>) == 2 * sizeof(void*));
static_assert(sizeof(fwd<void>) == 2 * sizeof(void*));
static_assert(sizeof(fwd<std::string>) == 2 * sizeof(void*));
static_assert(std::is_copy_constructible_v<fwd<int>>);
static_assert(std::is_copy_assignable_v<fwd<int>>);
static_assert(std::is_nothrow_copy_constructible_v<fwd<int>>);
static_assert(std::is_nothrow_move_constructible_v<fwd<int>>);

struct probe {
  std::vector<std::string>* log;

  static probe init(cx<probe>&, std::vector<std::string>* log) { return probe{log}; }

  void mark(cx<probe>&, int k) { log->push_back("mark" + std::to_string(k)); }
  void on_int(cx<probe>&, int v) { log->push_back("int" + std::to_string(v)); }
  void on_fixed(cx<probe>&, int tag, std::string name, int v) {
    log->push_back("fixed" + std::to_string(tag) + name + std::to_string(v));
  }
  void on_void(cx<probe>&, std::monostate) { log->push_back("void"); }
  void on_plain(int v) { log->push_back("plain" + std::to_string(v)); }
  void on_counted(cx<probe>&, counted k) { log->push_back("counted" + std::to_string(k.value())); }
  void on_fixed_counted(cx<probe>&, counted k, int v) {
    log->push_back("fc" + std::to_string(k.value()) + "/" + std::to_string(v));
  }
  void on_move_only(cx<probe>&, std::unique_ptr<int> p) {
    log->push_back("ptr" + std::to_string(*p));
  }
  // Calls a fwd aimed at itself from inside a call: delivery must still be queued.
  void call_self(cx<probe>& x, int v) {
    fwd<int> f = fwd_to<int, &probe::on_int>(x.this_actor());
    f(v);
    f(v + 1);
    log->push_back("called");
  }
  void stop(cx<probe>& x) { x.stop(); }
};

struct fwd_actor : ::testing::Test {
  std::vector<std::string> log;  // declared before the runtime: they outlive the actor
  int stops = 0;
  runtime rt;
  actor_own<probe> a = make_actor<&probe::init>(
      rt, ret_do<stop_cause>([this](std::optional<stop_cause>) { ++stops; }), &log);

  void run() { rt.run(rt.now(), false); }
};

// --- the handle itself ---

TEST(fwd, called_many_times) {
  std::vector<int> got;
  fwd<int> f = fwd_do<int>([&got](int v) { got.push_back(v); });
  for (int i = 0; i < 5; ++i) f(i);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(static_cast<bool>(f));
}

TEST(fwd, copies_share_one_capture) {
  std::vector<int> got;
  fwd<int> f = fwd_do<int>([n = 0, &got](int v) mutable {
    n += v;
    got.push_back(n);
  });
  fwd<int> g = f;
  f(1);
  g(2);
  f(3);
  fwd<int> h;
  h = g;
  h(4);
  EXPECT_EQ(got, (std::vector<int>{1, 3, 6, 10}));
}

TEST(fwd, copies_share_a_counted_capture_and_release_it_with_the_last_copy) {
  counts c;
  int sum = 0;
  {
    fwd<int> f = fwd_do<int>([k = counted(c, 10), &sum](int v) { sum += k.value() + v; });
    const long after_make = c.constructed;
    {
      fwd<int> g = f;
      fwd<int> h(g);
      fwd<int> moved = std::move(h);
      g(1);
      moved(2);
      EXPECT_EQ(c.constructed, after_make) << "copying a fwd copied its capture";
    }
    EXPECT_EQ(c.alive(), 1) << "the capture died with a copy while f lives";
    f(3);
  }
  EXPECT_EQ(sum, 36);
  EXPECT_EQ(c.copied, 0);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(fwd, destroying_calls_nothing) {
  int calls = 0;
  counts c;
  {
    fwd<int> f = fwd_do<int>([&calls](int) { ++calls; });
    fwd<int> g = f;
    fwd<int> boxed = fwd_do<int>([&calls, k = counted(c)](int) { ++calls; });
    fwd<int> boxed_copy = boxed;
  }
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(c.balanced());
}

TEST(fwd, empty_throws_logic_error) {
  fwd<int> f;
  EXPECT_FALSE(static_cast<bool>(f));
  EXPECT_THROW(f(1), std::logic_error);
  fwd<int> g = fwd_nop<int>();
  fwd<int> moved = std::move(g);
  EXPECT_FALSE(static_cast<bool>(g));  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(g(1), std::logic_error);
  fwd<void> v;
  EXPECT_THROW(v(), std::logic_error);
}

TEST(fwd, assignment_releases_the_old_capture) {
  counts c;
  fwd<int> f = fwd_do<int>([k = counted(c, 1)](int) { (void)k; });
  EXPECT_EQ(c.alive(), 1);
  f = fwd_nop<int>();
  EXPECT_EQ(c.alive(), 0);
  fwd<int>& self = f;
  f = self;  // self-assignment keeps it usable
  f(1);
  EXPECT_TRUE(c.balanced());
}

TEST(fwd, void_fwd_called_many_times) {
  int n = 0;
  fwd<void> f = fwd_do<void>([&n](std::monostate) { ++n; });
  fwd<void> g = f;
  f();
  g();
  f();
  EXPECT_EQ(n, 3);
}

TEST(fwd, nop_accepts_any_number_of_calls) {
  fwd<std::string> f = fwd_nop<std::string>();
  f("a");
  f("b");
  fwd<> v = fwd_nop();
  v();
  v();
  EXPECT_TRUE(static_cast<bool>(f));
  EXPECT_TRUE(static_cast<bool>(v));
}

TEST(fwd, carries_move_only_values) {
  int sum = 0;
  fwd<std::unique_ptr<int>> f =
      fwd_do<std::unique_ptr<int>>([&sum](std::unique_ptr<int> p) { sum += *p; });
  f(std::make_unique<int>(2));
  f(std::make_unique<int>(3));
  EXPECT_EQ(sum, 5);
}

// --- fwd_to ---

TEST_F(fwd_actor, fwd_to_queues_every_call_in_order) {
  fwd<int> f = fwd_to<int, &probe::on_int>(a);
  f(1);
  call<&probe::mark>(a, 2);
  f(3);
  EXPECT_TRUE(log.empty()) << "delivered inline";
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"int1", "mark2", "int3"}));
  f(4);
  run();
  EXPECT_EQ(log.back(), "int4");
}

TEST_F(fwd_actor, fwd_to_copies_reach_the_same_actor) {
  fwd<int> f = fwd_to<int, &probe::on_int>(a.ref());
  std::vector<fwd<int>> copies(3, f);
  for (int i = 0; i < 3; ++i) copies[static_cast<std::size_t>(i)](i);
  f(9);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"int0", "int1", "int2", "int9"}));
}

TEST_F(fwd_actor, fwd_to_called_inside_a_call_is_still_queued) {
  call<&probe::call_self>(a, 5);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"called", "int5", "int6"}));
}

TEST_F(fwd_actor, fwd_to_with_fixed_leading_arguments_sends_them_every_time) {
  fwd<int> f = fwd_to<int, &probe::on_fixed>(a, 7, std::string("seven"));
  fwd<int> g = f;
  f(1);
  g(2);
  f(3);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"fixed7seven1", "fixed7seven2", "fixed7seven3"}));
}

TEST_F(fwd_actor, fwd_to_member_pointer_form) {
  fwd<int> f = fwd_to<int>(a, &probe::on_int);
  fwd<int> g = fwd_to<int>(a, &probe::on_fixed, 1, std::string("one"));
  f(1);
  g(2);
  f(3);
  g(4);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"int1", "fixed1one2", "int3", "fixed1one4"}));
}

TEST_F(fwd_actor, fwd_to_void_and_context_free_members) {
  fwd<void> v = fwd_to<void, &probe::on_void>(a);
  fwd<int> p = fwd_to<int, &probe::on_plain>(a);
  v();
  p(1);
  v();
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"void", "plain1", "void"}));
}

TEST_F(fwd_actor, fwd_to_carries_move_only_values) {
  fwd<std::unique_ptr<int>> f = fwd_to<std::unique_ptr<int>, &probe::on_move_only>(a);
  f(std::make_unique<int>(1));
  f(std::make_unique<int>(2));
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"ptr1", "ptr2"}));
}

TEST_F(fwd_actor, fwd_to_a_stopped_actor_drops_the_calls) {
  counts c;
  {
    fwd<counted> f = fwd_to<counted, &probe::on_counted>(a);
    fwd<int> g = fwd_to<int, &probe::on_fixed_counted>(a, counted(c, 5));
    f(counted(c, 1));  // queued before the stop: runs
    g(1);
    call<&probe::stop>(a);
    f(counted(c, 2));  // queued after the stop: dropped
    g(2);
    run();
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(stops, 1);
    f(counted(c, 3));  // sent to a zombie: dropped
    g(3);
    run();
    EXPECT_EQ(log, (std::vector<std::string>{"counted1", "fc5/1"}));
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST_F(fwd_actor, fwd_to_counted_captures_and_values_are_balanced) {
  counts c;
  {
    fwd<counted> f = fwd_to<counted, &probe::on_counted>(a);
    fwd<int> g = fwd_to<int, &probe::on_fixed_counted>(a, counted(c, 8));
    fwd<int> g2 = g;
    for (int i = 0; i < 3; ++i) {
      f(counted(c, i));
      g2(i);
    }
    run();
  }
  EXPECT_EQ(log.size(), 6u);
  EXPECT_EQ(log.back(), "fc8/2");
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(fwd_to, does_not_keep_the_actor_alive) {
  runtime rt;
  std::vector<std::string> log;
  std::optional<stop_cause> cause;
  fwd<int> f;
  {
    auto a = make_actor<&probe::init>(
        rt, ret_do<stop_cause>([&cause](std::optional<stop_cause> s) { cause = std::move(s); }),
        &log);
    f = fwd_to<int, &probe::on_int>(a);
  }
  rt.run(rt.now(), false);
  ASSERT_TRUE(cause);
  EXPECT_EQ(cause->kind(), stop_kind::dropped);
  f(1);
  rt.run(rt.now(), false);
  EXPECT_TRUE(log.empty());
}

TEST(fwd_to, called_after_the_runtime_is_gone_does_nothing) {
  std::vector<std::string> log;
  counts c;
  fwd<counted> f;
  fwd<int> g;
  {
    runtime rt;
    auto a = make_actor<&probe::init>(rt, ret_nop<stop_cause>(), &log);
    f = fwd_to<counted, &probe::on_counted>(a);
    g = fwd_to<int, &probe::on_fixed_counted>(a, counted(c, 1));
    f(counted(c, 2));  // queued, then destroyed unrun with the runtime
    rt.run(rt.now(), false);
    f(counted(c, 3));
  }
  f(counted(c, 4));
  g(5);
  fwd<counted> copy = f;
  copy(counted(c, 6));
  EXPECT_EQ(log, (std::vector<std::string>{"counted2"}));
  f = fwd<counted>();
  g = fwd<int>();
  copy = fwd<counted>();
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

}  // namespace

namespace {

struct bell {
  int rings = 0;
  static bell init(stakker::cx<bell>&) { return {}; }
  void ring(stakker::cx<bell>&) { ++rings; }
};

TEST(fwd, void_targets_may_leave_out_the_monostate) {
  stakker::testing::virtual_loop loop;
  auto b = stakker::make_actor<&bell::init>(loop.rt(), stakker::ret_nop<stakker::stop_cause>());
  int plain = 0;
  stakker::fwd<> f = stakker::fwd_to<void, &bell::ring>(b);
  stakker::fwd<> g = stakker::fwd_do<void>([&plain] { ++plain; });
  stakker::ret<void> r = stakker::ret_some_to<void, &bell::ring>(b);
  f();
  f();
  g();
  r();
  loop.run();
  EXPECT_EQ(plain, 1);
  EXPECT_EQ(stakker::inspect(loop.rt(), b, [](bell& x) { return x.rings; }), 3);
}

// --- A fwd_do callback runs from the fwd's storage: it may reassign or destroy that fwd.

TEST(fwd, a_boxed_fwd_do_callback_may_drop_the_last_copy_of_its_fwd) {
  counts k;
  std::optional<fwd<int>> holder;
  std::vector<std::string> log;
  holder = fwd_do<int>([&holder, &log, s = std::string(64, 'x'), c = counted(k)](int v) {
    holder.reset();  // the last copy: the box holding this closure would go
    log.push_back(s.substr(0, 2) + std::to_string(v + c.value()));
  });
  (*holder)(1);
  EXPECT_EQ(log, std::vector<std::string>{"xx1"});
  EXPECT_FALSE(holder);
  EXPECT_TRUE(k.balanced());
}

TEST(fwd, an_inline_fwd_do_callback_may_reassign_its_fwd) {
  struct ctx {
    fwd<int> f;
    std::vector<int> first, second;
  } c;
  c.f = fwd_do<int>([p = &c](int v) {  // one word: stored inline
    p->f = fwd_do<int>([q = p](int w) { q->second.push_back(w); });
    p->first.push_back(v);  // `p` read from the running capture, not the new one
  });
  c.f(1);
  c.f(2);
  EXPECT_EQ(c.first, std::vector<int>{1});
  EXPECT_EQ(c.second, std::vector<int>{2});
}

TEST(fwd, a_fwd_do_callback_that_throws_keeps_its_fwd_callable) {
  counts k;
  int calls = 0;
  fwd<int> f = fwd_do<int>([&calls, c = counted(k)](int v) {
    ++calls;
    if (v < 0) throw std::runtime_error("negative");
  });
  EXPECT_THROW(f(-1), std::runtime_error);
  f(1);
  EXPECT_EQ(calls, 2);
  f = fwd<int>();
  EXPECT_TRUE(k.balanced());
}

}  // namespace
