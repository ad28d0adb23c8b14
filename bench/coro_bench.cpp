// SPDX-License-Identifier: MIT OR Apache-2.0
// The coroutine bridge: spawn + complete, round trips between actors and
// coroutines (ret_pipe, query, a nested task), items through a fwd_stream, and when_all.
// The Asio equivalents are in peers/asio_coro_bench.cpp under the same names
// (BM_coro_spawn/stakker beside BM_coro_spawn/asio, ...). Each workload checks a sum.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "bench_support.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;
using stakker::coro::task;

// What the answers added up to, and how many there were.
struct tally {
  std::int64_t sum = 0;
  std::int64_t count = 0;
  void add(std::optional<int> v) {
    if (v) {
      sum += *v;
      ++count;
    }
  }
};

task<int> trivial(int v) { co_return v; }

// --- (1) spawn + complete: `batch` spawns, then one run (batch:1 is spawn, run, spawn, ...).

// The spawned totals per iteration; the batch is the benchmark's argument.
struct spawn_sizes {
  std::int64_t total;
  std::int64_t batch;
  explicit spawn_sizes(const benchmark::State& state)
      : total(bench::size(1'000'000)), batch(std::min<std::int64_t>(state.range(0), total)) {}
  std::int64_t rounds() const { return total / batch; }
  std::int64_t ops() const { return rounds() * batch; }
};

void check_tally(benchmark::State& state, const tally& t, std::int64_t sum, std::int64_t count,
                 const char* what) {
  if (t.sum != sum || t.count != count) state.SkipWithError(what);
}

// Spawned at loop level, the value delivered to a ret_do (synchronous, no allocation).
void coro_spawn_stakker(benchmark::State& state) {
  const spawn_sizes sz(state);
  runtime rt;
  tally t;
  std::int64_t expect = 0;
  for (auto _ : state) {
    for (std::int64_t r = 0; r < sz.rounds(); ++r) {
      for (std::int64_t i = 0; i < sz.batch; ++i) {
        const int v = static_cast<int>(i);
        expect += v;
        coro::spawn(rt, trivial(v), ret_do<int>([&t](std::optional<int> x) { t.add(x); }));
      }
      rt.run(rt.now(), false);
    }
  }
  check_tally(state, t, expect, sz.ops() * static_cast<std::int64_t>(state.iterations()),
              "coro_spawn: wrong sum");
  bench::per_op(state, sz.ops());
}
BENCHMARK(coro_spawn_stakker)
    ->Name("BM_coro_spawn/stakker")
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(100)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond);

// An actor collecting the values (ret_some_to: one more queued call per spawn), and
// spawning tasks tied to itself (spawn from a cx).
struct collector {
  tally t;
  static collector init(cx<collector>&) { return {}; }
  void got(cx<collector>&, int v) { t.add(v); }
  void spawn_batch(cx<collector>& x, std::int64_t batch) {
    for (std::int64_t i = 0; i < batch; ++i)
      coro::spawn(x, trivial(static_cast<int>(i)),
                  ret_some_to<int, &collector::got>(x.this_actor()));
  }
};

tally collected(runtime& rt, const actor_own<collector>& a) {
  return inspect(rt, a, [](collector& c) { return c.t; }).value_or(tally{});
}

void coro_spawn_stakker_ret_to(benchmark::State& state) {
  const spawn_sizes sz(state);
  runtime rt;
  auto a = make_actor<&collector::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  std::int64_t expect = 0;
  for (auto _ : state) {
    for (std::int64_t r = 0; r < sz.rounds(); ++r) {
      for (std::int64_t i = 0; i < sz.batch; ++i) {
        const int v = static_cast<int>(i);
        expect += v;
        coro::spawn(rt, trivial(v), ret_some_to<int, &collector::got>(a));
      }
      rt.run(rt.now(), false);
    }
  }
  check_tally(state, collected(rt, a), expect,
              sz.ops() * static_cast<std::int64_t>(state.iterations()),
              "coro_spawn_ret_to: wrong sum");
  bench::per_op(state, sz.ops());
}
BENCHMARK(coro_spawn_stakker_ret_to)
    ->Name("BM_coro_spawn/stakker_ret_to")
    ->ArgName("batch")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);

