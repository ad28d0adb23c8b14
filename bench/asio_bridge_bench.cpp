// SPDX-License-Identifier: MIT OR Apache-2.0
// The Asio bridge's completion overhead: what it costs to deliver an Asio operation's
// completion into a ret, a fwd or a task, against a plain Asio handler and against Asio's
// use_awaitable, in the same run. Target: ≤ 1.2× a plain handler, faster than
// use_awaitable.
//
// Three operations, each chained (every completion starts the next; `chain_length()`
// operations per benchmark iteration, all on this thread):
//   post       `net::post(ioc, token)`, completion void(): the cheapest, so it isolates the
//              delivery cost;
//   timer      `steady_timer::async_wait(token)` on a timer that expired long ago;
//   read_some  the peer end of a connected local stream socket pair writes one byte
//              (synchronously), then `async_read_some(token)` of one byte reads it.
// Paths, named BM_asio_bridge/<op>/<path>:
//   asio_handler       a lambda, `io_context::run()` (the baseline);
//   asio_awaitable     `co_await op(net::use_awaitable)` in a loop, in a coroutine started
//                      with `net::co_spawn(ioc, ...)`;
//   asio_handler_reactor, asio_awaitable_reactor  (post only) the same two on an io_context
//                      that also holds an idle steady_timer, so that its reactor runs (the
//                      scheduler then polls epoll, timeout 0, each time it passes the end of
//                      its queue), as it does in any program with a socket or a timer
//                      (io_loop makes its own timer only with the first runtime timer);
//                      the timer and the socket start the reactor in every path;
//   stakker_ret_to     `use_ret(core, ret_to<V, &A::done>(cx))`: the completion reaches an
//                      actor's member (one more queued call), which starts the next op;
//   stakker_ret_do     `use_ret(core, ret_do<V>(...))`: the ret runs a closure directly;
//   stakker_task       `co_await op(use_task)` in a loop, in a stakker::coro::task;
//   stakker_fwd_to     `use_fwd(core, f)` with one `fwd_to<V, &A::done>` copied per op;
//   stakker_ret_cx     `use_ret(cx, ret_to<...>)`: the form tied to the actor (a spawned
//                      task per operation, so the actor's stop cancels the operation).
// Ours run on a runtime driven by stakker::asio::io_loop on the io_context; the peers run on
// a bare io_context. Every io_context has concurrency hint 1, as a one-thread program gets.
//
// Each benchmark runs a fixed number of iterations (no calibration runs), so every run of it
// in this process is a reported repetition. Besides `ns_per_op`, each repetition of a path
// reports `x_handler` (its ns/op over the median of asio_handler's repetitions of the same
// op, measured just before it in this process) and, for ours, `x_awaitable` (the same over
// asio_awaitable) and, for post, `x_handler_reactor` and `x_awaitable_reactor`. Times are this
// thread's CPU time, as `ns_per_op` is. At exit, a summary table (medians, min–max, ratios) goes to
// stderr. Every path checks each completion (error code, byte count, the byte's value) and the
// number of completions.
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "bench_support.hpp"
#include "stakker/asio/asio.hpp"
#include "stakker/coro/coro.hpp"
#include "stakker/stakker.hpp"

