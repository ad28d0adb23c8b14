// SPDX-License-Identifier: MIT OR Apache-2.0
// The cross-thread delivery workloads, shared by every queue measured: the stakker
// channel (sync_bench.cpp), a mutex + condition variable queue and asio::post (peers/). Each
// queue only supplies a consumer thread and a way to send; the producers, the messages, the
// checks and the timing below are the same code for all of them.
//
// Throughput (BM_cross_thread_throughput/<queue>/producers:P): each iteration starts P
// producer threads which together send throughput_messages() messages (that total split
// evenly between them, so ns_per_op is per message whatever P is); a message carries its
// producer's id and its sequence number, and the consumer checks that every producer's
// messages arrive complete and in order. The iteration ends when the consumer has the last
// one. Starting the threads is inside the timing (the same for every queue; tens of
// microseconds against tens of milliseconds).
//
// One-way latency (BM_cross_thread_latency/<queue>/gap_us:G): one producer thread sends a
// steady_clock timestamp, then waits (spinning on an atomic) until the consumer has
// acknowledged it, then spins G microseconds more before sending the next one. The consumer
// records receive time - send time; the counters p50_ns and p99_ns are over every message
// of the run, and ns_per_op is the whole period (send, delivery, acknowledgement, gap).
// With G = 0 the next message is often sent before the consumer is back asleep (whether it
// is depends on how long each queue takes to get back to its wait, so this mixes hot and
// cold deliveries); with G = 50 the consumer is asleep in its queue's wait every time, so it
// measures the wake-up of an idle consumer, the case latency matters for.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace bench::xt {

// Throughput message: who sent it and where it is in that producer's stream.
struct msg {
  std::uint32_t producer;
  std::uint32_t seq;
};