void coro_spawn_stakker_from_actor(benchmark::State& state) {
  const spawn_sizes sz(state);
  runtime rt;
  auto a = make_actor<&collector::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  for (auto _ : state) {
    for (std::int64_t r = 0; r < sz.rounds(); ++r) {
      call<&collector::spawn_batch>(a, sz.batch);
      rt.run(rt.now(), false);
    }
  }
  const std::int64_t rounds = sz.rounds() * static_cast<std::int64_t>(state.iterations());
  check_tally(state, collected(rt, a), rounds * (sz.batch * (sz.batch - 1) / 2), rounds * sz.batch,
              "coro_spawn_from_actor: wrong sum");
  bench::per_op(state, sz.ops());
}
BENCHMARK(coro_spawn_stakker_from_actor)
    ->Name("BM_coro_spawn/stakker_from_actor")
    ->ArgName("batch")
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);

// --- (2), (3) round trips: one task awaiting an actor's answer n times.

struct echo_server {
  static echo_server init(cx<echo_server>&) { return {}; }
  void echo(cx<echo_server>&, int v, ret<int> r) { r(v); }
};

// The expected sum of the values 0..n-1 taken modulo 1000 (so each fits an int).
std::int64_t mod_sum(std::int64_t n) {
  const std::int64_t full = n / 1000, rest = n % 1000;
  return full * (999 * 1000 / 2) + rest * (rest - 1) / 2;
}

// Spawns `make(rt, n)` (a task<std::int64_t>) once per iteration and runs it to the end;
// checks that it summed mod_sum(n).
template <class Make>
void run_loop_task(benchmark::State& state, runtime& rt, std::int64_t n, const char* what,
                   Make make) {
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::optional<std::int64_t> got;
    coro::spawn(rt, make(rt, n),
                ret_do<std::int64_t>([&got](std::optional<std::int64_t> v) { got = v; }));
    rt.run(rt.now(), false);
    if (got != mod_sum(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError(what);
  bench::per_op(state, n);
}

// (2) actor → coroutine → actor: the task sends the ret of a fresh ret_pipe to the actor,
// which answers it; the task awaits the pipe.
task<std::int64_t> pipe_loop(core& c, actor<echo_server> s, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto [aw, r] = coro::ret_pipe<int>(c);
    call<&echo_server::echo>(s, static_cast<int>(i % 1000), std::move(r));
    sum += co_await std::move(aw);
  }
  co_return sum;
}

void coro_round_trip_ret_pipe(benchmark::State& state) {
  runtime rt;
  auto s = make_actor<&echo_server::init>(rt, ret_nop<stop_cause>());
  run_loop_task(state, rt, bench::size(5'000'000), "coro_round_trip/ret_pipe: wrong sum",
                [&s](core& c, std::int64_t n) { return pipe_loop(c, s.ref(), n); });
}
BENCHMARK(coro_round_trip_ret_pipe)
    ->Name("BM_coro_round_trip/stakker_ret_pipe")
    ->Unit(benchmark::kMillisecond);

// (3) the same through query: `co_await query<&A::m>(actor, x)`.
task<std::int64_t> query_loop(actor<echo_server> s, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i)
    sum += co_await coro::query<&echo_server::echo>(s, static_cast<int>(i % 1000));
  co_return sum;
}

void coro_round_trip_query(benchmark::State& state) {
  runtime rt;
  auto s = make_actor<&echo_server::init>(rt, ret_nop<stop_cause>());
  run_loop_task(state, rt, bench::size(5'000'000), "coro_round_trip/query: wrong sum",
                [&s](core&, std::int64_t n) { return query_loop(s.ref(), n); });
}
BENCHMARK(coro_round_trip_query)
    ->Name("BM_coro_round_trip/stakker_query")
    ->Unit(benchmark::kMillisecond);