namespace {

namespace net = stakker::asio::net;
using stakker::asio::error_code;

// Operations per chain (one benchmark iteration); `--smoke` makes it tiny.
std::int64_t chain_length() { return bench::smoke() ? 10 : 10'000; }

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// --- The operations. `start(token)` initiates one; `ok(args...)` checks a completion's
// arguments; `value` is the completion value a ret/fwd gets (stakker::asio's rule: nothing,
// the argument, or a tuple); `awaited` is what use_task and use_awaitable return.

struct post_op {
  static constexpr const char* name = "post";
  static constexpr int iterations = 100;  // per repetition, each of chain_length() ops
  using value = void;
  using awaited = void;
  net::io_context& ioc;
  explicit post_op(net::io_context& c) : ioc(c) {}
  template <class Token>
  auto start(Token&& token) {
    return net::post(ioc, std::forward<Token>(token));
  }
  static bool ok() { return true; }
};

struct timer_op {
  static constexpr const char* name = "timer";
  static constexpr int iterations = 3;  // each wait re-arms a timerfd: slow in a VM
  using value = error_code;
  using awaited = void;
  net::steady_timer t;
  explicit timer_op(net::io_context& c) : t(c) {
    t.expires_at(net::steady_timer::clock_type::now() - std::chrono::hours(1));
  }
  template <class Token>
  auto start(Token&& token) {
    return t.async_wait(std::forward<Token>(token));
  }
  static bool ok(const error_code& ec) { return !ec; }
};

struct read_op {
  static constexpr const char* name = "read_some";
  static constexpr int iterations = 10;
  using value = std::tuple<error_code, std::size_t>;
  using awaited = std::size_t;
  net::local::stream_protocol::socket reader, writer;
  unsigned char sent = 0, got = 0;
  explicit read_op(net::io_context& c) : reader(c), writer(c) {
    net::local::connect_pair(reader, writer);
  }
  template <class Token>
  auto start(Token&& token) {
    ++sent;
    if (writer.send(net::buffer(&sent, 1)) != 1) throw std::runtime_error("short write");
    return reader.async_read_some(net::buffer(&got, 1), std::forward<Token>(token));
  }
  bool ok(const error_code& ec, std::size_t n) const { return !ec && n == 1 && got == sent; }
};

template <class T>
inline constexpr bool is_tuple = false;
template <class... T>
inline constexpr bool is_tuple<std::tuple<T...>> = true;

// Checks a completion value as a ret or fwd delivers it.
template <class Op, class V>
bool value_ok(const Op& op, const V& v) {
  if constexpr (std::is_same_v<V, std::monostate>) {
    return op.ok();
  } else if constexpr (is_tuple<V>) {
    return std::apply([&op](const auto&... a) { return op.ok(a...); }, v);
  } else {
    return op.ok(v);
  }
}

// Completions heard by a chain.
struct tally {
  std::int64_t left = 0;  // operations still to start in this chain, counting the current
  std::int64_t done = 0;
  std::int64_t bad = 0;
  void heard(bool ok) {
    ++done;
    if (!ok) ++bad;
  }
};

// --- The in-process record of each path's repetitions, for the ratios and the summary.

struct record_book {
  struct entry {
    std::string op, path;
    std::vector<double> ns;  // ns/op of each run
  };
  std::vector<entry> entries;

  entry* find(const std::string& op, const std::string& path) {
    for (auto& e : entries)
      if (e.op == op && e.path == path) return &e;
    return nullptr;
  }
  void add(const std::string& op, const std::string& path, double ns) {
    if (entry* e = find(op, path)) {
      e->ns.push_back(ns);
    } else {
      entries.push_back({op, path, {ns}});
    }
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
  std::optional<double> median_of(const std::string& op, const std::string& path) {
    entry* e = find(op, path);
    if (e == nullptr) return std::nullopt;
    return median(e->ns);
  }

  ~record_book() {
    if (entries.empty()) return;
    std::fprintf(stderr,
                 "\nAsio bridge completion overhead (this process): thread CPU ns per completed "
                 "op, median and min-max over each benchmark's runs; ratios of medians\n");
    // Ratios: every path over asio_handler; ours also over the other peers.
    const char* peers[4] = {"asio_handler", "asio_awaitable", "asio_handler_reactor",
                            "asio_awaitable_reactor"};
    std::fprintf(stderr, "%-9s %-22s %9s %19s %9s %11s %9s %11s\n", "op", "path", "median",
                 "min-max", "x_handler", "x_awaitable", "x_h_react", "x_a_react");
    for (auto& e : entries) {
      const double med = median(e.ns);
      const auto [lo, hi] = std::minmax_element(e.ns.begin(), e.ns.end());
      const bool ours = e.path.rfind("stakker", 0) == 0;
      char x[4][32] = {"-", "-", "-", "-"};
      for (int i = 0; i < 4; ++i) {
        if (e.path == peers[i] || (i > 0 && !ours)) continue;
        if (auto m = median_of(e.op, peers[i])) std::snprintf(x[i], sizeof x[i], "%.2f", med / *m);
      }
      char range[48];
      std::snprintf(range, sizeof range, "%.1f-%.1f", *lo, *hi);
      std::fprintf(stderr, "%-9s %-22s %9.1f %19s %9s %11s %9s %11s  (%zu runs)\n", e.op.c_str(),
                   e.path.c_str(), med, range, x[0], x[1], x[2], x[3], e.ns.size());
    }
  }
};

record_book& book() {
  static record_book b;
  return b;
}

// Checks the chain's count, reports ns_per_op and the ratios, and records the run.
void finish(benchmark::State& state, const char* op, const char* path, std::int64_t n,
            double cpu_ns, const tally& t, std::int64_t chains) {
  if (t.bad != 0 || t.done != n * chains) {
    state.SkipWithError("asio_bridge: a completion was missing or wrong");
    return;
  }
  bench::per_op(state, n);
  const double ns = cpu_ns / (static_cast<double>(n) * static_cast<double>(state.iterations()));
  const std::string p(path);
  if (p != "asio_handler") {
    if (auto h = book().median_of(op, "asio_handler")) state.counters["x_handler"] = ns / *h;
  }
  if (p.rfind("stakker", 0) == 0) {
    for (const char* peer : {"asio_awaitable", "asio_handler_reactor", "asio_awaitable_reactor"}) {
      if (auto m = book().median_of(op, peer))
        state.counters[std::string("x_") + (peer + 5)] = ns / *m;  // without "asio_"
    }
  }
  book().add(op, p, ns);
}

// Runs `chain()` (one chain of n operations, to the end) once untimed, then once per
// iteration, and reports.
template <class Op, class Chain>
void measure(benchmark::State& state, const char* path, std::int64_t n, const tally& t,
             Chain chain) {
  chain();  // warm-up: allocators and recyclers reach their steady state
  const double t0 = thread_cpu_ns();
  for (auto _ : state) chain();
  const double t1 = thread_cpu_ns();
  finish(state, Op::name, path, n, t1 - t0, t, static_cast<std::int64_t>(state.iterations()) + 1);
}

// --- (1) Peer: a plain Asio handler.

template <class Op>
struct handler_chain {
  Op& op;
  tally& t;
  void next() {
    op.start([this](auto... a) {
      t.heard(op.ok(a...));
      if (--t.left > 0) next();
    });
  }
};

template <class Op, bool Reactor = false>
void asio_handler(benchmark::State& state) {
  const std::int64_t n = chain_length();
  net::io_context ioc(1);
  // An idle timer, as io_loop owns one: its service starts the io_context's reactor, which
  // the scheduler then polls (epoll_wait, timeout 0) each time it passes the queue's end.
  std::optional<net::steady_timer> idle;
  if constexpr (Reactor) idle.emplace(ioc);
  Op op(ioc);
  tally t;
  handler_chain<Op> c{op, t};
  measure<Op>(state, Reactor ? "asio_handler_reactor" : "asio_handler", n, t, [&] {
    t.left = n;
    c.next();
    ioc.restart();
    ioc.run();
  });
}

// --- (2) Peer: use_awaitable in a co_spawned net::awaitable.

template <class Op>
net::awaitable<void> awaitable_loop(Op& op, tally& t, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_void_v<typename Op::awaited>) {
      co_await op.start(net::use_awaitable);
      t.heard(true);
    } else {
      const auto v = co_await op.start(net::use_awaitable);
      t.heard(op.ok(error_code{}, v));
    }
  }
}

template <class Op, bool Reactor = false>
void asio_awaitable(benchmark::State& state) {
  const std::int64_t n = chain_length();
  net::io_context ioc(1);
  std::optional<net::steady_timer> idle;  // as in asio_handler
  if constexpr (Reactor) idle.emplace(ioc);
  Op op(ioc);
  tally t;
  measure<Op>(state, Reactor ? "asio_awaitable_reactor" : "asio_awaitable", n, t, [&] {
    net::co_spawn(ioc, awaitable_loop(op, t, n), [&t](std::exception_ptr e) {
      if (e) ++t.bad;
    });
    ioc.restart();
    ioc.run();
  });
}

// --- Ours: a runtime driven by io_loop on the io_context.

template <class Op>
struct bridge_fixture {
  net::io_context ioc{1};
  stakker::runtime rt;
  stakker::asio::io_loop loop{ioc, rt};
  Op op{ioc};
  // Runs the io_context (and so the runtime) until the chain is over.
  void run() {
    loop.request_run();
    ioc.restart();
    ioc.run();
  }
};

template <class Op>
using arg_t = typename stakker::ret<typename Op::value>::arg_type;

// (3) use_ret(core, ret_do): the ret runs the closure inside the completion.
template <class Op>
struct ret_do_chain {
  Op& op;
  stakker::core& c;
  tally& t;
  void next() {
    op.start(stakker::asio::use_ret(
        c, stakker::ret_do<typename Op::value>([this](std::optional<arg_t<Op>> v) {
          t.heard(v && value_ok(op, *v));
          if (--t.left > 0) next();
        })));
  }
};

template <class Op>
void stakker_ret_do(benchmark::State& state) {
  const std::int64_t n = chain_length();
  bridge_fixture<Op> f;
  tally t;
  ret_do_chain<Op> c{f.op, f.rt, t};
  measure<Op>(state, "stakker_ret_do", n, t, [&] {
    t.left = n;
    c.next();
    f.run();
  });
}

// (4)-(6) An actor whose member `done` hears each completion and starts the next operation,
// through a ret_to (use_ret(core, ...)), a fwd_to (use_fwd(core, ...)), or a ret_to tied to
// the actor (use_ret(cx, ...)).
enum class via { ret_to, fwd_to, ret_cx };

template <class Op, via Via>
struct chain_actor {
  using V = typename Op::value;
  Op* op;
  tally* t;
  stakker::fwd<V> f;  // for via::fwd_to: one fwd, copied into each operation's token

