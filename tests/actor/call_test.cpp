// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/call.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actor/stop_log.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_new;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker_test::stop_log;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Records the values it is called with; `inits` counts how often an init ran.
struct recorder {
  std::vector<int> seen;
  int start = 0;

  static recorder init(cx<recorder>&) { return recorder{}; }
  static recorder init_at(cx<recorder>&, int s) { return recorder{{}, s}; }
  // Initialises only when `ok`; counts every attempt.
  static std::optional<recorder> gate(cx<recorder>&, int* inits, bool ok) {
    ++*inits;
    if (!ok) return std::nullopt;
    return recorder{};
  }
  static std::optional<recorder> init_counted(cx<recorder>&, int* inits, counted k) {
    ++*inits;
    return recorder{{}, k.value()};
  }
  // Queues a call to itself from inside the init.
  static recorder init_calling_self(cx<recorder>& x) {
    x.call<&recorder::add>(7);
    return recorder{};
  }

  void add(cx<recorder>&, int v) { seen.push_back(v); }
  void add_plain(int v) { seen.push_back(v); }
  void take(cx<recorder>&, counted k) { seen.push_back(k.value()); }
  void take_ret(cx<recorder>&, counted k, ret<int> r) {
    seen.push_back(k.value());
    r(k.value());
  }
  void stop_now(cx<recorder>& x) { x.stop(); }
};

std::vector<int> seen(runtime& rt, const actor<recorder>& a) {
  return inspect(rt, a, [](recorder& r) { return r.seen; }).value_or(std::vector<int>{-1});
}

// --- A1: Prep, init, parked calls ---

TEST(actor_call, make_actor_creates_the_actor_in_prep_and_its_init_makes_it_ready) {
  stop_log log;
  runtime rt;
  auto a = make_actor<&recorder::init_at>(rt, log.notify(), 42);
  EXPECT_TRUE(a.is_prep());
  EXPECT_FALSE(a.is_ready());
  EXPECT_FALSE(inspect(rt, a, [](recorder& r) { return r.start; }).has_value());
  run(rt);
  EXPECT_TRUE(a.is_ready());
  EXPECT_EQ(inspect(rt, a, [](recorder& r) { return r.start; }), std::optional<int>(42));
  EXPECT_EQ(log.calls, 0);
}

TEST(actor_call, an_init_returning_an_optional_with_a_value_makes_the_actor_ready) {
  runtime rt;
  int inits = 0;
  auto a = make_actor<&recorder::gate>(rt, ret_nop<stop_cause>(), &inits, true);
  run(rt);
  EXPECT_EQ(inits, 1);
  EXPECT_TRUE(a.is_ready());
}

