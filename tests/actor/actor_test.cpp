// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/actor.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actor/stop_log.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_new;
using stakker::actor_own;
using stakker::actor_own_anon;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::inspect;
using stakker::make_actor;
using stakker::make_error;
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

// A state that counts itself, so that its destructor running is observable.
struct unit {
  counted k;
  std::vector<int> seen{};

  static unit init(cx<unit>&, counts* c) { return unit{counted(*c)}; }
  static std::optional<unit> init_throws(cx<unit>&) { throw std::runtime_error("no init"); }

  void add(cx<unit>&, int v) { seen.push_back(v); }
  void take(cx<unit>&, counted c, ret<int> r) { r(c.value()); }
  void boom(cx<unit>&, std::string what) { throw std::runtime_error(what); }
  void boom_int(cx<unit>&) { throw 42; }
  void kill_self(cx<unit>& x, actor_own<unit>* own, bool* still_ready) {
    own->kill("by my own hand");
    *still_ready = x.this_actor().is_ready();
    seen.push_back(1);
  }
};

// Owns another actor and kills it from inside its own call.
struct killer {
  actor_own<unit> victim;
  bool zombie_right_after_kill = false;
  static killer init(cx<killer>&, actor_own<unit> v) { return killer{std::move(v)}; }
  void kill(cx<killer>&) {
    victim.kill(make_error("from a killer"));
    zombie_right_after_kill = victim.is_zombie();
  }
  void drop(cx<killer>&, bool* ready_right_after) {
    actor<unit> ref = victim;
    victim.reset();
    *ready_right_after = ref.is_ready();
  }
};

// --- A4: kill ---

TEST(actor, kill_outside_any_call_stops_the_actor_immediately) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  run(rt);
  ASSERT_EQ(c.alive(), 1);
  a.kill("enough");
  EXPECT_TRUE(a.is_zombie());
  EXPECT_EQ(c.alive(), 0);  // the state's destructor already ran
  ASSERT_TRUE(log.heard_once(stop_kind::killed));
  EXPECT_EQ(log.message(), "enough");
  EXPECT_EQ(log.cause->text(), "Actor was killed: enough");
}

TEST(actor, kill_with_an_exception_ptr_delivers_that_exception) {
  stop_log log;
  runtime rt;
  counts c;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  run(rt);
  std::exception_ptr e = make_error("custom");
  a.kill(e);
  ASSERT_TRUE(log.heard_once(stop_kind::killed));
  EXPECT_EQ(log.cause->error(), e);
}

TEST(actor, kill_from_the_actors_own_call_takes_effect_when_the_call_returns) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  bool still_ready = false;
  call<&unit::kill_self>(a, &a, &still_ready);
  call<&unit::add>(a, 2);  // dropped
  run(rt);
  EXPECT_TRUE(still_ready);
  EXPECT_TRUE(a.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::killed));
  EXPECT_EQ(log.message(), "by my own hand");
  EXPECT_EQ(c.alive(), 0);
}

TEST(actor, kill_from_another_actors_call_stops_the_target_at_once) {
  counts c;
  stop_log log;
  runtime rt;
  auto v = make_actor<&unit::init>(rt, log.notify(), &c);
  actor<unit> ref = v;
  auto k = make_actor<&killer::init>(rt, ret_nop<stop_cause>(), std::move(v));
  call<&killer::kill>(k);
  run(rt);
  EXPECT_EQ(inspect(rt, k, [](killer& s) { return s.zombie_right_after_kill; }),
            std::optional<bool>(true));
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::killed));
  EXPECT_EQ(log.message(), "from a killer");
  EXPECT_TRUE(k.is_ready());
}

TEST(actor, kill_after_the_actor_stopped_is_ignored) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  call(a, [](unit&, cx<unit>& x) { x.fail("first"); });
  run(rt);
  a.kill("second");
  a.kill("third");
  EXPECT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_EQ(log.message(), "first");
}

