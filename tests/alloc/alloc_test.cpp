// SPDX-License-Identifier: MIT OR Apache-2.0
// C3: small closures live inline. This binary replaces the global operator new and delete
// with counting versions; a test arms the counter around the work it measures, after a
// warm-up that lets the queues and the actor pool reach their working size.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stakker/stakker.hpp"

namespace {

// Counts allocations made by this thread while armed. Plain thread_locals with constant
// initialisation: usable from operator new at any time, even before main.
constinit thread_local bool armed = false;
constinit thread_local long allocations = 0;
// Out-of-memory injection: while non-negative, the allocations this thread may still make;
// the one after them fails (operator new throws std::bad_alloc), and so do all later ones
// until it is set back to -1.
constinit thread_local long allocations_left = -1;

bool fails() noexcept {
  if (allocations_left < 0) return false;
  if (allocations_left == 0) return true;
  --allocations_left;
  return false;
}

void* allocate(std::size_t n) {
  if (armed) ++allocations;
  if (fails()) return nullptr;
  void* p = std::malloc(n == 0 ? 1 : n);
  return p;
}

void* allocate_aligned(std::size_t n, std::align_val_t al) {
  if (armed) ++allocations;
  if (fails()) return nullptr;
  auto a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  std::size_t size = (n == 0 ? 1 : n + a - 1) / a * a;
  return std::aligned_alloc(a, size);
}

}  // namespace

// --- the replacements: every form of the global operator new and delete ---
// They are malloc-based by design; g++ cannot tell that free() matches them here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = allocate_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = allocate_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using stakker::actor;
using stakker::actor_own;
using stakker::call;
using stakker::core;
using stakker::cx;
using stakker::fwd;
using stakker::fwd_to;
using stakker::inspect;
using stakker::make_actor;
using stakker::ret;
using stakker::ret_do;
using stakker::ret_nop;
using stakker::ret_some_to;
using stakker::ret_to;
using stakker::runtime;
using stakker::stop_cause;

// Counts the allocations made between construction and stop() (or destruction).
class alloc_scope {
 public:
  alloc_scope() noexcept {
    allocations = 0;
    armed = true;
  }
  ~alloc_scope() { armed = false; }
  long stop() noexcept {
    armed = false;
    return allocations;
  }
};

constexpr int n = 10'000;

void run(runtime& rt) { rt.run(rt.now(), false); }

// Keeps the compiler from proving an allocation unused.
void* volatile sink;

TEST(alloc, the_counter_counts) {
  alloc_scope scope;
  void* p = ::operator new(24);
  sink = p;
  ::operator delete(p);
  void* q = ::operator new(64, std::align_val_t(64));
  sink = q;
  ::operator delete(q, std::align_val_t(64));
  EXPECT_EQ(scope.stop(), 2);
}

TEST(alloc, a_boxed_ret_allocates) {
  struct big {
    char bytes[64];
  };
  int got = 0;
  alloc_scope scope;
  {
    ret<int> r = ret_do<int>([b = big{}, &got](std::optional<int> v) { got = *v + b.bytes[0]; });
    r(1);
  }
  const long counted = scope.stop();
  EXPECT_EQ(got, 1);
  EXPECT_GE(counted, 1) << "the counter missed the box of a large capture";
}

TEST(alloc, deferred_closures_with_small_captures) {
  runtime rt;
  long sum = 0;
  auto burst = [&] {
    for (int i = 0; i < n; ++i) rt.defer([&sum, i](core&) { sum += i; });
    run(rt);
  };
  burst();  // warm-up: the queue grows its chunks
  alloc_scope scope;
  burst();
  burst();
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  EXPECT_EQ(sum, 3L * n * (n - 1) / 2);
}

struct acc {
  long sum = 0;
  static acc init(cx<acc>&) { return acc{}; }
  void add(cx<acc>&, int k) { sum += k; }
  void add_opt(cx<acc>&, std::optional<int> v) { sum += v.value_or(0); }
  void burst(cx<acc>& x, int count) {
    for (int i = 0; i < count; ++i) x.call<&acc::add>(i);
  }
  void burst_ptr(cx<acc>& x, int count) {
    for (int i = 0; i < count; ++i) x.call(&acc::add, i);
  }
};

