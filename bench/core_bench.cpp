// SPDX-License-Identifier: MIT OR Apache-2.0
// The foundation's workloads: self-call, ping-pong, ret round trip, actor lifecycle, and
// memory per idle actor. The same workloads for the peers are in peers/; self-call and
// ping-pong are in core_workloads.hpp, shared with observe_bench.cpp.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench_support.hpp"
#include "core_workloads.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;

// (i) one actor calling itself (bench::ticker): tick(n) queues tick(n-1). One item
// outstanding at a time.
void self_call(benchmark::State& state) { bench::self_call_bench(state); }
BENCHMARK(self_call)->Apply(bench::savina);

// (ii) two actors bouncing a counter (bench::player): one message = one queued call.
void ping_pong(benchmark::State& state) { bench::ping_pong_bench(state); }
BENCHMARK(ping_pong)->Apply(bench::savina);

// (iii) request/response: the client asks, the server answers through a ret, the answer
// (a queued call to the client) triggers the next request.
struct server {
  std::int64_t value = 0;
  static server init(cx<server>&) { return {}; }
  void get(cx<server>&, ret<std::int64_t> r) { r(++value); }
};
struct client {
  actor<server> srv;
  std::int64_t left = 0;
  std::int64_t last = 0;
  static client init(cx<client>&, actor<server> s) { return client{std::move(s)}; }
  void start(cx<client>& x, std::int64_t n) {
    left = n;
    ask(x);
  }
  void ask(cx<client>& x) {
    call<&server::get>(srv, ret_some_to<std::int64_t, &client::answer>(x.this_actor()));
  }
  void answer(cx<client>& x, std::int64_t v) {
    last = v;
    if (--left > 0) ask(x);
  }
};

void ret_round_trip(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  runtime rt;
  auto s = make_actor<&server::init>(rt, ret_nop<stop_cause>());
  auto c = make_actor<&client::init>(rt, ret_nop<stop_cause>(), s.ref());
  rt.run(rt.now(), false);
  for (auto _ : state) {
    call<&client::start>(c, n);
    rt.run(rt.now(), false);
  }
  auto last = inspect(rt, c, [](client& k) { return k.last; });
  if (!last || *last != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("ret_round_trip: wrong answer");
  bench::per_op(state, n);
}
BENCHMARK(ret_round_trip)->Apply(bench::savina);

// (iv) lifecycle: n actors created (with init) in a batch, run, then all dropped and run
// (termination, state destructor, notify, free). Page faults included.
struct small {
  std::int64_t v;
  static small init(cx<small>&, std::int64_t v) { return small{v}; }
};

void actor_lifecycle(benchmark::State& state) {
  const std::int64_t n = bench::size(state.range(0));
  runtime rt;
  std::vector<actor_own<small>> actors;
  actors.reserve(static_cast<std::size_t>(n));
  std::int64_t stopped = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n; ++i)
      actors.push_back(make_actor<&small::init>(
          rt, ret_do<stop_cause>([&stopped](std::optional<stop_cause>) { ++stopped; }), i));
    rt.run(rt.now(), false);
    actors.clear();
    rt.run(rt.now(), false);
  }
  if (stopped != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("actor_lifecycle: not every actor stopped");
  bench::per_op(state, n);
}
// 1M actors, and 10k: the count CAF's default scheduler is measured at (peers/caf_bench.cpp).
BENCHMARK(actor_lifecycle)->ArgName("actors")->Arg(1'000'000)->Arg(10'000)->Apply(bench::savina);

// (vi) memory: RSS delta over 1M idle Ready actors with an 8-byte state, notify callback
// included, handles included (8 bytes each in a vector), created in batches of 1000.
// Measured in a fresh process (see bench::in_fresh_process).
std::int64_t idle_actor_rss(std::int64_t n) {
  runtime rt;
  std::vector<actor_own<small>> actors;
  actors.reserve(static_cast<std::size_t>(n));
  rt.run(rt.now(), false);
  const std::int64_t before = bench::rss_bytes();
  for (std::int64_t i = 0; i < n; ++i) {
    actors.push_back(make_actor<&small::init>(rt, ret_nop<stop_cause>(), i));
    if (i % 1000 == 999) rt.run(rt.now(), false);
  }
  rt.run(rt.now(), false);
  rt.release_memory();
  return bench::rss_bytes() - before;
}

void memory_per_idle_actor(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  for (auto _ : state) {
    std::int64_t delta = bench::in_fresh_process("idle_actor", n);
    if (delta < 0) state.SkipWithError("memory_per_idle_actor: the measuring process failed");
    state.counters["bytes_per_actor"] = static_cast<double>(delta) / static_cast<double>(n);
    state.counters["block_bytes"] = static_cast<double>(sizeof(detail::actor_block_of<small>));
  }
}
BENCHMARK(memory_per_idle_actor)->Iterations(1)->Unit(benchmark::kMillisecond);
const bench::memory_workload_registration idle{"idle_actor", &idle_actor_rss};

}  // namespace
