// SPDX-License-Identifier: MIT OR Apache-2.0
// User code run from the runtime's own storage (queued closures, timer closures, anymap
// values, actor states, parked calls) may change that storage, throw, or destroy what owns
// it; each test below is one such case and states what the runtime then does.
#include "stakker/runtime.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/detail/config.hpp"
#include "stakker/ret.hpp"
#include "stakker/testing/counted.hpp"
#include "stakker/testing/virtual_loop.hpp"
#include "stakker/timer_key.hpp"

namespace {

using namespace std::chrono_literals;
using stakker::actor;
using stakker::actor_new;
using stakker::actor_own;
using stakker::call;
using stakker::call_prep;
using stakker::core;
using stakker::cx;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::timer_key;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker::testing::virtual_loop;

void run(runtime& rt) { rt.run(rt.now(), false); }

// ---- queues ----

struct worker {
  counted k;
  static worker init(cx<worker>&, counted c) { return worker{std::move(c)}; }
  void work(cx<worker>&, counted) {}
};

TEST(reentrancy, a_closure_that_drops_an_actor_with_calls_queued_after_it_drops_those_calls) {
  counts c;
  {
    runtime rt;
    auto owner =
        std::make_optional(make_actor<&worker::init>(rt, ret_nop<stop_cause>(), counted(c)));
    run(rt);
    rt.defer([&owner](core& co) {
      owner->kill("gone");  // a stop from a plain closure is immediate
      owner.reset();
      (void)co;
    });
    actor<worker> ref = owner->ref();
    for (int i = 0; i < 3; ++i) call<&worker::work>(ref, counted(c));
    run(rt);
    EXPECT_TRUE(ref.is_zombie());
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

TEST(reentrancy, an_idle_closure_that_throws_leaves_run_and_the_other_idle_items_stay_queued) {
  runtime rt;
  int ran = 0;
  rt.idle([](core&) { throw std::runtime_error("idle"); });
  rt.idle([&ran](core&) { ++ran; });
  EXPECT_THROW(rt.run(rt.now(), true), std::runtime_error);
  EXPECT_TRUE(rt.has_idle());
  EXPECT_FALSE(rt.run(rt.now(), true));
  EXPECT_EQ(ran, 1);
}

#if STAKKER_DEBUG_CHECKS
TEST(reentrancy_DeathTest, destroying_the_runtime_from_inside_its_own_run_is_a_misuse_error) {
  EXPECT_DEATH(
      {
        auto rt = std::make_unique<runtime>();
        runtime* raw = rt.get();
        raw->defer([&rt](core&) { rt.reset(); });
        raw->run(raw->now(), false);
      },
      "runtime destroyed from inside its own run");
}
#endif

// ---- timers ----

// Deletes timer `victim` (and sets a new one) whenever it is destroyed, moved-from or not:
// when its own timer is deleted, and while it is moved onto the queue as it fires.
struct meddler {
  core* c;
  timer_key* victim;
  counted k;
  int* fired;
  void operator()(core&) { ++*fired; }
  meddler(core* co, timer_key* v, counted kk, int* f)
      : c(co), victim(v), k(std::move(kk)), fired(f) {}
  meddler(meddler&& o) noexcept : c(o.c), victim(o.victim), k(std::move(o.k)), fired(o.fired) {}
  ~meddler() {
    if (c == nullptr) return;
    c->timer_del(*victim);
    c->after(1h, [](core&) {});
  }
};

TEST(reentrancy, a_timer_closure_whose_destructor_deletes_and_sets_timers_may_be_deleted) {
  counts cs;
  int fired = 0;
  {
    virtual_loop loop;
    core& c = loop.core();
    timer_key victim = c.after(10ms, [&fired](core&) { ++fired; });
    timer_key mine = c.after(10ms, meddler(&c, &victim, counted(cs), &fired));
    EXPECT_TRUE(c.timer_del(mine));  // its destructor deletes `victim` and sets another
    EXPECT_FALSE(c.timer_active(victim));
    loop.advance(20ms);
    EXPECT_EQ(fired, 0);
  }
  EXPECT_TRUE(cs.balanced());
}

// Small enough to be stored inline: firing moves it onto the queue and destroys the
// original while the store is still handing out the batch it belongs to.
struct small_meddler {
  core* c;
  timer_key* victim;
  int* fired;
  void operator()(core&) { ++*fired; }
  ~small_meddler() {
    c->timer_del(*victim);
    c->after(1h, [](core&) {});
  }
};
static_assert(sizeof(small_meddler) <= stakker::detail::timer_store::inline_bytes);

TEST(reentrancy, a_firing_timer_closure_that_deletes_a_timer_due_in_the_same_batch_stops_it) {
  int fired = 0;
  virtual_loop loop;
  core& c = loop.core();
  timer_key victim{};
  c.after(10ms, small_meddler{&c, &victim, &fired});
  victim = c.after(10ms, [&fired](core&) { fired += 100; });
  for (int i = 0; i < 50; ++i) c.after(10ms, [](core&) {});  // more of the same batch
  loop.advance(10ms);
  EXPECT_EQ(fired, 1);  // the victim was deleted before the store reached it
  // One timer per destruction: the argument, the stored original, the one that ran.
  EXPECT_EQ(c.timer_count(), 3u);
}

// Deleting compacts nothing; the next timer set drops the stale entries once they outnumber
// the live ones. Here that timer is set by the destructor of a closure whose timer fires
// alone at its time (the store hands such an entry out without a copy), while that entry
// is still in the heap: the store compacts only once it is done firing, and every timer
// set before or after fires exactly once.
TEST(reentrancy,
     a_timer_set_by_a_firing_closure_while_stale_entries_abound_leaves_every_timer_firing_once) {
  virtual_loop loop;
  core& c = loop.core();
  int fired = 0;
  std::vector<int> late(100, 0);
  for (int i = 0; i < 100; ++i)
    c.after(20ms + std::chrono::microseconds(i),
            [&late, i](core&) { ++late[static_cast<std::size_t>(i)]; });
  timer_key victim{};  // matches nothing: deleting it is a no-op
  c.after(10ms, small_meddler{&c, &victim, &fired});
  std::vector<timer_key> doomed;
  for (int i = 0; i < 3000; ++i)
    doomed.push_back(c.after(1h + std::chrono::milliseconds(i), [](core&) {}));
  for (const timer_key& k : doomed) EXPECT_TRUE(c.timer_del(k));
  loop.advance(10ms);  // the meddler's destructor sets a timer while its entry fires
  EXPECT_EQ(fired, 1);
  loop.advance(20ms);
  EXPECT_EQ(std::count(late.begin(), late.end(), 1), 100);
  // The store's blocks are sound: many more timers, each firing once.
  std::vector<int> more(5000, 0);
  for (int i = 0; i < 5000; ++i)
    c.after(std::chrono::microseconds(1 + i * 7 % 5000),
            [&more, i](core&) { ++more[static_cast<std::size_t>(i)]; });
  loop.advance(10ms);
  EXPECT_EQ(std::count(more.begin(), more.end(), 1), 5000);
}

TEST(reentrancy, a_timer_deleted_after_its_batch_was_queued_still_runs_and_delete_says_false) {
  counts cs;
  int fired = 0;
  {
    virtual_loop loop;
    core& c = loop.core();
    timer_key victim{};
    // Boxed (too large to be inline): nothing runs while the batch is queued; its
    // destructor runs after its call, when the victim is already on the queue.
    c.after(10ms, meddler(&c, &victim, counted(cs), &fired));
    victim = c.after(10ms, [&fired](core&) { fired += 100; });
    loop.advance(10ms);
    EXPECT_EQ(fired, 101);
  }
  EXPECT_TRUE(cs.balanced());
}

TEST(reentrancy, a_timer_closure_that_throws_leaves_run_and_the_other_due_timers_fire_next_run) {
  virtual_loop loop;
  core& c = loop.core();
  std::vector<int> fired;
  c.after(1ms, [&fired](core&) { fired.push_back(1); });
  c.after(1ms, [](core&) { throw std::runtime_error("timer"); });
  c.after(1ms, [&fired](core&) { fired.push_back(3); });
  EXPECT_THROW(loop.advance(1ms), std::runtime_error);
  EXPECT_EQ(fired, std::vector<int>{1});
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
}

TEST(reentrancy, a_timer_closure_may_set_and_delete_timers_of_every_kind_while_it_runs) {
  virtual_loop loop;
  core& c = loop.core();
  std::vector<int> fired;
  timer_key other = c.after(2ms, [&fired](core&) { fired.push_back(-1); });
  c.after(1ms, [&](core& co) {
    co.timer_del(other);
    for (int i = 0; i < 2000; ++i) co.after(1ms, [&fired, i](core&) { fired.push_back(i); });
    auto mx = co.timer_max_add(co.now() + 1ms, [&fired](core&) { fired.push_back(5000); });
    co.timer_max_upd(mx, co.now() + 3ms);
  });
  loop.advance(1ms);
  loop.advance(1ms);
  EXPECT_EQ(fired.size(), 2000u);
  loop.advance(2ms);
  EXPECT_EQ(fired.back(), 5000);
  EXPECT_EQ(c.timer_count(), 0u);
}

// ---- anymap ----

struct env_a {
  core* c;
  counted k;
  env_a(core* co, counted kk) : c(co), k(std::move(kk)) {}
  env_a(env_a&& o) noexcept : c(std::exchange(o.c, nullptr)), k(std::move(o.k)) {}
  env_a& operator=(env_a&& o) noexcept {
    std::swap(c, o.c);
    std::swap(k, o.k);
    return *this;
  }
  ~env_a() {
    if (c == nullptr) return;
    c->anymap_unset<env_a>();  // its own type: removes whatever value is there now
    c->anymap_set(std::vector<int>{1, 2, 3});
  }
};

TEST(reentrancy, an_anymap_value_replaced_may_use_the_anymap_from_its_destructor) {
  counts cs;
  {
    runtime rt;
    rt.anymap_set(env_a(&rt, counted(cs, 1)));
    rt.anymap_set(env_a(nullptr, counted(cs, 2)));  // the old one unsets the new one
    EXPECT_EQ(rt.anymap_try_get<env_a>(), nullptr);
    ASSERT_NE(rt.anymap_try_get<std::vector<int>>(), nullptr);
    EXPECT_EQ(rt.anymap_try_get<std::vector<int>>()->size(), 3u);
  }
  EXPECT_TRUE(cs.balanced()) << cs.alive() << " alive";
}

TEST(reentrancy, an_anymap_value_unset_may_set_other_values_from_its_destructor) {
  counts cs;
  {
    runtime rt;
    rt.anymap_set(env_a(&rt, counted(cs, 1)));
    for (int i = 0; i < 20; ++i) rt.anymap_set(std::make_unique<int>(i));  // grow the table
    EXPECT_TRUE(rt.anymap_unset<env_a>());
    EXPECT_NE(rt.anymap_try_get<std::vector<int>>(), nullptr);
  }
  EXPECT_TRUE(cs.balanced()) << cs.alive() << " alive";
}

// ---- actor states and parked calls ----

struct self_caller {
  counted k;
  counts* cs = nullptr;
  actor<self_caller> self{};
  static self_caller init(cx<self_caller>& x, counted c, counts* s) {
    return self_caller{std::move(c), s, x.this_actor()};
  }
  void work(cx<self_caller>&, counted) {}
  ~self_caller() {
    if (self) call<&self_caller::work>(self, counted(*cs));  // to a stopped actor: dropped
  }
};

TEST(reentrancy, a_state_destructor_that_calls_its_own_actor_has_the_call_dropped) {
  counts cs;
  {
    runtime rt;
    auto a = make_actor<&self_caller::init>(rt, ret_nop<stop_cause>(), counted(cs), &cs);
    run(rt);
    a.kill("stop");
    run(rt);
  }
  EXPECT_TRUE(cs.balanced()) << cs.alive() << " alive";
}

struct quitter {
  counted k;
  std::vector<int>* log;
  static quitter init(cx<quitter>&, counted c, std::vector<int>* l) {
    return quitter{std::move(c), l};
  }
  void note(cx<quitter>&, int n, counted) { log->push_back(n); }
  void quit(cx<quitter>& x, counted) { x.stop(); }
};

TEST(reentrancy, a_parked_call_that_stops_its_actor_drops_the_calls_parked_after_it) {
  counts cs;
  std::vector<int> log;
  {
    runtime rt;
    actor_own<quitter> a = actor_new<quitter>(rt, ret_nop<stop_cause>());
    call<&quitter::note>(a, 1, counted(cs));
    call<&quitter::quit>(a, counted(cs));
    call<&quitter::note>(a, 2, counted(cs));
    call_prep<&quitter::init>(a, counted(cs), &log);
    run(rt);
    EXPECT_TRUE(a.is_zombie());
  }
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_TRUE(cs.balanced()) << cs.alive() << " alive";
}

struct self_dropper {
  std::optional<actor_own<self_dropper>>* owner;
  std::vector<int>* log;
  static self_dropper init(cx<self_dropper>&, std::optional<actor_own<self_dropper>>* o,
                           std::vector<int>* l) {
    return self_dropper{o, l};
  }
  void drop_me(cx<self_dropper>&) {
    owner->reset();  // the last owner: the stop is queued, this call runs to its end
    log->push_back(1);
  }
  void later(cx<self_dropper>&) { log->push_back(2); }
};

TEST(reentrancy, a_member_that_destroys_its_own_last_owner_finishes_and_the_actor_stops_after) {
  std::vector<int> log;
  runtime rt;
  std::optional<actor_own<self_dropper>> owner = actor_new<self_dropper>(rt, ret_nop<stop_cause>());
  call_prep<&self_dropper::init>(*owner, &owner, &log);
  actor<self_dropper> ref = owner->ref();
  call<&self_dropper::drop_me>(ref);
  run(rt);
  call<&self_dropper::later>(ref);
  run(rt);
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_TRUE(ref.is_zombie());
}

}  // namespace
