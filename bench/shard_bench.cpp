// SPDX-License-Identifier: MIT OR Apache-2.0
// Shards: calls between runtimes on two threads, and a sharded workload at 1 and 2 shards
// (workloads in shard_support.hpp; peers in peers/caf_shard_bench.cpp and
// peers/asio_shard_bench.cpp).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "shard_support.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/shard/remote.hpp"
#include "stakker/shard/shards.hpp"
#include "stakker/stakker.hpp"

namespace {

using namespace stakker;
using shard::context;
using shard::make_remote;
using shard::remote;
using shard::shards;
using shard::shards_options;
using std::int64_t;
// Shared, so that it may cross between shards (counted atomically).
using signal = bench::shard::done_signal;

// Waits for a shard to make something and hand it back.
template <class T, class F>
T made_on(shards& g, std::size_t i, F make) {
  std::promise<T> p;
  g.on(i, [&](context& c) { p.set_value(make(c)); });
  return p.get_future().get();
}

// --- throughput ---

struct receiver {
  int64_t next = 0;
  int64_t bad = 0;
  int64_t expected = 0;
  std::shared_ptr<signal> sig;
  static receiver init(cx<receiver>&, std::shared_ptr<signal> s) { return receiver{0, 0, 0, s}; }
  void expect(cx<receiver>&, int64_t n) {
    next = 0;
    expected = n;
  }
  void on(cx<receiver>&, int64_t seq) {
    bad += seq != next;
    if (++next == expected) sig->one();
  }
};

struct sender {
  remote<receiver> to;
  int64_t sent = 0;
  int64_t total = 0;
  static sender init(cx<sender>&, remote<receiver> r) { return sender{std::move(r), 0, 0}; }
  void start(cx<sender>& x, int64_t n) {
    sent = 0;
    total = n;
    go(x);
  }
  // One batch per run: the idle queue runs the next batch after the loop has turned, so
  // the batch is published (and the receiver woken) between batches.
  void go(cx<sender>& x) {
    const int64_t end = std::min(total, sent + bench::shard::shard_batch());
    while (sent < end) shard::call<&receiver::on>(to, sent++);
    if (sent < total) x.idle([a = x.this_actor()](core&) { call<&sender::go>(a); });
  }
};

void BM_shard_throughput(benchmark::State& state) {
  shards g({.threads = 2});
  auto sig = std::make_shared<signal>();
  actor_own<receiver> rcv;
  actor_own<sender> snd;
  auto r = made_on<remote<receiver>>(g, 1, [&](context& c) {
    rcv = make_actor<&receiver::init>(c.core(), ret_nop<stop_cause>(), sig);
    return make_remote(rcv);
  });
  auto s = made_on<remote<sender>>(g, 0, [&](context& c) {
    snd = make_actor<&sender::init>(c.core(), ret_nop<stop_cause>(), r);
    return make_remote(snd);
  });
  const int64_t n = bench::shard::shard_messages();
  for (auto _ : state) {
    state.PauseTiming();
    sig->arm(1);
    made_on<bool>(g, 1, [&](context&) {
      call<&receiver::expect>(rcv, n);
      return true;
    });
    state.ResumeTiming();
    shard::call<&sender::start>(s, n);
    sig->done.get_future().wait();
  }
  bool ok = made_on<bool>(g, 1, [&](context& c) {
    return inspect(c.rt(), rcv, [](receiver& x) { return x.bad == 0; }).value_or(false);
  });
  if (!ok) state.SkipWithError("messages out of order");
  g.on(0, [&](context&) { snd.reset(); });
  g.on(1, [&](context&) { rcv.reset(); });
  g.stop(stop_cause::stopped());
  g.join();
  bench::per_op(state, n);
}
BENCHMARK(BM_shard_throughput)
    ->Name("BM_shard_throughput/stakker")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- ping-pong ---

struct player {
  remote<player> peer;
  remote<player> self;
  std::shared_ptr<signal> sig;
  static player init(cx<player>&, std::shared_ptr<signal> s) { return player{{}, {}, s}; }
  void meet(cx<player>&, remote<player> p, remote<player> me) {
    peer = std::move(p);
    self = std::move(me);
  }
  void ball(cx<player>&, int64_t left) {
    if (left == 0) return sig->one();
    shard::call<&player::ball>(peer, left - 1);
  }
};

// no_spin: the shards sleep as soon as they are idle (spin 0); otherwise the default.
void BM_shard_ping_pong(benchmark::State& state, bool no_spin) {
  shards_options o{.threads = 2};
  if (no_spin) o.spin = duration::zero();
  shards g(o);
  auto sig = std::make_shared<signal>();
  std::vector<actor_own<player>> keep(2);
  std::vector<remote<player>> r(2);
  for (std::size_t i = 0; i < 2; ++i) {
    r[i] = made_on<remote<player>>(g, i, [&, i](context& c) {
      keep[i] = make_actor<&player::init>(c.core(), ret_nop<stop_cause>(), sig);
      return make_remote(keep[i]);
    });
  }
  shard::call<&player::meet>(r[0], r[1], r[0]);
  shard::call<&player::meet>(r[1], r[0], r[1]);
  const int64_t n = bench::shard::shard_round_trips();
  for (auto _ : state) {
    sig->arm(1);
    shard::call<&player::ball>(r[0], 2 * n);  // 2n one-way hops: n round trips
    sig->done.get_future().wait();
  }
  for (std::size_t i = 0; i < 2; ++i) g.on(i, [&, i](context&) { keep[i].reset(); });
  g.stop(stop_cause::stopped());
  g.join();
  bench::per_op(state, n);
}
BENCHMARK_CAPTURE(BM_shard_ping_pong, default, false)
    ->Name("BM_shard_ping_pong/stakker")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_shard_ping_pong, no_spin, true)
    ->Name("BM_shard_ping_pong/stakker/no_spin")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- one shard against a plain epoll_loop ---

