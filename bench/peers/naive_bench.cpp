// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: the same workloads written the way one would without a runtime like ours: a
// std::deque of std::function closures and std::shared_ptr/std::weak_ptr actor handles.
// It is the baseline measured in the same run (Rust Stakker cannot be built here).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "../bench_support.hpp"

namespace {

struct naive_queue {
  std::deque<std::function<void()>> q;
  void run() {
    while (!q.empty()) {
      auto f = std::move(q.front());
      q.pop_front();
      f();
    }
  }
};

struct ticker : std::enable_shared_from_this<ticker> {
  naive_queue* q;
  std::int64_t count = 0;
  explicit ticker(naive_queue* nq) : q(nq) {}
  void tick(std::int64_t n) {
    ++count;
    if (n > 0)
      q->q.push_back([self = weak_from_this(), n] {
        if (auto s = self.lock()) s->tick(n - 1);
      });
  }
};

void peer_naive_self_call(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  naive_queue q;
  auto t = std::make_shared<ticker>(&q);
  for (auto _ : state) {
    t->tick(n - 1);
    q.run();
  }
  if (t->count != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong count");
  bench::per_op(state, n);
}
BENCHMARK(peer_naive_self_call)->Apply(bench::savina);

struct player {
  naive_queue* q;
  std::weak_ptr<player> peer;
  std::int64_t received = 0;
  void ball(std::int64_t n) {
    ++received;
    if (n > 0)
      q->q.push_back([p = peer, n] {
        if (auto s = p.lock()) s->ball(n - 1);
      });
  }
};

void peer_naive_ping_pong(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  naive_queue q;
  auto a = std::make_shared<player>(player{&q, {}, 0});
  auto b = std::make_shared<player>(player{&q, {}, 0});
  a->peer = b;
  b->peer = a;
  for (auto _ : state) {
    a->ball(n - 1);
    q.run();
  }
  if (a->received + b->received != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong count");
  bench::per_op(state, n);
}
BENCHMARK(peer_naive_ping_pong)->Apply(bench::savina);

struct server {
  std::int64_t value = 0;
  void get(std::function<void(std::int64_t)> reply) { reply(++value); }
};
struct client : std::enable_shared_from_this<client> {
  naive_queue* q;
  std::shared_ptr<server> srv;
  std::int64_t left = 0, last = 0;
  client(naive_queue* nq, std::shared_ptr<server> s) : q(nq), srv(std::move(s)) {}
  void ask() {
    q->q.push_back([s = std::weak_ptr<server>(srv), me = weak_from_this(), nq = q] {
      if (auto sp = s.lock())
        sp->get([me, nq](std::int64_t v) {
          nq->q.push_back([me, v] {
            if (auto c = me.lock()) c->answer(v);
          });
        });
    });
  }
  void answer(std::int64_t v) {
    last = v;
    if (--left > 0) ask();
  }
};

void peer_naive_ret_round_trip(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  naive_queue q;
  auto c = std::make_shared<client>(&q, std::make_shared<server>());
  for (auto _ : state) {
    c->left = n;
    c->ask();
    q.run();
  }
  if (c->last != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong answer");
  bench::per_op(state, n);
}
BENCHMARK(peer_naive_ret_round_trip)->Apply(bench::savina);

struct small {
  std::int64_t v;
  std::function<void()> on_stop;
  ~small() {
    if (on_stop) on_stop();
  }
};

void peer_naive_actor_lifecycle(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  naive_queue q;
  std::vector<std::shared_ptr<small>> actors;
  actors.reserve(static_cast<std::size_t>(n));
  std::int64_t stopped = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n; ++i) {
      auto a = std::make_shared<small>(small{0, {}});
      q.q.push_back([w = std::weak_ptr<small>(a), i, &stopped] {
        if (auto s = w.lock()) {
          s->v = i;
          s->on_stop = [&stopped] { ++stopped; };
        }
      });
      actors.push_back(std::move(a));
    }
    q.run();
    actors.clear();
    q.run();
  }
  if (stopped != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("not every actor stopped");
  bench::per_op(state, n);
}
BENCHMARK(peer_naive_actor_lifecycle)->Apply(bench::savina);

}  // namespace
