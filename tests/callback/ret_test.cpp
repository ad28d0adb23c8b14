// SPDX-License-Identifier: MIT OR Apache-2.0
// C1: ret<T>, the one-shot callback, and the ways to aim it at actors and runtimes.
#include "stakker/ret.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::call;
using stakker::core;
using stakker::cx;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_fail;
using stakker::ret_failthru;
using stakker::ret_nop;
using stakker::ret_shutdown;
using stakker::ret_some_to;
using stakker::ret_to;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;

static_assert(sizeof(ret<int>) == 2 * sizeof(void*));
static_assert(sizeof(ret<void>) == 2 * sizeof(void*));
static_assert(sizeof(ret<std::string>) == 2 * sizeof(void*));
static_assert(sizeof(ret<stop_cause>) == 2 * sizeof(void*));
static_assert(!std::is_copy_constructible_v<ret<int>>);
static_assert(!std::is_copy_assignable_v<ret<int>>);
static_assert(std::is_nothrow_move_constructible_v<ret<int>>);
static_assert(std::is_nothrow_move_assignable_v<ret<int>>);
static_assert(!std::is_copy_constructible_v<ret<void>>);

// What a ret_do callback saw: how many times it ran and with what.
struct seen {
  int calls = 0;
  std::optional<int> last;
};

ret<int> recorder(seen& s) {
  return ret_do<int>([&s](std::optional<int> v) {
    ++s.calls;
    s.last = v;
  });
}

// Records the stop cause a notify hears, and how many times it heard one.
struct notes {
  int calls = 0;
  std::optional<stop_cause> cause;
};

ret<stop_cause> note_into(notes& n) {
  return ret_do<stop_cause>([&n](std::optional<stop_cause> c) {
    ++n.calls;
    n.cause = std::move(c);
  });
}

// An actor that logs what its members receive into a vector owned by the test.
struct probe {
  std::vector<std::string>* log;

  static probe init(cx<probe>&, std::vector<std::string>* log) { return probe{log}; }

  void mark(cx<probe>&, int k) { log->push_back("mark" + std::to_string(k)); }
  void on_opt(cx<probe>&, std::optional<int> v) {
    log->push_back(v ? "opt" + std::to_string(*v) : "none");
  }
  void on_some(cx<probe>&, int v) { log->push_back("some" + std::to_string(v)); }
  void on_fixed(cx<probe>&, int tag, std::string name, std::optional<int> v) {
    log->push_back("fixed" + std::to_string(tag) + name + (v ? std::to_string(*v) : "none"));
  }
  void on_fixed_some(cx<probe>&, std::string name, int v) {
    log->push_back("fixedsome" + name + std::to_string(v));
  }
  void on_void(cx<probe>&, std::optional<std::monostate> v) {
    log->push_back(v ? "void" : "voidnone");
  }
  void on_void_some(cx<probe>&, std::monostate) { log->push_back("voidsome"); }
  // A member without the context.
  void on_plain(std::optional<int> v) {
    log->push_back(v ? "plain" + std::to_string(*v) : "plainnone");
  }
  void on_counted(cx<probe>&, std::optional<counted> v) {
    log->push_back(v ? "counted" + std::to_string(v->value()) : "countednone");
  }
  void on_fixed_counted(cx<probe>&, counted k, std::optional<int> v) {
    log->push_back("fc" + std::to_string(k.value()) + (v ? std::to_string(*v) : "none"));
  }
  void take_ret(cx<probe>&, ret<int> r) { r(42); }
  void keep_ret(cx<probe>&, ret<int> r, ret<int>* out) { *out = std::move(r); }
  // Makes a ret to itself and hands it out (a ret made from inside a call).
  void hand_out(cx<probe>& x, ret<int>* out) { *out = ret_to<int, &probe::on_opt>(x.this_actor()); }
  // Answers a ret to itself from inside a call: delivery must still be queued.
  void answer_self(cx<probe>& x, int v) {
    ret<int> r = ret_to<int, &probe::on_opt>(x.this_actor());
    r(v);
    log->push_back("answered");
  }
  void stop(cx<probe>& x) { x.stop(); }
};

