// SPDX-License-Identifier: MIT OR Apache-2.0
// Savina-style workloads beyond the foundation's (core_bench.cpp): the counting actor, the
// thread ring and fork-join. Each is written as a user of this library would write it and
// checks a value at the end, as the peers' versions (peers/caf_bench.cpp,
// peers/asio_savina_bench.cpp) do.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench_support.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;

// Counting actor: a producer sends n increments to a counter, all in one go, then asks for
// the count through a ret. One op = one increment message.
struct counter {
  std::int64_t count = 0;
  static counter init(cx<counter>&) { return {}; }
  void increment(cx<counter>&) { ++count; }
  void get(cx<counter>&, ret<std::int64_t> r) { r(count); }
};
struct producer {
  actor<counter> target;
  std::int64_t answer = 0;
  static producer init(cx<producer>&, actor<counter> c) { return producer{std::move(c)}; }
  void start(cx<producer>& x, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) call<&counter::increment>(target);
    call<&counter::get>(target, ret_some_to<std::int64_t, &producer::total>(x.this_actor()));
  }
  void total(cx<producer>&, std::int64_t v) { answer = v; }
};

void savina_counting(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  runtime rt;
  auto c = make_actor<&counter::init>(rt, ret_nop<stop_cause>());
  auto p = make_actor<&producer::init>(rt, ret_nop<stop_cause>(), c.ref());
  rt.run(rt.now(), false);
  std::int64_t iterations = 0;
  for (auto _ : state) {
    call<&producer::start>(p, n);
    rt.run(rt.now(), false);
    ++iterations;
    auto answer = inspect(rt, p, [](producer& q) { return q.answer; });
    if (!answer || *answer != n * iterations) state.SkipWithError("counting: wrong count");
  }
  bench::per_op(state, n);
}
BENCHMARK(savina_counting)->Apply(bench::savina);

// Thread ring: 503 actors in a ring pass a token n hops. The actor that receives it with no
// hops left reports its index. One op = one hop (one queued call).
struct ring_result {
  std::int64_t finisher = -1;
  std::int64_t hops = 0;
};
struct ring_node {
  std::int64_t index;
  actor<ring_node> next;
  ring_result* result;
  static ring_node init(cx<ring_node>&, std::int64_t i, ring_result* r) {
    return ring_node{i, {}, r};
  }
  void link(cx<ring_node>&, actor<ring_node> n) { next = std::move(n); }
  void token(cx<ring_node>&, std::int64_t hops) {
    if (hops == 0) {
      result->finisher = index;
    } else {
      ++result->hops;
      call<&ring_node::token>(next, hops - 1);
    }
  }
};

void savina_thread_ring(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  runtime rt;
  ring_result result;
  std::vector<actor_own<ring_node>> ring;
  for (std::int64_t i = 0; i < bench::thread_ring_size; ++i)
    ring.push_back(make_actor<&ring_node::init>(rt, ret_nop<stop_cause>(), i, &result));
  for (std::int64_t i = 0; i < bench::thread_ring_size; ++i)
    call<&ring_node::link>(ring[static_cast<std::size_t>(i)],
                           ring[static_cast<std::size_t>((i + 1) % bench::thread_ring_size)].ref());
  rt.run(rt.now(), false);
  std::int64_t iterations = 0;
  for (auto _ : state) {
    result.finisher = -1;
    call<&ring_node::token>(ring[0], n);
    rt.run(rt.now(), false);
    ++iterations;
    if (result.finisher != bench::thread_ring_finisher(n) || result.hops != n * iterations)
      state.SkipWithError("thread ring: wrong finisher or hop count");
  }
  for (auto& node : ring) call<&ring_node::link>(node, actor<ring_node>());  // break the ring
  rt.run(rt.now(), false);
  bench::per_op(state, n);
}
BENCHMARK(savina_thread_ring)->Apply(bench::savina);

// Fork-join: a parent creates n workers, sends each one message; each worker computes and
// answers through a ret, and the parent drops the worker when the answer arrives (the worker
// then stops and is freed). One op = one worker's whole life.
struct joined {
  std::uint32_t slot;
  std::int64_t value;
};
struct worker {
  static worker init(cx<worker>&) { return {}; }
  void work(cx<worker>&, std::uint32_t slot, ret<joined> r) {
    r(joined{slot, bench::fork_join_answer(slot)});
  }
};
struct fork_parent {
  std::vector<actor_own<worker>> workers;
  std::int64_t sum = 0;
  std::int64_t live = 0;
  static fork_parent init(cx<fork_parent>&) { return {}; }
  void fork(cx<fork_parent>& x, std::int64_t n) {
    workers.resize(static_cast<std::size_t>(n));
    for (std::uint32_t i = 0; i < n; ++i) {
      workers[i] = make_actor<&worker::init>(x, ret_nop<stop_cause>());
      call<&worker::work>(workers[i], i, ret_some_to<joined, &fork_parent::join>(x.this_actor()));
    }
    live = n;
  }
  void join(cx<fork_parent>&, joined j) {
    sum += j.value;
    --live;
    workers[j.slot].reset();
  }
};

void savina_fork_join(benchmark::State& state) {
  const std::int64_t n = bench::size(state.range(0));
  runtime rt;
  auto p = make_actor<&fork_parent::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  const std::int64_t expected = bench::fork_join_sum(n);
  std::int64_t iterations = 0;
  for (auto _ : state) {
    call<&fork_parent::fork>(p, n);
    rt.run(rt.now(), false);
    ++iterations;
    auto done = inspect(rt, p, [](fork_parent& f) { return f.live == 0 ? f.sum : -1; });
    if (!done || *done != expected * iterations) state.SkipWithError("fork-join: wrong sum");
  }
  bench::per_op(state, n);
}
// 1M actors, and 10k: the count CAF's default scheduler is measured at (peers/caf_bench.cpp).
BENCHMARK(savina_fork_join)->ArgName("actors")->Arg(1'000'000)->Arg(10'000)->Apply(bench::savina);

}  // namespace
