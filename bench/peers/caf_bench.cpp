// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: CAF 0.17 (Debian's libcaf-dev), the C++ Actor Framework, on the same Savina-style
// workloads as ours (../core_bench.cpp, ../savina_bench.cpp, ../timers_bench.cpp).
//
// Written as CAF's manual writes actors: event-based actors returning a `behavior` of
// lambdas, state in `stateful_actor<State>`, atoms as message tags, `request(...).then(...)`
// for request/response, a returned value as the reply, `delayed_send` for timers. The loop
// waits on a `scoped_actor`: the workload's last actor sends it a `done_atom` with the check
// value, which is verified. Each message-passing and lifecycle workload runs under two
// schedulers, named by the last part of the benchmark's name: `single`
// (scheduler.max-threads = 1: one worker, as our runtime has one thread; checked) and
// `default` (CAF's default: work stealing over max(cores, 4) workers). Times are wall-clock,
// as for every implementation in the Savina group (bench::savina).
//
// One actor system per benchmark run (not per iteration): starting one takes milliseconds.
#include <benchmark/benchmark.h>
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <thread>
#include <vector>

#include "../bench_support.hpp"
#include "../timers_support.hpp"
#include "caf_support.hpp"

namespace {

using namespace caf;
using namespace bench::caf_peer;
using std::int64_t;

// Registers `fn(state, single)` twice: as NAME/single and NAME/default.
#define CAF_PEER(fn)                                         \
  BENCHMARK_CAPTURE(fn, single, true)->Apply(bench::savina); \
  BENCHMARK_CAPTURE(fn, default, false)->Apply(bench::savina)

// Self-send chain: one actor sends itself n messages, one outstanding at a time.
struct ticker_state {
  actor waiter;
  int64_t count = 0;
};
behavior ticker(stateful_actor<ticker_state>* self) {
  return {
      [=](start_atom, actor waiter, int64_t n) {
        self->state.waiter = std::move(waiter);
        self->state.count = 0;
        self->send(self, tick_atom::value, n - 1);
      },
      [=](tick_atom, int64_t n) {
        ++self->state.count;
        if (n > 0)
          self->send(self, tick_atom::value, n - 1);
        else
          self->send(self->state.waiter, done_atom::value, self->state.count);
      },
  };
}

void peer_caf_self_call(benchmark::State& state, bool single) {
  const int64_t n = caf_size(10'000'000, single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto t = s.sys.spawn(ticker);
  for (auto _ : state)
    if (run_until_done(self, state, t, n) != n) state.SkipWithError("wrong count");
  stop_all({t});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_self_call);

// Ping-pong: two actors bounce a ball n times; the one holding it at 0 reports the total.
struct player_state {
  actor peer;
  actor waiter;
  int64_t received = 0;
};
behavior player(stateful_actor<player_state>* self) {
  return {
      [=](link_atom, actor peer, actor waiter) {
        self->state.peer = std::move(peer);
        self->state.waiter = std::move(waiter);
      },
      [=](ball_atom, int64_t n) {
        ++self->state.received;
        if (n > 0)
          self->send(self->state.peer, ball_atom::value, n - 1);
        else
          self->send(self->state.waiter, done_atom::value, int64_t{0});
      },
      [=](get_atom) { return self->state.received; },
  };
}

void peer_caf_ping_pong(benchmark::State& state, bool single) {
  const int64_t n = caf_size(10'000'000, single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto a = s.sys.spawn(player);
  auto b = s.sys.spawn(player);
  self->send(a, link_atom::value, b, actor_cast<actor>(self));
  self->send(b, link_atom::value, a, actor_cast<actor>(self));
  int64_t rounds = 0;
  for (auto _ : state) {
    self->send(a, ball_atom::value, n - 1);
    wait_done(self, state);
    ++rounds;
  }
  // Both players' counts, asked through a request each, add up to every message sent.
  int64_t received = 0;
  for (const actor& p : {a, b})
    self->request(p, infinite, get_atom::value)
        .receive([&](int64_t v) { received += v; }, [&](error&) { received = -1; });
  if (received != n * rounds) state.SkipWithError("wrong count");
  stop_all({a, b});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_ping_pong);

// Request/response: the client requests, the server's handler returns the answer, and the
// client's `then` continuation sends the next request.
behavior value_server(stateful_actor<int64_t>* self) {
  return {[=](get_atom) { return ++self->state; }};
}
struct client_state {
  actor server;
  actor waiter;
  int64_t left = 0;
};
void ask(stateful_actor<client_state>* self) {
  self->request(self->state.server, infinite, get_atom::value).then([=](int64_t v) {
    if (--self->state.left > 0)
      ask(self);
    else
      self->send(self->state.waiter, done_atom::value, v);
  });
}
behavior client(stateful_actor<client_state>* self, actor server) {
  self->state.server = std::move(server);
  return {[=](start_atom, actor waiter, int64_t n) {
    self->state.waiter = std::move(waiter);
    self->state.left = n;
    ask(self);
  }};
}

void peer_caf_request_response(benchmark::State& state, bool single) {
  const int64_t n = caf_size(1'000'000, single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto srv = s.sys.spawn(value_server);
  auto c = s.sys.spawn(client, srv);
  int64_t rounds = 0;
  for (auto _ : state)
    if (run_until_done(self, state, c, n) != n * ++rounds) state.SkipWithError("wrong answer");
  stop_all({c, srv});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_request_response);

// Counting actor: a producer sends n increments in one go, then requests the count.
behavior counter(stateful_actor<int64_t>* self) {
  return {
      [=](inc_atom) { ++self->state; },
      [=](get_atom) { return self->state; },
  };
}
behavior producer(event_based_actor* self, actor target) {
  return {[=](start_atom, actor waiter, int64_t n) {
    for (int64_t i = 0; i < n; ++i) self->send(target, inc_atom::value);
    self->request(target, infinite, get_atom::value).then([=](int64_t v) {
      self->send(waiter, done_atom::value, v);
    });
  }};
}

void peer_caf_counting(benchmark::State& state, bool single) {
  const int64_t n = caf_size(10'000'000, single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto c = s.sys.spawn(counter);
  auto p = s.sys.spawn(producer, c);
  int64_t rounds = 0;
  for (auto _ : state)
    if (run_until_done(self, state, p, n) != n * ++rounds) state.SkipWithError("wrong count");
  stop_all({p, c});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_counting);

// Thread ring: 503 actors pass a token n hops; the one receiving it at 0 reports its index.
struct ring_state {
  int64_t index = 0;
  actor next;
  actor waiter;
};
behavior ring_node(stateful_actor<ring_state>* self, int64_t index) {
  self->state.index = index;
  return {
      [=](link_atom, actor next, actor waiter) {
        self->state.next = std::move(next);
        self->state.waiter = std::move(waiter);
      },
      [=](token_atom, int64_t hops) {
        if (hops == 0)
          self->send(self->state.waiter, done_atom::value, self->state.index);
        else
          self->send(self->state.next, token_atom::value, hops - 1);
      },
  };
}

void peer_caf_thread_ring(benchmark::State& state, bool single) {
  const int64_t n = caf_size(10'000'000, single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  std::vector<actor> ring;
  for (int64_t i = 0; i < bench::thread_ring_size; ++i) ring.push_back(s.sys.spawn(ring_node, i));
  for (std::size_t i = 0; i < ring.size(); ++i)
    self->send(ring[i], link_atom::value, ring[(i + 1) % ring.size()], actor_cast<actor>(self));
  for (auto _ : state) {
    self->send(ring[0], token_atom::value, n);
    if (wait_done(self, state) != bench::thread_ring_finisher(n))
      state.SkipWithError("wrong finisher");
  }
  stop_all(ring);
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_thread_ring);

// Fork-join: a parent spawns n workers and sends each one message; a worker returns its
// answer (CAF sends a returned value back to the sender) and quits.
behavior fork_worker(event_based_actor* self) {
  return {[=](work_atom, int64_t i) {
    self->quit();
    return bench::fork_join_answer(i);
  }};
}
struct fork_state {
  actor waiter;
  int64_t live = 0;
  int64_t sum = 0;
};
behavior fork_parent(stateful_actor<fork_state>* self) {
  return {
      [=](start_atom, actor waiter, int64_t n) {
        self->state = fork_state{std::move(waiter), n, 0};
        for (int64_t i = 0; i < n; ++i) self->send(self->spawn(fork_worker), work_atom::value, i);
      },
      [=](int64_t v) {
        self->state.sum += v;
        if (--self->state.live == 0)
          self->send(self->state.waiter, done_atom::value, self->state.sum);
      },
  };
}

// Actors spawned from inside an actor, per iteration, in fork-join and create/destroy: 1M
// with one worker, 10k under the default scheduler, whose time per actor on two cores grows
// with the count (see the report's notes, tools/bench_groups.json).
int64_t caf_actor_count(bool single) { return bench::size(single ? 1'000'000 : 10'000); }

void peer_caf_fork_join(benchmark::State& state, bool single) {
  const int64_t n = caf_actor_count(single);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto p = s.sys.spawn(fork_parent);
  const int64_t expected = bench::fork_join_sum(n);
  for (auto _ : state)
    if (run_until_done(self, state, p, n) != expected) state.SkipWithError("wrong sum");
  stop_all({p});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_fork_join);

// Actor create/destroy: a driver actor spawns n actors (each runs its behavior function, as
// our init), keeps their handles, then drops them all and quits; the loop waits until every
// actor is gone. Spawning from inside an actor keeps the work on CAF's workers (spawning from
// the loop's thread would run it in parallel with the one worker).
std::atomic<int64_t> lifecycle_started{0};
std::atomic<int64_t> idle_started{0};

template <std::atomic<int64_t>* Started>
behavior small_actor(stateful_actor<int64_t>* self, int64_t v) {
  self->state = v;
  Started->fetch_add(1, std::memory_order_relaxed);
  return {[=](get_atom) { return self->state; }};
}

void lifecycle_driver(event_based_actor* self, int64_t n) {
  std::vector<actor> actors;
  actors.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) actors.push_back(self->spawn(small_actor<&lifecycle_started>, i));
  actors.clear();
  self->quit();
}

void peer_caf_actor_lifecycle(benchmark::State& state, bool single) {
  const int64_t n = caf_actor_count(single);
  caf_system s(single);
  if (!s.check(state)) return;
  lifecycle_started = 0;
  for (auto _ : state) {
    s.sys.spawn(lifecycle_driver, n);
    s.sys.await_all_actors_done();
  }
  if (lifecycle_started != n * static_cast<int64_t>(state.iterations()))
    state.SkipWithError("not every actor started");
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_actor_lifecycle);

// Timers: one actor schedules n delayed messages to itself ([1 µs, 10 ms) random delays,
// the generator and seed of ours and Asio's) and counts them as they arrive. CAF's timers
// run in real time on its clock thread, beside the worker(s); the last is due 10 ms after
// scheduling began, far less than scheduling 1M takes, so the figure is the timer
// machinery, not waiting.
struct timer_state {
  actor waiter;
  int64_t fired = 0;
};
behavior timer_actor(stateful_actor<timer_state>* self,
                     const std::vector<std::chrono::steady_clock::duration>* delays) {
  return {
      [=](start_atom, actor waiter) {
        self->state = timer_state{std::move(waiter), 0};
        for (auto d : *delays) self->delayed_send(self, d, fire_atom::value);
      },
      [=](fire_atom) {
        if (++self->state.fired == static_cast<int64_t>(delays->size()))
          self->send(self->state.waiter, done_atom::value, self->state.fired);
      },
  };
}

void peer_caf_timers(benchmark::State& state, bool single) {
  const int64_t n = caf_size(1'000'000, single);
  const auto delays = bench::timer_delays(n, bench::short_lo, bench::short_hi);
  caf_system s(single);
  if (!s.check(state)) return;
  scoped_actor self{s.sys};
  auto t = s.sys.spawn(timer_actor, &delays);
  for (auto _ : state)
    if (run_until_done(self, state, t) != n) state.SkipWithError("wrong number fired");
  stop_all({t});
  bench::per_op(state, n);
}
CAF_PEER(peer_caf_timers);

// Memory per idle actor: RSS growth over n idle actors with an 8-byte state (handles kept,
// 8 bytes each, as ours), one worker thread, measured in a fresh process once every actor
// has run its behavior function.
int64_t caf_idle_actor_rss(int64_t n) {
  caf_system s(true);
  std::vector<actor> actors;
  actors.reserve(static_cast<std::size_t>(n));
  const int64_t before = bench::rss_bytes();
  for (int64_t i = 0; i < n; ++i) actors.push_back(s.sys.spawn(small_actor<&idle_started>, i));
  while (idle_started.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int64_t delta = bench::rss_bytes() - before;
  stop_all(actors);
  return delta;
}
const bench::memory_workload_registration caf_idle{"caf_idle_actor", &caf_idle_actor_rss};

void peer_caf_memory_per_idle_actor(benchmark::State& state) {
  const int64_t n = bench::size(1'000'000);
  for (auto _ : state) {
    int64_t delta = bench::in_fresh_process("caf_idle_actor", n);
    if (delta < 0) state.SkipWithError("the measuring process failed");
    state.counters["bytes_per_actor"] = static_cast<double>(delta) / static_cast<double>(n);
  }
}
BENCHMARK(peer_caf_memory_per_idle_actor)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
