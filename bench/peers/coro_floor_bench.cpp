// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the floor of the coroutine bridge's two targeted rows, written by hand on our own
// runtime (its real queue, `core::defer`, `call<&M>` and `ret<T>`) for the same workloads
// as ../coro_bench.cpp, and checked the same way. Each floor is the least a coroutine
// bridge does that keeps this part of our contract: a frame on the heap, a spawn's start
// and every wake queued on the runtime's main queue (never run inline), the answer given
// to a `ret<T>` exactly once.
//
// - `peer_coro_floor/spawn` (BM_coro_spawn/stakker/batch:1): a spawn moves the `ret<int>`
//   into the promise (the spawn's "root" lives in the frame) and queues a 16-byte closure
//   holding the frame's handle with `core::defer` (its destructor destroys a frame that
//   never started, so a runtime dropping it answers "none"); then one `runtime::run`. The
//   start resumes the frame; the body stores its int; the final suspend takes the value and
//   the `ret`, destroys the frame and answers through `answer_nothrow` (an exception from
//   the callback leaves the run, as ours). Frames come from a per-thread free list per
//   16-byte size class (ours has one too: the recycler), unbounded here: a real one needs a
//   cap (a count per class, about 2 instructions per free). An exception escaping the body
//   answers "none" at once (`unhandled_exception`), which costs nothing on this path.
//   Left out: the misuse checks (an empty or already awaited task), the list of live
//   chains and everything it serves (dropping chains tied to an actor when it stops, or
//   every chain when the runtime goes; `spawn` from a cx), the transfer-depth bound and
//   nested tasks' links (none is awaited here), the observer's hooks, `spawn_result`.
// - `peer_coro_floor/spawn_new`: the same with plain `operator new`/`delete` (glibc) for
//   the frame.
// - `peer_coro_floor/query` (BM_coro_round_trip/stakker_query): one spawned loop task, n
//   awaits of an awaiter that queues `call<&echo_server::echo>(s, v, ret<int>)`; the `ret`
//   is the low-level form (a thunk and one word: the awaiter itself, in the frame). Its
//   answer stores the value and queues the wake (a closure holding the handle) with
//   `core::defer` on the core recorded at the await; the wake resumes the frame from the
//   queue. A `ret` dropped uncalled queues the wake too, and the await throws. Left out:
//   cancellation (the `ret` points into the frame, so the frame must outlive it: a task
//   dropped while its query is out would be written after free), dropping the chain in
//   drop mode, the transfer depth, the root's bookkeeping around the resumption (current
//   chain, owner stopped), the observer's hooks.
// - `peer_coro_floor/query_node`: the same with what makes a late answer harmless, as our
//   contract requires (a task may be dropped while its `ret` is out): a counted node (the
//   `ret`'s and the awaiter's references) from the same free list holds the value and the
//   handle, and the awaiter clears the handle and drops its reference when it resumes.
// - `peer_coro_floor/spawn_rooted` and `peer_coro_floor/query_rooted`: the two above (the
//   query with its node) with the bookkeeping of a spawned chain that ours keeps, laid out
//   as cheaply as we know how: the chain's record (list links, the outermost frame, the
//   "owner stopped" flag) inside the outermost frame's promise, so no second allocation and
//   no count (but every frame of the task type carries those 32 bytes, awaited ones too:
//   the memory cost round two of performance.md refused); a spawn tests the task (empty or
//   finished), links the record on a list of live chains (one global here: a real one is per
//   runtime, one load more) and the completion unlinks it; every resumption from the queue (the
//   start, each wake) tests the observer's bit, resets the transfer depth, records the chain being
//   resumed and, after it, tests whether the chain's actor stopped meanwhile (then drops it); a
//   dropped `ret` drops the chain (drop mode). Still left out: a cap on the free list, tying a
//   chain to an actor (`spawn` from a cx; the flag is never set here), the exception's report on
//   stderr, what the observer records, nested tasks' links.
#include <benchmark/benchmark.h>

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "../bench_support.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;

// --- Frames: a per-thread free list per 16-byte class (no cap), or plain new/delete.

