// SPDX-License-Identifier: MIT OR Apache-2.0
// Timer workloads: 1M timers scheduled and fired, 1M deleted, one max
// timer pushed later 10M times, and a plain-closure form. The runtime is driven in virtual
// time (the loop passes in whatever instant it likes), as Rust Stakker's figure was, so the
// long workload ([1 ms, 10 s) delays) needs no waiting. The short workload ([1 µs, 10 ms)
// delays) is the one Asio's real-time steady_timer queue is measured on
// (peers/asio_timers_bench.cpp), with the same generator and seed.
//
// Phases are timed with steady_clock inside the iteration (PauseTiming costs more than it
// would hide) and reported as counters in ns per timer: schedule_ns, fire_ns, and
// ns_per_op for the two together (per delete, per update in those workloads). Delays are generated
// before the timed region.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "bench_support.hpp"
#include "stakker/stakker.hpp"
#include "timers_support.hpp"

namespace {

using namespace stakker;
using std::chrono::nanoseconds;

// The firing target: counts calls, as Rust Stakker's `fired()` did.
struct sink {
  std::int64_t fired = 0;
  static sink init(cx<sink>&) { return {}; }
  void fire(cx<sink>&) { ++fired; }
};

// Used once per benchmark, untimed, to prove the order: records which timer fired when.
struct recorder {
  std::vector<std::uint32_t>* order;
  static recorder init(cx<recorder>&, std::vector<std::uint32_t>* o) { return recorder{o}; }
  void fire(cx<recorder>&, std::uint32_t i) { order->push_back(i); }
};

// Schedules `delays` on a fresh runtime with timers naming their index, runs once past the
// last, and checks that every timer fired exactly once, in (delay, insertion) order.
bool fires_in_order(const std::vector<duration>& delays, duration past) {
  runtime rt;
  std::vector<std::uint32_t> order;
  order.reserve(delays.size());
  auto r = make_actor<&recorder::init>(rt, ret_nop<stop_cause>(), &order);
  rt.run(rt.now(), false);
  for (std::size_t i = 0; i < delays.size(); ++i)
    after<&recorder::fire>(r, delays[i], static_cast<std::uint32_t>(i));
  rt.run(rt.now() + past, false);
  if (order.size() != delays.size() || rt.timer_count() != 0) return false;
  std::vector<bool> seen(delays.size(), false);
  for (std::size_t k = 0; k < order.size(); ++k) {
    std::uint32_t i = order[k];
    if (seen[i]) return false;
    seen[i] = true;
    if (k == 0) continue;
    std::uint32_t p = order[k - 1];
    if (delays[i] < delays[p] || (delays[i] == delays[p] && i < p)) return false;
  }
  return true;
}

// (1) 1M actor timers, `after<&sink::fire>(actor, d)`, then one run past the last expiry.
void schedule_and_fire(benchmark::State& state, duration lo, duration hi, duration past) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, lo, hi);
  if (!fires_in_order(delays, past)) {
    state.SkipWithError("timers fired out of order, twice or not at all");
    return;
  }
  runtime rt;
  auto a = make_actor<&sink::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  bench::phase_clock clk;
  for (auto _ : state) {
    clk.start();
    for (duration d : delays) after<&sink::fire>(a, d);
    clk.lap(0);
    rt.run(rt.now() + past, false);
    clk.lap(1);
    if (rt.timer_count() != 0) state.SkipWithError("timers left pending");
  }
  auto fired = inspect(rt, a, [](sink& s) { return s.fired; });
  if (!fired || *fired != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong number of timers fired");
  clk.report(state, n, {"schedule_ns", "fire_ns"}, "ns_per_op");
}

void timers_schedule_and_fire(benchmark::State& state) {
  schedule_and_fire(state, bench::long_lo, bench::long_hi, bench::long_past);
}
BENCHMARK(timers_schedule_and_fire)->Unit(benchmark::kMillisecond);

