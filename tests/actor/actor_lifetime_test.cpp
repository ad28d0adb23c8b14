// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/actor.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "actor/stop_log.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

// Every captured argument (and every state) is destroyed exactly once, on every path.

namespace {

using stakker::actor;
using stakker::actor_new;
using stakker::actor_own;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::ret_to;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker_test::stop_log;

void run(runtime& rt) { rt.run(rt.now(), false); }

// A state that counts itself, takes counted arguments in every way a member can.
struct holder {
  counted own;
  int sum = 0;

  static holder init(cx<holder>&, counted k) { return holder{std::move(k)}; }
  static std::optional<holder> init_opt(cx<holder>&, counted k) { return holder{std::move(k)}; }
  static std::optional<holder> init_throws(cx<holder>&, counted) {
    throw std::runtime_error("init failed");
  }

  void by_value(cx<holder>&, counted k) { sum += k.value(); }
  void by_rvalue(cx<holder>&, counted&& k) { sum += k.value(); }
  void by_cref(cx<holder>&, const counted& k) { sum += k.value(); }
  void plain(counted k) { sum += k.value(); }
  void with_ret(cx<holder>&, counted k, ret<int> r) { r(k.value()); }
  void throws(cx<holder>&, counted) { throw std::runtime_error("member failed"); }
  void throws_holding_ret(cx<holder>&, counted, ret<int>) { throw std::runtime_error("no"); }
  void stop_now(cx<holder>& x) { x.stop(); }
};

// Makes one call of every form, each carrying counted arguments.
void call_every_way(const actor<holder>& a, counts& c, int* answers) {
  call<&holder::by_value>(a, counted(c, 1));
  call<&holder::by_rvalue>(a, counted(c, 2));
  call<&holder::by_cref>(a, counted(c, 3));
  call<&holder::plain>(a, counted(c, 4));
  call(a, &holder::by_value, counted(c, 5));
  call(a, [k = counted(c, 6)](holder& h, cx<holder>&) { h.sum += k.value(); });
  call(
      a, [](holder& h, counted k) { h.sum += k.value(); }, counted(c, 7));
  call<&holder::with_ret>(
      a, counted(c, 8),
      ret_do<int>([answers, k = counted(c, 9)](std::optional<int>) { ++*answers; }));
}

TEST(actor_lifetime, every_argument_of_a_call_that_runs_is_destroyed_exactly_once) {
  counts c;
  {
    runtime rt;
    int answers = 0;
    auto a = make_actor<&holder::init>(rt, ret_nop<stop_cause>(), counted(c, 0));
    call_every_way(a, c, &answers);
    run(rt);
    EXPECT_EQ(stakker::inspect(rt, a, [](holder& h) { return h.sum; }),
              std::optional<int>(1 + 2 + 3 + 4 + 5 + 6 + 7));
    EXPECT_EQ(answers, 1);
    EXPECT_EQ(c.alive(), 1);  // only the state's own
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(actor_lifetime, every_argument_of_a_call_to_a_zombie_is_destroyed_exactly_once) {
  counts c;
  {
    runtime rt;
    int answers = 0;
    auto a = make_actor<&holder::init>(rt, ret_nop<stop_cause>(), counted(c, 0));
    call<&holder::stop_now>(a);
    call_every_way(a, c, &answers);  // queued before the stop took effect
    run(rt);
    ASSERT_TRUE(a.is_zombie());
    EXPECT_EQ(c.alive(), 0);         // the state went too
    call_every_way(a, c, &answers);  // made after
    run(rt);
    EXPECT_EQ(c.alive(), 0);
    EXPECT_EQ(answers, 2);  // both rets answered "none"
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_lifetime, destroying_the_runtime_with_a_full_queue_destroys_every_argument) {
  counts c;
  int answers = 0;
  {
    stop_log log;
    runtime rt;
    auto ready = make_actor<&holder::init>(rt, log.notify(), counted(c, 0));
    run(rt);
    call_every_way(ready, c, &answers);
    auto prep = actor_new<holder>(rt, log.notify());
    call_every_way(prep, c, &answers);
    run(rt);  // parks them all on the Prep actor
    EXPECT_TRUE(prep.is_prep());
    call_every_way(prep, c, &answers);  // and these stay queued
    auto fresh = make_actor<&holder::init>(rt, log.notify(), counted(c, 0));
    call_every_way(fresh, c, &answers);  // its init never ran
  }
  EXPECT_EQ(answers, 4);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(actor_lifetime, calls_parked_on_a_prep_actor_are_destroyed_when_its_runtime_is_destroyed) {
  counts c;
  int answers = 0;
  {
    runtime rt;
    auto prep = actor_new<holder>(rt, ret_nop<stop_cause>());
    call_every_way(prep, c, &answers);
    run(rt);
    ASSERT_TRUE(prep.is_prep());
    EXPECT_EQ(c.alive(), 9);
  }  // the owner goes first (queueing the drop), then the runtime
  EXPECT_EQ(answers, 1);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
}

TEST(actor_lifetime, an_owner_outliving_the_runtime_frees_the_calls_parked_on_its_actor) {
  counts c;
  int answers = 0;
  stop_log log;
  actor_own<holder> prep;
  {
    runtime rt;
    prep = actor_new<holder>(rt, log.notify());
    call_every_way(prep, c, &answers);
    run(rt);
    ASSERT_TRUE(prep.is_prep());
  }
  prep.reset();
  EXPECT_EQ(answers, 1);
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " double";
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(log.nones, 1);
}

TEST(actor_lifetime, an_owner_outliving_the_runtime_destroys_a_ready_actors_state_when_reset) {
  counts c;
  stop_log log;
  actor_own<holder> a;
  {
    runtime rt;
    a = make_actor<&holder::init>(rt, log.notify(), counted(c, 0));
    run(rt);
    EXPECT_EQ(c.alive(), 1);
  }
  a.reset();
  EXPECT_TRUE(c.balanced());
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(log.nones, 1);
}

// Holds a reference to itself (as states commonly do, e.g. to hand out callbacks).
struct self_ref {
  counted k;
  actor<self_ref> self;
  static self_ref init(cx<self_ref>& x, counted k) {
    return self_ref{std::move(k), x.this_actor()};
  }
};

TEST(actor_lifetime, destroying_the_runtime_destroys_a_dropped_actor_that_refers_to_itself) {
  counts c;
  {
    runtime rt;
    auto a = make_actor<&self_ref::init>(rt, ret_nop<stop_cause>(), counted(c, 0));
    run(rt);
    EXPECT_EQ(c.alive(), 1);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

// A parent owning a child whose notify is a ret_to back to the parent: a reference cycle
// through the notify that only stopping the parent breaks.
struct child {
  counted k;
  static child init(cx<child>&, counted k) { return child{std::move(k)}; }
};
struct parent {
  counted k;
  actor_own<child> kid;
  static parent init(cx<parent>& x, counted k, counts* c) {
    auto kid = make_actor<&child::init>(x, ret_to<stop_cause, &parent::child_ended>(x.this_actor()),
                                        counted(*c, 1));
    return parent{std::move(k), std::move(kid)};
  }
  void child_ended(cx<parent>&, std::optional<stop_cause>) {}
};

TEST(actor_lifetime, destroying_the_runtime_frees_a_parent_and_child_that_refer_to_each_other) {
  counts c;
  {
    runtime rt;
    auto p = make_actor<&parent::init>(rt, ret_nop<stop_cause>(), counted(c, 0), &c);
    run(rt);
    EXPECT_EQ(c.alive(), 2);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

TEST(actor_lifetime, arguments_are_destroyed_when_a_member_throws) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = make_actor<&holder::init>(rt, log.notify(), counted(c, 0));
    std::optional<int> got = -1;
    call<&holder::throws>(a, counted(c, 1));
    call(a, [k = counted(c, 2)](holder&) { throw std::runtime_error("lambda"); });
    run(rt);
    EXPECT_TRUE(log.heard_once(stop_kind::failed));
    EXPECT_EQ(c.alive(), 0);
    auto b = make_actor<&holder::init>(rt, ret_nop<stop_cause>(), counted(c, 0));
    call<&holder::throws_holding_ret>(b, counted(c, 3),
                                      ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    EXPECT_EQ(got, std::nullopt);  // the ret was destroyed unanswered while unwinding
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_lifetime, arguments_and_parked_calls_are_destroyed_when_an_init_throws) {
  counts c;
  {
    stop_log log;
    runtime rt;
    int answers = 0;
    auto a = actor_new<holder>(rt, log.notify());
    call_every_way(a, c, &answers);
    run(rt);
    call_prep<&holder::init_throws>(a, counted(c, 0));
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    EXPECT_TRUE(log.heard_once(stop_kind::failed));
    EXPECT_EQ(answers, 1);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

}  // namespace

// --- Stopping an actor runs user code (tied tasks, the state's destructor, notifies); a
// second stop from that code must find the actor already stopping.

namespace {

struct leaf {
  static leaf init(cx<leaf>&) { return leaf{}; }
};

// Its destructor kills its child, whose inline notify kills this actor again (a supervisor
// link): the second kill arrives while the state is being destroyed.
struct supervisor {
  counted own;
  actor_own<leaf> kid;
  static supervisor init(cx<supervisor>&, counted k, actor_own<leaf> child) {
    return supervisor{std::move(k), std::move(child)};
  }
  ~supervisor() {
    if (kid) kid.kill("parent going");
  }
};

}  // namespace

TEST(actor_lifetime, an_actor_stopped_again_from_its_state_destructor_is_destroyed_once) {
  counts c;
  stop_log log;
  {
    runtime rt;
    actor_own<supervisor> p = actor_new<supervisor>(rt, log.notify());
    actor_own<leaf> kid = actor_new<leaf>(
        rt, ret_do<stop_cause>([&p](std::optional<stop_cause>) { p.kill("again"); }));
    call_prep<&supervisor::init>(p, counted(c, 1), std::move(kid));
    run(rt);
    ASSERT_TRUE(p.is_ready());
    p.kill("first");
    EXPECT_TRUE(p.is_zombie());
    EXPECT_TRUE(log.heard_once(stop_kind::killed)) << log.message();
    EXPECT_EQ(log.message(), "first");
    run(rt);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " twice";
}

TEST(actor_lifetime, an_actor_dropping_its_last_owner_from_its_state_destructor_is_destroyed_once) {
  counts c;
  stop_log log;
  {
    runtime rt;
    auto holder_of =
        std::make_unique<actor_own<supervisor>>(actor_new<supervisor>(rt, log.notify()));
    actor_own<supervisor>* p = holder_of.get();
    actor_own<leaf> kid = actor_new<leaf>(
        rt, ret_do<stop_cause>([&holder_of](std::optional<stop_cause>) {
          holder_of.reset();  // the last owner goes while the state is being destroyed
        }));
    call_prep<&supervisor::init>(*p, counted(c, 1), std::move(kid));
    run(rt);
    p->kill("first");
    EXPECT_EQ(holder_of, nullptr);
    EXPECT_TRUE(log.heard_once(stop_kind::killed)) << log.message();
    run(rt);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive, " << c.double_destroys << " twice";
}