TEST(actor_call, calls_made_while_in_prep_are_parked_and_run_in_order_once_ready) {
  runtime rt;
  auto a = actor_new<recorder>(rt, ret_nop<stop_cause>());
  call<&recorder::add>(a, 1);
  call(a, &recorder::add, 2);
  call<&recorder::add_plain>(a, 3);
  run(rt);
  EXPECT_TRUE(a.is_prep());  // nothing to run them on yet: parked, not lost
  call<&recorder::add>(a, 4);
  call_prep<&recorder::init>(a);
  call<&recorder::add>(a, 5);  // queued after the init: runs after the parked calls
  run(rt);
  ASSERT_TRUE(a.is_ready());
  EXPECT_EQ(seen(rt, a), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(actor_call, calls_made_right_after_make_actor_run_after_the_init_in_order) {
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  for (int i = 0; i < 10; ++i) call<&recorder::add>(a, i);
  run(rt);
  EXPECT_EQ(seen(rt, a), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(actor_call, an_init_returning_empty_leaves_the_actor_in_prep_for_a_later_prep_call) {
  stop_log log;
  runtime rt;
  int inits = 0;
  auto a = make_actor<&recorder::gate>(rt, log.notify(), &inits, false);
  call<&recorder::add>(a, 1);
  run(rt);
  EXPECT_EQ(inits, 1);
  EXPECT_TRUE(a.is_prep());
  call<&recorder::add>(a, 2);
  run(rt);
  EXPECT_TRUE(a.is_prep());
  call_prep<&recorder::gate>(a, &inits, true);
  run(rt);
  EXPECT_EQ(inits, 2);
  ASSERT_TRUE(a.is_ready());
  EXPECT_EQ(seen(rt, a), (std::vector<int>{1, 2}));
  EXPECT_EQ(log.calls, 0);
}

TEST(actor_call, a_prep_call_arriving_after_ready_is_dropped_and_its_arguments_destroyed) {
  counts c;
  {
    runtime rt;
    int inits = 0;
    auto a = make_actor<&recorder::init_counted>(rt, ret_nop<stop_cause>(), &inits, counted(c, 1));
    run(rt);
    ASSERT_TRUE(a.is_ready());
    call_prep<&recorder::init_counted>(a, &inits, counted(c, 2));
    call_prep(a, &recorder::gate, &inits, true);
    run(rt);
    EXPECT_EQ(inits, 1);
    EXPECT_TRUE(a.is_ready());
    EXPECT_EQ(inspect(rt, a, [](recorder& r) { return r.start; }), std::optional<int>(1));
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, make_actor_and_call_prep_take_an_init_function_pointer) {
  runtime rt;
  auto a = make_actor(rt, ret_nop<stop_cause>(), &recorder::init_at, 9);
  auto b = make_actor(
      rt, ret_nop<stop_cause>(), +[](cx<recorder>&) {
        return recorder{{}, 3};
      });
  auto c = actor_new<recorder>(rt, ret_nop<stop_cause>());
  call_prep(c, &recorder::init_at, 5);
  run(rt);
  EXPECT_EQ(inspect(rt, a, [](recorder& r) { return r.start; }), std::optional<int>(9));
  EXPECT_EQ(inspect(rt, b, [](recorder& r) { return r.start; }), std::optional<int>(3));
  EXPECT_EQ(inspect(rt, c, [](recorder& r) { return r.start; }), std::optional<int>(5));
}

TEST(actor_call, an_init_can_queue_calls_to_its_own_actor_which_run_once_it_is_ready) {
  runtime rt;
  auto a = make_actor<&recorder::init_calling_self>(rt, ret_nop<stop_cause>());
  call<&recorder::add>(a, 1);  // queued before the init ran, so before the init's own call
  run(rt);
  EXPECT_EQ(seen(rt, a), (std::vector<int>{1, 7}));
}

// --- A2: calls run later, from the queue, in order ---

TEST(actor_call, a_call_runs_later_from_the_queue_never_inline) {
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  run(rt);
  call<&recorder::add>(a, 1);
  call(a, &recorder::add, 2);
  EXPECT_EQ(seen(rt, a), std::vector<int>{});
  run(rt);
  EXPECT_EQ(seen(rt, a), (std::vector<int>{1, 2}));
}

// Calls another actor, then looks whether that call already ran.
struct caller {
  bool* target_ran;
  bool saw_it_inline = true;
  static caller init(cx<caller>&, bool* flag) { return caller{flag}; }
  void poke(cx<caller>&, actor<recorder> r) {
    call(r, [flag = target_ran](recorder&) { *flag = true; });
    saw_it_inline = *target_ran;
  }
};

TEST(actor_call, a_call_made_from_inside_another_actors_call_runs_after_that_call) {
  runtime rt;
  bool ran = false;
  auto r = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  auto k = make_actor<&caller::init>(rt, ret_nop<stop_cause>(), &ran);
  call<&caller::poke>(k, r.ref());
  run(rt);
  EXPECT_TRUE(ran);
  EXPECT_EQ(inspect(rt, k, [](caller& s) { return s.saw_it_inline; }), std::optional<bool>(false));
}

TEST(actor_call, calls_to_one_actor_run_in_call_order_whatever_their_form) {
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  run(rt);
  std::vector<int> want;
  for (int i = 0; i < 200; i += 5) {
    call<&recorder::add>(a, i);
    call(a, &recorder::add, i + 1);
    call<&recorder::add_plain>(a, i + 2);
    call(
        a, [](recorder& r, cx<recorder>&, int v) { r.seen.push_back(v); }, i + 3);
    call(
        a, [](recorder& r, int v) { r.seen.push_back(v); }, i + 4);
    for (int j = 0; j < 5; ++j) want.push_back(i + j);
  }
  run(rt);
  EXPECT_EQ(seen(rt, a), want);
}

TEST(actor_call, members_without_a_cx_parameter_can_be_called) {
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  call<&recorder::add_plain>(a, 10);
  call(a, &recorder::add_plain, 11);
  run(rt);
  EXPECT_EQ(seen(rt, a), (std::vector<int>{10, 11}));
}

TEST(actor_call, lambdas_taking_the_state_and_its_cx_can_be_called) {
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  actor<recorder> self_seen;
  call(a, [&self_seen](recorder& r, cx<recorder>& x) {
    self_seen = x.this_actor();
    r.seen.push_back(1);
  });
  std::string text = "four";
  call(
      a, [](recorder& r, cx<recorder>&, const std::string& s) { r.seen.push_back(int(s.size())); },
      text);
  run(rt);
  EXPECT_EQ(seen(rt, a), (std::vector<int>{1, 4}));
  EXPECT_TRUE(self_seen == a.ref());
  EXPECT_EQ(text, "four");  // an lvalue argument is copied, not moved from
}

// Looks at the context its member receives.
struct probe {
  bool same_actor = false, same_core = false, same_time = false;
  static probe init(cx<probe>&) { return probe{}; }
  void look(cx<probe>& x, actor<probe> expected, runtime* rt) {
    same_actor = x.this_actor() == expected;
    stakker::core& k = x;
    same_core = &k == rt && &x.core() == rt;
    same_time = x.now() == rt->now();
  }
};

TEST(actor_call, a_member_gets_the_context_of_its_own_actor) {
  runtime rt;
  auto a = make_actor<&probe::init>(rt, ret_nop<stop_cause>());
  auto other = make_actor<&probe::init>(rt, ret_nop<stop_cause>());
  call<&probe::look>(a, a.ref(), &rt);
  call<&probe::look>(other, a.ref(), &rt);
  rt.run(rt.now() + std::chrono::seconds(5), false);
  auto all = [](probe& p) { return p.same_actor && p.same_core && p.same_time; };
  EXPECT_EQ(inspect(rt, a, all), std::optional<bool>(true));
  EXPECT_EQ(inspect(rt, other, [](probe& p) { return p.same_actor; }), std::optional<bool>(false));
}

TEST(actor_call, arguments_are_moved_into_the_call_and_move_only_types_work) {
  counts c;
  {
    runtime rt;
    auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
    call<&recorder::take>(a, counted(c, 5));
    call(
        a, [](recorder& r, std::unique_ptr<int> p) { r.seen.push_back(*p); },
        std::make_unique<int>(6));
    run(rt);
    EXPECT_EQ(seen(rt, a), (std::vector<int>{5, 6}));
    EXPECT_EQ(c.copied, 0);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// --- A3: calls to a Zombie are dropped ---

TEST(actor_call, a_call_to_a_zombie_is_dropped_and_its_arguments_destroyed) {
  counts c;
  {
    runtime rt;
    auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
    call<&recorder::stop_now>(a);
    run(rt);
    ASSERT_TRUE(a.is_zombie());
    call<&recorder::take>(a, counted(c, 1));
    call(a, [k = counted(c, 2)](recorder& r) { r.seen.push_back(k.value()); });
    EXPECT_EQ(c.alive(), 2);  // queued, not yet dropped
    run(rt);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, a_ret_among_the_arguments_of_a_call_to_a_zombie_answers_none) {
  counts c;
  {
    runtime rt;
    auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
    call<&recorder::stop_now>(a);
    run(rt);
    int answers = 0;
    std::optional<int> got = -1;
    call<&recorder::take_ret>(a, counted(c, 3), ret_do<int>([&](std::optional<int> v) {
                                ++answers;
                                got = v;
                              }));
    EXPECT_EQ(answers, 0);
    run(rt);
    EXPECT_EQ(answers, 1);
    EXPECT_EQ(got, std::nullopt);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, calls_queued_before_the_actor_stopped_are_dropped_when_they_reach_it) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = make_actor<&recorder::init>(rt, log.notify());
    int answers = 0;
    std::optional<int> got = -1;
    call<&recorder::add>(a, 1);
    call<&recorder::stop_now>(a);
    call<&recorder::add>(a, 2);
    call<&recorder::take_ret>(a, counted(c, 3), ret_do<int>([&](std::optional<int> v) {
                                ++answers;
                                got = v;
                              }));
    actor<recorder> ref = a;
    call(ref, [](recorder& r) { r.seen.push_back(4); });
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(answers, 1);
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
    EXPECT_TRUE(log.heard_once(stop_kind::stopped));
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, a_ret_among_the_arguments_of_a_call_that_runs_answers_its_value) {
  counts c;
  {
    runtime rt;
    auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
    std::optional<int> got;
    call<&recorder::take_ret>(a, counted(c, 8),
                              ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    EXPECT_EQ(got, std::optional<int>(8));
  }
  EXPECT_TRUE(c.balanced());
}

// --- inspect ---

TEST(actor_call, inspect_sees_only_a_ready_actor) {
  runtime rt;
  auto a = make_actor<&recorder::init_at>(rt, ret_nop<stop_cause>(), 4);
  auto get = [](recorder& r) { return r.start; };
  EXPECT_EQ(inspect(rt, a, get), std::nullopt);  // Prep
  run(rt);
  EXPECT_EQ(inspect(rt, a, get), std::optional<int>(4));
  int visits = 0;
  inspect(rt, a.ref(), [&](recorder&) { ++visits; });  // void result
  EXPECT_EQ(visits, 1);
  call<&recorder::stop_now>(a);
  run(rt);
  EXPECT_EQ(inspect(rt, a, get), std::nullopt);  // Zombie
  inspect(rt, a, [&](recorder&) { ++visits; });
  EXPECT_EQ(visits, 1);
}

// --- The queued call's paths: the fast one and each out-of-line one ---

// Two actors bouncing a ball. Each ball also sends the peer `n % 7` calls with a counted
// argument and, every fifth ball, makes a self-call: entries of several sizes, so that the
// queue moves to its next chunk under every kind of call.
struct rally {
  actor<rally> peer;
  long balls = 0;
  std::vector<int> taken;  // take's values, in order
  std::vector<int> selfs;  // self's values, in order

  static rally init(cx<rally>&) { return {}; }
  void set_peer(cx<rally>&, actor<rally> p) { peer = std::move(p); }
  void ball(cx<rally>& x, int n, counts* c) {
    ++balls;
    for (int i = 0; i < n % 7; ++i) call<&rally::take>(peer, counted(*c, i), std::string(40, 'x'));
    if (n % 5 == 0) x.call<&rally::self>(n);
    if (n > 0) call<&rally::ball>(peer, n - 1, c);
  }
  void take(cx<rally>&, counted k, std::string s) {
    if (s.size() == 40) taken.push_back(k.value());
  }
  void self(cx<rally>&, int n) { selfs.push_back(n); }
};

// Plays a rally of `balls` balls between two new actors; checks that every call ran once, in
// call order, and every argument was destroyed once.
void play_rally(runtime& rt, int balls) {
  counts c;
  {
    auto a = make_actor<&rally::init>(rt, ret_nop<stop_cause>());
    auto b = make_actor<&rally::init>(rt, ret_nop<stop_cause>());
    call<&rally::set_peer>(a, b.ref());
    call<&rally::set_peer>(b, a.ref());
    call<&rally::ball>(a, balls - 1, &c);
    run(rt);
    // a played the even balls (n = balls - 1, balls - 3, ...) and sent b their takes; b the
    // odd ones.
    for (const auto* own : {&a, &b}) {
      const bool first = own == &a;
      std::vector<int> taken, selfs;
      long played = 0;
      for (int n = balls - 1; n >= 0; --n) {
        if (((balls - 1 - n) % 2 == 0) != first) {
          for (int i = 0; i < n % 7; ++i) taken.push_back(i);  // sent by the other one
          continue;
        }
        ++played;
        if (n % 5 == 0) selfs.push_back(n);
      }
      EXPECT_EQ(inspect(rt, *own, [](rally& r) { return r.balls; }), std::optional<long>(played));
      EXPECT_EQ(inspect(rt, *own, [](rally& r) { return r.taken; }), std::optional(taken));
      EXPECT_EQ(inspect(rt, *own, [](rally& r) { return r.selfs; }), std::optional(selfs));
    }
    call<&rally::set_peer>(a, actor<rally>());  // the cycle of references, broken
    call<&rally::set_peer>(b, actor<rally>());
    run(rt);
  }
  run(rt);
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, a_rally_crossing_many_queue_chunks_runs_every_call_once_in_order) {
  runtime rt;
  play_rally(rt, 20000);  // megabytes of entries: hundreds of chunks written in turn
}

TEST(actor_call, calls_queued_while_the_queue_grows_are_counted_once_queued_and_once_run) {
  runtime rt;
  rt.metrics_enable();
  play_rally(rt, 20000);
  const auto m = rt.metrics();
  EXPECT_EQ(m.calls_queued, m.calls_run);
  EXPECT_EQ(m.queue_depth, 0u);
  EXPECT_GT(m.calls_queued, 20000u);
}

TEST(actor_call, a_self_call_chain_crossing_many_chunks_runs_every_call_once) {
  // Only self-calls are queued, so each time a chunk is full the next one is made while the
  // queue grows, and it is the one that takes over the running call's reference.
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, ret_nop<stop_cause>());
  run(rt);
  struct chain {
    static void step(recorder& r, cx<recorder>& x, int n) {
      r.seen.push_back(n);
      if (n > 0) x.call(&chain::step, n - 1);
    }
  };
  call(a, &chain::step, 5000);
  run(rt);
  const auto got = seen(rt, a);
  ASSERT_EQ(got.size(), 5001u);
  for (int i = 0; i <= 5000; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], 5000 - i);
}

// Owns itself (its state holds its only actor_own) until it stops.
struct self_owned {
  stakker::actor_own<self_owned> me;
  counted k;
  static self_owned init(cx<self_owned>&, counts* c) { return {{}, counted(*c, 1)}; }
  void keep(cx<self_owned>&, stakker::actor_own<self_owned> own) { me = std::move(own); }
  void quit(cx<self_owned>& x) { x.stop(); }
};

TEST(actor_call, an_actor_stopping_in_a_call_that_holds_its_last_reference_is_freed_once) {
  counts c;
  stop_log log;
  {
    runtime rt;
    auto own = make_actor<&self_owned::init>(rt, log.notify(), &c);
    actor<self_owned> a = own.ref();
    call<&self_owned::keep>(a, std::move(own));
    run(rt);
    call<&self_owned::quit>(a);
    a = actor<self_owned>();  // the queued call now holds the only reference besides the owner
    run(rt);                  // the stop destroys the state and its owner; the call's own goes last
    EXPECT_TRUE(log.heard_once(stop_kind::stopped));
    EXPECT_TRUE(c.balanced());
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_call, a_member_that_hands_its_reference_to_a_self_call_then_stops_drops_that_call) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&recorder::init>(rt, log.notify());
  run(rt);
  struct then_stop {
    static void go(recorder&, cx<recorder>& x, counts* k) {
      x.call<&recorder::take>(counted(*k, 5));  // takes over the running call's reference
      x.stop();
    }
  };
  call(a, &then_stop::go, &c);
  run(rt);
  EXPECT_TRUE(log.heard_once(stop_kind::stopped));
  EXPECT_TRUE(c.balanced());  // the self-call was dropped, its argument destroyed
  a.reset();
  run(rt);
  EXPECT_EQ(log.calls, 1);
}

}  // namespace