// The same with [1 µs, 10 ms) delays: the workload Asio is measured on.
void timers_schedule_and_fire_short(benchmark::State& state) {
  schedule_and_fire(state, bench::short_lo, bench::short_hi, bench::short_past);
}
BENCHMARK(timers_schedule_and_fire_short)->Unit(benchmark::kMillisecond);

// (4) The long workload with plain closures: core::after(d, closure), an 8-byte capture.
void timers_schedule_and_fire_closure(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::long_lo, bench::long_hi);
  runtime rt;
  std::int64_t fired = 0;
  bench::phase_clock clk;
  for (auto _ : state) {
    clk.start();
    for (duration d : delays) rt.after(d, [&fired](core&) { ++fired; });
    clk.lap(0);
    rt.run(rt.now() + bench::long_past, false);
    clk.lap(1);
    if (rt.timer_count() != 0) state.SkipWithError("timers left pending");
  }
  if (fired != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong number of timers fired");
  clk.report(state, n, {"schedule_ns", "fire_ns"}, "ns_per_op");
}
BENCHMARK(timers_schedule_and_fire_closure)->Unit(benchmark::kMillisecond);

// (2) 1M actor timers scheduled (untimed), then all deleted in a fixed random order (timed).
void delete_timers(benchmark::State& state, bool random_order) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::long_lo, bench::long_hi);
  std::vector<std::uint32_t> perm(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<std::uint32_t>(i);
  if (random_order) std::shuffle(perm.begin(), perm.end(), std::mt19937_64(bench::timer_seed + 1));
  runtime rt;
  auto a = make_actor<&sink::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  std::vector<timer_key> keys(static_cast<std::size_t>(n));
  bench::phase_clock clk;
  std::int64_t deleted = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = after<&sink::fire>(a, delays[i]);
    clk.start();
    for (std::uint32_t i : perm) deleted += rt.timer_del(keys[i]) ? 1 : 0;
    clk.lap(0);
    if (rt.timer_count() != 0) state.SkipWithError("timers left after deleting them all");
    rt.run(rt.now() + bench::long_past, false);  // nothing may fire
  }
  auto fired = inspect(rt, a, [](sink& s) { return s.fired; });
  if (deleted != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("a delete returned false");
  if (!fired || *fired != 0) state.SkipWithError("a deleted timer fired");
  clk.report(state, n, {"ns_per_op"}, nullptr);
}

// Deleted in a fixed random order: every delete touches a random slot of a 64 MB table.
void timers_delete(benchmark::State& state) { delete_timers(state, true); }
BENCHMARK(timers_delete)->Unit(benchmark::kMillisecond);

// Deleted in the order they were set (timeouts cancelled as their replies arrive).
void timers_delete_in_order(benchmark::State& state) { delete_timers(state, false); }
BENCHMARK(timers_delete_in_order)->Unit(benchmark::kMillisecond);

// (3) One max timer moved later 10M times (each update later than the last), then one run
// past the final expiry: it must fire exactly once. The whole iteration is timed.
void timers_max_update_later(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  runtime rt;
  auto a = make_actor<&sink::init>(rt, ret_nop<stop_cause>());
  rt.run(rt.now(), false);
  bench::phase_clock clk;
  std::int64_t updated = 0;
  for (auto _ : state) {
    clk.start();
    const instant base = rt.now() + std::chrono::milliseconds(300);
    auto k = timer_max_add<&sink::fire>(a, base);
    for (std::int64_t i = 1; i <= n; ++i) updated += rt.timer_max_upd(k, base + nanoseconds(i));
    rt.run(base + nanoseconds(n), false);
    clk.lap(0);
    if (rt.timer_count() != 0) state.SkipWithError("max timer still pending");
  }
  auto fired = inspect(rt, a, [](sink& s) { return s.fired; });
  if (updated != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("an update returned false");
  if (!fired || *fired != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("the max timer did not fire exactly once per iteration");
  clk.report(state, n, {"ns_per_op"}, nullptr);
}
BENCHMARK(timers_max_update_later)->Unit(benchmark::kMillisecond);

}  // namespace
