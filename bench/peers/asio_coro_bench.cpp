// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: Asio's C++20 coroutines (asio::awaitable, co_spawn) on a one-thread io_context, the
// same workloads as coro_bench.cpp under the same names. Written as Asio's docs show:
// co_spawn with a completion handler, asynchronous operations through async_initiate,
// channels for streams, awaitable_operators for when_all. Frames and handlers allocate
// through Asio's per-thread recycling allocator, as usual.
#include <benchmark/benchmark.h>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/channel.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <tuple>

#include "../bench_support.hpp"

namespace {

asio::awaitable<int> trivial(int v) { co_return v; }

// The expected sum of the values 0..n-1 taken modulo 1000 (as in coro_bench.cpp).
std::int64_t mod_sum(std::int64_t n) {
  const std::int64_t full = n / 1000, rest = n % 1000;
  return full * (999 * 1000 / 2) + rest * (rest - 1) / 2;
}

// --- (1) spawn + complete: `batch` co_spawns with a completion handler, then one run.

void coro_spawn_asio(benchmark::State& state) {
  const std::int64_t total = bench::size(1'000'000);
  const std::int64_t batch = std::min<std::int64_t>(state.range(0), total);
  const std::int64_t rounds = total / batch;
  asio::io_context io(1);
  std::int64_t sum = 0, count = 0, expect = 0;
  for (auto _ : state) {
    for (std::int64_t r = 0; r < rounds; ++r) {
      for (std::int64_t i = 0; i < batch; ++i) {
        const int v = static_cast<int>(i);
        expect += v;
        asio::co_spawn(io, trivial(v), [&sum, &count](std::exception_ptr e, int x) {
          if (!e) {
            sum += x;
            ++count;
          }
        });
      }
      io.restart();
      io.run();
    }
  }
  if (sum != expect || count != rounds * batch * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("coro_spawn/asio: wrong sum");
  bench::per_op(state, rounds * batch);
}
BENCHMARK(coro_spawn_asio)
    ->Name("BM_coro_spawn/asio")
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(100)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond);

// --- (2), (3) round trips, n per iteration.

// co_spawns `make(io, n)` (an awaitable<std::int64_t>) once per iteration and runs it to the
// end; checks its sum.
template <class Make>
void run_loop_awaitable(benchmark::State& state, std::int64_t n, std::int64_t expect,
                        const char* what, Make make) {
  asio::io_context io(1);
  std::int64_t wrong = 0;
  for (auto _ : state) {
    std::optional<std::int64_t> got;
    asio::co_spawn(io, make(io, n), [&got](std::exception_ptr e, std::int64_t v) {
      if (!e) got = v;
    });
    io.restart();
    io.run();
    if (got != expect) ++wrong;
  }
  if (wrong != 0) state.SkipWithError(what);
  bench::per_op(state, n);
}

// Plain handlers, no coroutine: the client posts a request, the server's handler posts the
// answer back, whose handler posts the next request (two posts per round trip, as a query's
// call and wake are two queued items).
struct post_client {
  asio::io_context* io;
  std::int64_t left = 0;
  std::int64_t next = 0;
  std::int64_t sum = 0;
  void ask() {
    const int v = static_cast<int>(next++ % 1000);
    asio::post(*io, [this, v] { asio::post(*io, [this, v] { answer(v); }); });
  }
  void answer(int v) {
    sum += v;
    if (--left > 0) ask();
  }
};

void coro_round_trip_asio_post(benchmark::State& state) {
  const std::int64_t n = bench::size(5'000'000);
  asio::io_context io(1);
  post_client c{&io};
  std::int64_t wrong = 0;
  for (auto _ : state) {
    c.left = n;
    c.next = 0;
    c.sum = 0;
    c.ask();
    io.restart();
    io.run();
    if (c.sum != mod_sum(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError("coro_round_trip/asio_post: wrong sum");
  bench::per_op(state, n);
}
BENCHMARK(coro_round_trip_asio_post)
    ->Name("BM_coro_round_trip/asio_post")
    ->Unit(benchmark::kMillisecond);

// A coroutine awaiting an asynchronous operation, written with async_initiate: the request
// is posted to the "server", whose handler completes the operation (Asio resumes the
// awaiting coroutine inside that handler: one post per round trip).
template <class CompletionToken>
auto async_echo(asio::io_context& io, int v, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(int)>(
      [&io](auto handler, int x) {
        asio::post(io, [handler = std::move(handler), x]() mutable { std::move(handler)(x); });
      },
      token, v);
}

asio::awaitable<std::int64_t> async_op_loop(asio::io_context& io, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i)
    sum += co_await async_echo(io, static_cast<int>(i % 1000), asio::use_awaitable);
  co_return sum;
}

void coro_round_trip_asio_async_op(benchmark::State& state) {
  const std::int64_t n = bench::size(5'000'000);
  run_loop_awaitable(state, n, mod_sum(n), "coro_round_trip/asio_async_op: wrong sum",
                     &async_op_loop);
}
BENCHMARK(coro_round_trip_asio_async_op)
    ->Name("BM_coro_round_trip/asio_async_op")
    ->Unit(benchmark::kMillisecond);

// A nested awaitable<int> awaited n times inside one co_spawn.
asio::awaitable<std::int64_t> nested_loop(asio::io_context&, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await trivial(static_cast<int>(i % 1000));
  co_return sum;
}

void coro_round_trip_asio_awaitable(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  run_loop_awaitable(state, n, mod_sum(n), "coro_round_trip/asio_awaitable: wrong sum",
                     &nested_loop);
}
BENCHMARK(coro_round_trip_asio_awaitable)
    ->Name("BM_coro_round_trip/asio_awaitable")
    ->Unit(benchmark::kMillisecond);

// --- (4) streams: an experimental::channel from a producer to a reading coroutine.

using int_channel = asio::experimental::channel<void(asio::error_code, int)>;

asio::awaitable<std::int64_t> sum_channel(int_channel& ch) {
  std::int64_t sum = 0;
  for (;;) {
    auto [ec, v] = co_await ch.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) break;
    sum += v;
  }
  co_return sum;
}

// Push mode: a buffered channel, the producer (a posted handler) sends everything with
// try_send. Pull mode: an unbuffered channel, a producing coroutine whose every send waits
// for the reader. The end is an eof message (closing an Asio 1.22 channel would discard
// what is still buffered).
asio::awaitable<void> produce_channel(int_channel& ch, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    co_await ch.async_send(asio::error_code{}, static_cast<int>(i % 1000), asio::use_awaitable);
  co_await ch.async_send(asio::error::eof, 0, asio::use_awaitable);
}

template <bool Pull>
void coro_stream_asio(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  asio::io_context io(1);
  std::int64_t wrong = 0;
  for (auto _ : state) {
    int_channel ch(io, Pull ? 0 : static_cast<std::size_t>(n) + 1);
    std::optional<std::int64_t> got;
    asio::co_spawn(io, sum_channel(ch), [&got](std::exception_ptr e, std::int64_t v) {
      if (!e) got = v;
    });
    if constexpr (Pull) {
      asio::co_spawn(io, produce_channel(ch, n), asio::detached);
    } else {
      asio::post(io, [&ch, n] {
        for (std::int64_t i = 0; i < n; ++i) {
          if (!ch.try_send(asio::error_code{}, static_cast<int>(i % 1000))) return;
        }
        ch.try_send(asio::error::eof, 0);
      });
    }
    io.restart();
    io.run();
    if (got != mod_sum(n)) ++wrong;
  }
  if (wrong != 0) state.SkipWithError("coro_stream/asio: wrong sum");
  bench::per_op(state, n);
}
BENCHMARK(coro_stream_asio<false>)->Name("BM_coro_stream/asio_push")->Unit(benchmark::kMillisecond);
BENCHMARK(coro_stream_asio<true>)->Name("BM_coro_stream/asio_pull")->Unit(benchmark::kMillisecond);

// --- (5) when_all of 10 trivial awaitables (awaitable_operators' &&), n times.

asio::awaitable<std::int64_t> when_all_loop(asio::io_context&, std::int64_t n) {
  using namespace asio::experimental::awaitable_operators;
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const int b = static_cast<int>(i % 1000);
    auto [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9] = co_await (
        trivial(b) && trivial(b + 1) && trivial(b + 2) && trivial(b + 3) && trivial(b + 4) &&
        trivial(b + 5) && trivial(b + 6) && trivial(b + 7) && trivial(b + 8) && trivial(b + 9));
    sum += v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9;
  }
  co_return sum;
}

std::int64_t when_all_expect(std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += 10 * (i % 1000) + 45;
  return sum;
}

void coro_when_all_asio(benchmark::State& state) {
  const std::int64_t n = bench::size(20'000);
  run_loop_awaitable(state, n, when_all_expect(n), "coro_when_all/asio: wrong sum", &when_all_loop);
}
BENCHMARK(coro_when_all_asio)->Name("BM_coro_when_all/asio")->Unit(benchmark::kMillisecond);

}  // namespace
