// SPDX-License-Identifier: MIT OR Apache-2.0
// A channel into an actor (`fwd_to`): the values' calls, which a channel may run in place
// at the start of a run instead of queueing them (core_access::deliver_in_place), run in
// the order the queue would have run them, with everything else as a queued call has it:
// parked in Prep, dropped once stopped, a throw failing that actor only.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "stakker/call.hpp"
#include "stakker/fwd.hpp"
#include "stakker/runtime.hpp"
#include "stakker/sync/channel.hpp"
#include "stakker/testing/counted.hpp"

namespace {

using stakker::actor;
using stakker::actor_new;
using stakker::channel;
using stakker::channel_guard;
using stakker::core;
using stakker::cx;
using stakker::fwd_to;
using stakker::make_actor;
using stakker::make_channel;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::runtime;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::testing::counted;
using stakker::testing::counts;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Writes what happens, in order, to a log the test holds: "v<n>" for a value, "f<n>" for
// the follow-up call each value queues to itself, "o<n>" for a call from elsewhere.
struct logger {
  std::vector<std::string>* log;
  std::optional<channel_guard<int>> guard;  // set by tests whose actor owns its channel

  static logger init(cx<logger>&, std::vector<std::string>* l) { return logger{l, {}}; }
  void value(cx<logger>& x, int v) {
    log->push_back("v" + std::to_string(v));
    x.call<&logger::follow>(v);
  }
  void follow(cx<logger>&, int v) { log->push_back("f" + std::to_string(v)); }
  void other(cx<logger>&, int v) { log->push_back("o" + std::to_string(v)); }
  // Value 2 stops the actor; value 3 throws.
  void picky(cx<logger>& x, int v) {
    log->push_back("v" + std::to_string(v));
    if (v == 2) x.stop();
    if (v == 3) throw std::runtime_error("three");
  }
  // Value 1 closes the actor's own channel.
  void closing(cx<logger>&, int v) {
    log->push_back("v" + std::to_string(v));
    if (v == 1) guard.reset();
  }
  void counted_value(cx<logger>&, counted k) { log->push_back("v" + std::to_string(k.value())); }
};

std::vector<std::string> expect(std::initializer_list<const char*> l) {
  return std::vector<std::string>(l.begin(), l.end());
}

// A runtime (run by the test: its poll waker does nothing) with a Ready logger actor.
struct home {
  runtime rt;
  std::vector<std::string> log;
  stakker::actor_own<logger> a;
  explicit home(stakker::ret<stop_cause> on_stop = ret_nop<stop_cause>()) {
    rt.set_poll_waker([] {});
    a = make_actor<&logger::init>(rt, std::move(on_stop), &log);
    run(rt);
  }
  // A channel of T into the actor's member M.
  template <auto M, class T = int>
  std::pair<channel<T>, channel_guard<T>> channel_to() {
    return make_channel<T>(rt, fwd_to<T, M>(a));
  }
};

TEST(channel_actor, values_run_in_order_and_their_calls_after_all_of_them_as_when_queued) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::value>();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ch.send(i));
  run(h.rt);
  EXPECT_EQ(h.log, expect({"v1", "v2", "v3", "f1", "f2", "f3"}));
}

TEST(channel_actor, a_call_queued_between_runs_runs_before_the_values) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::value>();
  stakker::call<&logger::other>(h.a, 0);  // queued outside a run: first in the queue
  ASSERT_TRUE(ch.send(1));
  ASSERT_TRUE(ch.send(2));
  run(h.rt);
  EXPECT_EQ(h.log, expect({"o0", "v1", "v2", "f1", "f2"}));
}

TEST(channel_actor, a_timer_due_at_the_run_runs_before_the_values) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::value>();
  h.rt.after(std::chrono::milliseconds(1), [r = h.a.ref()](core&) {
    stakker::call<&logger::other>(r, 0);
  });  // queues as it fires
  h.rt.after(std::chrono::milliseconds(1), [&h](core&) { h.log.push_back("t"); });
  ASSERT_TRUE(ch.send(1));
  h.rt.run(h.rt.now() + std::chrono::milliseconds(1), false);
  // The timers went first; the call one of them queued comes after the value, as it would
  // after a queued value.
  EXPECT_EQ(h.log, expect({"t", "v1", "o0", "f1"}));
}

TEST(channel_actor, a_waker_handler_polled_after_the_channel_runs_before_the_values) {
  home h;
  // The channel's waker is made first, so its handler is polled before the other one; its
  // values must still wait for that handler, as queued calls do.
  auto [ch, guard] = h.channel_to<&logger::value>();
  stakker::waker w = h.rt.waker([&h](core&, bool deleted) {
    if (!deleted) h.log.push_back("w");
  });
  ASSERT_TRUE(ch.send(1));
  w.wake();
  run(h.rt);
  EXPECT_EQ(h.log, expect({"w", "v1", "f1"}));
}

TEST(channel_actor, a_dropped_wakers_deleted_call_in_the_same_poll_runs_before_the_values) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::value>();
  std::optional<stakker::waker> w = h.rt.waker([&h](core&, bool deleted) {
    if (deleted) h.log.push_back("d");
  });
  ASSERT_TRUE(ch.send(1));
  w.reset();  // its "deleted" call comes after the wake handlers of the same poll
  run(h.rt);
  EXPECT_EQ(h.log, expect({"d", "v1", "f1"}));
}