struct free_list {
  struct node {
    node* next;
  };
  static constexpr std::size_t granule = 16, classes = 64;
  static inline thread_local std::array<node*, classes> heads{};
  static void* allocate(std::size_t n) {
    const std::size_t k = (n - 1) / granule;
    if (k < classes) {
      if (node* p = heads[k]) {
        heads[k] = p->next;
        return p;
      }
      return ::operator new((k + 1) * granule);
    }
    return ::operator new(n);
  }
  static void deallocate(void* p, std::size_t n) noexcept {
    const std::size_t k = (n - 1) / granule;
    if (k < classes) {
      heads[k] = ::new (p) node{heads[k]};
      return;
    }
    ::operator delete(p);
  }
};

struct plain_new {
  static void* allocate(std::size_t n) { return ::operator new(n); }
  static void deallocate(void* p, std::size_t) noexcept { ::operator delete(p); }
};

// --- The rooted variants' bookkeeping: the spawn's chain, in the outermost frame's promise.

struct chain {
  chain* prev = nullptr;
  chain* next = nullptr;
  std::coroutine_handle<> frame;  // the outermost frame
  bool owner_gone = false;        // never set here: what the resumption must test
};
// The live chains and the one being resumed. One global here; a real bridge keeps them per
// runtime (one more load, through the core, per spawn and per resumption).
struct chain_registry {
  chain* head = nullptr;
  chain* current = nullptr;
  void link(chain* c) noexcept {
    c->next = head;
    if (head != nullptr) head->prev = c;
    head = c;
  }
  void unlink(chain* c) noexcept {
    if (c->next != nullptr) c->next->prev = c->prev;
    if (c->prev != nullptr) {
      c->prev->next = c->next;
    } else {
      head = c->next;
    }
  }
};
chain_registry registry;
inline thread_local int transfer_depth = 0;  // what a bound on symmetric transfer resets
std::int64_t observed_resumptions = 0;

[[gnu::noinline, gnu::cold]] void drop_chain(chain* c) noexcept {
  registry.unlink(c);
  c->frame.destroy();  // its ret answers "none"
}
[[gnu::noinline, gnu::cold]] void observed_resumption() noexcept { ++observed_resumptions; }

// Resumes `h`, a frame of chain `c`, from the queue, as ours does: the observer's test, the
// transfer depth reset, the chain being resumed recorded (for a completion, and for log
// records tied to its actor), and after the resumption the test whether the chain's actor
// stopped meanwhile (then it is dropped now that it is suspended).
inline void resume_chain(core& rc, chain* c, std::coroutine_handle<> h) noexcept {
  if (stakker::detail::core_access::observing(rc)) [[unlikely]]
    observed_resumption();
  transfer_depth = 0;
  registry.current = c;
  h.resume();
  chain* cur = std::exchange(registry.current, nullptr);  // null: it completed
  if (cur != nullptr && cur->owner_gone) [[unlikely]]
    drop_chain(cur);
}

struct no_chain {};

// --- The task: lazy, its spawn's answer inside the promise (and with `Rooted`, its chain).

template <class T, class Alloc, bool Rooted = false>
class floor_task {
 public:
  struct promise_type {
    T value{};
    ret<T> done;
    [[no_unique_address]] std::conditional_t<Rooted, chain, no_chain> links;

    static void* operator new(std::size_t n) { return Alloc::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { Alloc::deallocate(p, n); }

    floor_task get_return_object() noexcept {
      return floor_task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        promise_type& p = h.promise();
        T v = std::move(p.value);
        ret<T> r = std::move(p.done);
        if constexpr (Rooted) {
          registry.unlink(&p.links);
          registry.current = nullptr;
        }
        h.destroy();
        if (r) stakker::detail::answer_nothrow(r, std::move(v));
      }
      void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    template <class U>
    void return_value(U&& v) {
      value = std::forward<U>(v);
    }
    // The spawn answers "none" at once (ours also reports the exception on stderr).
    void unhandled_exception() noexcept { done.reset(); }
  };