// Two actors on one runtime pass a ball `n` times: the same calls, on a shard of a
// one-thread group and on a runtime with an epoll_loop on a thread of the benchmark's own.
struct bouncer {
  actor<bouncer> peer;
  std::shared_ptr<signal> sig;
  static bouncer init(cx<bouncer>&, std::shared_ptr<signal> s) { return bouncer{{}, s}; }
  void meet(cx<bouncer>&, actor<bouncer> p) { peer = std::move(p); }
  void ball(cx<bouncer>&, int64_t left) {
    if (left == 0) return sig->one();
    call<&bouncer::ball>(peer, left - 1);
  }
};

// Makes the two bouncers on `c`; `keep` owns them.
actor<bouncer> make_bouncers(core& c, std::vector<actor_own<bouncer>>& keep,
                             std::shared_ptr<signal> sig) {
  keep.push_back(make_actor<&bouncer::init>(c, ret_nop<stop_cause>(), sig));
  keep.push_back(make_actor<&bouncer::init>(c, ret_nop<stop_cause>(), sig));
  call<&bouncer::meet>(keep[0], keep[1].ref());
  call<&bouncer::meet>(keep[1], keep[0].ref());
  return keep[0].ref();
}

void BM_shard_single_shard(benchmark::State& state) {
  shards g({.threads = 1});
  auto sig = std::make_shared<signal>();
  std::vector<actor_own<bouncer>> keep;
  actor<bouncer> first =
      made_on<actor<bouncer>>(g, 0, [&](context& c) { return make_bouncers(c.core(), keep, sig); });
  const int64_t n = bench::size(10'000'000);
  for (auto _ : state) {
    sig->arm(1);
    g.on(0, [&](context&) { call<&bouncer::ball>(first, n); });
    sig->done.get_future().wait();
  }
  g.on(0, [&](context&) { keep.clear(); });
  g.stop(stop_cause::stopped());
  g.join();
  bench::per_op(state, n);
}
BENCHMARK(BM_shard_single_shard)
    ->Name("BM_shard_single/stakker")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_shard_single_epoll_loop(benchmark::State& state) {
  auto sig = std::make_shared<signal>();
  const int64_t n = bench::size(10'000'000);
  std::atomic<bool> stopping{false};
  std::promise<waker_ref> made;
  std::thread t([&] {
    runtime rt;
    loop::epoll_loop lp(rt);
    std::vector<actor_own<bouncer>> keep;
    actor<bouncer> first = make_bouncers(rt, keep, sig);
    // Each wake starts a round, or ends the thread.
    waker w = rt.waker([&](core& c, bool deleted) {
      if (deleted) return;
      if (stopping.load()) return c.shutdown(stop_cause::stopped());
      call<&bouncer::ball>(first, n);
    });
    made.set_value(w.ref());
    lp.run();
  });
  waker_ref start = made.get_future().get();
  for (auto _ : state) {
    sig->arm(1);
    start.wake();
    sig->done.get_future().wait();
  }
  stopping.store(true);
  start.wake();
  t.join();
  bench::per_op(state, n);
}
BENCHMARK(BM_shard_single_epoll_loop)
    ->Name("BM_shard_single/epoll_loop")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- scaling ---

