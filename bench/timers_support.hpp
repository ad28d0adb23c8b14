// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared by the timer workloads (ours and Asio's): the delays, and phase timing.
#pragma once

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <vector>

namespace bench {

inline constexpr std::uint64_t timer_seed = 0x5747'6b6b'6572'0003;

// The workload the target is set for: [1 ms, 10 s), run once at 11 s (virtual time only).
inline constexpr std::chrono::nanoseconds long_lo = std::chrono::milliseconds(1);
inline constexpr std::chrono::nanoseconds long_hi = std::chrono::seconds(10);
inline constexpr std::chrono::nanoseconds long_past = std::chrono::seconds(11);
// The workload shared with Asio, which runs in real time: [1 µs, 10 ms).
inline constexpr std::chrono::nanoseconds short_lo = std::chrono::microseconds(1);
inline constexpr std::chrono::nanoseconds short_hi = std::chrono::milliseconds(10);
inline constexpr std::chrono::nanoseconds short_past = std::chrono::milliseconds(11);

// `n` delays uniform over whole nanoseconds in [lo, hi), the same for every caller.
inline std::vector<std::chrono::steady_clock::duration> timer_delays(std::int64_t n,
                                                                     std::chrono::nanoseconds lo,
                                                                     std::chrono::nanoseconds hi) {
  std::mt19937_64 gen(timer_seed);
  std::uniform_int_distribution<std::int64_t> dist(lo.count(), hi.count() - 1);
  std::vector<std::chrono::steady_clock::duration> v(static_cast<std::size_t>(n));
  for (auto& d : v)
    d = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::nanoseconds(dist(gen)));
  return v;
}

// Accumulates the wall time of up to four phases of each iteration (steady_clock), and
// reports each as ns per operation, plus optionally their sum.
class phase_clock {
 public:
  void start() noexcept { mark_ = std::chrono::steady_clock::now(); }
  // Adds the time since the last start() or lap() to phase `i`.
  void lap(std::size_t i) noexcept {
    auto t = std::chrono::steady_clock::now();
    ns_[i] += std::chrono::duration<double, std::nano>(t - mark_).count();
    mark_ = t;
  }
  void report(benchmark::State& state, std::int64_t ops, std::initializer_list<const char*> names,
              const char* total) const {
    const double per = static_cast<double>(state.iterations()) * static_cast<double>(ops);
    if (per <= 0) return;
    double sum = 0;
    std::size_t i = 0;
    for (const char* name : names) {
      state.counters[name] = ns_[i] / per;
      sum += ns_[i++];
    }
    if (total != nullptr) state.counters[total] = sum / per;
    state.SetItemsProcessed(static_cast<std::int64_t>(per));
  }

 private:
  std::chrono::steady_clock::time_point mark_;
  std::array<double, 4> ns_{};
};

}  // namespace bench
