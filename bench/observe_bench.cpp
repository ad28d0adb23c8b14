// SPDX-License-Identifier: MIT OR Apache-2.0
// What observability costs: self-call and ping-pong (core_workloads.hpp) with the hooks
// compiled in and everything off, with tracing, metrics, or a logger filtering out the
// records the workload writes; and, when this file is built against a core compiled with
// STAKKER_OBSERVE_HOOKS=0 (stakker_bench_nohooks), the same workloads without the hooks.
//
// Every variant runs in CPU time (the workloads are single-threaded), at least 0.5 s per
// repetition. A variant that is switched on (tracing, metrics, logging) alternates, in every
// iteration, a timed rally with it on and an untimed rally (benchmark timing paused) on a
// second runtime with everything off, each timed with the thread's CPU clock: the counters
// base_ns_per_op and slowdown (on / off), and for tracing ns_per_event, (on - off) / events
// recorded, then compare the two in the same process, in the same seconds.
#include <benchmark/benchmark.h>

#include <time.h>

#include <cstdint>
#include <string>
#include <utility>

#include "bench_support.hpp"
#include "core_workloads.hpp"
#include "stakker/stakker.hpp"

#if defined(STAKKER_BENCH_OBSERVE_LOG)
#include "stakker/observe/log.hpp"
#endif

