// SPDX-License-Identifier: MIT OR Apache-2.0
// Shared helpers for the benchmarks: workload sizes and per-operation counters.
#pragma once

#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace bench {

// True when the command line has --smoke: every workload then runs once at a tiny size (CI
// proves it runs). Read from /proc/self/cmdline, since benchmarks are registered (and some
// read it) before main parses its arguments.
inline bool smoke() {
  static const bool on = [] {
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    std::string arg;
    while (std::getline(f, arg, '\0'))
      if (arg == "--smoke") return true;
    return false;
  }();
  return on;
}

inline std::int64_t size(std::int64_t full) { return smoke() ? 1000 : full; }

// How every Savina workload (ours and each peer's) is registered:
//   BENCHMARK(f)->Apply(bench::savina);
// - Wall-clock time: the peers' work may run on other threads (CAF's workers), so times and
//   the ns_per_op counter are real time for every implementation alike.
// - At least 0.5 s per repetition, whatever --benchmark_min_time says (`tools/dev bench`
//   passes 0.1 s to keep the whole run short): a fresh runtime's first iteration pays page
//   faults for up to 10M queued messages, and this spreads them over several iterations, as
//   CAF's own iterations (longer than 0.5 s) already do. A --smoke run keeps its tiny minimum.
inline void savina(benchmark::internal::Benchmark* b) {
  static const double min_time = smoke() ? 0.001 : 0.5;
  b->MinTime(min_time)->UseRealTime()->Unit(benchmark::kMillisecond);
}

// The Savina workloads' shared definitions, so that every implementation does the same work
// and is checked against the same value.
// Thread ring: the token starts at node 0 with `hops` left, so this node gets it with none.
inline constexpr std::int64_t thread_ring_size = 503;
inline constexpr std::int64_t thread_ring_finisher(std::int64_t hops) {
  return hops % thread_ring_size;
}
// Fork-join: worker i's answer, and the sum of the answers of n workers.
inline constexpr std::int64_t fork_join_answer(std::int64_t i) { return 3 * i + 1; }
inline constexpr std::int64_t fork_join_sum(std::int64_t n) { return 3 * (n * (n - 1) / 2) + n; }

// Reports ns per operation ("ns_per_op") for `ops` operations per iteration.
inline void per_op(benchmark::State& state, std::int64_t ops) {
  state.SetItemsProcessed(state.iterations() * ops);
  state.counters["ns_per_op"] = benchmark::Counter(
      static_cast<double>(ops) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Resident set size of this process in bytes.
inline std::int64_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// Memory workloads run in a fresh process (this program re-executed with a flag), so that
// heap pages freed by earlier benchmarks cannot absorb the growth being measured. A memory
// workload returns the bytes of RSS growth over `n` of something; files register theirs by
// name with a static `memory_workload_registration`.
using memory_workload = std::int64_t (*)(std::int64_t n);

inline std::map<std::string, memory_workload>& memory_workloads() {
  static std::map<std::string, memory_workload> all;
  return all;
}
struct memory_workload_registration {
  memory_workload_registration(const char* name, memory_workload fn) {
    memory_workloads().emplace(name, fn);
  }
};
inline memory_workload find_memory_workload(const std::string& name) {
  auto it = memory_workloads().find(name);
  return it == memory_workloads().end() ? nullptr : it->second;
}

// Runs workload `name` with size `n` in a fresh process; -1 if that failed.
inline std::int64_t in_fresh_process(const char* name, std::int64_t n) {
  char cmd[512];
  std::snprintf(cmd, sizeof cmd, "/proc/%d/exe --memory-workload=%s:%lld",
                static_cast<int>(getpid()), name, static_cast<long long>(n));
  FILE* p = popen(cmd, "r");
  if (p == nullptr) return -1;
  long long v = -1;
  if (std::fscanf(p, "%lld", &v) != 1) v = -1;
  return pclose(p) == 0 ? v : -1;
}

}  // namespace bench