TEST(channel_actor, values_to_an_actor_in_prep_are_parked_and_run_once_it_is_ready) {
  runtime rt;
  rt.set_poll_waker([] {});
  std::vector<std::string> log;
  auto a = actor_new<logger>(rt, ret_nop<stop_cause>());
  auto [ch, guard] = make_channel<int>(rt, fwd_to<int, &logger::value>(a));
  ASSERT_TRUE(ch.send(1));
  ASSERT_TRUE(ch.send(2));
  run(rt);
  EXPECT_TRUE(log.empty());
  stakker::call_prep<&logger::init>(a, &log);
  run(rt);
  EXPECT_EQ(log, expect({"v1", "v2", "f1", "f2"}));  // the parked calls, then theirs
}

TEST(channel_actor, values_after_the_one_that_stops_or_fails_the_actor_are_dropped) {
  for (int last : {2, 3}) {  // 2 stops the actor, 3 throws and fails it
    std::optional<stop_cause> cause;
    home h(ret_do<stop_cause>([&cause](std::optional<stop_cause> s) { cause = std::move(s); }));
    auto [ch, guard] = h.channel_to<&logger::picky>();
    if (last == 3) {
      ASSERT_TRUE(ch.send(1));
    }
    for (int i = last; i <= last + 2; ++i) ASSERT_TRUE(ch.send(i));
    EXPECT_NO_THROW(run(h.rt));
    EXPECT_EQ(h.log.back(), "v" + std::to_string(last)) << "nothing after the stop";
    ASSERT_TRUE(cause.has_value());
    EXPECT_EQ(cause->kind(), last == 3 ? stop_kind::failed : stop_kind::stopped);
    EXPECT_TRUE(ch.send(9));  // the channel stays open: its values are dropped
    run(h.rt);
    EXPECT_EQ(h.log.back(), "v" + std::to_string(last));
  }
}

TEST(channel_actor,
     an_actor_that_closes_its_own_channel_gets_nothing_more_and_the_rest_is_destroyed) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::closing>();
  channel_guard<int>* g = &guard;
  stakker::inspect(h.rt, h.a, [g](logger& l) { l.guard.emplace(std::move(*g)); });
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(ch.send(i));
  run(h.rt);
  EXPECT_EQ(h.log, expect({"v1"}));
  EXPECT_TRUE(ch.is_closed());
  EXPECT_FALSE(ch.send(5));
}

TEST(channel_actor, values_destroyed_unrun_balance_and_values_run_are_moved_once) {
  counts c;
  {
    home h;
    auto [ch, guard] = h.channel_to<&logger::counted_value, counted>();
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
    run(h.rt);
    EXPECT_EQ(h.log, expect({"v1", "v2", "v3"}));
    EXPECT_EQ(c.alive(), 0);
    for (int i = 4; i <= 5; ++i) ASSERT_TRUE(ch.send(counted(c, i)));
  }  // the runtime goes with two values waiting
  EXPECT_TRUE(c.balanced());
}

TEST(channel_actor, with_metrics_on_every_value_is_counted_queued_and_run_once) {
  home h;
  auto [ch, guard] = h.channel_to<&logger::value>();
  h.rt.metrics_enable();
  const auto before = h.rt.metrics();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ch.send(i));
  run(h.rt);
  const auto after = h.rt.metrics();
  EXPECT_EQ(h.log, expect({"v1", "v2", "v3", "f1", "f2", "f3"}));
  EXPECT_EQ(after.calls_queued - before.calls_queued, 6u);
  EXPECT_EQ(after.calls_run - before.calls_run, 6u);
  EXPECT_EQ(after.queue_depth, 0u);
}

TEST(channel_actor, an_actor_of_another_runtime_on_the_thread_gets_its_values_on_its_own_runtime) {
  runtime home;
  runtime other;
  home.set_poll_waker([] {});
  other.set_poll_waker([] {});
  std::vector<std::string> log;
  auto a = make_actor<&logger::init>(other, ret_nop<stop_cause>(), &log);
  run(other);
  auto [ch, guard] = make_channel<int>(home, fwd_to<int, &logger::value>(a));
  ASSERT_TRUE(ch.send(1));
  run(home);
  EXPECT_TRUE(log.empty()) << "queued on the actor's runtime, not run on the channel's";
  run(other);
  EXPECT_EQ(log, expect({"v1", "f1"}));
}

// Checks that each producer's values arrive in order; each value queues a call, too. A
// value is (producer, sequence number).
using numbered = std::pair<std::size_t, int>;
struct tally {
  std::vector<int> next;
  bool in_order = true;
  static tally init(cx<tally>&, std::size_t producers) {
    return tally{std::vector<int>(producers, 0)};
  }
  void on(cx<tally>& x, numbered m) {
    in_order = in_order && m.second == next[m.first];
    next[m.first] = m.second + 1;
    x.call<&tally::noop>();
  }
  void noop(cx<tally>&) {}
};

TEST(channel_actor, values_sent_by_threads_arrive_complete_and_in_each_producers_order) {
  constexpr std::size_t producers = 4;
  constexpr int each = 20000;
  runtime rt;
  rt.set_poll_waker([] {});
  auto a = make_actor<&tally::init>(rt, ret_nop<stop_cause>(), producers);
  run(rt);
  auto [ch, guard] = make_channel<numbered>(rt, fwd_to<numbered, &tally::on>(a));
  std::atomic<std::size_t> done{0};
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p)
    threads.emplace_back([chan = channel<numbered>(ch), p, &done] {
      for (int i = 0; i < each; ++i) EXPECT_TRUE(chan.send({p, i}));
      done.fetch_add(1);
    });
  while (done.load() < producers) run(rt);  // taking while they send
  for (auto& t : threads) t.join();
  run(rt);
  auto state = stakker::inspect(rt, a, [](tally& t) { return std::make_pair(t.next, t.in_order); });
  ASSERT_TRUE(state.has_value());
  EXPECT_TRUE(state->second);
  EXPECT_EQ(state->first, std::vector<int>(producers, each));
}

}  // namespace
