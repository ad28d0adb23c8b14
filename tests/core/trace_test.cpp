// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/trace.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/trace_scenario.hpp"
#include "stakker/actor.hpp"
#include "stakker/call.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/cx.hpp"
#include "stakker/ret.hpp"
#include "stakker/runtime.hpp"
#include "stakker/testing/virtual_loop.hpp"

// O3: trace events go to a preallocated ring buffer, which is never corrupt after wrapping.

namespace {

using stakker::call;
using stakker::cx;
using stakker::make_actor;
using stakker::ret_nop;
using stakker::runtime;
using stakker::trace_event;
using stakker::trace_kind;

void run(runtime& rt) { rt.run(rt.now(), false); }

std::string name_of(const trace_event& e) { return e.name != nullptr ? e.name : "-"; }

// Calls itself `left` times, each with a different argument.
struct looper {
  std::uint64_t seen = 0;
  static looper init(cx<looper>&) { return {}; }
  void step(cx<looper>& x, std::uint64_t i, std::uint64_t left) {
    seen = i;
    if (left > 0) x.call<&looper::step>(i + 1, left - 1);
  }
};

struct restarter {
  static restarter init(cx<restarter>&) { return {}; }
  void go(cx<restarter>& x, std::size_t cap) { x.core().trace_start(cap); }
};

stakker::coro::task<void> nap(stakker::core& c) {
  co_await stakker::coro::sleep_for(c, std::chrono::milliseconds(1));
}

struct host {
  static host init(cx<host>&) { return {}; }
  void go(cx<host>& x) { stakker::coro::spawn(x, nap(x.core()), ret_nop<void>()); }
};

}  // namespace

TEST(trace, a_known_scenario_is_recorded_event_by_event) {
  stakker::testing::virtual_loop loop;
  runtime& rt = loop.rt();
  auto b = make_actor<&pong::init>(rt, ret_nop<stakker::stop_cause>());
  auto a = make_actor<&ping::init>(rt, ret_nop<stakker::stop_cause>(), b.ref());
  loop.run();  // both Ready before the trace starts
  rt.trace_start(64);
  call<&ping::start>(a);
  loop.run();
  loop.advance(std::chrono::milliseconds(2));
  rt.trace_stop();
  call<&ping::start>(a);  // not recorded
  loop.run();

  const stakker::trace_snapshot s = rt.trace_read();
  EXPECT_EQ(s.runtime, rt.id());
  EXPECT_EQ(s.overwritten, 0u);
  EXPECT_EQ(s.recorded, s.events.size());
  struct expect {
    trace_kind kind;
    std::uint64_t actor;
    std::uint64_t from;
    std::string name;
  };
  // Enqueues are recorded when queued, calls when they return (a call's queueing of another
  // comes before its own event).
  const std::vector<expect> want{
      {trace_kind::enqueue, a.id(), 0, "-"},                       // start, from outside
      {trace_kind::enqueue, b.id(), a.id(), "-"},                  // ask, from start
      {trace_kind::call, a.id(), 0, "{anonymous}::ping::start"},   //
      {trace_kind::enqueue, a.id(), b.id(), "-"},                  // the ret's answer
      {trace_kind::call, b.id(), 0, "{anonymous}::pong::ask"},     //
      {trace_kind::timer_set, a.id(), 0, "timer set"},             //
      {trace_kind::call, a.id(), 0, "{anonymous}::ping::answer"},  //
      {trace_kind::timer_fire, 0, 0, "-"},                         //
  };
  ASSERT_EQ(s.events.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(s.events[i].kind, want[i].kind);
    EXPECT_EQ(s.events[i].actor, want[i].actor);
    EXPECT_EQ(s.events[i].from, want[i].from);
    EXPECT_EQ(name_of(s.events[i]), want[i].name);
  }
  // Each call pairs with its queueing by key, and starts after it.
  EXPECT_EQ(s.events[0].key, s.events[2].key);
  EXPECT_EQ(s.events[1].key, s.events[4].key);
  EXPECT_EQ(s.events[3].key, s.events[6].key);
  EXPECT_LE(s.events[0].start, s.events[2].start);
  EXPECT_LE(s.events[1].start, s.events[4].start);
  EXPECT_LE(s.events[2].start + s.events[2].duration, s.events[4].start);
  EXPECT_EQ(std::string(s.events[2].type), "{anonymous}::ping");
  EXPECT_EQ(s.events[5].count, 1'000'000u);  // due in 1 ms
  EXPECT_EQ(s.events[7].count, 1u);
}