// Latency message: the send time, steady_clock nanoseconds.
struct stamp {
  std::int64_t sent_ns;
};

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Messages per throughput iteration, in total over all producers.
inline std::int64_t throughput_messages() { return bench::size(1'000'000); }
// Pings per latency iteration.
inline std::int64_t latency_messages() { return bench::size(10'000); }

// How long a round may take before its messages are declared lost.
inline constexpr std::chrono::seconds give_up{30};

// The consumer's side of the throughput workload. start_round runs on the benchmark thread
// while the consumer is idle (before any producer exists); on runs on the consumer thread.
class order_check {
 public:
  using message = msg;

  void start_round(int producers, std::int64_t per_producer) {
    next_.assign(static_cast<std::size_t>(producers), 0);
    per_producer_ = per_producer;
    expected_ = per_producer * producers;
    received_ = 0;
    std::lock_guard<std::mutex> lock(m_);
    done_ = false;
  }

  void on(msg m) {
    if (m.producer >= next_.size()) {
      in_order_ = false;
      return;
    }
    std::uint32_t& next = next_[m.producer];
    if (m.seq != next) in_order_ = false;
    next = m.seq + 1;
    if (++received_ == expected_) {
      {
        std::lock_guard<std::mutex> lock(m_);
        done_ = true;
      }
      cv_.notify_one();
    }
  }

  // Benchmark thread: waits for the round's last message; false if it never came.
  bool wait_round() {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, give_up, [this] { return done_; });
  }

  // After wait_round returned true: every producer's messages arrived, in order.
  bool all_in_order() const {
    if (!in_order_) return false;
    for (std::uint32_t n : next_)
      if (n != static_cast<std::uint32_t>(per_producer_)) return false;
    return true;
  }

 private:
  std::vector<std::uint32_t> next_;  // per producer, the next sequence number expected
  std::int64_t per_producer_ = 0;
  std::int64_t expected_ = 0;
  std::int64_t received_ = 0;
  bool in_order_ = true;
  std::mutex m_;  // round completion only (once per round, not per message)
  std::condition_variable cv_;
  bool done_ = false;
};

// The consumer's side of the latency workload.
class latency_probe {
 public:
  using message = stamp;

  // Benchmark thread, consumer idle.
  void start_round(std::int64_t n) {
    samples_.reserve(samples_.size() + static_cast<std::size_t>(n));
    acked_.store(0, std::memory_order_relaxed);
  }

  // Consumer thread.
  void on(stamp s) {
    samples_.push_back(now_ns() - s.sent_ns);
    acked_.store(acked_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Producer thread: waits until `n` messages were acknowledged; false after give_up.
  bool wait_ack(std::int64_t n) const {
    std::chrono::steady_clock::time_point deadline{};
    for (std::uint32_t spins = 1; acked_.load(std::memory_order_acquire) < n; ++spins) {
      if (spins % 1024 != 0) continue;
      std::this_thread::yield();  // polite on a loaded machine; the consumer is the one timed
      const auto now = std::chrono::steady_clock::now();
      if (deadline == std::chrono::steady_clock::time_point{})
        deadline = now + give_up;
      else if (now > deadline)
        return false;
    }
    return true;
  }

  // After the producer was joined.
  std::vector<std::int64_t>& samples() { return samples_; }

 private:
  std::vector<std::int64_t> samples_;
  std::atomic<std::int64_t> acked_{0};
};

// The throughput workload. `make_sender()` (benchmark thread) returns a callable, moved into
// one producer thread, sending a msg and returning whether it was accepted.
template <class MakeSender>
void throughput(benchmark::State& state, order_check& check, MakeSender make_sender) {
  const auto producers = static_cast<int>(state.range(0));
  const std::int64_t per_producer = throughput_messages() / producers;
  std::atomic<bool> refused{false};
  for (auto _ : state) {
    check.start_round(producers, per_producer);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(producers));
    for (int p = 0; p < producers; ++p)
      pool.emplace_back([&refused, per_producer, id = static_cast<std::uint32_t>(p),
                         send = make_sender()]() mutable {
        for (std::int64_t i = 0; i < per_producer; ++i)
          if (!send(msg{id, static_cast<std::uint32_t>(i)})) refused.store(true);
      });
    for (std::thread& t : pool) t.join();
    if (refused.load()) {
      state.SkipWithError("a send was refused");
      break;
    }
    if (!check.wait_round()) {
      state.SkipWithError("messages lost: the round never completed");
      break;
    }
    if (!check.all_in_order()) {
      state.SkipWithError("messages lost, duplicated or out of order");
      break;
    }
  }
  bench::per_op(state, per_producer * producers);
}

// Busy-waits `d` (a sleep would oversleep by tens of microseconds).
inline void spin_for(std::chrono::nanoseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

// The latency workload, with a sender as for throughput (sending a stamp); state.range(0) is
// the gap in microseconds.
template <class MakeSender>
void latency(benchmark::State& state, latency_probe& probe, MakeSender make_sender) {
  const std::int64_t n = latency_messages();
  const std::chrono::nanoseconds gap = std::chrono::microseconds(state.range(0));
  std::atomic<bool> failed{false};
  for (auto _ : state) {
    probe.start_round(n);
    std::thread producer([&probe, &failed, n, gap, send = make_sender()]() mutable {
      for (std::int64_t i = 0; i < n; ++i) {
        if (!send(stamp{now_ns()}) || !probe.wait_ack(i + 1)) {
          failed.store(true);
          return;
        }
        if (gap.count() != 0) spin_for(gap);
      }
    });
    producer.join();
    if (failed.load()) {
      state.SkipWithError("a ping was refused or never acknowledged");
      break;
    }
  }
  std::vector<std::int64_t>& s = probe.samples();
  if (!s.empty()) {
    std::sort(s.begin(), s.end());
    auto at = [&s](std::size_t permille) {
      return static_cast<double>(s[std::min(s.size() - 1, s.size() * permille / 1000)]);
    };
    state.counters["p50_ns"] = at(500);
    state.counters["p99_ns"] = at(990);
  }
  bench::per_op(state, n);
}

// Registers both workloads for one peer, named BM_cross_thread_{throughput,latency}/<name>.
// `Consumer<Sink>` is built from a Sink& on the benchmark thread and gives `sender()`.
template <template <class> class Consumer>
bool register_peer(const char* name) {
  benchmark::RegisterBenchmark((std::string("BM_cross_thread_throughput/") + name).c_str(),
                               [](benchmark::State& state) {
                                 order_check check;
                                 Consumer<order_check> consumer(check);
                                 throughput(state, check,
                                            [&consumer] { return consumer.sender(); });
                               })
      ->ArgName("producers")
      ->Arg(1)
      ->Arg(4)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark((std::string("BM_cross_thread_latency/") + name).c_str(),
                               [](benchmark::State& state) {
                                 latency_probe probe;
                                 Consumer<latency_probe> consumer(probe);
                                 latency(state, probe, [&consumer] { return consumer.sender(); });
                               })
      ->ArgName("gap_us")
      ->Arg(0)
      ->Arg(50)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  return true;
}

}  // namespace bench::xt
