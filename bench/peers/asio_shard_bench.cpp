// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: Asio, one io_context per thread (the way Asio programs shard: io_context-per-core),
// posting handlers to each other with asio::post. Same workloads as ../shard_bench.cpp
// (../shard_support.hpp). Handlers allocate through Asio's recycling allocator as usual.
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "../shard_support.hpp"

namespace {

using std::int64_t;

// N io_contexts, each run by its own thread, kept running by work guards.
struct contexts {
  std::vector<std::unique_ptr<asio::io_context>> io;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  explicit contexts(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      io.push_back(std::make_unique<asio::io_context>(1));
      work.push_back(asio::make_work_guard(*io.back()));
    }
    for (std::size_t i = 0; i < n; ++i) threads.emplace_back([this, i] { io[i]->run(); });
  }
  ~contexts() {
    work.clear();
    for (auto& t : threads) t.join();
  }
};

using bench::shard::done_signal;

// --- throughput: a sender handler on context 0 posts a batch to context 1, then posts
// itself to its own context for the next batch.
struct receiver {
  int64_t next = 0;
  int64_t bad = 0;
  int64_t expected = 0;
  done_signal* sig = nullptr;
  void on(int64_t seq) {
    bad += seq != next;
    if (++next == expected) sig->one();
  }
};

struct sender {
  asio::io_context* from;
  asio::io_context* to;
  receiver* r;
  int64_t sent = 0;
  int64_t total = 0;
  void go() {
    const int64_t end = std::min(total, sent + bench::shard::shard_batch());
    while (sent < end) {
      asio::post(*to, [r = r, seq = sent] { r->on(seq); });
      ++sent;
    }
    if (sent < total) asio::post(*from, [this] { go(); });
  }
};

void BM_asio_shard_throughput(benchmark::State& state) {
  contexts c(2);
  done_signal sig;
  receiver r;
  r.sig = &sig;
  sender s{c.io[0].get(), c.io[1].get(), &r};
  const int64_t n = bench::shard::shard_messages();
  for (auto _ : state) {
    state.PauseTiming();
    sig.arm(1);
    std::promise<void> reset;
    asio::post(*c.io[1], [&] {
      r.next = 0;
      r.expected = n;
      reset.set_value();
    });
    reset.get_future().wait();
    state.ResumeTiming();
    asio::post(*c.io[0], [&] {
      s.sent = 0;
      s.total = n;
      s.go();
    });
    sig.done.get_future().wait();
  }
  if (r.bad != 0) state.SkipWithError("messages out of order");
  bench::per_op(state, n);
}
BENCHMARK(BM_asio_shard_throughput)
    ->Name("BM_shard_throughput/asio")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- ping-pong: a handler on one context posts the next to the other.
struct table {
  asio::io_context* io[2];
  done_signal* sig;
  void ball(int side, int64_t left) {
    if (left == 0) return sig->one();
    asio::post(*io[1 - side], [this, side, left] { ball(1 - side, left - 1); });
  }
};

void BM_asio_shard_ping_pong(benchmark::State& state) {
  contexts c(2);
  done_signal sig;
  table t{{c.io[0].get(), c.io[1].get()}, &sig};
  const int64_t n = bench::shard::shard_round_trips();
  for (auto _ : state) {
    sig.arm(1);
    asio::post(*c.io[0], [&] { t.ball(0, 2 * n); });
    sig.done.get_future().wait();
  }
  bench::per_op(state, n);
}
BENCHMARK(BM_asio_shard_ping_pong)
    ->Name("BM_shard_ping_pong/asio")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- scaling: objects per context; a hop is a handler posted to the object's context.
struct hopper;
struct hop_world {
  std::vector<std::vector<std::unique_ptr<hopper>>> on;  // per context
  contexts* c;
  done_signal* sig;
};
struct hopper {
  hop_world* w;
  std::size_t home;
  std::uint64_t sum = 0;
  void hop(int64_t left, std::uint64_t v) {
    v = bench::shard::scaling_work(v);
    if (left == 0) {
      sum += v;
      return w->sig->one();
    }
    const std::size_t pick = static_cast<std::size_t>(v >> 40);
    const std::size_t n = w->on.size();
    const std::size_t ctx = left % bench::shard::scaling_cross_every() == 0 ? (home + 1) % n : home;
    hopper* next = w->on[ctx][pick % w->on[ctx].size()].get();
    asio::post(*w->c->io[ctx], [next, left, v] { next->hop(left - 1, v); });
  }
};

void BM_asio_shard_scaling(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  contexts c(n);
  done_signal sig;
  hop_world w{std::vector<std::vector<std::unique_ptr<hopper>>>(n), &c, &sig};
  const auto per = static_cast<std::size_t>(2 * bench::shard::scaling_actors()) / n;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < per; ++k)
      w.on[i].push_back(std::make_unique<hopper>(hopper{&w, i}));
  const int64_t hops = bench::shard::scaling_hops();
  for (auto _ : state) {
    sig.arm(bench::shard::scaling_total_tokens());
    for (std::size_t i = 0; i < n; ++i) {
      asio::post(*c.io[i], [&, i, hops] {
        std::uint64_t seed = i * 1000;
        for (auto& h : w.on[i])
          for (int64_t t = 0; t < bench::shard::scaling_tokens(); ++t) {
            hopper* p = h.get();
            std::uint64_t s = ++seed;
            asio::post(*c.io[i], [p, hops, s] { p->hop(hops, s); });
          }
      });
    }
    sig.done.get_future().wait();
  }
  bench::per_op(state, bench::shard::scaling_total_hops());
}
BENCHMARK(BM_asio_shard_scaling)
    ->Name("BM_shard_scaling/asio")
    ->ArgName("shards")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
