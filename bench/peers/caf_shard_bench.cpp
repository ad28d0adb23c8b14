// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: CAF 0.17 with as many worker threads as our shards (scheduler.max-threads), on the
// workloads of ../shard_bench.cpp (../shard_support.hpp). CAF places actors on workers by
// itself (work stealing), so "the other thread" is CAF's choice; the traffic pattern (who
// sends to whom, one hop in 100 to the other partition) is the same.
#include <benchmark/benchmark.h>
#include <caf/all.hpp>

#include <cstdint>
#include <vector>

#include "../shard_support.hpp"
#include "caf_support.hpp"

namespace {

using namespace caf;
using namespace bench::caf_peer;
using std::int64_t;

using seq_atom = atom_constant<atom("seq")>;
using go_atom = atom_constant<atom("go")>;
using hop_atom = atom_constant<atom("hop")>;
using peers_atom = atom_constant<atom("peers")>;

// --- throughput: the sender sends a batch, then itself a `go` for the next one.
behavior receiver(event_based_actor* self) {
  auto st = std::make_shared<std::array<int64_t, 4>>();  // next, bad, expected, unused
  auto reply_to = std::make_shared<actor>();
  return {
      [=](start_atom, actor to, int64_t n) {
        (*st)[0] = 0;
        (*st)[1] = 0;
        (*st)[2] = n;
        *reply_to = to;
      },
      [=](seq_atom, int64_t seq) {
        (*st)[1] += seq != (*st)[0];
        if (++(*st)[0] == (*st)[2]) self->send(*reply_to, done_atom::value, (*st)[1]);
      },
  };
}

behavior sender(event_based_actor* self, actor to) {
  auto st = std::make_shared<std::array<int64_t, 2>>();  // sent, total
  return {
      [=](go_atom) {
        const int64_t end = std::min((*st)[1], (*st)[0] + bench::shard::shard_batch());
        while ((*st)[0] < end) self->send(to, seq_atom::value, (*st)[0]++);
        if ((*st)[0] < (*st)[1]) self->send(self, go_atom::value);
      },
      [=](start_atom, int64_t n) {
        (*st)[0] = 0;
        (*st)[1] = n;
        self->send(self, go_atom::value);
      },
  };
}

void peer_caf_shard_throughput(benchmark::State& state) {
  caf_system s(std::size_t{2});
  scoped_actor self{s.sys};
  actor r = s.sys.spawn(receiver);
  actor snd = s.sys.spawn(sender, r);
  const int64_t n = bench::shard::shard_messages();
  for (auto _ : state) {
    state.PauseTiming();
    self->send(r, start_atom::value, actor_cast<actor>(self), n);
    state.ResumeTiming();
    self->send(snd, start_atom::value, n);
    if (wait_done(self, state) != 0) state.SkipWithError("messages out of order");
  }
  stop_all({r, snd});
  bench::per_op(state, n);
}
BENCHMARK(peer_caf_shard_throughput)
    ->Name("BM_shard_throughput/caf")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- ping-pong between two actors.
behavior player(event_based_actor* self) {
  auto peer = std::make_shared<actor>();
  auto reply_to = std::make_shared<actor>();
  return {
      [=](peers_atom, actor p, actor to) {
        *peer = p;
        *reply_to = to;
      },
      [=](ball_atom, int64_t left) {
        if (left == 0) {
          self->send(*reply_to, done_atom::value, int64_t{0});
          return;
        }
        self->send(*peer, ball_atom::value, left - 1);
      },
  };
}

void peer_caf_shard_ping_pong(benchmark::State& state) {
  caf_system s(std::size_t{2});
  scoped_actor self{s.sys};
  actor a = s.sys.spawn(player);
  actor b = s.sys.spawn(player);
  self->send(a, peers_atom::value, b, actor_cast<actor>(self));
  self->send(b, peers_atom::value, a, actor_cast<actor>(self));
  const int64_t n = bench::shard::shard_round_trips();
  for (auto _ : state) {
    self->send(a, ball_atom::value, 2 * n);
    wait_done(self, state);
  }
  stop_all({a, b});
  bench::per_op(state, n);
}
BENCHMARK(peer_caf_shard_ping_pong)
    ->Name("BM_shard_ping_pong/caf")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- scaling: hoppers in partitions; one hop in 100 goes to the next partition.
struct hop_state {
  std::vector<actor> local;
  std::vector<actor> next;
  actor reply_to;
  std::uint64_t sum = 0;
};

behavior hopper(stateful_actor<hop_state>* self) {
  return {
      [=](peers_atom, std::vector<actor> local, std::vector<actor> next, actor to) {
        self->state.local = std::move(local);
        self->state.next = std::move(next);
        self->state.reply_to = to;
      },
      [=](hop_atom, int64_t left, std::uint64_t v) {
        v = bench::shard::scaling_work(v);
        if (left == 0) {
          self->state.sum += v;
          self->send(self->state.reply_to, done_atom::value, int64_t{1});
          return;
        }
        const std::size_t pick = static_cast<std::size_t>(v >> 40);
        auto& to =
            left % bench::shard::scaling_cross_every() == 0 ? self->state.next : self->state.local;
        self->send(to[pick % to.size()], hop_atom::value, left - 1, v);
      },
  };
}

void peer_caf_shard_scaling(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  caf_system s(n);
  scoped_actor self{s.sys};
  const auto per = static_cast<std::size_t>(2 * bench::shard::scaling_actors()) / n;
  std::vector<std::vector<actor>> parts(n);
  std::vector<actor> all;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < per; ++k) {
      parts[i].push_back(s.sys.spawn(hopper));
      all.push_back(parts[i].back());
    }
  for (std::size_t i = 0; i < n; ++i)
    for (auto& a : parts[i])
      self->send(a, peers_atom::value, parts[i], parts[(i + 1) % n], actor_cast<actor>(self));
  const int64_t hops = bench::shard::scaling_hops();
  for (auto _ : state) {
    std::uint64_t seed = 0;
    for (auto& a : all)
      for (int64_t t = 0; t < bench::shard::scaling_tokens(); ++t)
        self->send(a, hop_atom::value, hops, ++seed);
    for (int64_t t = 0; t < bench::shard::scaling_total_tokens(); ++t) wait_done(self, state);
  }
  stop_all(all);
  bench::per_op(state, bench::shard::scaling_total_hops());
}
BENCHMARK(peer_caf_shard_scaling)
    ->Name("BM_shard_scaling/caf")
    ->ArgName("shards")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