struct ret_actor : ::testing::Test {
  std::vector<std::string> log;  // declared before the runtime: it outlives the actor
  notes stopped;
  runtime rt;
  actor_own<probe> a = make_actor<&probe::init>(rt, note_into(stopped), &log);

  void run() { rt.run(rt.now(), false); }
};

// --- the handle itself ---

TEST(ret, called_once_delivers_the_value_and_empties_the_handle) {
  seen s;
  ret<int> r = recorder(s);
  EXPECT_TRUE(static_cast<bool>(r));
  r(7);
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, 7);
}

TEST(ret, called_twice_throws_logic_error_and_delivers_once) {
  seen s;
  ret<int> r = recorder(s);
  r(1);
  EXPECT_THROW(r(2), std::logic_error);
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, 1);
}

TEST(ret, destroyed_uncalled_delivers_none_once) {
  seen s;
  { ret<int> r = recorder(s); }
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, std::nullopt);
}

TEST(ret, destroyed_after_call_delivers_nothing_more) {
  seen s;
  {
    ret<int> r = recorder(s);
    r(3);
  }
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, 3);
}

TEST(ret, move_transfers_the_callback_and_the_moved_from_is_empty) {
  seen s;
  ret<int> r = recorder(s);
  ret<int> q = std::move(r);
  EXPECT_FALSE(static_cast<bool>(r));  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(r(1), std::logic_error);
  { ret<int> dead = std::move(r); }  // an empty ret delivers nothing when destroyed
  EXPECT_EQ(s.calls, 0);
  q(5);
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, 5);
}

TEST(ret, move_assignment_over_a_live_ret_delivers_none_to_the_old_target) {
  seen old_s, new_s;
  ret<int> r = recorder(old_s);
  r = recorder(new_s);
  EXPECT_EQ(old_s.calls, 1);
  EXPECT_EQ(old_s.last, std::nullopt);
  EXPECT_EQ(new_s.calls, 0);
  r(9);
  EXPECT_EQ(new_s.calls, 1);
  EXPECT_EQ(new_s.last, 9);
  EXPECT_EQ(old_s.calls, 1);
}

TEST(ret, reset_delivers_none_now_and_only_once) {
  seen s;
  ret<int> r = recorder(s);
  r.reset();
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, std::nullopt);
  r.reset();
  EXPECT_EQ(s.calls, 1);
  EXPECT_THROW(r(1), std::logic_error);
}

TEST(ret, default_constructed_is_empty_and_silent) {
  ret<int> r;
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_THROW(r(1), std::logic_error);
}

TEST(ret, large_capture_is_boxed_and_still_called_once) {
  seen s;
  std::string big(200, 'b');
  {
    ret<int> r = ret_do<int>([&s, big](std::optional<int> v) {
      ++s.calls;
      s.last = v ? *v + static_cast<int>(big.size()) : -1;
    });
    r(1);
    EXPECT_THROW(r(2), std::logic_error);
  }
  EXPECT_EQ(s.calls, 1);
  EXPECT_EQ(s.last, 201);
}

TEST(ret, carries_move_only_values) {
  std::unique_ptr<int> got;
  ret<std::unique_ptr<int>> r = ret_do<std::unique_ptr<int>>(
      [&got](std::optional<std::unique_ptr<int>> v) { got = std::move(*v); });
  r(std::make_unique<int>(11));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 11);
}

TEST(ret, void_ret_delivers_monostate_or_none) {
  int values = 0, nones = 0;
  auto make = [&] {
    return ret_do<void>(
        [&values, &nones](std::optional<std::monostate> v) { ++(v ? values : nones); });
  };
  {
    ret<void> r = make();
    r();
    EXPECT_THROW(r(), std::logic_error);
  }
  { ret<void> r = make(); }
  EXPECT_EQ(values, 1);
  EXPECT_EQ(nones, 1);
}