// A nested task awaited n times (no actor, no queue: symmetric transfer in and out), the
// counterpart of Asio's nested awaitable.
task<std::int64_t> nested_loop(core&, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await trivial(static_cast<int>(i % 1000));
  co_return sum;
}

void coro_round_trip_task(benchmark::State& state) {
  runtime rt;
  run_loop_task(state, rt, bench::size(10'000'000), "coro_round_trip/task: wrong sum",
                &nested_loop);
}
BENCHMARK(coro_round_trip_task)
    ->Name("BM_coro_round_trip/stakker_task")
    ->Unit(benchmark::kMillisecond);

// --- (4) fwd_stream: items per second from a producer actor to a reading task.

template <class Reader>
task<std::int64_t> sum_stream(Reader rd) {
  std::int64_t sum = 0;
  while (auto v = co_await rd.next()) sum += *v;
  co_return sum;
}

struct producer {
  fwd<std::optional<int>> out;
  std::int64_t next = 0;
  std::int64_t end = 0;
  static producer init(cx<producer>&) { return {}; }
  // Push mode: all n items at once, then the end.
  void produce(cx<producer>&, fwd<std::optional<int>> f, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) f(static_cast<int>(i % 1000));
    f(std::nullopt);
  }
  // Pull mode: one item per `more` (a queued call), then the end.
  void start(cx<producer>&, fwd<std::optional<int>> f, std::int64_t n) {
    out = std::move(f);
    next = 0;
    end = n;
  }
  void more(cx<producer>&) {
    if (!out) return;
    if (next < end) {
      out(static_cast<int>(next++ % 1000));
    } else {
      out(std::nullopt);
      out = {};
    }
  }
};

template <bool Pull>
void coro_stream(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  runtime rt;
  auto p = make_actor<&producer::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::optional<std::int64_t> got;
    auto done = ret_do<std::int64_t>([&got](std::optional<std::int64_t> v) { got = v; });
    if constexpr (Pull) {
      auto [reader, f] = coro::fwd_stream<int>(rt, fwd_to<void, &producer::more>(p));
      call<&producer::start>(p, std::move(f), n);
      coro::spawn(rt, sum_stream(std::move(reader)), std::move(done));
    } else {
      auto [reader, f] = coro::fwd_stream<int>(rt);
      coro::spawn(rt, sum_stream(std::move(reader)), std::move(done));
      call<&producer::produce>(p, std::move(f), n);
    }
    rt.run(rt.now(), false);
    if (got != mod_sum(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError("coro_stream: wrong sum");
  bench::per_op(state, n);
}
BENCHMARK(coro_stream<false>)->Name("BM_coro_stream/stakker_push")->Unit(benchmark::kMillisecond);
BENCHMARK(coro_stream<true>)->Name("BM_coro_stream/stakker_pull")->Unit(benchmark::kMillisecond);

// --- (5) when_all of 10 trivial tasks, n times inside one task.

std::int64_t when_all_expect(std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += 10 * (i % 1000) + 45;
  return sum;
}

task<std::int64_t> when_all_loop(std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const int b = static_cast<int>(i % 1000);
    auto [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9] = co_await coro::when_all(
        trivial(b), trivial(b + 1), trivial(b + 2), trivial(b + 3), trivial(b + 4), trivial(b + 5),
        trivial(b + 6), trivial(b + 7), trivial(b + 8), trivial(b + 9));
    sum += v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9;
  }
  co_return sum;
}

void coro_when_all(benchmark::State& state) {
  const std::int64_t n = bench::size(200'000);
  runtime rt;
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::optional<std::int64_t> got;
    coro::spawn(rt, when_all_loop(n),
                ret_do<std::int64_t>([&got](std::optional<std::int64_t> v) { got = v; }));
    rt.run(rt.now(), false);
    if (got != when_all_expect(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError("coro_when_all: wrong sum");
  bench::per_op(state, n);
}
BENCHMARK(coro_when_all)->Name("BM_coro_when_all/stakker")->Unit(benchmark::kMillisecond);

}  // namespace