TEST(trace, a_wrapped_ring_holds_the_newest_events_in_order_and_intact) {
  runtime rt;
  auto a = make_actor<&looper::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  rt.trace_start(16);  // the smallest ring
  constexpr std::uint64_t steps = 1000;
  call<&looper::step>(a, std::uint64_t{0}, steps);
  run(rt);
  const stakker::trace_snapshot s = rt.trace_read();
  // Each step is an enqueue and a call: 2 * (steps + 1) events.
  EXPECT_EQ(s.recorded, 2 * (steps + 1));
  ASSERT_EQ(s.events.size(), 16u);
  EXPECT_EQ(s.overwritten, s.recorded - 16);
  // The survivors alternate: the next step's enqueue, then the call that queued it.
  std::uint64_t last_enqueue = 0, last_call = 0;
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    SCOPED_TRACE(i);
    const trace_event& e = s.events[i];
    EXPECT_EQ(e.actor, a.id());
    // Times grow per kind (a call is recorded when it returns, after what it queued).
    std::uint64_t& last = e.kind == trace_kind::enqueue ? last_enqueue : last_call;
    EXPECT_GE(e.start, last);
    last = e.start;
    if (e.kind == trace_kind::enqueue) {
      EXPECT_EQ(e.from, a.id());
      EXPECT_EQ(e.name, nullptr);
    } else {
      ASSERT_EQ(e.kind, trace_kind::call);
      EXPECT_EQ(name_of(e), "{anonymous}::looper::step");
      EXPECT_EQ(std::string(e.type), "{anonymous}::looper");
    }
    // Kinds alternate, except where the last call (which queued nothing) ends the trace.
    if (i + 1 < s.events.size() && e.kind == trace_kind::enqueue) {
      EXPECT_EQ(s.events[i + 1].kind, trace_kind::call);
    }
    // A call's enqueue is the one before the previous call: same key two events apart.
    if (e.kind == trace_kind::call && i >= 3 && s.events[i - 3].kind == trace_kind::enqueue) {
      EXPECT_EQ(e.key, s.events[i - 3].key);
    }
  }
  EXPECT_EQ(s.events.back().kind, trace_kind::call);
  // Wrapping again with a bigger ring from inside a traced call is safe.
  rt.trace_start(1024);
  EXPECT_EQ(rt.trace_read().events.size(), 0u);
}

TEST(trace, starting_a_new_trace_from_inside_a_traced_call_is_safe) {
  runtime rt;
  auto a = make_actor<&restarter::init>(rt, ret_nop<stakker::stop_cause>());
  run(rt);
  rt.trace_start(16);
  call<&restarter::go>(a, std::size_t{4096});  // a new ring while the call runs
  call<&restarter::go>(a, std::size_t{16});
  run(rt);
  const auto s = rt.trace_read();
  // The last trace_start cleared the ring; the call that made it is its first event.
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].kind, trace_kind::call);
  EXPECT_EQ(s.events[0].actor, a.id());
}

TEST(trace, a_tasks_runs_are_slices_on_its_actor) {
  stakker::testing::virtual_loop loop;
  runtime& rt = loop.rt();
  auto h = make_actor<&host::init>(rt, ret_nop<stakker::stop_cause>());
  loop.run();
  rt.trace_start(256);
  call<&host::go>(h);
  loop.run();
  loop.advance(std::chrono::milliseconds(2));
  std::vector<const trace_event*> tasks;
  const auto s = rt.trace_read();
  for (const auto& e : s.events)
    if (e.kind == trace_kind::task) tasks.push_back(&e);
  ASSERT_EQ(tasks.size(), 2u);  // to the sleep, then from it to the end
  for (const trace_event* t : tasks) {
    EXPECT_EQ(t->actor, h.id());
    EXPECT_EQ(std::string(t->type), "{anonymous}::host");
  }
  EXPECT_EQ(tasks[0]->key, tasks[1]->key);  // one chain
  EXPECT_LT(tasks[0]->start, tasks[1]->start);
}

TEST(trace, nothing_is_recorded_until_a_trace_starts) {
  runtime rt;
  auto a = make_actor<&looper::init>(rt, ret_nop<stakker::stop_cause>());
  call<&looper::step>(a, std::uint64_t{0}, std::uint64_t{10});
  run(rt);
  EXPECT_FALSE(rt.tracing());
  const auto s = rt.trace_read();
  EXPECT_EQ(s.recorded, 0u);
  EXPECT_TRUE(s.events.empty());
}
