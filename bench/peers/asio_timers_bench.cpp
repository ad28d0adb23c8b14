// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: Asio's steady_timer queue on one io_context, on the short timer workload (1M timers,
// [1 µs, 10 ms) delays, same generator and seed as ours; see ../timers_bench.cpp).
//
// Asio runs in real time, so the delays are short enough not to wait on: scheduling 1M
// timers takes far longer than 10 ms, so by the time io_context::run starts almost every
// timer is due, and run() spends its time in the timer queue and handlers, not asleep. The
// counters show it: fire_cpu_ns is the CPU time of the run() phase (equal to fire_ns when
// nothing sleeps), and last_due_ms is how long after run() started the last timer was due
// (negative: all were due already).
//
// The 1M steady_timer objects are constructed once, outside the timed region, and reused by
// every iteration, as a program holds a timer per connection or per request object and
// re-arms it (Asio's examples keep timers as members). Each iteration re-arms them with
// expires_after(d) (which reads the clock, as Asio's API does) and async_wait; handlers
// allocate through Asio's recycling allocator, nothing more.
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <vector>

#include "../bench_support.hpp"
#include "../timers_support.hpp"

namespace {

struct tally {
  std::int64_t fired = 0;
  std::int64_t out_of_order = 0;
  std::int64_t errors = 0;
  asio::steady_timer::time_point last{};
  void hit(asio::steady_timer::time_point t) {
    if (t < last) ++out_of_order;
    last = t;
    ++fired;
  }
};

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

void peer_asio_steady_timer_schedule_and_fire_short(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::short_lo, bench::short_hi);
  asio::io_context io(1);
  std::vector<asio::steady_timer> timers;
  timers.reserve(delays.size());
  for (std::size_t i = 0; i < delays.size(); ++i) timers.emplace_back(io);
  tally t;
  bench::phase_clock clk;
  double fire_cpu = 0;
  double last_due_ms = 0;
  for (auto _ : state) {
    t.last = {};
    clk.start();
    for (std::size_t i = 0; i < timers.size(); ++i) {
      timers[i].expires_after(delays[i]);
      timers[i].async_wait([&t, when = timers[i].expiry()](const asio::error_code& ec) {
        if (ec)
          ++t.errors;
        else
          t.hit(when);
      });
    }
    clk.lap(0);
    const auto run_start = asio::steady_timer::clock_type::now();
    const double cpu0 = thread_cpu_ns();
    io.restart();
    io.run();
    fire_cpu += thread_cpu_ns() - cpu0;
    clk.lap(1);
    auto latest = run_start;
    for (const auto& tm : timers) latest = std::max(latest, tm.expiry());
    last_due_ms = std::max(last_due_ms,
                           std::chrono::duration<double, std::milli>(latest - run_start).count());
  }
  if (t.fired != n * static_cast<std::int64_t>(state.iterations()) || t.errors != 0)
    state.SkipWithError("wrong number of timers fired");
  if (t.out_of_order != 0) state.SkipWithError("timers fired out of order");
  clk.report(state, n, {"schedule_ns", "fire_ns"}, "ns_per_op");
  state.counters["fire_cpu_ns"] =
      fire_cpu / (static_cast<double>(state.iterations()) * static_cast<double>(n));
  state.counters["last_due_ms"] = last_due_ms;
}
BENCHMARK(peer_asio_steady_timer_schedule_and_fire_short)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