TEST(actor, kill_in_prep_destroys_the_parked_calls_and_their_rets_answer_none) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = actor_new<unit>(rt, log.notify());
    std::optional<int> got = -1;
    call<&unit::take>(a, counted(c, 1), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    ASSERT_TRUE(a.is_prep());
    a.kill("never mind");
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
    EXPECT_TRUE(log.heard_once(stop_kind::killed));
    call_prep<&unit::init>(a, &c);  // too late: dropped
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

// --- A5: ownership ---

TEST(actor, dropping_the_last_owner_stops_the_actor_with_dropped_later_not_inside_reset) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  run(rt);
  actor<unit> ref = a;
  a.reset();
  EXPECT_TRUE(ref.is_ready());  // not yet
  EXPECT_EQ(c.alive(), 1);
  EXPECT_EQ(log.calls, 0);
  run(rt);
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_EQ(c.alive(), 0);
  EXPECT_TRUE(log.heard_once(stop_kind::dropped));
  EXPECT_EQ(log.cause->text(), "Actor was dropped");
}

TEST(actor, destroying_the_last_owner_stops_the_actor_only_from_the_queue) {
  counts c;
  stop_log log;
  runtime rt;
  actor<unit> ref;
  {
    auto a = make_actor<&unit::init>(rt, log.notify(), &c);
    run(rt);
    ref = a;
  }
  EXPECT_TRUE(ref.is_ready());
  EXPECT_EQ(log.calls, 0);
  run(rt);
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::dropped));
}

TEST(actor, the_actor_lives_until_the_last_of_its_owned_copies_is_dropped) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  actor_own<unit> b = a.owned();
  actor_own<unit> d = b.owned();
  actor<unit> ref = a;
  a.reset();
  b.reset();
  run(rt);
  EXPECT_TRUE(ref.is_ready());
  EXPECT_EQ(log.calls, 0);
  d.reset();
  run(rt);
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::dropped));
}

TEST(actor, owned_copies_hold_no_extra_reference_so_the_actor_is_freed_after_the_last) {
  counts c;
  stop_log log;  // an actor freed without ever terminating answers its notify "none"
  actor_own<unit> a, b;
  {
    runtime rt;
    a = make_actor<&unit::init>(rt, log.notify(), &c);
    b = a.owned().owned();
    run(rt);
  }
  a.reset();
  EXPECT_EQ(log.calls, 0);
  b.reset();
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(log.nones, 1);
  EXPECT_TRUE(c.balanced());
}

TEST(actor, actor_references_do_not_keep_an_actor_alive) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = make_actor<&unit::init>(rt, log.notify(), &c);
    std::vector<actor<unit>> refs(10, a.ref());
    a.reset();
    run(rt);
    EXPECT_TRUE(log.heard_once(stop_kind::dropped));
    for (const auto& r : refs) EXPECT_TRUE(r.is_zombie());
    std::optional<int> got = -1;
    call<&unit::take>(refs[3], counted(c, 1), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor, dropping_an_owner_inside_another_actors_call_stops_the_target_after_that_call) {
  counts c;
  stop_log log;
  runtime rt;
  auto v = make_actor<&unit::init>(rt, log.notify(), &c);
  actor<unit> ref = v;
  auto k = make_actor<&killer::init>(rt, ret_nop<stop_cause>(), std::move(v));
  bool ready_right_after = false;
  call<&killer::drop>(k, &ready_right_after);
  run(rt);
  EXPECT_TRUE(ready_right_after);
  EXPECT_TRUE(ref.is_zombie());
  EXPECT_TRUE(log.heard_once(stop_kind::dropped));
}

TEST(actor, move_assigning_an_owner_drops_the_actor_it_owned) {
  counts c;
  stop_log first, second;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, first.notify(), &c);
  actor<unit> old = a;
  a = make_actor<&unit::init>(rt, second.notify(), &c);
  run(rt);
  EXPECT_TRUE(old.is_zombie());
  EXPECT_TRUE(first.heard_once(stop_kind::dropped));
  EXPECT_TRUE(a.is_ready());
  EXPECT_EQ(second.calls, 0);
}

