// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/cx.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <optional>
#include <stdexcept>
#include <vector>

#include "actor/stop_log.hpp"
#include "stakker/call.hpp"
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
using stakker::make_error;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::ret_some_to;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker_test::stop_log;

void run(runtime& rt) { rt.run(rt.now(), false); }

// A state that counts itself (so its destructor is observable) and stops in many ways.
struct worker {
  counted k;
  std::vector<int> seen{};
  bool still_ready_after_stop = false;

  static worker init(cx<worker>&, counted k) { return worker{std::move(k)}; }
  static worker init_then_stop(cx<worker>& x, counted k) {
    x.stop();
    return worker{std::move(k)};
  }
  static std::optional<worker> init_fail_empty(cx<worker>& x) {
    x.fail("not today");
    return std::nullopt;
  }

  void add(cx<worker>&, int v) { seen.push_back(v); }
  void take(cx<worker>&, counted c, ret<int> r) { r(c.value()); }
  void stop(cx<worker>& x) {
    x.stop();
    still_ready_after_stop = x.this_actor().is_ready();
    seen.push_back(-1);  // the state is still usable until the call returns
  }
  void fail_with(cx<worker>& x, std::exception_ptr e) {
    x.fail(e);
    still_ready_after_stop = x.this_actor().is_ready();
  }
  void fail_text(cx<worker>& x) { x.fail("out of coffee"); }
  void fail_then_stop(cx<worker>& x) {
    x.fail("first");
    x.stop();
    x.fail("third");
  }
  void stop_then_fail(cx<worker>& x) {
    x.stop();
    x.fail("second");
  }
  void stop_then_throw(cx<worker>& x) {
    x.stop();
    throw std::runtime_error("too late");
  }
  void fail_then_throw(cx<worker>& x) {
    x.fail("first");
    throw std::runtime_error("second");
  }
};

// --- A4 through cx: stop and fail ---

TEST(cx, stop_takes_effect_when_the_call_returns) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = make_actor<&worker::init>(rt, log.notify(), counted(c));
    call<&worker::stop>(a);
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(c.alive(), 0);  // the state's destructor ran
    EXPECT_TRUE(log.heard_once(stop_kind::stopped));
    EXPECT_FALSE(log.cause->has_error());
  }
  EXPECT_TRUE(c.balanced());
}

// Looks into the actor, from inside the stopping call, through an observer member.
TEST(cx, the_actor_is_still_ready_inside_the_call_that_stops_it) {
  runtime rt;
  counts c;
  auto a = make_actor<&worker::init>(rt, ret_nop<stop_cause>(), counted(c));
  bool ready_inside = false;
  std::vector<int> seen{};
  call(a, [&](worker& w, cx<worker>& x) {
    w.stop(x);
    ready_inside = w.still_ready_after_stop;
    seen = w.seen;
  });
  run(rt);
  EXPECT_TRUE(ready_inside);
  EXPECT_EQ(seen, std::vector<int>{-1});
  EXPECT_TRUE(a.is_zombie());
}

TEST(cx, fail_with_an_exception_ptr_delivers_that_same_exception) {
  stop_log log;
  runtime rt;
  counts c;
  auto a = make_actor<&worker::init>(rt, log.notify(), counted(c));
  std::exception_ptr e = make_error("disk full");
  call<&worker::fail_with>(a, e);
  run(rt);
  EXPECT_TRUE(a.is_zombie());
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_EQ(log.cause->error(), e);
  EXPECT_EQ(log.message(), "disk full");
  EXPECT_EQ(log.cause->text(), "Actor failed: disk full");
  EXPECT_EQ(c.alive(), 0);
}

TEST(cx, fail_with_a_message_carries_it_as_a_runtime_error) {
  stop_log log;
  runtime rt;
  counts c;
  auto a = make_actor<&worker::init>(rt, log.notify(), counted(c));
  call<&worker::fail_text>(a);
  run(rt);
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_THROW(std::rethrow_exception(log.cause->error()), std::runtime_error);
  EXPECT_EQ(log.message(), "out of coffee");
}

