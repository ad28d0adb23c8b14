// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: Asio's io_context (one thread), the queue most C++ programs already have.
// Self-call and ping-pong as chains of asio::post; handlers allocate through Asio's
// recycling allocator, as Asio's own docs recommend nothing more for this.
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <cstdint>

#include "../bench_support.hpp"

namespace {

struct ticker {
  asio::io_context* io;
  std::int64_t count = 0;
  void tick(std::int64_t n) {
    ++count;
    if (n > 0) asio::post(*io, [this, n] { tick(n - 1); });
  }
};

void peer_asio_self_call(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  asio::io_context io(1);
  ticker t{&io};
  for (auto _ : state) {
    t.tick(n - 1);
    io.restart();
    io.run();
  }
  if (t.count != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong count");
  bench::per_op(state, n);
}
BENCHMARK(peer_asio_self_call)->Apply(bench::savina);

struct player {
  asio::io_context* io;
  player* peer = nullptr;
  std::int64_t received = 0;
  void ball(std::int64_t n) {
    ++received;
    if (n > 0) asio::post(*io, [p = peer, n] { p->ball(n - 1); });
  }
};

void peer_asio_ping_pong(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  asio::io_context io(1);
  player a{&io}, b{&io};
  a.peer = &b;
  b.peer = &a;
  for (auto _ : state) {
    a.ball(n - 1);
    io.restart();
    io.run();
  }
  if (a.received + b.received != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong count");
  bench::per_op(state, n);
}
BENCHMARK(peer_asio_ping_pong)->Apply(bench::savina);

}  // namespace
