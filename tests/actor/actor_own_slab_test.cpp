// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/actor_own_slab.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "actor/stop_log.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/counted.hpp"

// A7: a set of owned children that removes each child when it stops.

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::actor_own_slab;
using stakker::call;
using stakker::call_prep;
using stakker::cx;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;
using stakker_test::stop_log;

void run(runtime& rt) { rt.run(rt.now(), false); }

struct kid {
  int id;
  counted k;
  static kid init(cx<kid>&, int id, counts* c) { return kid{id, counted(*c)}; }
  void quit(cx<kid>& x) { x.stop(); }
  void crash(cx<kid>& x) { x.fail("kid crashed"); }
};

std::vector<int> ids(runtime& rt, const actor_own_slab<kid>& slab) {
  std::vector<int> out;
  for (const actor_own<kid>& k : slab) out.push_back(*inspect(rt, k, [](kid& s) { return s.id; }));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(actor_own_slab, make_adds_children_that_are_counted_and_iterated) {
  counts c;
  runtime rt;
  actor_own_slab<kid> slab;
  EXPECT_TRUE(slab.empty());
  for (int i = 0; i < 5; ++i) slab.make<&kid::init>(rt, ret_nop<stop_cause>(), i, &c);
  EXPECT_EQ(slab.size(), 5u);
  EXPECT_FALSE(slab.empty());
  run(rt);
  EXPECT_EQ(ids(rt, slab), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(c.alive(), 5);
}

TEST(actor_own_slab, add_creates_a_child_in_prep_to_be_initialised_by_a_prep_call) {
  counts c;
  runtime rt;
  actor_own_slab<kid> slab;
  actor<kid> child = slab.add(rt, ret_nop<stop_cause>());
  EXPECT_TRUE(child.is_prep());
  EXPECT_EQ(slab.size(), 1u);
  call_prep<&kid::init>(child, 7, &c);
  run(rt);
  EXPECT_TRUE(child.is_ready());
  EXPECT_EQ(ids(rt, slab), std::vector<int>{7});
}

TEST(actor_own_slab, a_child_that_stops_is_removed_and_its_notify_hears_the_cause) {
  counts c;
  stop_log quit_log, crash_log, stay_log;
  runtime rt;
  actor_own_slab<kid> slab;
  actor<kid> quitter = slab.make<&kid::init>(rt, quit_log.notify(), 1, &c);
  actor<kid> crasher = slab.make<&kid::init>(rt, crash_log.notify(), 2, &c);
  slab.make<&kid::init>(rt, stay_log.notify(), 3, &c);
  call<&kid::quit>(quitter);
  call<&kid::crash>(crasher);
  run(rt);
  EXPECT_EQ(slab.size(), 1u);
  EXPECT_EQ(ids(rt, slab), std::vector<int>{3});
  EXPECT_TRUE(quit_log.heard_once(stop_kind::stopped));
  ASSERT_TRUE(crash_log.heard_once(stop_kind::failed));
  EXPECT_EQ(crash_log.message(), "kid crashed");
  EXPECT_EQ(stay_log.calls, 0);
  EXPECT_EQ(c.alive(), 1);
}

TEST(actor_own_slab, a_child_killed_through_the_slab_is_removed_once_the_queue_runs) {
  counts c;
  stop_log log;
  runtime rt;
  actor_own_slab<kid> slab;
  slab.make<&kid::init>(rt, log.notify(), 1, &c);
  slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 2, &c);
  run(rt);
  for (const actor_own<kid>& k : slab)
    if (*inspect(rt, k, [](kid& s) { return s.id; }) == 1) k.owned().kill("bye");
  EXPECT_EQ(slab.size(), 2u);  // removal is queued, never done while iterating
  run(rt);
  EXPECT_EQ(slab.size(), 1u);
  EXPECT_TRUE(log.heard_once(stop_kind::killed));
  EXPECT_EQ(ids(rt, slab), std::vector<int>{2});
}

TEST(actor_own_slab, slots_freed_by_stopped_children_are_reused) {
  counts c;
  runtime rt;
  actor_own_slab<kid> slab;
  std::vector<actor<kid>> kids;
  for (int i = 0; i < 4; ++i)
    kids.push_back(slab.make<&kid::init>(rt, ret_nop<stop_cause>(), i, &c));
  call<&kid::quit>(kids[1]);
  call<&kid::quit>(kids[2]);
  run(rt);
  EXPECT_EQ(slab.size(), 2u);
  slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 10, &c);
  slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 11, &c);
  slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 12, &c);
  run(rt);
  EXPECT_EQ(slab.size(), 5u);
  EXPECT_EQ(ids(rt, slab), (std::vector<int>{0, 3, 10, 11, 12}));
  EXPECT_EQ(c.alive(), 5);
}