TEST(actor, dropping_the_last_owner_of_a_prep_actor_destroys_its_parked_calls) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = actor_new<unit>(rt, log.notify());
    std::optional<int> got = -1;
    call<&unit::take>(a, counted(c, 1), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    a.reset();
    run(rt);
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
    EXPECT_TRUE(log.heard_once(stop_kind::dropped));
  }
  EXPECT_TRUE(c.balanced());
}

struct other {
  int v = 0;
  static other init(cx<other>&) { return other{}; }
};

TEST(actor, actor_own_anon_owns_actors_of_any_type) {
  counts c;
  stop_log l1, l2;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, l1.notify(), &c);
  auto b = make_actor<&other::init>(rt, l2.notify());
  actor<unit> ra = a;
  actor<other> rb = b;
  std::vector<actor_own_anon> owners;
  owners.emplace_back(std::move(a));
  owners.push_back(std::move(b).anon());
  run(rt);
  EXPECT_FALSE(a);  // ownership moved out
  EXPECT_TRUE(ra.is_ready());
  EXPECT_TRUE(rb.is_ready());
  EXPECT_FALSE(owners[0].is_zombie());
  actor_own_anon moved = std::move(owners[0]);
  EXPECT_FALSE(owners[0]);
  owners.clear();
  run(rt);
  EXPECT_TRUE(rb.is_zombie());
  EXPECT_TRUE(ra.is_ready());
  EXPECT_TRUE(l2.heard_once(stop_kind::dropped));
  moved.reset();
  run(rt);
  EXPECT_TRUE(ra.is_zombie());
  EXPECT_TRUE(l1.heard_once(stop_kind::dropped));
}

TEST(actor, an_owner_is_zombie_after_its_actor_stopped_and_empty_handles_are_zombie_too) {
  counts c;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, ret_nop<stop_cause>(), &c);
  EXPECT_TRUE(a);
  run(rt);
  a.kill("x");
  EXPECT_TRUE(a.is_zombie());
  EXPECT_TRUE(a);  // still a handle, to a Zombie
  actor<unit> none;
  EXPECT_FALSE(none);
  EXPECT_TRUE(none.is_zombie());
  actor_own_anon anon;
  EXPECT_TRUE(anon.is_zombie());
}

// --- A6: exceptions ---

TEST(actor, an_exception_escaping_a_member_fails_only_that_actor_and_run_goes_on) {
  counts c;
  stop_log bad_log, good_log;
  runtime rt;
  auto bad = make_actor<&unit::init>(rt, bad_log.notify(), &c);
  auto good = make_actor<&unit::init>(rt, good_log.notify(), &c);
  bool later_closure_ran = false;
  call<&unit::add>(good, 1);
  call<&unit::boom>(bad, std::string("kaput"));
  call<&unit::add>(bad, 2);  // dropped: bad is a Zombie by then
  call<&unit::add>(good, 3);
  rt.defer([&](stakker::core&) { later_closure_ran = true; });
  EXPECT_NO_THROW(run(rt));
  EXPECT_TRUE(later_closure_ran);
  EXPECT_TRUE(bad.is_zombie());
  ASSERT_TRUE(bad_log.heard_once(stop_kind::failed));
  EXPECT_EQ(bad_log.message(), "kaput");
  EXPECT_THROW(std::rethrow_exception(bad_log.cause->error()), std::runtime_error);
  EXPECT_TRUE(good.is_ready());
  EXPECT_EQ(good_log.calls, 0);
  EXPECT_EQ(inspect(rt, good, [](unit& u) { return u.seen; }), (std::vector<int>{1, 3}));
  EXPECT_EQ(c.alive(), 1);  // bad's state was destroyed
}