  floor_task(floor_task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  floor_task(const floor_task&) = delete;
  ~floor_task() {
    if (h_) h_.destroy();
  }
  std::coroutine_handle<promise_type> handle() const noexcept { return h_; }
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  explicit floor_task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

// The queued start: resumes the frame; destroyed unrun, it destroys the frame (its `ret`
// then answers "none").
template <class P>
struct start_closure {
  static constexpr bool rooted = std::is_same_v<decltype(P::links), chain>;
  std::coroutine_handle<P> h;
  explicit start_closure(std::coroutine_handle<P> f) noexcept : h(f) {}
  start_closure(start_closure&& o) noexcept : h(std::exchange(o.h, {})) {}
  start_closure(const start_closure&) = delete;
  ~start_closure() {
    if (h) {
      if constexpr (rooted) registry.unlink(&h.promise().links);
      h.destroy();
    }
  }
  void operator()(core& c) noexcept {
    auto f = std::exchange(h, {});
    if constexpr (rooted) {
      resume_chain(c, &f.promise().links, f);
    } else {
      (void)c;
      f.resume();
    }
  }
};

template <class T, class Alloc, bool Rooted>
void floor_spawn(core& c, floor_task<T, Alloc, Rooted> t, ret<T> r) {
  if constexpr (Rooted) {
    // Ours refuses an empty, finished or already awaited task (awaiting is not possible
    // here, so the last test is left out).
    if (!t.handle() || t.handle().done()) [[unlikely]]
      throw std::logic_error("floor_spawn: an empty or finished task");
  }
  auto h = t.release();
  h.promise().done = std::move(r);
  if constexpr (Rooted) {
    h.promise().links.frame = h;
    registry.link(&h.promise().links);
  }
  c.defer(start_closure(h));
}

// --- (1) spawn + complete, one per run.

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

template <class Alloc, bool Rooted>
floor_task<int, Alloc, Rooted> trivial(int v) {
  co_return v;
}

template <class Alloc, bool Rooted = false>
void spawn_floor(benchmark::State& state) {
  const std::int64_t total = bench::size(1'000'000);
  runtime rt;
  tally t;
  std::int64_t expect = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < total; ++i) {
      const int v = static_cast<int>(i);
      expect += v;
      floor_spawn(rt, trivial<Alloc, Rooted>(v),
                  ret_do<int>([&t](std::optional<int> x) { t.add(x); }));
      rt.run(rt.now(), false);
    }
  }
  if (t.sum != expect || t.count != total * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("peer_coro_floor/spawn: wrong sum");
  bench::per_op(state, total);
}
BENCHMARK(spawn_floor<free_list>)->Name("peer_coro_floor/spawn")->Unit(benchmark::kMillisecond);
BENCHMARK(spawn_floor<plain_new>)->Name("peer_coro_floor/spawn_new")->Unit(benchmark::kMillisecond);
BENCHMARK(spawn_floor<free_list, true>)
    ->Name("peer_coro_floor/spawn_rooted")
    ->Unit(benchmark::kMillisecond);

// --- (2) query round trips: one task awaiting an actor's answer n times.

struct echo_server {
  static echo_server init(cx<echo_server>&) { return {}; }
  void echo(cx<echo_server>&, int v, ret<int> r) { r(v); }
};

std::int64_t mod_sum(std::int64_t n) {
  const std::int64_t full = n / 1000, rest = n % 1000;
  return full * (999 * 1000 / 2) + rest * (rest - 1) / 2;
}

// The queued wake: resumes the waiting frame.
struct wake_closure {
  std::coroutine_handle<> h;
  void operator()(core&) noexcept { h.resume(); }
};

core& running_core() {
  core* c = stakker::detail::running_core;
  if (c == nullptr) [[unlikely]]
    throw std::logic_error("a floor query awaited outside a run");
  return *c;
}

// The awaiter is the ret's target (no node): the frame must outlive the ret.
struct query_awaiter {
  const actor<echo_server>& s;  // the loop's; the queued call takes its own reference
  int arg;
  bool got = false;
  int value = 0;
  core* c = nullptr;
  std::coroutine_handle<> h;

  static void answer(stakker::detail::word& w, int* v) {
    auto* self = static_cast<query_awaiter*>(w.ptr());
    if (v != nullptr) {
      self->value = *v;
      self->got = true;
    }
    self->c->defer(wake_closure{self->h});
  }