TEST(cx, the_first_cause_recorded_in_a_call_wins) {
  struct expect {
    void (worker::*member)(cx<worker>&);
    stop_kind kind;
    const char* message;
  };
  const expect cases[] = {
      {&worker::fail_then_stop, stop_kind::failed, "first"},
      {&worker::stop_then_fail, stop_kind::stopped, ""},
      {&worker::stop_then_throw, stop_kind::stopped, ""},
      {&worker::fail_then_throw, stop_kind::failed, "first"},
  };
  for (const expect& e : cases) {
    stop_log log;
    runtime rt;
    counts c;
    auto a = make_actor<&worker::init>(rt, log.notify(), counted(c));
    call(a, e.member);
    call(a, e.member);  // a second call is dropped: no second cause
    run(rt);
    EXPECT_TRUE(log.heard_once(e.kind)) << log.calls << " " << log.message();
    EXPECT_EQ(log.message(), e.message);
    EXPECT_EQ(c.alive(), 0);
  }
}

TEST(cx, notify_is_called_once_even_when_the_stopped_actor_is_then_dropped_or_called) {
  stop_log log;
  runtime rt;
  counts c;
  auto a = make_actor<&worker::init>(rt, log.notify(), counted(c));
  call<&worker::stop>(a);
  run(rt);
  call<&worker::stop>(a);
  call<&worker::fail_text>(a);
  a.kill("again");
  a.reset();
  run(rt);
  EXPECT_TRUE(log.heard_once(stop_kind::stopped));
}

