// SPDX-License-Identifier: MIT OR Apache-2.0
// Runs every benchmark; `--smoke` runs each once at a tiny size.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"

int main(int argc, char** argv) {
  // --memory-workload=NAME:N runs one memory workload and prints its RSS growth in bytes.
  constexpr std::string_view memory_flag = "--memory-workload=";
  if (argc == 2 && std::string_view(argv[1]).substr(0, memory_flag.size()) == memory_flag) {
    std::string spec(argv[1] + memory_flag.size());
    auto colon = spec.find(':');
    if (colon == std::string::npos) return 2;
    auto workload = bench::find_memory_workload(spec.substr(0, colon));
    if (workload == nullptr) return 2;
    std::printf("%lld\n", static_cast<long long>(workload(std::stoll(spec.substr(colon + 1)))));
    return 0;
  }
  std::vector<char*> args;
  std::string min_time = "--benchmark_min_time=0.001";
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) continue;  // read by bench::smoke()
    args.push_back(argv[i]);
  }
  if (bench::smoke()) args.push_back(min_time.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