namespace {

using namespace stakker;

// CPU time (not wall-clock: the machine is shared), at least 0.5 s per repetition as the
// Savina workloads (a --smoke run keeps its tiny minimum).
void observe_apply(benchmark::internal::Benchmark* b) {
  static const double min_time = bench::smoke() ? 0.001 : 0.5;
  b->MinTime(min_time)->Unit(benchmark::kMillisecond);
}

// --- everything off, or compiled out ---------------------------------------------------------

// The same bodies as core_bench.cpp's self_call and ping_pong; registered as observe_off/* in
// stakker_bench and as *_nohooks in stakker_bench_nohooks.
void plain_self_call(benchmark::State& state) { bench::self_call_bench(state); }
void plain_ping_pong(benchmark::State& state) { bench::ping_pong_bench(state); }

#if STAKKER_OBSERVE_HOOKS
BENCHMARK(plain_self_call)->Name("observe_off/self_call")->Apply(observe_apply);
BENCHMARK(plain_ping_pong)->Name("observe_off/ping_pong")->Apply(observe_apply);
#else
BENCHMARK(plain_self_call)->Name("self_call_nohooks")->Apply(observe_apply);
BENCHMARK(plain_ping_pong)->Name("ping_pong_nohooks")->Apply(observe_apply);
#endif

#if STAKKER_OBSERVE_HOOKS

// --- something switched on, against off in the same iterations ------------------------------

// This thread's CPU time in nanoseconds.
std::int64_t thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Runs `on(n)` timed and `off(n)` untimed in every iteration (which goes first alternates),
// each `n` operations; sets ns_per_op (on), base_ns_per_op (off) and slowdown (on / off).
// Returns the CPU nanoseconds of (on, off) over all iterations.
template <class On, class Off>
std::pair<double, double> alternate(benchmark::State& state, std::int64_t n, On&& on, Off&& off) {
  std::int64_t on_ns = 0, off_ns = 0;
  bool off_first = false;
  for (auto _ : state) {
    auto run_off = [&] {
      state.PauseTiming();
      const std::int64_t t0 = thread_cpu_ns();
      off(n);
      off_ns += thread_cpu_ns() - t0;
      state.ResumeTiming();
    };
    if (off_first) run_off();
    const std::int64_t t0 = thread_cpu_ns();
    on(n);
    on_ns += thread_cpu_ns() - t0;
    if (!off_first) run_off();
    off_first = !off_first;
  }
  bench::per_op(state, n);
  const double ops = static_cast<double>(n) * static_cast<double>(state.iterations());
  if (ops > 0 && off_ns > 0) {
    state.counters["base_ns_per_op"] = static_cast<double>(off_ns) / ops;
    state.counters["slowdown"] = static_cast<double>(on_ns) / static_cast<double>(off_ns);
  }
  return {static_cast<double>(on_ns), static_cast<double>(off_ns)};
}

// The "off" half of every alternating benchmark: the plain workloads on their own runtime.
struct plain_self {
  runtime rt;
  actor_own<bench::ticker> a = make_actor<&bench::ticker::init>(rt, ret_nop<stop_cause>());
  plain_self() { rt.run(rt.now(), false); }
  void operator()(std::int64_t n) { bench::self_call_once<&bench::ticker::tick>(rt, a, n); }
};
struct plain_pong {
  runtime rt;
  bench::player_pair<bench::player> p{rt};
  ~plain_pong() { p.part(rt); }
  void operator()(std::int64_t n) { bench::ping_pong_once(rt, p, n); }
};

// Tracing on (the default ring of 64k events, which a rally wraps many times): ns_per_event
// is the time tracing adds over the events it recorded (an enqueue and a call per op).
void record_events(benchmark::State& state, runtime& rt, double on_ns, double off_ns) {
  const trace_snapshot s = rt.trace_read();
  const double ops =
      static_cast<double>(bench::size(10'000'000)) * static_cast<double>(state.iterations());
  if (s.recorded == 0 || ops == 0) {
    state.SkipWithError("observe_trace: no events recorded");
    return;
  }
  state.counters["events_per_op"] = static_cast<double>(s.recorded) / ops;
  state.counters["ns_per_event"] = (on_ns - off_ns) / static_cast<double>(s.recorded);
}

void trace_self_call(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_self off;
  runtime rt;
  auto a = make_actor<&bench::ticker::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  rt.trace_start();
  auto [on_ns, off_ns] = alternate(
      state, n, [&](std::int64_t k) { bench::self_call_once<&bench::ticker::tick>(rt, a, k); },
      off);
  rt.trace_stop();
  record_events(state, rt, on_ns, off_ns);
}
BENCHMARK(trace_self_call)->Name("observe_trace/self_call")->Apply(observe_apply);

void trace_ping_pong(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_pong off;
  runtime rt;
  bench::player_pair<bench::player> p(rt);
  rt.trace_start();
  auto [on_ns, off_ns] = alternate(
      state, n, [&](std::int64_t k) { bench::ping_pong_once(rt, p, k); }, off);
  rt.trace_stop();
  record_events(state, rt, on_ns, off_ns);
  p.part(rt);
}
BENCHMARK(trace_ping_pong)->Name("observe_trace/ping_pong")->Apply(observe_apply);

// Metrics on: call counts and queue depth on every enqueue and call.
void metrics_check(benchmark::State& state, runtime& rt, std::int64_t n) {
  // Each rally: n calls run (its first call queued from outside an actor counts too).
  const auto rallies = static_cast<std::uint64_t>(state.iterations());
  if (rt.metrics().calls_run < static_cast<std::uint64_t>(n) * rallies)
    state.SkipWithError("observe_metrics: calls not counted");
}

void metrics_self_call(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_self off;
  runtime rt;
  auto a = make_actor<&bench::ticker::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  rt.metrics_enable();
  alternate(
      state, n, [&](std::int64_t k) { bench::self_call_once<&bench::ticker::tick>(rt, a, k); },
      off);
  metrics_check(state, rt, n);
}
BENCHMARK(metrics_self_call)->Name("observe_metrics/self_call")->Apply(observe_apply);

void metrics_ping_pong(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_pong off;
  runtime rt;
  bench::player_pair<bench::player> p(rt);
  rt.metrics_enable();
  alternate(
      state, n, [&](std::int64_t k) { bench::ping_pong_once(rt, p, k); }, off);
  metrics_check(state, rt, n);
  p.part(rt);
}
BENCHMARK(metrics_ping_pong)->Name("observe_metrics/ping_pong")->Apply(observe_apply);

#if defined(STAKKER_BENCH_OBSERVE_LOG)

// Logging on at info, and each member writing a debug record that the level filters out:
// the cost of STAKKER_LOG_DEBUG's test (the message is never formatted).
struct logging_ticker {
  std::int64_t count = 0;
  static logging_ticker init(cx<logging_ticker>&) { return {}; }
  void tick(cx<logging_ticker>& x, std::int64_t n) {
    ++count;
    STAKKER_LOG_DEBUG(x, "tick {}", n);
    if (n > 0) x.call<&logging_ticker::tick>(n - 1);
  }
};
struct logging_player {
  actor<logging_player> peer;
  std::int64_t received = 0;
  static logging_player init(cx<logging_player>&) { return {}; }
  void set_peer(cx<logging_player>&, actor<logging_player> p) { peer = std::move(p); }
  void ball(cx<logging_player>& x, std::int64_t n) {
    ++received;
    STAKKER_LOG_DEBUG(x, "ball {}", n);
    if (n > 0) call<&logging_player::ball>(peer, n - 1);
  }
};

// A logger at info that counts the messages reaching it (the audit records of actors
// starting and stopping do, at info; a workload's debug record must not).
void set_counting_logger(runtime& rt, std::int64_t& messages) {
  rt.set_logger(
      [&messages](const log_record& r) {
        if (r.kind == log_kind::message) ++messages;
      },
      log_level::info);
}

void log_filtered_self_call(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_self off;
  runtime rt;
  std::int64_t messages = 0;
  set_counting_logger(rt, messages);
  auto a = make_actor<&logging_ticker::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  alternate(
      state, n, [&](std::int64_t k) { bench::self_call_once<&logging_ticker::tick>(rt, a, k); },
      off);
  auto count = inspect(rt, a, [](logging_ticker& t) { return t.count; });
  if (!count || *count != n * static_cast<std::int64_t>(state.iterations()) || messages != 0)
    state.SkipWithError("observe_log_filtered: wrong count, or a debug record got through");
}
BENCHMARK(log_filtered_self_call)->Name("observe_log_filtered/self_call")->Apply(observe_apply);

void log_filtered_ping_pong(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  plain_pong off;
  runtime rt;
  std::int64_t messages = 0;
  set_counting_logger(rt, messages);
  bench::player_pair<logging_player> p(rt);
  alternate(
      state, n, [&](std::int64_t k) { bench::ping_pong_once(rt, p, k); }, off);
  if (p.received(rt) != n * static_cast<std::int64_t>(state.iterations()) || messages != 0)
    state.SkipWithError("observe_log_filtered: wrong count, or a debug record got through");
  p.part(rt);
}
BENCHMARK(log_filtered_ping_pong)->Name("observe_log_filtered/ping_pong")->Apply(observe_apply);

#endif  // STAKKER_BENCH_OBSERVE_LOG
#endif  // STAKKER_OBSERVE_HOOKS

}  // namespace