TEST(ret, nop_accepts_a_value_or_a_drop) {
  ret<int> r = ret_nop<int>();
  EXPECT_TRUE(static_cast<bool>(r));
  r(1);
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_THROW(r(1), std::logic_error);
  { ret<std::string> dropped = ret_nop<std::string>(); }
  ret<void> v = ret_nop<void>();
  v();
  EXPECT_FALSE(static_cast<bool>(v));
}

// --- captures are destroyed exactly once ---

TEST(ret, capture_destroyed_once_when_called) {
  counts c;
  int got = 0;
  {
    ret<int> r =
        ret_do<int>([k = counted(c, 3), &got](std::optional<int> v) { got = k.value() + *v; });
    r(4);
    EXPECT_EQ(c.alive(), 0) << "the capture should be released once called";
  }
  EXPECT_EQ(got, 7);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(ret, capture_destroyed_once_when_dropped) {
  counts c;
  int nones = 0;
  {
    ret<int> r = ret_do<int>(
        [k = counted(c), &nones](std::optional<int> v) { nones += v ? 0 : 1 + k.value(); });
    ret<int> moved = std::move(r);
    EXPECT_EQ(c.alive(), 1);
  }
  EXPECT_EQ(nones, 1);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST_F(ret_actor, capture_destroyed_once_when_queued_to_a_zombie) {
  counts c;
  call<&probe::stop>(a);
  run();
  ASSERT_TRUE(a.is_zombie());
  int nones = 0;
  {
    // A ret passed as the argument of a call to a zombie: dropped, so it answers "none".
    call<&probe::take_ret>(a, ret_do<int>([k = counted(c), &nones](std::optional<int> v) {
                             if (!v) nones += 1 + k.value();
                           }));
    // A ret_to a zombie carrying a counted value and one with a counted fixed argument.
    ret<counted> r1 = ret_to<counted, &probe::on_counted>(a);
    r1(counted(c, 1));
    ret<int> r2 = ret_to<int, &probe::on_fixed_counted>(a, counted(c, 2));
    r2(5);
    ret<int> r3 = ret_to<int, &probe::on_fixed_counted>(a, counted(c, 3));  // dropped
  }
  run();
  EXPECT_EQ(nones, 1);
  EXPECT_TRUE(log.empty()) << log.size();
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(ret, captures_of_queued_rets_destroyed_once_when_the_runtime_goes) {
  counts c;
  std::vector<std::string> log;
  {
    runtime rt;
    auto a = make_actor<&probe::init>(rt, ret_nop<stop_cause>(), &log);
    ret<counted> r = ret_to<counted, &probe::on_counted>(a);
    r(counted(c, 1));
    ret<int> fixed = ret_to<int, &probe::on_fixed_counted>(a, counted(c, 2));
    fixed(3);
  }
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

// --- ret_to / ret_some_to ---

TEST_F(ret_actor, ret_to_delivers_the_value_through_the_queue) {
  ret<int> r = ret_to<int, &probe::on_opt>(a);
  r(5);
  EXPECT_TRUE(log.empty()) << "delivered inline";
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt5"}));
}

TEST_F(ret_actor, ret_to_delivers_none_when_dropped) {
  { ret<int> r = ret_to<int, &probe::on_opt>(a); }
  EXPECT_TRUE(log.empty()) << "delivered inline";
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"none"}));
}

TEST_F(ret_actor, ret_to_is_ordered_with_other_calls) {
  call<&probe::mark>(a, 1);
  ret<int> r = ret_to<int, &probe::on_opt>(a);
  ret<int> dropped = ret_to<int, &probe::on_opt>(a);
  r(2);
  call<&probe::mark>(a, 3);
  dropped.reset();
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"mark1", "opt2", "mark3", "none"}));
}

TEST_F(ret_actor, ret_to_answered_inside_a_call_is_still_queued) {
  call<&probe::answer_self>(a, 8);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"answered", "opt8"}));
}

