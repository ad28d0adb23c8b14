// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/shard/shards.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shard/tracked.hpp"
#include "stakker/call.hpp"
#include "stakker/cx.hpp"
#include "stakker/shard/remote.hpp"

namespace {

using stakker::actor_own;
using stakker::cx;
using stakker::duration;
using stakker::ret;
using stakker::stop_cause;
using stakker::stop_kind;
using stakker::shard::context;
using stakker::shard::make_remote;
using stakker::shard::remote;
using stakker::shard::shards;
using stakker::shard::shards_options;

TEST(shards, on_each_runs_on_every_shards_own_thread_which_knows_its_index) {
  shards g({.threads = 3});
  std::mutex m;
  std::set<std::size_t> seen;
  std::set<std::thread::id> threads;
  std::promise<void> all;
  std::atomic<int> left{3};
  EXPECT_EQ(g.on_each([&](context& c) {
    EXPECT_EQ(context::current(), &c);
    EXPECT_EQ(&c.group(), &g);
    {
      std::lock_guard<std::mutex> lock(m);
      seen.insert(c.index());
      threads.insert(std::this_thread::get_id());
    }
    if (left.fetch_sub(1) == 1) all.set_value();
  }),
            3u);
  all.get_future().wait();
  EXPECT_EQ(seen, (std::set<std::size_t>{0, 1, 2}));
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(context::current(), nullptr);
}

TEST(shards, a_shutdown_on_one_shard_stops_every_shard_and_join_returns_each_cause) {
  shards g({.threads = 3});
  g.on(1, [](context& c) { c.core().shutdown(stop_cause::failed("shard 1 gave up")); });
  const auto& causes = g.join();
  ASSERT_EQ(causes.size(), 3u);
  for (const stop_cause& s : causes) {
    EXPECT_EQ(s.kind(), stop_kind::failed);
    EXPECT_EQ(s.message(), "shard 1 gave up");
  }
  EXPECT_TRUE(g.stopped());
  EXPECT_FALSE(g.on(0, [](context&) {}));  // a stopped shard takes no more work
}

TEST(shards, an_exception_leaving_a_shards_run_stops_the_group_with_failed) {
  shards g({.threads = 2});
  g.on(1, [](context&) { throw std::runtime_error("set-up went wrong"); });
  for (const stop_cause& s : g.join()) {
    EXPECT_EQ(s.kind(), stop_kind::failed);
    EXPECT_EQ(s.message(), "set-up went wrong");
  }
}

struct fragile {
  static fragile init(cx<fragile>&) { return fragile{}; }
  void boom(cx<fragile>&) { throw std::runtime_error("boom"); }
};

TEST(shards, an_actor_failing_on_a_shard_fails_only_that_actor) {
  shards g({.threads = 1});
  std::promise<std::string> cause;
  std::promise<bool> still_running;
  g.on(0, [&](context& c) {
    auto a = stakker::make_actor<&fragile::init>(
        c.core(), stakker::ret_do<stop_cause>([&](std::optional<stop_cause> s) {
          cause.set_value(s ? s->text() : "none");
        }));
    stakker::call<&fragile::boom>(a);
    c.core().anymap_set(std::move(a));
  });
  EXPECT_EQ(cause.get_future().get(), "Actor failed: boom");
  g.on(0, [&](context&) { still_running.set_value(true); });
  EXPECT_TRUE(still_running.get_future().get());
  g.stop(stop_cause::stopped());
  EXPECT_EQ(g.join()[0].kind(), stop_kind::stopped);
}

TEST(shards, stop_from_outside_stops_every_shard_with_that_cause) {
  shards g({.threads = 2});
  g.stop(stop_cause::killed("operator"));
  for (const stop_cause& s : g.join()) {
    EXPECT_EQ(s.kind(), stop_kind::killed);
    EXPECT_EQ(s.message(), "operator");
  }
}

TEST(shards, destroying_the_group_stops_and_joins_every_shard) {
  std::atomic<int> ran{0};
  {
    shards g({.threads = 2});
    g.on_each([&](context&) { ran.fetch_add(1); });
  }
  EXPECT_LE(ran.load(), 2);  // each either ran or was destroyed unrun: no thread is left
}

TEST(shards, join_from_one_of_its_own_shards_is_a_logic_error) {
  shards g({.threads = 1});
  std::promise<bool> threw;
  g.on(0, [&](context& c) {
    try {
      c.group().join();
      threw.set_value(false);
    } catch (const std::logic_error&) {
      threw.set_value(true);
    }
  });
  EXPECT_TRUE(threw.get_future().get());
}

TEST(shards, zero_threads_is_invalid) {
  EXPECT_THROW(shards({.threads = 0}), std::invalid_argument);
}

TEST(shards, pinned_threads_run_on_the_cpus_given) {
  shards g({.threads = 2, .pin_cpus = true});
  std::promise<int> cpu;
  g.on(0, [&](context&) { cpu.set_value(sched_getcpu()); });
  EXPECT_GE(cpu.get_future().get(), 0);
}

// Counts calls from each sender and checks their order.
struct counter {
  std::vector<long> next;
  long total = 0;
  long bad = 0;
  static std::optional<counter> init(cx<counter>&, std::size_t senders) {
    counter c;
    c.next.assign(senders, 0);
    return c;
  }
  void add(cx<counter>&, std::size_t sender, long seq) {
    if (next[sender] != seq) ++bad;
    next[sender] = seq + 1;
    ++total;
  }
  void report(cx<counter>&, ret<long> r) { r(bad == 0 ? total : -bad); }
  void stop_now(cx<counter>& x) { x.stop(); }
};

struct pinger {
  remote<pinger> peer;
  long left = 0;
  std::shared_ptr<std::promise<void>> done;
  static std::optional<pinger> init(cx<pinger>&) { return pinger{}; }
  void start(cx<pinger>&, remote<pinger> p, long n, std::shared_ptr<std::promise<void>> d) {
    peer = std::move(p);
    left = n;
    done = d;
  }
  void ping(cx<pinger>& x, remote<pinger> from, long n) {
    if (n == 0) {
      if (done) done->set_value();
      return;
    }
    call<&pinger::ping>(from, make_remote(x.this_actor()), n - 1);
  }
};

TEST(shards, remote_calls_between_shards_ping_pong_until_done) {
  shards g({.threads = 2});
  std::promise<remote<pinger>> a_made;
  std::promise<remote<pinger>> b_made;
  std::vector<actor_own<pinger>> keep(2);
  g.on(0, [&](context& c) {
    keep[0] = stakker::make_actor<&pinger::init>(c.core(), stakker::ret_nop<stop_cause>());
    a_made.set_value(make_remote(keep[0]));
  });
  g.on(1, [&](context& c) {
    keep[1] = stakker::make_actor<&pinger::init>(c.core(), stakker::ret_nop<stop_cause>());
    b_made.set_value(make_remote(keep[1]));
  });
  remote<pinger> a = a_made.get_future().get();
  remote<pinger> b = b_made.get_future().get();
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  call<&pinger::start>(a, b, 0L, done);
  call<&pinger::start>(b, a, 0L, done);
  g.on(0, [&, b](context& c) {
    (void)c;
    call<&pinger::ping>(b, make_remote(keep[0].ref()), 10'000L);
  });
  finished.wait();
  g.on_each([&](context& c) { keep[c.index()].reset(); });
  g.stop(stop_cause::stopped());
  g.join();
}

TEST(shards, idle_shards_spin_by_default_only_when_there_are_two_or_more) {
  for (const std::size_t n : {std::size_t{1}, std::size_t{2}}) {
    shards g({.threads = n});
    std::promise<duration> got;
    g.on(0, [&](context& c) { got.set_value(c.loop().spin()); });
    EXPECT_EQ(got.get_future().get(), n > 1 ? shards_options::default_spin : duration::zero());
  }
  shards g({.threads = 2, .spin = duration::zero()});
  std::promise<duration> got;
  g.on(1, [&](context& c) { got.set_value(c.loop().spin()); });
  EXPECT_EQ(got.get_future().get(), duration::zero());
}

// 4 senders (two shards and two plain threads) x N calls to one actor on a third shard:
// per-sender order, exactly once, nothing lost. N from STAKKER_SHARD_CALLS (default 1M).
TEST(shards, four_senders_calls_to_one_actor_arrive_in_order_exactly_once_under_load) {
  long n = 1'000'000;
  if (const char* s = std::getenv("STAKKER_SHARD_CALLS")) n = std::atol(s);
  std::printf("4 senders x %ld calls (STAKKER_SHARD_CALLS)\n", n);
  shards g({.threads = 3, .ring_bytes = 4096});
  std::promise<remote<counter>> made;
  actor_own<counter> keep;
  g.on(2, [&](context& c) {
    keep = stakker::make_actor<&counter::init>(c.core(), stakker::ret_nop<stop_cause>(),
                                               std::size_t{4});
    made.set_value(make_remote(keep));
  });
  remote<counter> target = made.get_future().get();
  std::atomic<int> senders_done{0};
  auto send_all = [target, n, &senders_done](std::size_t sender) {
    for (long i = 0; i < n; ++i) call<&counter::add>(target, sender, i);
    senders_done.fetch_add(1);
  };
  // On a shard, one run sends everything: the batch spills past the small ring.
  g.on(0, [&](context&) { send_all(0); });
  g.on(1, [&](context&) { send_all(1); });
  std::thread t2([&] { send_all(2); });
  std::thread t3([&] { send_all(3); });
  t2.join();
  t3.join();
  while (senders_done.load() < 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A report queued after everything: each sender's lane is FIFO, and this thread's lane
  // carries the report after its own calls; poll until all four have landed.
  long total = 0;
  for (int tries = 0; tries < 10000; ++tries) {
    std::promise<long> got;
    g.on(2, [&](context& c) {
      stakker::call<&counter::report>(keep, stakker::ret_do<long>([&](std::optional<long> v) {
                                        got.set_value(v.value_or(-1));
                                      }));
      (void)c;
    });
    total = got.get_future().get();
    if (total == 4 * n || total < 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(total, 4 * n);
  EXPECT_GT(g.spill_high_water(2), 0u);  // the rings were full at times; nothing was lost
  g.on(2, [&](context&) { keep.reset(); });
  g.stop(stop_cause::stopped());
  g.join();
}

using stakker::test::tracked;

// Receives numbered calls from several senders; after `end_after` calls it stops itself
// (or shuts its shard down) and says so.
struct prefix_checker {
  std::vector<long> next;
  long end_after = 0;
  bool shut_down = false;
  long total = 0;
  long bad = 0;
  std::shared_ptr<std::atomic<long>> seen;
  std::shared_ptr<std::atomic<bool>> ended;
  static std::optional<prefix_checker> init(cx<prefix_checker>&, std::size_t senders, long end,
                                            bool shut, std::shared_ptr<std::atomic<long>> s,
                                            std::shared_ptr<std::atomic<bool>> e) {
    prefix_checker c;
    c.next.assign(senders, 0);
    c.end_after = end;
    c.shut_down = shut;
    c.seen = std::move(s);
    c.ended = std::move(e);
    return c;
  }
  void add(cx<prefix_checker>& x, std::size_t sender, long seq, tracked) {
    if (next[sender] != seq) ++bad;  // a gap or a repeat: delivery is a prefix, in order
    next[sender] = seq + 1;
    seen->fetch_add(1);
    if (++total != end_after) return;
    if (shut_down)
      x.core().shutdown(stop_cause::failed("shard 2 went down"));
    else
      x.stop();
    ended->store(true);
  }
  ~prefix_checker() {
    if (bad != 0 && seen) seen->store(-1'000'000'000);  // reported by the test
  }
};

// 4 threads send numbered calls to one actor; after it has taken `n` it stops (or its
// shard shuts down); the senders then send as many again. The calls queued behind the stop
// and all those sent after it are dropped; what arrived is, per sender, a prefix in order;
// every argument is destroyed exactly once (on whichever thread dropped it).
void drop_midway(bool shut_shard_down) {
  long n = 1'000'000;  // per sender: 4 x 1M; STAKKER_SHARD_CALLS lowers it
  if (const char* s = std::getenv("STAKKER_SHARD_CALLS")) n = std::min(n, std::atol(s));
  std::atomic<long> live{0};
  auto seen = std::make_shared<std::atomic<long>>(0);
  auto ended = std::make_shared<std::atomic<bool>>(false);
  std::optional<shards> g;
  g.emplace(shards_options{.threads = 3, .ring_bytes = 4096});
  std::promise<remote<prefix_checker>> made;
  g->on(2, [&](context& c) {
    // Owned by the shard's runtime: destroyed with it, on its thread.
    c.core().anymap_set(stakker::make_actor<&prefix_checker::init>(
        c.core(), stakker::ret_nop<stop_cause>(), std::size_t{4}, n, shut_shard_down, seen, ended));
    made.set_value(make_remote(c.core().anymap_get<actor_own<prefix_checker>>()));
  });
  remote<prefix_checker> target = made.get_future().get();
  std::vector<std::thread> ts;
  for (std::size_t sender = 0; sender < 4; ++sender) {
    ts.emplace_back([&, sender, target] {
      long i = 0;
      for (; i < n / 2; ++i) call<&prefix_checker::add>(target, sender, i, tracked(live));
      while (!ended->load()) std::this_thread::yield();
      if (shut_shard_down) {
        while (!g->stopped()) std::this_thread::yield();
      }
      for (; i < n; ++i) call<&prefix_checker::add>(target, sender, i, tracked(live));
    });
  }
  for (auto& t : ts) t.join();
  g->stop(stop_cause::stopped());
  const auto& causes = g->join();
  if (shut_shard_down) {
    EXPECT_EQ(causes[2].message(), "shard 2 went down");
  }
  g.reset();
  EXPECT_GE(seen->load(), n) << "out of order if negative";
  if (shut_shard_down) {
    EXPECT_LE(seen->load(), 2 * n);  // the rest of that run, at most
  } else {
    EXPECT_EQ(seen->load(), n);  // nothing after the stop
  }
  EXPECT_EQ(live.load(), 0) << "every argument destroyed exactly once";
}

TEST(shards, calls_in_flight_when_the_actor_stops_are_dropped_and_what_arrived_is_in_order) {
  drop_midway(false);
}

TEST(shards, calls_in_flight_when_the_home_shard_shuts_down_are_dropped_and_destroyed_once) {
  drop_midway(true);
}

// Answers some rets, drops others; kills itself at some point.
struct answerer {
  long calls = 0;
  long die_at = 0;
  static std::optional<answerer> init(cx<answerer>&, long die) { return answerer{0, die}; }
  void ask(cx<answerer>& x, long v, ret<long> r) {
    if (++calls == die_at) x.fail("enough");
    if (v % 3 != 0) r(v);  // v % 3 == 0: dropped, answers "none"
  }
};

// Every remote_ret is answered exactly once, on the runtime that made it, whatever happens
// on the other side: answered, dropped, the actor failed, its shard shut down. Seeded.
TEST(shards, every_cross_runtime_ret_is_answered_exactly_once_on_its_origin_on_every_path) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("STAKKER_SHARD_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("shard ret seed %u (STAKKER_SHARD_SEED to replay)\n", seed);
  std::mt19937 rng(seed);
  constexpr long asks = 20'000;
  const long die_at = static_cast<long>(rng() % asks) + 1;  // the actor fails there
  for (const bool shut_down : {false, true}) {
    SCOPED_TRACE(shut_down ? "the actor's shard shuts down" : "the actor fails");
    std::vector<int> answers(asks, 0);  // touched on shard 0 only
    std::atomic<long> wrong_thread{0};
    std::atomic<long> answered{0};
    {
      shards g({.threads = 2, .ring_bytes = 2048});
      std::promise<remote<answerer>> made;
      g.on(1, [&](context& c) {
        c.core().anymap_set(
            stakker::make_actor<&answerer::init>(c.core(), stakker::ret_nop<stop_cause>(), die_at));
        made.set_value(make_remote(c.core().anymap_get<actor_own<answerer>>()));
      });
      remote<answerer> target = made.get_future().get();
      // Answers come on shard 0's thread: inside its runs, or while it closes (a ret still
      // pinned there when shard 0 goes answers "none" in its teardown, on the same thread).
      g.on(0, [&, target](context&) {
        const std::thread::id origin = std::this_thread::get_id();
        for (long i = 0; i < asks; ++i) {
          call<&answerer::ask>(
              target, i, make_remote(stakker::ret_do<long>([&, i, origin](std::optional<long>) {
                if (std::this_thread::get_id() != origin) wrong_thread.fetch_add(1);
                ++answers[static_cast<std::size_t>(i)];
                answered.fetch_add(1);
              })));
        }
      });
      if (shut_down) {
        g.on(1, [](context& c) { c.core().shutdown(stop_cause::stopped()); });
      }
      // Shard 0 keeps running until every answer (value or none) is in, or 30 s pass.
      for (int i = 0; i < 30'000 && answered.load() < asks; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      g.stop(stop_cause::stopped());
      g.join();
    }
    EXPECT_EQ(answered.load(), asks) << "seed " << seed;
    long twice = 0;
    for (int a : answers) twice += a > 1;
    EXPECT_EQ(twice, 0) << "seed " << seed;
    EXPECT_EQ(wrong_thread.load(), 0) << "seed " << seed;
  }
}

}  // namespace