  static chain_actor init(stakker::cx<chain_actor>&, Op* o, tally* ta) {
    return chain_actor{o, ta, {}};
  }
  void go(stakker::cx<chain_actor>& x, std::int64_t n) {
    t->left = n;
    if constexpr (Via == via::fwd_to) f = stakker::fwd_to<V, &chain_actor::done_fwd>(x);
    next(x);
  }
  void next(stakker::cx<chain_actor>& x) {
    if constexpr (Via == via::ret_to) {
      op->start(stakker::asio::use_ret(x.core(), stakker::ret_to<V, &chain_actor::done>(x)));
    } else if constexpr (Via == via::ret_cx) {
      op->start(stakker::asio::use_ret(x, stakker::ret_to<V, &chain_actor::done>(x)));
    } else {
      op->start(stakker::asio::use_fwd(x.core(), f));
    }
  }
  void done(stakker::cx<chain_actor>& x, std::optional<arg_t<Op>> v) {
    t->heard(v && value_ok(*op, *v));
    if (--t->left > 0) next(x);
  }
  void done_fwd(stakker::cx<chain_actor>& x, arg_t<Op> v) {
    t->heard(value_ok(*op, v));
    if (--t->left > 0) {
      next(x);
    } else {
      f = {};  // no reference to itself left behind
    }
  }
};

template <class Op, via Via>
void stakker_actor(benchmark::State& state, const char* path) {
  const std::int64_t n = chain_length();
  bridge_fixture<Op> f;
  tally t;
  using A = chain_actor<Op, Via>;
  auto a = stakker::make_actor<&A::init>(f.rt, stakker::ret_nop<stakker::stop_cause>(), &f.op, &t);
  measure<Op>(state, path, n, t, [&] {
    stakker::call<&A::go>(a, n);
    f.run();
  });
}

template <class Op>
void stakker_ret_to(benchmark::State& state) {
  stakker_actor<Op, via::ret_to>(state, "stakker_ret_to");
}
template <class Op>
void stakker_fwd_to(benchmark::State& state) {
  stakker_actor<Op, via::fwd_to>(state, "stakker_fwd_to");
}
template <class Op>
void stakker_ret_cx(benchmark::State& state) {
  stakker_actor<Op, via::ret_cx>(state, "stakker_ret_cx");
}

// (7) use_task in a stakker::coro::task.
template <class Op>
stakker::coro::task<void> task_loop(Op& op, tally& t, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_void_v<typename Op::awaited>) {
      co_await op.start(stakker::asio::use_task);
      t.heard(true);
    } else {
      const auto v = co_await op.start(stakker::asio::use_task);
      t.heard(op.ok(error_code{}, v));
    }
  }
}

