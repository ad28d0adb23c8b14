// SPDX-License-Identifier: MIT OR Apache-2.0
// Where a model driver's random choices come from: a seeded PRNG (the gtest model tests) or
// the bytes of a fuzz input (the libFuzzer targets). Both have the same interface, so one
// driver, a template over its choices, serves both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace stakker::model {

// The seed of a model test: STAKKER_MODEL_SEED if set (decimal or 0x hex), else `fallback`.
inline std::uint64_t model_seed(std::uint64_t fallback) {
  const char* s = std::getenv("STAKKER_MODEL_SEED");
  if (s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 0);
  return fallback;
}

// How many operations a model test runs: STAKKER_MODEL_OPS if set, else `fallback` (1M in
// the tests: a second or two unoptimised, a few under ASan+UBSan). The memcheck leg sets
// 200k: every phase still runs, where 1M would take minutes under valgrind.
inline long model_ops(long fallback = 1'000'000) {
  const char* s = std::getenv("STAKKER_MODEL_OPS");
  if (s != nullptr && *s != '\0') return std::strtol(s, nullptr, 0);
  return fallback;
}

// splitmix64: the same sequence with every standard library.
struct rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n > 0; the modulo bias is irrelevant here).
  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n));
  }
  // Uniform in [lo, hi].
  std::int64_t in(std::int64_t lo, std::int64_t hi) { return lo + below(hi - lo + 1); }
};

// Choices read from a fuzz input: each takes as few bytes as its range needs (one byte for
// up to 256 outcomes), so that a mutated byte changes one decision. Past the end every
// choice is 0; a driver stops when `exhausted()`.
class fuzz_input {
 public:
  fuzz_input(const std::uint8_t* data, std::size_t size) noexcept : p_(data), end_(data + size) {}

  bool exhausted() const noexcept { return p_ == end_; }

  std::int64_t below(std::int64_t n) {
    std::uint64_t v = 0;
    for (std::uint64_t span = static_cast<std::uint64_t>(n) - 1; span != 0; span >>= 8)
      v = v << 8 | (p_ == end_ ? 0u : *p_++);
    return static_cast<std::int64_t>(v % static_cast<std::uint64_t>(n));
  }
  std::int64_t in(std::int64_t lo, std::int64_t hi) { return lo + below(hi - lo + 1); }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace stakker::model
