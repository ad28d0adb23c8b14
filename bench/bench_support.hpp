// Shared helpers for the benchmarks: workload sizes and per-operation counters.
#pragma once

#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdint>
#include <cstdio>

namespace bench {

// Set by --smoke: every workload runs once at a tiny size (CI proves it runs).
inline bool smoke = false;

inline std::int64_t size(std::int64_t full) { return smoke ? 1000 : full; }

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
// heap pages freed by earlier benchmarks cannot absorb the growth being measured.
// `memory_workloads` maps a flag value to a function returning bytes of RSS growth.
using memory_workload = std::int64_t (*)(std::int64_t n);
memory_workload find_memory_workload(const char* name);

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