TEST_F(ret_actor, ret_to_made_inside_a_call_reaches_the_actor) {
  ret<int> r;
  call<&probe::hand_out>(a, &r);
  run();
  ASSERT_TRUE(static_cast<bool>(r));
  r(6);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt6"}));
}

TEST_F(ret_actor, ret_passed_to_an_actor_answers_the_caller) {
  // a answers a ret aimed at itself: the round trip goes through the queue twice.
  call<&probe::take_ret>(a, ret_to<int, &probe::on_opt>(a));
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt42"}));
}

TEST_F(ret_actor, ret_to_works_from_an_actor_reference_and_an_owner) {
  actor<probe> ref = a.ref();
  ret<int> r1 = ret_to<int, &probe::on_opt>(ref);
  ret<int> r2 = ret_to<int, &probe::on_opt>(a);
  r1(1);
  r2(2);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt1", "opt2"}));
}

TEST_F(ret_actor, ret_to_a_member_without_context) {
  ret<int> r = ret_to<int, &probe::on_plain>(a);
  { ret<int> d = ret_to<int, &probe::on_plain>(a); }
  r(3);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"plainnone", "plain3"}));
}

TEST_F(ret_actor, ret_some_to_delivers_a_value) {
  ret<int> r = ret_some_to<int, &probe::on_some>(a);
  r(4);
  EXPECT_TRUE(log.empty()) << "delivered inline";
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"some4"}));
}

TEST_F(ret_actor, ret_some_to_skips_none) {
  { ret<int> r = ret_some_to<int, &probe::on_some>(a); }
  call<&probe::mark>(a, 1);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"mark1"}));
}

TEST_F(ret_actor, ret_to_carries_counted_values_without_leaks) {
  counts c;
  {
    ret<counted> r = ret_to<counted, &probe::on_counted>(a);
    r(counted(c, 9));
    ret<counted> d = ret_to<counted, &probe::on_counted>(a);
  }
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"counted9", "countednone"}));
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST_F(ret_actor, ret_to_member_pointer_form) {
  ret<int> r = ret_to<int>(a, &probe::on_opt);
  r(1);
  { ret<int> d = ret_to<int>(a, &probe::on_opt); }
  ret<int> s = ret_some_to<int>(a, &probe::on_some);
  s(2);
  { ret<int> d = ret_some_to<int>(a, &probe::on_some); }
  EXPECT_TRUE(log.empty()) << "delivered inline";
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt1", "none", "some2"}));
}

TEST_F(ret_actor, ret_to_with_fixed_leading_arguments) {
  ret<int> r = ret_to<int, &probe::on_fixed>(a, 1, std::string("x"));
  r(10);
  { ret<int> d = ret_to<int, &probe::on_fixed>(a, 2, std::string("y")); }
  ret<int> p = ret_to<int>(a, &probe::on_fixed, 3, std::string("z"));
  p(30);
  ret<int> s = ret_some_to<int, &probe::on_fixed_some>(a, std::string("s"));
  s(40);
  { ret<int> d = ret_some_to<int, &probe::on_fixed_some>(a, std::string("t")); }
  ret<int> sp = ret_some_to<int>(a, &probe::on_fixed_some, std::string("u"));
  sp(50);
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"fixed1x10", "fixed2ynone", "fixed3z30", "fixedsomes40",
                                           "fixedsomeu50"}));
}

TEST_F(ret_actor, ret_to_void_members) {
  ret<void> r = ret_to<void, &probe::on_void>(a);
  r();
  { ret<void> d = ret_to<void, &probe::on_void>(a); }
  ret<void> s = ret_some_to<void, &probe::on_void_some>(a);
  s();
  { ret<void> d = ret_some_to<void, &probe::on_void_some>(a); }
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"void", "voidnone", "voidsome"}));
}

