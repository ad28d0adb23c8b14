// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the floor of our timer store's design, written by hand for the one workload its
// target is set on (1M timers, delays in [1 ms, 10 s), all fired by one run; the same
// delays as ../timers_bench.cpp). Two floors, each the least that a store of that kind does:
//
// - `peer_timers_floor/cancellable`: what any store must do that can delete a timer in O(1)
//   by key and destroy its closure there (as timer_del does): a slot per timer holding the
//   closure (64 bytes: a call pointer and an inline buffer, as a store of arbitrary closures
//   needs) and its generation, handed out in order; an entry (time, slot, generation) per
//   timer in a flat array. Firing sorts the entries by time (a stable LSD radix sort, three
//   passes of 12 bits over the 34 bits of the range, all counts in one pass), then walks them
//   in order, checks each slot's generation (prefetched 16 ahead), calls its closure in place
//   and frees it. No heap or buckets (every timer here is due at once, so none is needed),
//   no queue between firing and the call, no runtime.
// - `peer_timers_floor/queued`: the cancellable floor with our contract's order: every due
//   timer of the batch is moved out of its slot onto a queue (a reserved vector of 16-byte
//   closures) before any runs, then the queue is run in order. The least a store can do
//   that keeps design.md's timer row ("every timer of the batch is moved onto the main
//   queue, after what is queued").
// - `peer_timers_floor/sort_only`: no deletion at all: the closure is stored in the entry,
//   so firing streams through the sorted array and touches no slot. The least a timer
//   workload of this size costs on this machine.
//
// - `peer_timers_floor/delete_random`: the cancellable floor's delete, in the same random
//   order as `timers_delete` (1M timers set untimed, then each deleted by its key): read the
//   key, check the slot's generation, destroy its closure (the slot's call pointer cleared)
//   and bump the generation. Each delete touches one random slot of a 64 MB table, which is
//   what a delete that destroys its closure when it returns cannot avoid.
// - `peer_timers_floor/delete_destroy`: the same, with the closure an actor timer has: it
//   holds a counted reference (to one object, as the benchmark's timers all call one actor)
//   and is destroyed through its type-erased destructor (a call through the pointer kept in
//   the slot, which a store of arbitrary closures must make), and the slot goes onto a
//   free stack. The least `timer_del` of an actor timer does.
//
// Every slot table is allocated in 2 MB pieces asked to be backed by huge pages, as our
// store's is, so that the floors miss the TLB no more than ours.
//
// The sink is called directly (`++fired` through a function pointer): our store's figure
// also includes an actor call per timer, queued; these include none of that.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../bench_support.hpp"
#include "../timers_support.hpp"

