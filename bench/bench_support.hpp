// Shared helpers for the benchmarks: workload sizes and per-operation counters.
#pragma once

#include <benchmark/benchmark.h>

#include <sys/wait.h>
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

// Runs `f()` in a forked child and returns its result (-1 if the child failed), so that a
// memory measurement starts from a heap that no earlier benchmark has grown.
template <class F>
std::int64_t in_child(F f) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::int64_t v = f();
    ssize_t w = write(fds[1], &v, sizeof v);
    _exit(w == static_cast<ssize_t>(sizeof v) ? 0 : 1);
  }
  close(fds[1]);
  std::int64_t v = -1;
  if (pid < 0 || read(fds[0], &v, sizeof v) != static_cast<ssize_t>(sizeof v)) v = -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  return v;
}

}  // namespace bench
