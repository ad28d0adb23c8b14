// SPDX-License-Identifier: MIT OR Apache-2.0
// The self-call and ping-pong workloads, shared by core_bench.cpp (the Savina group) and
// observe_bench.cpp (the same work with observability on and off, and built against a core
// with the hooks compiled out). In an unnamed namespace: each benchmark file compiles its own
// copy of the actors and their queued calls, as when the bodies were its own, rather than
// the linker keeping one file's copy (inlined as that file's compiler saw fit) for both.
#pragma once

#include <cstdint>
#include <utility>

#include "bench_support.hpp"
#include "stakker/stakker.hpp"

namespace bench {
namespace {

// (i) one actor calling itself: tick(n) queues tick(n-1). One item outstanding at a time.
struct ticker {
  std::int64_t count = 0;
  static ticker init(stakker::cx<ticker>&) { return {}; }
  void tick(stakker::cx<ticker>& x, std::int64_t n) {
    ++count;
    if (n > 0) x.call<&ticker::tick>(n - 1);
  }
};

// A self-call chain of `n` calls to `a` (from `Member(n - 1)` down to 0), run to the end.
template <auto Member, class Actor>
void self_call_once(stakker::runtime& rt, Actor& a, std::int64_t n) {
  stakker::call<Member>(a, n - 1);
  rt.run(rt.now(), false);
}

// (ii) two actors bouncing a counter: one message = one queued call.
struct player {
  stakker::actor<player> peer;
  std::int64_t received = 0;
  static player init(stakker::cx<player>&) { return {}; }
  void set_peer(stakker::cx<player>&, stakker::actor<player> p) { peer = std::move(p); }
  void ball(stakker::cx<player>&, std::int64_t n) {
    ++received;
    if (n > 0) stakker::call<&player::ball>(peer, n - 1);
  }
};

// Two players of type P (with P::set_peer), each the other's peer, ready to play.
template <class P>
struct player_pair {
  stakker::actor_own<P> a, b;
  explicit player_pair(stakker::runtime& rt)
      : a(stakker::make_actor<&P::init>(rt, stakker::ret_nop<stakker::stop_cause>())),
        b(stakker::make_actor<&P::init>(rt, stakker::ret_nop<stakker::stop_cause>())) {
    stakker::call<&P::set_peer>(a, b.ref());
    stakker::call<&P::set_peer>(b, a.ref());
    rt.run(rt.now(), false);
  }
  // The balls both received.
  std::int64_t received(stakker::runtime& rt) {
    auto ra = stakker::inspect(rt, a, [](P& p) { return p.received; });
    auto rb = stakker::inspect(rt, b, [](P& p) { return p.received; });
    return ra && rb ? *ra + *rb : -1;
  }
  // Breaks the reference cycle between the two players.
  void part(stakker::runtime& rt) {
    stakker::call<&P::set_peer>(a, stakker::actor<P>());
    stakker::call<&P::set_peer>(b, stakker::actor<P>());
    rt.run(rt.now(), false);
  }
};

// A rally of `n` balls from `a`, run to the end.
template <class P>
void ping_pong_once(stakker::runtime& rt, player_pair<P>& p, std::int64_t n) {
  stakker::call<&P::ball>(p.a, n - 1);
  rt.run(rt.now(), false);
}

// The whole benchmarks: 10M self-calls, and a 10M-ball rally, per iteration, checked.
inline void self_call_bench(benchmark::State& state) {
  const std::int64_t n = size(10'000'000);
  stakker::runtime rt;
  auto a = stakker::make_actor<&ticker::init>(rt, stakker::ret_nop<stakker::stop_cause>());
  rt.run(rt.now(), false);
  for (auto _ : state) self_call_once<&ticker::tick>(rt, a, n);
  auto count = stakker::inspect(rt, a, [](ticker& t) { return t.count; });
  if (!count || *count != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("self_call: wrong count");
  per_op(state, n);
}

inline void ping_pong_bench(benchmark::State& state) {
  const std::int64_t n = size(10'000'000);
  stakker::runtime rt;
  player_pair<player> p(rt);
  for (auto _ : state) ping_pong_once(rt, p, n);
  if (p.received(rt) != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("ping_pong: wrong count");
  p.part(rt);
  per_op(state, n);
}

}  // namespace
}  // namespace bench