TEST_F(ret_actor, ret_to_a_stopped_actor_is_dropped) {
  ret<int> r = ret_to<int, &probe::on_opt>(a);
  ret<int> early = ret_to<int, &probe::on_opt>(a);
  early(1);  // queued before the stop: runs
  call<&probe::stop>(a);
  r(2);  // queued after the stop: dropped
  run();
  EXPECT_EQ(log, (std::vector<std::string>{"opt1"}));
  EXPECT_TRUE(a.is_zombie());
  { ret<int> d = ret_to<int, &probe::on_opt>(a); }
  run();
  EXPECT_EQ(log.size(), 1u);
  EXPECT_EQ(stopped.calls, 1);
}

TEST(ret, ret_to_does_not_keep_the_actor_alive) {
  runtime rt;
  std::vector<std::string> log;
  notes n;
  ret<int> r;
  {
    auto a = make_actor<&probe::init>(rt, note_into(n), &log);
    r = ret_to<int, &probe::on_opt>(a);
  }
  rt.run(rt.now(), false);
  ASSERT_EQ(n.calls, 1);
  EXPECT_EQ(n.cause->kind(), stop_kind::dropped);
  r(1);
  rt.run(rt.now(), false);
  EXPECT_TRUE(log.empty());
}

TEST(ret, ret_to_called_after_the_runtime_is_gone_does_nothing) {
  std::vector<std::string> log;
  counts c;
  ret<counted> r;
  ret<counted> d;
  {
    runtime rt;
    auto a = make_actor<&probe::init>(rt, ret_nop<stop_cause>(), &log);
    r = ret_to<counted, &probe::on_counted>(a);
    d = ret_to<counted, &probe::on_counted>(a);
    rt.run(rt.now(), false);
  }
  r(counted(c, 1));
  d.reset();
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

// --- ret_shutdown ---

TEST(ret_shutdown, called_shuts_the_runtime_down_after_the_next_run) {
  runtime rt;
  ret<stop_cause> r = ret_shutdown(rt);
  r(stop_cause::stopped());
  EXPECT_FALSE(rt.is_shutdown()) << "shut down inline";
  rt.run(rt.now(), false);
  ASSERT_TRUE(rt.is_shutdown());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::stopped);
}

TEST(ret_shutdown, carries_the_cause) {
  runtime rt;
  ret<stop_cause> r = ret_shutdown(rt);
  r(stop_cause::failed("disk on fire"));
  rt.run(rt.now(), false);
  ASSERT_TRUE(rt.is_shutdown());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::failed);
  EXPECT_EQ(rt.shutdown_cause()->message(), "disk on fire");
}

TEST(ret_shutdown, dropped_shuts_down_with_dropped) {
  runtime rt;
  { ret<stop_cause> r = ret_shutdown(rt); }
  EXPECT_FALSE(rt.is_shutdown());
  rt.run(rt.now(), false);
  ASSERT_TRUE(rt.is_shutdown());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::dropped);
}

TEST(ret_shutdown, as_notify_shuts_down_when_the_actor_stops) {
  runtime rt;
  std::vector<std::string> log;
  auto a = make_actor<&probe::init>(rt, ret_shutdown(rt), &log);
  rt.run(rt.now(), false);
  EXPECT_FALSE(rt.is_shutdown());
  call<&probe::stop>(a);
  rt.run(rt.now(), false);
  ASSERT_TRUE(rt.is_shutdown());
  EXPECT_EQ(rt.shutdown_cause()->kind(), stop_kind::stopped);
}

TEST(ret_shutdown, outliving_its_runtime_is_harmless) {
  ret<stop_cause> called;
  ret<stop_cause> dropped;
  {
    runtime rt;
    called = ret_shutdown(rt);
    dropped = ret_shutdown(rt);
  }
  called(stop_cause::stopped());
  dropped.reset();
  EXPECT_FALSE(static_cast<bool>(called));
}

// --- ret_fail / ret_failthru ---

struct child_error : std::runtime_error {
  int id;
  explicit child_error(int i) : std::runtime_error("child " + std::to_string(i)), id(i) {}
};

struct child {
  static child init(cx<child>&) { return child{}; }
  void boom(cx<child>&, int id) { throw child_error(id); }
  void stop(cx<child>& x) { x.stop(); }
};

