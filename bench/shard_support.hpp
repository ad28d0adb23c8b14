// SPDX-License-Identifier: MIT OR Apache-2.0
// The cross-shard workloads, shared by stakker's shards (shard_bench.cpp), CAF with two
// workers (peers/caf_shard_bench.cpp) and two Asio io_contexts on two threads
// (peers/asio_shard_bench.cpp). Times are wall-clock: the work runs on two threads.
//
// - BM_shard_throughput/<impl>: a sender on thread A sends shard_messages() messages, each
//   carrying its sequence number, to a receiver on thread B, which checks the order; the
//   iteration ends when B has the last one. The sender sends in batches of shard_batch()
//   from one event (one run of a runtime, one handler, one message handler), then yields to
//   its own loop, as a busy component would. ns_per_op is per message.
// - BM_shard_ping_pong/<impl>: one message goes A → B → A, shard_round_trips() times in a
//   row; ns_per_op is per round trip.
// - BM_shard_scaling/<impl>/shards:S: S threads, each with scaling_actors() counting actors;
//   every actor starts scaling_tokens() tokens, and each token makes scaling_hops() hops
//   from actor to actor, one hop in 100 to an actor on the next thread (with S = 1, through
//   the same cross-thread path to its own thread). A hop does a little work (a few
//   multiply-adds). The total work is the same for every S, so S = 2 against S = 1 is the
//   speed-up (our goal on 2 cores: at least 1.8).
#pragma once

#include <atomic>
#include <cstdint>
#include <future>

#include "bench_support.hpp"

namespace bench::shard {

inline std::int64_t shard_messages() { return bench::size(2'000'000); }
inline constexpr std::int64_t shard_batch() { return 1000; }
inline std::int64_t shard_round_trips() { return bench::size(100'000); }

inline constexpr std::int64_t scaling_actors() { return 64; }
inline constexpr std::int64_t scaling_tokens() { return 4; }
inline std::int64_t scaling_hops() { return bench::smoke() ? 100 : 20'000; }
// A token's next hop goes to another thread once in this many hops.
inline constexpr std::int64_t scaling_cross_every() { return 100; }
// Every hop's work: a short dependent chain, so that the hop is not only messaging.
inline std::uint64_t scaling_work(std::uint64_t v) {
  for (int i = 0; i < 16; ++i) v = v * 6364136223846793005ULL + 1442695040888963407ULL;
  return v;
}
// Tokens over all threads, and the hops they make together (fixed whatever the thread count).
inline std::int64_t scaling_total_tokens() { return 2 * scaling_actors() * scaling_tokens(); }
inline std::int64_t scaling_total_hops() { return scaling_total_tokens() * scaling_hops(); }

// Tells the benchmark thread that `n` things have happened (on any threads): arm(n), then
// one() from each, and wait on `done`. Shared by every implementation's workloads.
struct done_signal {
  std::atomic<std::int64_t> left{0};
  std::promise<void> done;
  void arm(std::int64_t n) {
    left.store(n);
    done = std::promise<void>();
  }
  void one() {
    if (left.fetch_sub(1) == 1) done.set_value();
  }
};

}  // namespace bench::shard