long sum_of(runtime& rt, const actor_own<acc>& a) {
  return *inspect(rt, a, [](acc& s) { return s.sum; });
}

TEST(alloc, calls_to_an_actor) {
  runtime rt;
  auto a = make_actor<&acc::init>(rt, ret_nop<stop_cause>());
  auto calls = [&] {
    for (int i = 0; i < n; ++i) call<&acc::add>(a, i);
    run(rt);
    for (int i = 0; i < n; ++i) call(a, &acc::add, i);
    run(rt);
  };
  calls();  // warm-up
  alloc_scope scope;
  calls();
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  EXPECT_EQ(sum_of(rt, a), 4L * n * (n - 1) / 2);
}

TEST(alloc, cx_calls_from_inside_an_actor) {
  runtime rt;
  auto a = make_actor<&acc::init>(rt, ret_nop<stop_cause>());
  call<&acc::burst>(a, n);  // warm-up
  call<&acc::burst_ptr>(a, n);
  run(rt);
  alloc_scope scope;
  call<&acc::burst>(a, n);
  call<&acc::burst_ptr>(a, n);
  run(rt);
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  EXPECT_EQ(sum_of(rt, a), 4L * n * (n - 1) / 2);
}

// Answers every question with the next number.
struct server {
  int next = 0;
  static server init(cx<server>&) { return server{}; }
  void get(cx<server>&, ret<int> r) { r(next++); }
};

// Asks the server `left` times, one question at a time; each answer triggers the next.
struct client {
  actor<server> srv;
  int left = 0;
  long sum = 0;
  int nones = 0;
  static client init(cx<client>&, actor<server> s) { return client{std::move(s)}; }

  void start(cx<client>& x, int count, bool some) {
    left = count;
    ask(x, some);
  }
  void ask(cx<client>& x, bool some) {
    if (some)
      call<&server::get>(srv, ret_some_to<int, &client::got_some>(x.this_actor()));
    else
      call<&server::get>(srv, ret_to<int, &client::got>(x.this_actor()));
  }
  void got(cx<client>& x, std::optional<int> v) {
    if (v)
      sum += *v;
    else
      ++nones;
    if (--left > 0) ask(x, false);
  }
  void got_some(cx<client>& x, int v) {
    sum += v;
    if (--left > 0) ask(x, true);
  }
};

TEST(alloc, ret_round_trips_between_actors) {
  runtime rt;
  auto s = make_actor<&server::init>(rt, ret_nop<stop_cause>());
  auto c = make_actor<&client::init>(rt, ret_nop<stop_cause>(), s.ref());
  call<&client::start>(c, n, false);  // warm-up
  run(rt);
  call<&client::start>(c, n, true);
  run(rt);
  alloc_scope scope;
  call<&client::start>(c, n, false);
  run(rt);
  call<&client::start>(c, n, true);
  run(rt);
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  auto [sum, nones] =
      *inspect(rt, c, [](client& k) { return std::pair<long, int>(k.sum, k.nones); });
  EXPECT_EQ(nones, 0);
  EXPECT_EQ(sum, 4L * n * (4L * n - 1) / 2) << "not every round trip completed";
}

TEST(alloc, fwd_to_copies_and_calls) {
  runtime rt;
  auto a = make_actor<&acc::init>(rt, ret_nop<stop_cause>());
  auto calls = [&] {
    fwd<int> f = fwd_to<int, &acc::add>(a);
    for (int i = 0; i < n; ++i) {
      fwd<int> copy = f;
      copy(i);
    }
    run(rt);
  };
  calls();  // warm-up
  alloc_scope scope;
  calls();
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  EXPECT_EQ(sum_of(rt, a), 2L * n * (n - 1) / 2);
}

struct small {
  int id;
  long* destroyed;
  static small init(cx<small>&, int id, long* destroyed) { return small{id, destroyed}; }
  small(int i, long* d) : id(i), destroyed(d) {}
  small(small&& o) noexcept : id(o.id), destroyed(std::exchange(o.destroyed, nullptr)) {}
  small& operator=(small&&) = delete;
  ~small() {
    if (destroyed) ++*destroyed;
  }
};

