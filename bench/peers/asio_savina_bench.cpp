// SPDX-License-Identifier: MIT OR Apache-2.0
// Peer: Asio's io_context (one thread) on three Savina-style workloads: request/response,
// the counting actor, and the thread ring. Each "actor" is a plain object, each message a
// handler queued with asio::post on the one io_context; handlers allocate through Asio's
// recycling allocator, nothing more (as in asio_bench.cpp).
//
// - request/response: the server offers an Asio asynchronous operation, async_get(token),
//   written with asio::async_initiate as Asio's own operations are, so it takes any
//   completion token. The initiation posts the request to the server (one queued handler);
//   the server increments its value and posts the completion, with the value, to the
//   handler's associated executor (a second queued handler), as ours queues the call to the
//   server and then the answer to the client. One op = one round trip (two handlers).
// - counting: from one handler, the producer posts n increments to the counter and then a
//   query, whose handler posts the count back to the producer. One op = one increment.
// - thread ring: 503 objects in a ring; the token starts at object 0 with n hops, each
//   object receiving h > 0 posts h - 1 to the next. One op = one hop (one handler).
//
// Every workload checks a value after the loop (last answer, reported counts, the object
// that ends the ring and the hops taken), so no work can be skipped.
#include <benchmark/benchmark.h>
#include <asio.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "../bench_support.hpp"

namespace {

// (i) request/response.
class rr_server {
 public:
  explicit rr_server(asio::io_context& io) : io_(&io) {}

  // Completes with the server's value after incrementing it: void(std::int64_t).
  template <class CompletionToken>
  auto async_get(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::int64_t)>(
        [this](auto handler) {
          // The request arriving at the server.
          asio::post(*io_, [this, h = std::move(handler)]() mutable {
            const std::int64_t v = ++value_;
            // The response arriving at the client, on the handler's executor.
            auto ex = asio::get_associated_executor(h, io_->get_executor());
            asio::post(ex, [h = std::move(h), v]() mutable { std::move(h)(v); });
          });
        },
        token);
  }

 private:
  asio::io_context* io_;
  std::int64_t value_ = 0;
};

struct rr_client {
  rr_server* srv;
  std::int64_t left = 0;
  std::int64_t last = 0;
  void start(std::int64_t n) {
    left = n;
    ask();
  }
  void ask() {
    srv->async_get([this](std::int64_t v) { answer(v); });
  }
  void answer(std::int64_t v) {
    last = v;
    if (--left > 0) ask();
  }
};

void peer_asio_request_response(benchmark::State& state) {
  const std::int64_t n = bench::size(1'000'000);
  asio::io_context io(1);
  rr_server s(io);
  rr_client c{&s};
  for (auto _ : state) {
    c.start(n);
    io.restart();
    io.run();
  }
  if (c.last != n * static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong answer");
  bench::per_op(state, n);
}
BENCHMARK(peer_asio_request_response)->Apply(bench::savina);

// (ii) counting actor.
struct counter {
  std::int64_t count = 0;
};

struct producer {
  asio::io_context* io;
  counter* c;
  std::int64_t reports = 0;
  std::int64_t wrong = 0;
  void start(std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) asio::post(*io, [c = c] { ++c->count; });
    // The query: the counter reports its count to the producer and starts again from zero.
    asio::post(*io, [this, n] {
      const std::int64_t v = std::exchange(c->count, 0);
      asio::post(*io, [this, n, v] { result(n, v); });
    });
  }
  void result(std::int64_t n, std::int64_t v) {
    ++reports;
    if (v != n) ++wrong;
  }
};

void peer_asio_counting(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  asio::io_context io(1);
  counter c;
  producer p{&io, &c};
  for (auto _ : state) {
    asio::post(io, [&p, n] { p.start(n); });
    io.restart();
    io.run();
  }
  if (p.wrong != 0 || p.reports != static_cast<std::int64_t>(state.iterations()))
    state.SkipWithError("wrong count");
  bench::per_op(state, n);
}
BENCHMARK(peer_asio_counting)->Apply(bench::savina);

// (iii) thread ring.
struct ring_totals {
  std::int64_t hops = 0;
  std::int64_t ends = 0;
  std::int64_t last_end = -1;
};

struct ring_node {
  asio::io_context* io;
  ring_node* next;
  std::int64_t index;
  ring_totals* totals;
  void token(std::int64_t h) {
    if (h > 0) {
      ++totals->hops;
      asio::post(*io, [nx = next, h] { nx->token(h - 1); });
    } else {
      ++totals->ends;
      totals->last_end = index;
    }
  }
};

void peer_asio_thread_ring(benchmark::State& state) {
  const std::int64_t n = bench::size(10'000'000);
  asio::io_context io(1);
  ring_totals totals;
  std::vector<ring_node> ring(static_cast<std::size_t>(bench::thread_ring_size));
  for (std::size_t i = 0; i < ring.size(); ++i)
    ring[i] = ring_node{&io, &ring[(i + 1) % ring.size()], static_cast<std::int64_t>(i), &totals};
  for (auto _ : state) {
    ring[0].token(n);
    io.restart();
    io.run();
  }
  const auto iterations = static_cast<std::int64_t>(state.iterations());
  if (totals.hops != n * iterations || totals.ends != iterations ||
      totals.last_end != bench::thread_ring_finisher(n))
    state.SkipWithError("wrong end of the ring");
  bench::per_op(state, n);
}
BENCHMARK(peer_asio_thread_ring)->Apply(bench::savina);

}  // namespace