struct parent {
  actor_own<child> kid;
  static parent init(cx<parent>&) { return parent{}; }
  void hand_out_fail(cx<parent>& x, ret<int>* out) { *out = ret_fail<int>(x); }
  void hand_out_failthru(cx<parent>& x, ret<stop_cause>* out) { *out = ret_failthru(x); }
  void spawn(cx<parent>& x, bool thru) {
    kid = make_actor<&child::init>(x, thru ? ret_failthru(x) : ret_fail<stop_cause>(x));
  }
  void noop(cx<parent>&) {}
};

struct family : ::testing::Test {
  notes pn;  // declared before the runtime: it outlives the actor
  runtime rt;
  actor_own<parent> p = make_actor<&parent::init>(rt, note_into(pn));

  void run() { rt.run(rt.now(), false); }
  actor<child> kid() {
    return *inspect(rt, p, [](parent& s) { return s.kid.ref(); });
  }
  ret<int> fail_ret() {
    ret<int> r;
    call<&parent::hand_out_fail>(p, &r);
    run();
    return r;
  }
  ret<stop_cause> failthru_ret() {
    ret<stop_cause> r;
    call<&parent::hand_out_failthru>(p, &r);
    run();
    return r;
  }
};

TEST_F(family, ret_fail_fails_the_actor_when_called) {
  ret<int> r = fail_ret();
  ASSERT_TRUE(static_cast<bool>(r));
  r(1);
  EXPECT_TRUE(p.is_ready()) << "failed inline";
  EXPECT_EQ(pn.calls, 0);
  run();
  EXPECT_TRUE(p.is_zombie());
  ASSERT_EQ(pn.calls, 1);
  ASSERT_TRUE(pn.cause);
  EXPECT_EQ(pn.cause->kind(), stop_kind::failed);
  EXPECT_NE(pn.cause->message().find("answered"), std::string::npos) << pn.cause->message();
}

TEST_F(family, ret_fail_fails_the_actor_when_dropped) {
  { ret<int> r = fail_ret(); }
  EXPECT_TRUE(p.is_ready()) << "failed inline";
  run();
  EXPECT_TRUE(p.is_zombie());
  ASSERT_EQ(pn.calls, 1);
  ASSERT_TRUE(pn.cause);
  EXPECT_EQ(pn.cause->kind(), stop_kind::failed);
  EXPECT_NE(pn.cause->message().find("dropped"), std::string::npos) << pn.cause->message();
}

TEST_F(family, ret_fail_as_notify_fails_the_parent_even_on_a_clean_stop) {
  call<&parent::spawn>(p, false);
  run();
  call<&child::stop>(kid());
  run();
  EXPECT_TRUE(p.is_zombie());
  ASSERT_EQ(pn.calls, 1);
  EXPECT_EQ(pn.cause->kind(), stop_kind::failed);
  EXPECT_NE(pn.cause->message().find("Actor stopped"), std::string::npos) << pn.cause->message();
}

TEST_F(family, ret_fail_after_the_actor_stopped_does_nothing_more) {
  ret<int> r = fail_ret();
  p.kill("first");
  ASSERT_EQ(pn.calls, 1);
  r(1);
  run();
  EXPECT_EQ(pn.calls, 1);
  EXPECT_EQ(pn.cause->kind(), stop_kind::killed);
}

TEST_F(family, ret_failthru_passes_a_child_failure_with_the_childs_exception) {
  call<&parent::spawn>(p, true);
  run();
  call<&child::boom>(kid(), 17);
  run();
  EXPECT_TRUE(p.is_zombie());
  ASSERT_EQ(pn.calls, 1);
  ASSERT_TRUE(pn.cause);
  EXPECT_EQ(pn.cause->kind(), stop_kind::failed);
  ASSERT_TRUE(pn.cause->error());
  try {
    std::rethrow_exception(pn.cause->error());
  } catch (const child_error& e) {
    EXPECT_EQ(e.id, 17);
  } catch (...) {
    ADD_FAILURE() << "the parent's error is not the child's exception: " << pn.cause->message();
  }
}