// Hears each actor's stop.
struct watcher {
  long stops = 0;
  static watcher init(cx<watcher>&) { return watcher{}; }
  void on_stop(cx<watcher>&, stop_cause) { ++stops; }
};

TEST(alloc, creating_and_dropping_actors_once_the_pool_is_warm) {
  runtime rt;
  constexpr int count = 1000;
  long destroyed = 0;
  auto w = make_actor<&watcher::init>(rt, ret_nop<stop_cause>());
  std::vector<actor_own<small>> actors;
  actors.reserve(count);
  auto cycle = [&] {
    for (int i = 0; i < count; ++i)
      actors.push_back(make_actor<&small::init>(rt, ret_some_to<stop_cause, &watcher::on_stop>(w),
                                                i, &destroyed));
    run(rt);
    actors.clear();  // keeps the vector's capacity
    run(rt);
  };
  cycle();  // warm-up: the pool and the queue reach their size
  alloc_scope scope;
  cycle();
  cycle();
  const long counted = scope.stop();
  EXPECT_EQ(counted, 0);
  EXPECT_EQ(destroyed, 3L * count);
  EXPECT_EQ(*inspect(rt, w, [](watcher& s) { return s.stops; }), 3L * count);
}

TEST(alloc, a_boxed_ret_to_allocates_where_the_inline_one_does_not) {
  runtime rt;
  auto a = make_actor<&acc::init>(rt, ret_nop<stop_cause>());
  run(rt);
  { ret<int> warm = ret_to<int, &acc::add_opt>(a); }
  run(rt);
  alloc_scope scope;
  {
    ret<int> r = ret_to<int, &acc::add_opt>(a);
    r(1);
  }
  run(rt);
  const long inline_count = allocations;
  {
    ret<int> r = ret_to<int>(a, &acc::add_opt);  // the member-pointer form is boxed
    r(2);
  }
  run(rt);
  const long counted = scope.stop();
  EXPECT_EQ(inline_count, 0);
  EXPECT_GE(counted - inline_count, 1);
  EXPECT_EQ(sum_of(rt, a), 3);
}

// --- Out of memory while timers fire ---

// Allocations after the first `k` fail while it is alive.
class out_of_memory_after {
 public:
  explicit out_of_memory_after(long k) noexcept { allocations_left = k; }
  ~out_of_memory_after() { allocations_left = -1; }
  out_of_memory_after(const out_of_memory_after&) = delete;
  out_of_memory_after& operator=(const out_of_memory_after&) = delete;
};

// Timers come due together (a burst fired as one sorted batch) while the main queue they are
// appended to cannot grow: the run throws std::bad_alloc, and the next run fires every timer
// exactly once, in (expiry, insertion) order, whichever allocation failed. Nothing is lost.
TEST(alloc, timers_due_while_memory_runs_out_all_fire_once_and_in_order_at_the_next_run) {
  constexpr int timers = 20'000;  // the queue needs several chunks for their closures
  int partial = 0;                // failures after some timers had been queued and before the rest
  for (long k = 0; k <= 6; ++k) {
    SCOPED_TRACE("allocations allowed during the first run: " + std::to_string(k));
    const stakker::instant start{};
    runtime rt(start);
    std::vector<int> fired;
    fired.reserve(timers);
    std::vector<std::pair<long, int>> expected;  // (delay in us, index): the firing order
    for (int i = 0; i < timers; ++i) {
      const long us = 1 + (i * 7919L) % 97;
      expected.emplace_back(us, i);
      rt.at(start + std::chrono::microseconds(us), [i, &fired](core&) { fired.push_back(i); });
    }
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    bool threw = false;
    {
      out_of_memory_after oom(k);
      try {
        rt.run(start + std::chrono::seconds(1), false);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
    }
    EXPECT_TRUE(threw);
    if (rt.timer_count() > 0 && rt.timer_count() < static_cast<std::size_t>(timers)) ++partial;
    rt.run(start + std::chrono::seconds(2), false);
    ASSERT_EQ(fired.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j)
      ASSERT_EQ(fired[j], expected[j].second) << "at position " << j;
    EXPECT_EQ(rt.timer_count(), 0u);
  }
  EXPECT_GT(partial, 0) << "no failure came in the middle of the batch";
}

}  // namespace