TEST(cx, stop_inside_an_init_stops_the_actor_once_installed_and_drops_its_parked_calls) {
  counts c;
  {
    stop_log log;
    runtime rt;
    std::optional<int> got = -1;
    auto a = actor_new<worker>(rt, log.notify());
    call<&worker::add>(a, 1);
    call<&worker::take>(a, counted(c, 2), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    call_prep<&worker::init_then_stop>(a, counted(c));
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    EXPECT_TRUE(log.heard_once(stop_kind::stopped));
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(cx, fail_inside_an_init_returning_empty_fails_the_prep_actor) {
  counts c;
  {
    stop_log log;
    runtime rt;
    std::optional<int> got = -1;
    auto a = make_actor<&worker::init_fail_empty>(rt, log.notify());
    call<&worker::take>(a, counted(c, 2), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    ASSERT_TRUE(log.heard_once(stop_kind::failed));
    EXPECT_EQ(log.message(), "not today");
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// --- cx.call ---

struct self_caller {
  std::vector<int> seen{};
  static self_caller init(cx<self_caller>&) { return self_caller{}; }
  void add(cx<self_caller>&, int v) { seen.push_back(v); }
  void first(cx<self_caller>& x) {
    seen.push_back(0);
    x.call<&self_caller::add>(3);
    x.call(&self_caller::add, 4);
    x.call([](self_caller& s, int v) { s.seen.push_back(v); }, 5);
  }
};

TEST(cx, call_queues_a_call_to_the_actor_itself_after_everything_queued_so_far) {
  runtime rt;
  auto a = make_actor<&self_caller::init>(rt, ret_nop<stop_cause>());
  call<&self_caller::first>(a);
  call<&self_caller::add>(a, 1);
  call<&self_caller::add>(a, 2);
  run(rt);
  EXPECT_EQ(inspect(rt, a, [](self_caller& s) { return s.seen; }),
            (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

// --- A9: no re-entrancy ---

// Makes calls to itself in every way from inside a member and records whether any of them
// ran while the member was still running.
struct reentry {
  int depth = 0;
  int ran = 0;
  int ran_inside = 0;
  static reentry init(cx<reentry>&) { return reentry{}; }
  void note(cx<reentry>&) {
    ++ran;
    if (depth != 0) ++ran_inside;
  }
  void note_value(cx<reentry>& x, int) { note(x); }
  void outer(cx<reentry>& x) {
    ++depth;
    call<&reentry::note>(x.this_actor());
    call(x.this_actor(), &reentry::note);
    x.call<&reentry::note>();
    call(x.this_actor(), [](reentry& r, cx<reentry>& y) { r.note(y); });
    auto r = ret_some_to<int, &reentry::note_value>(x.this_actor());
    r(1);  // answering a ret aimed at this actor queues the call; it does not run it
    --depth;
  }
};

TEST(cx, a_call_made_from_a_member_to_its_own_actor_runs_after_the_member_returns) {
  runtime rt;
  auto a = make_actor<&reentry::init>(rt, ret_nop<stop_cause>());
  call<&reentry::outer>(a);
  run(rt);
  EXPECT_EQ(inspect(rt, a, [](reentry& r) { return r.ran; }), std::optional<int>(5));
  EXPECT_EQ(inspect(rt, a, [](reentry& r) { return r.ran_inside; }), std::optional<int>(0));
}

// Answers a ret as soon as it gets it.
struct echo {
  static echo init(cx<echo>&) { return echo{}; }
  void ask(cx<echo>&, ret<int> r) { r(7); }
};
struct asker {
  bool waiting = false;
  bool answered_while_waiting = false;
  int answer = 0;
  static asker init(cx<asker>&) { return asker{}; }
  void go(cx<asker>& x, actor<echo> e) {
    waiting = true;
    call<&echo::ask>(e, ret_some_to<int, &asker::got>(x.this_actor()));
    waiting = false;
  }
  void got(cx<asker>&, int v) {
    answered_while_waiting = waiting;
    answer = v;
  }
};

TEST(cx, an_answer_from_another_actor_is_never_run_inside_the_asking_member) {
  runtime rt;
  auto e = make_actor<&echo::init>(rt, ret_nop<stop_cause>());
  auto a = make_actor<&asker::init>(rt, ret_nop<stop_cause>());
  call<&asker::go>(a, e.ref());
  run(rt);
  EXPECT_EQ(inspect(rt, a, [](asker& s) { return s.answer; }), std::optional<int>(7));
  EXPECT_EQ(inspect(rt, a, [](asker& s) { return s.answered_while_waiting; }),
            std::optional<bool>(false));
}

// --- A9: debug builds detect misuse ---

struct victim {
  static victim init(cx<victim>&) { return victim{}; }
  // Hands another actor a ret whose synchronous body uses this call's (dead) cx.
  void leak_cx(cx<victim>& x, actor<echo> e) {
    call<&echo::ask>(e, ret_do<int>([&x](std::optional<int>) { x.stop(); }));
  }
};

[[maybe_unused]] cx<victim>* leaked_cx = nullptr;

TEST(cx_death, a_cx_used_inside_another_actors_call_is_detected) {
#if STAKKER_DEBUG_CHECKS
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        runtime rt;
        auto e = make_actor<&echo::init>(rt, ret_nop<stop_cause>());
        auto v = make_actor<&victim::init>(rt, ret_nop<stop_cause>());
        run(rt);
        call<&victim::leak_cx>(v, e.ref());
        run(rt);
      },
      "cx used outside its actor's call");
#else
  GTEST_SKIP() << "debug checks are off";
#endif
}

TEST(cx_death, a_cx_used_after_its_call_returned_is_detected) {
#if STAKKER_DEBUG_CHECKS
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        runtime rt;
        auto v = make_actor<&victim::init>(rt, ret_nop<stop_cause>());
        call(v, [](victim&, cx<victim>& x) { leaked_cx = &x; });
        run(rt);
        leaked_cx->stop();
      },
      "cx used outside its actor's call");
#else
  GTEST_SKIP() << "debug checks are off";
#endif
}

TEST(cx_death, inspect_from_inside_an_actor_call_is_detected) {
#if STAKKER_DEBUG_CHECKS
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        runtime rt;
        auto e = make_actor<&echo::init>(rt, ret_nop<stop_cause>());
        auto v = make_actor<&victim::init>(rt, ret_nop<stop_cause>());
        run(rt);
        call(v, [&rt, e = e.ref()](victim&) { inspect(rt, e, [](echo&) {}); });
        run(rt);
      },
      "inspect from inside an actor call");
#else
  GTEST_SKIP() << "debug checks are off";
#endif
}

TEST(cx, inspect_from_a_plain_closure_between_actor_calls_is_allowed) {
  runtime rt;
  auto a = make_actor<&self_caller::init>(rt, ret_nop<stop_cause>());
  std::optional<std::size_t> n;
  rt.defer(
      [&](stakker::core&) { n = inspect(rt, a, [](self_caller& s) { return s.seen.size(); }); });
  run(rt);
  EXPECT_EQ(n, std::optional<std::size_t>(0));
}

}  // namespace