TEST_F(family, ret_failthru_passes_a_lost_child) {
  ret<stop_cause> r = failthru_ret();
  r(stop_cause::lost());
  EXPECT_TRUE(p.is_ready()) << "failed inline";
  run();
  EXPECT_TRUE(p.is_zombie());
  ASSERT_EQ(pn.calls, 1);
  EXPECT_EQ(pn.cause->kind(), stop_kind::failed);
}

TEST_F(family, ret_failthru_ignores_a_child_that_stopped) {
  call<&parent::spawn>(p, true);
  run();
  actor<child> k = kid();
  call<&child::stop>(k);
  run();
  EXPECT_TRUE(k.is_zombie());
  EXPECT_TRUE(p.is_ready());
  EXPECT_EQ(pn.calls, 0);
}

TEST_F(family, ret_failthru_ignores_a_child_that_was_killed) {
  call<&parent::spawn>(p, true);
  run();
  actor<child> k = kid();
  inspect(rt, p, [](parent& s) { s.kid.kill("enough"); });
  run();
  EXPECT_TRUE(k.is_zombie());
  EXPECT_TRUE(p.is_ready());
  EXPECT_EQ(pn.calls, 0);
}

TEST_F(family, ret_failthru_ignores_a_child_that_was_dropped) {
  call<&parent::spawn>(p, true);
  run();
  actor<child> k = kid();
  inspect(rt, p, [](parent& s) { s.kid.reset(); });
  run();
  EXPECT_TRUE(k.is_zombie());
  EXPECT_TRUE(p.is_ready());
  EXPECT_EQ(pn.calls, 0);
}

TEST_F(family, ret_failthru_ignores_being_dropped_uncalled) {
  { ret<stop_cause> r = failthru_ret(); }
  run();
  EXPECT_TRUE(p.is_ready());
  EXPECT_EQ(pn.calls, 0);
}

TEST_F(family, ret_failthru_ignores_killed_and_dropped_causes_given_directly) {
  ret<stop_cause> k = failthru_ret();
  k(stop_cause::killed("x"));
  ret<stop_cause> d = failthru_ret();
  d(stop_cause::dropped());
  ret<stop_cause> s = failthru_ret();
  s(stop_cause::stopped());
  run();
  EXPECT_TRUE(p.is_ready());
  EXPECT_EQ(pn.calls, 0);
}

// An actor whose state is counted, to see it freed.
struct holder {
  counted k;
  static holder init(cx<holder>&, counts* c) { return holder{counted(*c)}; }
  void hand_out(cx<holder>& x, ret<int>* fail, ret<stop_cause>* thru) {
    *fail = ret_fail<int>(x);
    *thru = ret_failthru(x);
  }
};

TEST(ret_fail, outliving_the_runtime_releases_the_actor) {
  counts c;
  notes n;  // the block's notify hears "none" when the block is finally freed
  ret<int> called, dropped;
  ret<stop_cause> thru_called, thru_dropped;
  {
    runtime rt;
    auto h = make_actor<&holder::init>(rt, note_into(n), &c);
    call<&holder::hand_out>(h, &called, &thru_called);
    call<&holder::hand_out>(h, &dropped, &thru_dropped);
    rt.run(rt.now(), false);
    ASSERT_TRUE(static_cast<bool>(called));
  }
  EXPECT_EQ(n.calls, 0) << "the rets still refer to the actor's block";
  called(1);
  thru_called(stop_cause::failed("child failed"));
  dropped.reset();
  thru_dropped.reset();
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
  EXPECT_EQ(n.calls, 1) << "the actor's block was never freed (a reference leaked)";
  EXPECT_FALSE(n.cause);
}

// --- A ret_do callback runs from the ret's storage; calling emptied the ret, so the
// callback may re-arm it, destroy it, or throw.

// A request object holding its own reply (a one-pointer capture, stored inline).
struct request {
  ret<int> reply;
  std::vector<int> heard;
};