struct hopper {
  std::vector<actor<hopper>> local;  // the actors of this shard (this one included)
  std::vector<remote<hopper>> next;  // the actors of the next shard
  std::shared_ptr<signal> sig;
  std::uint64_t sum = 0;
  static hopper init(cx<hopper>&, std::shared_ptr<signal> s) { return hopper{{}, {}, s, 0}; }
  void hop(cx<hopper>&, int64_t left, std::uint64_t v) {
    v = bench::shard::scaling_work(v);
    if (left == 0) {
      sum += v;
      return sig->one();
    }
    const std::size_t pick = static_cast<std::size_t>(v >> 40);
    if (left % bench::shard::scaling_cross_every() == 0) {
      shard::call<&hopper::hop>(next[pick % next.size()], left - 1, v);
    } else {
      call<&hopper::hop>(local[pick % local.size()], left - 1, v);
    }
  }
};

void BM_shard_scaling(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  shards g({.threads = n});
  auto sig = std::make_shared<signal>();
  const auto per_shard = static_cast<std::size_t>(2 * bench::shard::scaling_actors()) / n;
  std::vector<std::vector<actor_own<hopper>>> keep(n);
  std::vector<std::vector<remote<hopper>>> remotes(n);
  for (std::size_t i = 0; i < n; ++i) {
    remotes[i] = made_on<std::vector<remote<hopper>>>(g, i, [&, i](context& c) {
      std::vector<remote<hopper>> out;
      for (std::size_t k = 0; k < per_shard; ++k) {
        keep[i].push_back(make_actor<&hopper::init>(c.core(), ret_nop<stop_cause>(), sig));
        out.push_back(make_remote(keep[i].back()));
      }
      return out;
    });
  }
  for (std::size_t i = 0; i < n; ++i) {
    made_on<bool>(g, i, [&, i](context& c) {
      std::vector<actor<hopper>> local;
      for (auto& a : keep[i]) local.push_back(a.ref());
      for (auto& a : keep[i]) {
        inspect(c.rt(), a, [&](hopper& h) {
          h.local = local;
          h.next = remotes[(i + 1) % n];
          return true;
        });
      }
      return true;
    });
  }
  const int64_t hops = bench::shard::scaling_hops();
  for (auto _ : state) {
    sig->arm(bench::shard::scaling_total_tokens());
    for (std::size_t i = 0; i < n; ++i) {
      g.on(i, [&, i](context&) {
        std::uint64_t seed = i * 1000;
        for (auto& a : keep[i])
          for (int64_t t = 0; t < bench::shard::scaling_tokens(); ++t)
            call<&hopper::hop>(a, hops, ++seed);
      });
    }
    sig->done.get_future().wait();
  }
  for (std::size_t i = 0; i < n; ++i) g.on(i, [&, i](context&) { keep[i].clear(); });
  g.stop(stop_cause::stopped());
  g.join();
  bench::per_op(state, bench::shard::scaling_total_hops());
}
BENCHMARK(BM_shard_scaling)
    ->Name("BM_shard_scaling/stakker")
    ->ArgName("shards")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