namespace {

using tick = std::uint64_t;

struct sink {
  std::int64_t fired = 0;
  static void fire(void* s) { ++static_cast<sink*>(s)->fired; }
};

// Stable LSD radix sort of `n` records at `a` (with `b` as scratch) by `key(r) - lo`, which
// fits in `bits` (at most 36) bits: three passes of 12 bits, counted in one pass over `a`.
// The result ends in `b` (an odd number of passes).
template <class Rec, class Key>
void radix_sort(Rec* a, Rec* b, std::size_t n, tick lo, Key key) {
  constexpr int digit = 12;
  constexpr std::size_t size = std::size_t{1} << digit;
  static std::array<std::array<std::uint32_t, size>, 3> counts;
  for (auto& c : counts) c.fill(0);
  for (std::size_t i = 0; i < n; ++i) {
    const tick k = key(a[i]) - lo;
    ++counts[0][k & (size - 1)];
    ++counts[1][(k >> digit) & (size - 1)];
    ++counts[2][(k >> (2 * digit)) & (size - 1)];
  }
  for (auto& c : counts) {
    std::uint32_t sum = 0;
    for (auto& v : c) {
      const std::uint32_t here = v;
      v = sum;
      sum += here;
    }
  }
  Rec* from = a;
  Rec* to = b;
  for (int pass = 0; pass < 3; ++pass) {
    auto& c = counts[static_cast<std::size_t>(pass)];
    for (std::size_t i = 0; i < n; ++i) {
      const tick k = ((key(from[i]) - lo) >> (pass * digit)) & (size - 1);
      to[c[k]++] = from[i];
    }
    std::swap(from, to);
  }
  // three passes: the sorted records are in `b` (from == b)
}

// Checks that every timer of every iteration fired, and reports the two phases.
void report_fired(benchmark::State& state, const sink& s, std::int64_t n,
                  const bench::phase_clock& clk) {
  if (s.fired != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong number of timers fired");
  clk.report(state, n, {"schedule_ns", "fire_ns"}, "ns_per_op");
}

// The cancellable floor's slot: a type-erased closure and its generation, one cache line.
struct alignas(64) slot {
  void (*call)(void*) = nullptr;  // null: free
  std::uint32_t gen = 1;
  alignas(8) std::byte buf[40];
};

// `count` value-initialized Ts (trivially destructible) in memory asked to be backed by huge
// pages, as our store's slot table is.
template <class T>
class huge_table {
 public:
  explicit huge_table(std::size_t count) {
    static_assert(std::is_trivially_destructible_v<T>);
    const std::size_t bytes = (count * sizeof(T) + huge - 1) / huge * huge;
    mem_.reset(std::aligned_alloc(huge, bytes));
    if (mem_ == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    ::madvise(mem_.get(), bytes, MADV_HUGEPAGE);  // a hint: without huge pages all still works
#endif
    data_ = ::new (mem_.get()) T[count]();
  }
  T& operator[](std::size_t i) noexcept { return data_[i]; }

 private:
  static constexpr std::size_t huge = std::size_t{2} << 20;
  struct free_delete {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<void, free_delete> mem_;
  T* data_ = nullptr;
};

struct entry {
  tick when;
  std::uint32_t slot;
  std::uint32_t gen;
};

// A fired closure moved onto the queue.
struct queued_call {
  void (*call)(void*);
  void* target;
};

template <bool Queued>
void cancellable(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::long_lo, bench::long_hi);
  const auto count = static_cast<std::size_t>(n);
  huge_table<slot> slots(count);
  std::vector<entry> entries(count), scratch(count);
  std::vector<queued_call> queue;
  queue.reserve(Queued ? count : 0);
  sink s;
  tick now = 1'000'000'000;
  {
    // Once, untimed: the sort puts the entries in (time, insertion) order.
    for (std::size_t i = 0; i < count; ++i)
      entries[i] = {now + static_cast<tick>(delays[i].count()), static_cast<std::uint32_t>(i), 0};
    radix_sort(entries.data(), scratch.data(), count, now, [](const entry& e) { return e.when; });
    for (std::size_t i = 1; i < count; ++i) {
      const entry& a = scratch[i - 1];
      const entry& b = scratch[i];
      if (a.when > b.when || (a.when == b.when && a.slot > b.slot)) {
        state.SkipWithError("the floor's sort is wrong");
        return;
      }
    }
  }
  bench::phase_clock clk;
  for (auto _ : state) {
    clk.start();
    for (std::size_t i = 0; i < count; ++i) {
      slot& sl = slots[i];
      sl.call = &sink::fire;
      sink* target = &s;
      std::memcpy(sl.buf, &target, sizeof target);
      entries[i] = {now + static_cast<tick>(delays[i].count()), static_cast<std::uint32_t>(i),
                    sl.gen};
    }
    clk.lap(0);
    radix_sort(entries.data(), scratch.data(), count, now, [](const entry& e) { return e.when; });
    const entry* r = scratch.data();
    for (std::size_t i = 0; i < count; ++i) {
      if (i + 16 < count) __builtin_prefetch(&slots[r[i + 16].slot]);
      slot& sl = slots[r[i].slot];
      if (sl.gen != r[i].gen || sl.call == nullptr) continue;  // deleted
      void* target;
      std::memcpy(&target, sl.buf, sizeof target);
      if constexpr (Queued) {
        queue.push_back({sl.call, target});
      } else {
        sl.call(target);
      }
      sl.call = nullptr;
      ++sl.gen;
    }
    if constexpr (Queued) {
      for (const queued_call& q : queue) q.call(q.target);
      queue.clear();
    }
    clk.lap(1);
    now += static_cast<tick>(bench::long_past.count());
  }
  report_fired(state, s, n, clk);
}
BENCHMARK(cancellable<false>)->Name("peer_timers_floor/cancellable")->Unit(benchmark::kMillisecond);
BENCHMARK(cancellable<true>)->Name("peer_timers_floor/queued")->Unit(benchmark::kMillisecond);

struct closure_entry {
  tick when;
  void (*call)(void*);
  void* target;
};

void sort_only(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::long_lo, bench::long_hi);
  const auto count = static_cast<std::size_t>(n);
  std::vector<closure_entry> entries(count), scratch(count);
  sink s;
  tick now = 1'000'000'000;
  bench::phase_clock clk;
  for (auto _ : state) {
    clk.start();
    for (std::size_t i = 0; i < count; ++i)
      entries[i] = {now + static_cast<tick>(delays[i].count()), &sink::fire, &s};
    clk.lap(0);
    radix_sort(entries.data(), scratch.data(), count, now,
               [](const closure_entry& e) { return e.when; });
    for (const closure_entry& e : scratch) e.call(e.target);
    clk.lap(1);
    now += static_cast<tick>(bench::long_past.count());
  }
  report_fired(state, s, n, clk);
}
BENCHMARK(sort_only)->Name("peer_timers_floor/sort_only")->Unit(benchmark::kMillisecond);

void delete_random(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto delays = bench::timer_delays(n, bench::long_lo, bench::long_hi);
  const auto count = static_cast<std::size_t>(n);
  std::vector<std::uint32_t> perm(count);
  std::iota(perm.begin(), perm.end(), 0u);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(bench::timer_seed + 1));
  huge_table<slot> slots(count);
  std::vector<entry> entries(count);
  struct key {
    std::uint32_t slot, gen;
  };
  std::vector<key> keys(count);
  sink s;
  bench::phase_clock clk;
  std::int64_t deleted = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < count; ++i) {
      slot& sl = slots[i];
      sl.call = &sink::fire;
      sink* target = &s;
      std::memcpy(sl.buf, &target, sizeof target);
      entries[i] = {static_cast<tick>(delays[i].count()), static_cast<std::uint32_t>(i), sl.gen};
      keys[i] = {static_cast<std::uint32_t>(i), sl.gen};
    }
    clk.start();
    for (std::uint32_t i : perm) {
      const key k = keys[i];
      slot& sl = slots[k.slot];
      if (sl.gen != k.gen || sl.call == nullptr) continue;
      sl.call = nullptr;  // the closure's destruction (trivial here)
      ++sl.gen;
      ++deleted;
    }
    clk.lap(0);
    benchmark::DoNotOptimize(entries.data());
  }
  if (deleted != n * static_cast<std::int64_t>(state.iterations()) || s.fired != 0)
    state.SkipWithError("a delete failed");
  clk.report(state, n, {"ns_per_op"}, nullptr);
}
BENCHMARK(delete_random)->Name("peer_timers_floor/delete_random")->Unit(benchmark::kMillisecond);