TEST(ret, a_ret_do_callback_may_re_arm_the_ret_it_was_called_through) {
  request other;
  request r;  // destroyed first: its re-armed reply answers into `other`
  r.reply = ret_do<int>([p = &r, q = &other](std::optional<int> v) {
    // Re-arming overwrites the inline word this callback was stored in.
    p->reply = ret_do<int>([q2 = q](std::optional<int> w) { q2->heard.push_back(w.value_or(-1)); });
    p->heard.push_back(v.value_or(-1));
  });
  static_assert(sizeof(&r) == sizeof(void*));
  r.reply(5);
  EXPECT_EQ(r.heard, std::vector<int>{5});
  EXPECT_TRUE(other.heard.empty());
  r.reply(6);  // the new callback
  EXPECT_EQ(other.heard, std::vector<int>{6});
}

TEST(ret, an_inline_ret_do_callback_may_re_arm_its_ret_with_a_one_word_capture) {
  request other;
  request r;  // destroyed first: its re-armed reply answers into `other`
  struct env {
    request* self;
    request* next;
  } e{&r, &other};
  r.reply = ret_do<int>([p = &e](std::optional<int> v) {  // one word: stored inline
    p->self->reply =
        ret_do<int>([q = p->next](std::optional<int> w) { q->heard.push_back(w.value_or(-1)); });
    p->self->heard.push_back(v.value_or(-1));  // `p` still read from the running capture
  });
  r.reply(5);
  EXPECT_EQ(r.heard, std::vector<int>{5});
  EXPECT_TRUE(other.heard.empty());
}

TEST(ret, a_ret_do_callback_may_destroy_the_object_holding_its_ret) {
  struct ctx {
    std::unique_ptr<request> holder;
    int calls = 0;
  } c;
  c.holder = std::make_unique<request>();
  c.holder->reply = ret_do<int>([p = &c](std::optional<int>) {
    p->holder.reset();  // frees the ret (and the inline word) this callback came from
    ++p->calls;         // the capture must still be readable
  });
  c.holder->reply(1);
  EXPECT_EQ(c.calls, 1);
  EXPECT_EQ(c.holder, nullptr);
}

TEST(ret, a_boxed_ret_do_callback_may_destroy_the_object_holding_its_ret) {
  counts k;
  struct ctx {
    std::unique_ptr<request> holder;
    std::vector<int> log;
  } c;
  c.holder = std::make_unique<request>();
  c.holder->reply = ret_do<int>([p = &c, big = counted(k, 7)](std::optional<int> v) {
    p->holder.reset();
    p->log.push_back(big.value() + v.value_or(0));
  });
  c.holder->reply(1);
  EXPECT_EQ(c.log, std::vector<int>{8});
  EXPECT_TRUE(k.balanced());
}

TEST(ret, an_exception_from_a_ret_do_callback_called_with_a_value_reaches_the_caller) {
  ret<int> r = ret_do<int>([](std::optional<int>) { throw std::runtime_error("cb"); });
  EXPECT_THROW(r(1), std::runtime_error);
  EXPECT_FALSE(r);
}

TEST(ret, an_exception_from_a_ret_dropped_inside_a_run_leaves_that_run) {
  runtime rt;
  int later = 0;
  rt.defer([](core&) {
    ret<int> r = ret_do<int>([](std::optional<int> v) {
      if (!v) throw std::runtime_error("none heard");
    });
  });  // r is destroyed uncalled inside the closure: no std::terminate
  rt.defer([&later](core&) { ++later; });
  EXPECT_THROW(rt.run(rt.now(), false), std::runtime_error);
  rt.run(rt.now(), false);  // the queue is intact
  EXPECT_EQ(later, 1);
}

TEST(ret, an_exception_from_a_ret_dropped_outside_any_run_is_reported_not_fatal) {
  testing::internal::CaptureStderr();
  {
    ret<int> r = ret_do<int>([](std::optional<int>) { throw std::runtime_error("dropped"); });
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("dropped"), std::string::npos) << err;
}

}  // namespace