template <class Op>
void stakker_task(benchmark::State& state) {
  const std::int64_t n = chain_length();
  bridge_fixture<Op> f;
  tally t;
  measure<Op>(state, "stakker_task", n, t, [&] {
    stakker::coro::spawn(f.rt, task_loop(f.op, t, n),
                         stakker::ret_do<void>([&t](std::optional<std::monostate> v) {
                           if (!v) ++t.bad;  // the task failed or was dropped
                         }));
    f.run();
  });
}

// Peers first, so that ours can be compared with them as they run.
template <class Op>
void register_op() {
  const std::string base = std::string("BM_asio_bridge/") + Op::name + "/";
  auto add = [&base](const char* path, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark((base + path).c_str(), fn)
        ->Iterations(Op::iterations)
        ->Unit(benchmark::kMillisecond);
  };
  add("asio_handler", &asio_handler<Op>);
  add("asio_awaitable", &asio_awaitable<Op>);
  // The timer and the socket start the reactor themselves; a post does not, but io_loop's
  // timer does: the same peers on an io_context whose reactor runs.
  if constexpr (std::is_same_v<Op, post_op>) {
    add("asio_handler_reactor", &asio_handler<Op, true>);
    add("asio_awaitable_reactor", &asio_awaitable<Op, true>);
  }
  add("stakker_ret_to", &stakker_ret_to<Op>);
  add("stakker_ret_do", &stakker_ret_do<Op>);
  add("stakker_task", &stakker_task<Op>);
  add("stakker_fwd_to", &stakker_fwd_to<Op>);
  add("stakker_ret_cx", &stakker_ret_cx<Op>);
}

[[maybe_unused]] const bool registered = [] {
  register_op<post_op>();
  register_op<timer_op>();
  register_op<read_op>();
  return true;
}();

}  // namespace