// What an actor timer's closure holds: a counted reference to the actor.
struct counted {
  std::int64_t refs = 0;
};
// Its destructor, called through the slot's pointer (kept out of line, as a store of
// arbitrary closures cannot inline it).
[[gnu::noinline]] void release_counted(void* buf) noexcept {
  counted* c;
  std::memcpy(&c, buf, sizeof c);
  if (c != nullptr && --c->refs == 0) benchmark::DoNotOptimize(c);
}
struct alignas(64) destroy_slot {
  alignas(8) std::byte buf[40];
  void (*destroy)(void*) noexcept = nullptr;  // null: free
  std::uint32_t gen = 1;
};

void delete_destroy(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  const auto count = static_cast<std::size_t>(n);
  std::vector<std::uint32_t> perm(count);
  std::iota(perm.begin(), perm.end(), 0u);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(bench::timer_seed + 1));
  huge_table<destroy_slot> slots(count);
  struct key {
    std::uint32_t slot, gen;
  };
  std::vector<key> keys(count);
  std::vector<std::uint32_t> free_stack(count);
  std::size_t free_count = 0;
  counted target;
  bench::phase_clock clk;
  std::int64_t deleted = 0;
  for (auto _ : state) {
    free_count = 0;
    for (std::size_t i = 0; i < count; ++i) {
      destroy_slot& sl = slots[i];
      sl.destroy = &release_counted;
      counted* p = &target;
      ++target.refs;
      std::memcpy(sl.buf, &p, sizeof p);
      keys[i] = {static_cast<std::uint32_t>(i), sl.gen};
    }
    clk.start();
    for (std::uint32_t i : perm) {
      const key k = keys[i];
      destroy_slot& sl = slots[k.slot];
      if (sl.gen != k.gen || sl.destroy == nullptr) continue;
      std::exchange(sl.destroy, nullptr)(sl.buf);
      sl.gen = k.gen + 1;
      free_stack[free_count++] = k.slot;
      ++deleted;
    }
    clk.lap(0);
    benchmark::DoNotOptimize(free_stack.data());
    benchmark::ClobberMemory();
  }
  if (deleted != n * static_cast<std::int64_t>(state.iterations()) || target.refs != 0)
    state.SkipWithError("a delete failed");
  clk.report(state, n, {"ns_per_op"}, nullptr);
}
BENCHMARK(delete_destroy)->Name("peer_timers_floor/delete_destroy")->Unit(benchmark::kMillisecond);

}  // namespace