  query_awaiter(const actor<echo_server>& a, int v) noexcept : s(a), arg(v) {}
  query_awaiter(const query_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> awaiting) {
    h = awaiting;
    c = &running_core();
    call<&echo_server::echo>(s, arg, ret<int>(&answer, this));
  }
  int await_resume() {
    if (!got) [[unlikely]]
      throw std::runtime_error("the query's ret was dropped");
    return value;
  }
};

// A counted node between the ret and the awaiter: a late answer finds the handle cleared.
// Rooted: it also knows the chain it resumes, and a dropped ret drops that chain.
struct node_chain {
  chain* root = nullptr;
  bool drop = false;
};

template <bool Rooted>
struct query_node {
  std::uint32_t refs = 2;  // the ret's and the awaiter's
  bool got = false;
  int value = 0;
  core* c;
  std::coroutine_handle<> h;
  [[no_unique_address]] std::conditional_t<Rooted, node_chain, no_chain> r{};

  static void* operator new(std::size_t n) { return free_list::allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { free_list::deallocate(p, n); }

  void release() noexcept {
    if (--refs == 0) delete this;
  }
};

template <bool Rooted>
struct node_wake_closure {
  query_node<Rooted>* n;
  node_wake_closure(query_node<Rooted>* node) noexcept : n(node) {}
  node_wake_closure(node_wake_closure&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
  node_wake_closure(const node_wake_closure&) = delete;
  ~node_wake_closure() {
    if (n != nullptr) n->release();
  }
  void operator()(core& c) noexcept {
    query_node<Rooted>* node = std::exchange(n, nullptr);
    std::coroutine_handle<> h = node->h;
    if constexpr (Rooted) {
      const node_chain r = node->r;
      node->release();  // the ret's reference; the awaiter still holds one
      if (!h) return;
      if (r.drop) [[unlikely]] {
        drop_chain(r.root);
      } else {
        resume_chain(c, r.root, h);
      }
    } else {
      (void)c;
      node->release();
      if (h) h.resume();
    }
  }
};

template <bool Rooted>
struct query_node_awaiter {
  using node = query_node<Rooted>;
  const actor<echo_server>& s;
  int arg;
  node* n = nullptr;

  static void answer(stakker::detail::word& w, int* v) {
    auto* nd = static_cast<node*>(w.ptr());
    if (v != nullptr) {
      nd->value = *v;
      nd->got = true;
    } else if constexpr (Rooted) {
      nd->r.drop = true;
    }
    if (nd->h) {
      nd->c->defer(node_wake_closure<Rooted>(nd));  // the ret's reference goes to the wake
    } else {
      nd->release();
    }
  }

  query_node_awaiter(const actor<echo_server>& a, int v) : s(a), arg(v) {}
  query_node_awaiter(const query_node_awaiter&) = delete;
  ~query_node_awaiter() {
    if (n != nullptr) {
      n->h = {};
      n->release();
    }
  }

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> awaiting) {
    n = new node{.c = &running_core(), .h = awaiting};
    if constexpr (Rooted) n->r.root = &awaiting.promise().links;
    call<&echo_server::echo>(s, arg, ret<int>(&answer, n));
  }
  int await_resume() {
    node* nd = std::exchange(n, nullptr);
    nd->h = {};
    const bool got = nd->got;
    const int v = nd->value;
    nd->release();
    if (!got) [[unlikely]]
      throw std::runtime_error("the query's ret was dropped");
    return v;
  }
};

template <class Awaiter, bool Rooted>
floor_task<std::int64_t, free_list, Rooted> query_loop(actor<echo_server> s, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await Awaiter{s, static_cast<int>(i % 1000)};
  co_return sum;
}

template <class Awaiter, bool Rooted = false>
void query_floor(benchmark::State& state) {
  const std::int64_t n = bench::size(5'000'000);
  runtime rt;
  auto s = make_actor<&echo_server::init>(rt, ret_nop<stop_cause>());
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::optional<std::int64_t> got;
    floor_spawn(rt, query_loop<Awaiter, Rooted>(s.ref(), n),
                ret_do<std::int64_t>([&got](std::optional<std::int64_t> v) { got = v; }));
    rt.run(rt.now(), false);
    if (got != mod_sum(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError("peer_coro_floor/query: wrong sum");
  bench::per_op(state, n);
}
BENCHMARK(query_floor<query_awaiter>)->Name("peer_coro_floor/query")->Unit(benchmark::kMillisecond);
BENCHMARK(query_floor<query_node_awaiter<false>>)
    ->Name("peer_coro_floor/query_node")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(query_floor<query_node_awaiter<true>, true>)
    ->Name("peer_coro_floor/query_rooted")
    ->Unit(benchmark::kMillisecond);

}  // namespace