TEST(actor_own_slab, destroying_the_slab_drops_every_child) {
  counts c;
  std::vector<stop_log> logs(3);
  runtime rt;
  std::vector<actor<kid>> kids;
  {
    actor_own_slab<kid> slab;
    for (int i = 0; i < 3; ++i)
      kids.push_back(slab.make<&kid::init>(rt, logs[std::size_t(i)].notify(), i, &c));
    run(rt);
    call<&kid::quit>(kids[0]);
    run(rt);
  }
  EXPECT_TRUE(kids[1].is_ready());  // dropped from the queue, not inside the destructor
  run(rt);
  for (const auto& k : kids) EXPECT_TRUE(k.is_zombie());
  EXPECT_TRUE(logs[0].heard_once(stop_kind::stopped));
  EXPECT_TRUE(logs[1].heard_once(stop_kind::dropped));
  EXPECT_TRUE(logs[2].heard_once(stop_kind::dropped));
  EXPECT_EQ(c.alive(), 0);
}

TEST(actor_own_slab, a_child_stopping_after_the_slab_is_gone_still_notifies) {
  counts c;
  stop_log log;
  runtime rt;
  actor<kid> child;
  {
    actor_own_slab<kid> slab;
    child = slab.make<&kid::init>(rt, log.notify(), 1, &c);
    run(rt);
    call<&kid::crash>(child);  // queued before the drop the slab's destruction queues
  }
  run(rt);
  EXPECT_TRUE(child.is_zombie());
  ASSERT_TRUE(log.heard_once(stop_kind::failed));
  EXPECT_EQ(log.message(), "kid crashed");
  EXPECT_EQ(c.alive(), 0);
}

// A parent holding its children in a slab: when the parent stops, the children go.
struct parent {
  actor_own_slab<kid> kids;
  static parent init(cx<parent>&) { return parent{}; }
  void spawn(cx<parent>& x, int id, counts* c) {
    kids.make<&kid::init>(x, stakker::ret_to<stop_cause, &parent::kid_ended>(x.this_actor()), id,
                          c);
  }
  void kid_ended(cx<parent>&, std::optional<stop_cause>) { ++ended; }
  int ended = 0;
};

TEST(actor_own_slab, a_parents_slab_hears_of_its_children_and_drops_them_when_it_stops) {
  counts c;
  {
    runtime rt;
    auto p = make_actor<&parent::init>(rt, ret_nop<stop_cause>());
    for (int i = 0; i < 3; ++i) call<&parent::spawn>(p, i, &c);
    run(rt);
    EXPECT_EQ(inspect(rt, p, [](parent& s) { return s.kids.size(); }),
              std::optional<std::size_t>(3));
    std::vector<actor<kid>> kids;
    inspect(rt, p, [&](parent& s) {
      for (const auto& k : s.kids) kids.push_back(k);
    });
    call<&kid::quit>(kids[0]);
    run(rt);
    EXPECT_EQ(inspect(rt, p, [](parent& s) { return s.kids.size(); }),
              std::optional<std::size_t>(2));
    EXPECT_EQ(inspect(rt, p, [](parent& s) { return s.ended; }), std::optional<int>(1));
    p.reset();
    run(rt);
    for (const auto& k : kids) EXPECT_TRUE(k.is_zombie());
    EXPECT_EQ(c.alive(), 0);
  }
  EXPECT_TRUE(c.balanced());
}

TEST(actor_own_slab, children_left_when_the_runtime_is_destroyed_are_freed) {
  counts c;
  {
    runtime rt;
    auto p = make_actor<&parent::init>(rt, ret_nop<stop_cause>());
    for (int i = 0; i < 3; ++i) call<&parent::spawn>(p, i, &c);
    run(rt);
    EXPECT_EQ(c.alive(), 3);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

TEST(actor_own_slab, adding_children_while_iterating_keeps_the_iteration_and_its_references_valid) {
  counts c;
  {
    runtime rt;
    actor_own_slab<kid> slab;
    for (int i = 0; i < 3; ++i) slab.make<&kid::init>(rt, ret_nop<stop_cause>(), i, &c);
    run(rt);
    int visited = 0;
    for (const actor_own<kid>& k : slab) {
      // Enough adds to move every entry of a vector many times over.
      for (int j = 0; j < 200; ++j) slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 100 + j, &c);
      EXPECT_TRUE(k.is_ready());  // still a live reference into the slab
      ++visited;
    }
    EXPECT_EQ(visited, 3);  // the loop ends at the children there were when it began
    EXPECT_EQ(slab.size(), 603u);
    run(rt);
    EXPECT_EQ(ids(rt, slab).size(), 603u);
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

TEST(actor_own_slab, replacing_stopped_children_inside_a_loop_over_the_slab_is_safe) {
  counts c;
  {
    runtime rt;
    actor_own_slab<kid> slab;
    std::vector<actor<kid>> kids;
    for (int i = 0; i < 4; ++i)
      kids.push_back(slab.make<&kid::init>(rt, ret_nop<stop_cause>(), i, &c));
    run(rt);
    call<&kid::quit>(kids[0]);
    call<&kid::quit>(kids[2]);
    run(rt);  // two slots are free now
    int replaced = 0;
    for (const actor_own<kid>& k : slab) {
      if (replaced < 5) {  // reuses both free slots, then grows
        slab.make<&kid::init>(rt, ret_nop<stop_cause>(), 10 + replaced, &c);
        ++replaced;
      }
      EXPECT_TRUE(static_cast<bool>(k));
    }
    run(rt);
    EXPECT_EQ(slab.size(), 2u + static_cast<std::size_t>(replaced));
  }
  EXPECT_TRUE(c.balanced()) << c.alive() << " alive";
}

}  // namespace
