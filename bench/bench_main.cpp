// Runs every benchmark; `--smoke` runs each once at a tiny size.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "bench_support.hpp"

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string min_time = "--benchmark_min_time=0.001";
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      bench::smoke = true;
      continue;
    }
    args.push_back(argv[i]);
  }
  if (bench::smoke) args.push_back(min_time.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