TEST(actor, an_exception_of_any_type_fails_the_actor_and_is_kept) {
  counts c;
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, log.notify(), &c);
  call<&unit::boom_int>(a);
  run(rt);
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  try {
    std::rethrow_exception(log.cause->error());
    ADD_FAILURE() << "no exception";
  } catch (int v) {
    EXPECT_EQ(v, 42);
  }
}

TEST(actor, an_exception_escaping_an_init_fails_the_actor) {
  stop_log log;
  runtime rt;
  auto a = make_actor<&unit::init_throws>(rt, log.notify());
  call<&unit::add>(a, 1);
  run(rt);
  EXPECT_TRUE(a.is_zombie());
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_EQ(log.message(), "no init");
}

// Its move constructor scribbles over its own storage, then throws: installing the state
// after the init returned fails, where the parked calls share that storage.
struct fragile {
  std::uintptr_t words[4] = {1, 2, 3, 4};
  bool throw_on_move = true;
  fragile() = default;
  fragile(fragile&& o) : throw_on_move(o.throw_on_move) {
    for (auto& w : words) w = 0xdeadbeef;
    if (throw_on_move) throw std::runtime_error("move failed");
  }
  static std::optional<fragile> init(cx<fragile>&) { return std::optional<fragile>(std::in_place); }
  void take(cx<fragile>&, counted, ret<int> r) { r(1); }
};

template <class State>
void expect_failed_install_cleans_up() {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = actor_new<State>(rt, log.notify());
    int nones = 0;
    for (int i = 0; i < 3; ++i)
      call<&State::take>(a, counted(c, i), ret_do<int>([&](std::optional<int> v) {
                           if (!v) ++nones;
                         }));
    run(rt);
    call_prep<&State::init>(a);
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    ASSERT_TRUE(log.heard_once(stop_kind::failed));
    EXPECT_EQ(log.message(), "move failed");
    EXPECT_EQ(nones, 3);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

struct alignas(32) fragile_aligned : fragile {
  fragile_aligned() = default;
  fragile_aligned(fragile_aligned&& o) : fragile(std::move(o)) {}
  static std::optional<fragile_aligned> init(cx<fragile_aligned>&) {
    return std::optional<fragile_aligned>(std::in_place);
  }
  void take(cx<fragile_aligned>&, counted, ret<int> r) { r(1); }
};

TEST(actor, a_state_constructor_throwing_on_install_fails_the_actor_and_destroys_parked_calls) {
  expect_failed_install_cleans_up<fragile>();
  expect_failed_install_cleans_up<fragile_aligned>();
}

TEST(actor, an_exception_from_a_plain_closure_propagates_out_of_run_with_the_queue_intact) {
  counts c;
  runtime rt;
  auto a = make_actor<&unit::init>(rt, ret_nop<stop_cause>(), &c);
  run(rt);
  rt.defer([](stakker::core&) { throw std::logic_error("plain"); });
  call<&unit::add>(a, 5);
  EXPECT_THROW(run(rt), std::logic_error);
  EXPECT_EQ(inspect(rt, a, [](unit& u) { return u.seen; }), std::vector<int>{});
  run(rt);
  EXPECT_EQ(inspect(rt, a, [](unit& u) { return u.seen; }), std::vector<int>{5});
  EXPECT_TRUE(a.is_ready());
}

TEST(actor, an_exception_in_a_parked_call_fails_the_actor_and_drops_the_rest) {
  counts c;
  {
    stop_log log;
    runtime rt;
    auto a = actor_new<unit>(rt, log.notify());
    std::optional<int> got = -1;
    call<&unit::add>(a, 1);
    call<&unit::boom>(a, std::string("parked boom"));
    call<&unit::take>(a, counted(c, 1), ret_do<int>([&](std::optional<int> v) { got = v; }));
    run(rt);
    call_prep<&unit::init>(a, &c);
    run(rt);
    EXPECT_TRUE(a.is_zombie());
    ASSERT_TRUE(log.heard_once(stop_kind::failed));
    EXPECT_EQ(log.message(), "parked boom");
    EXPECT_EQ(got, std::nullopt);
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

}  // namespace
