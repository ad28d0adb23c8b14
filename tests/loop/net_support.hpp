// SPDX-License-Identifier: MIT OR Apache-2.0
// Test helpers for the socket tests: a runtime driven by an epoll_loop with a deadline, and
// reproducible per-stream byte patterns.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/unique_fd.hpp"
#include "stakker/runtime.hpp"
#include "stakker/time.hpp"

// UBSan (in the ASan leg) checks calls on polymorphic objects by probing memory through a
// pipe, which fails while descriptors are short: tests that run out of descriptors skip
// there and run in the other legs.
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_WITHOUT_SPARE_DESCRIPTORS() \
  GTEST_SKIP() << "UBSan needs spare descriptors; run in the plain and clang legs"
#else
#define SKIP_WITHOUT_SPARE_DESCRIPTORS() (void)0
#endif

namespace stakker_test {

// Leaves exactly `spare` descriptors free for the scope: lowers the soft RLIMIT_NOFILE a
// little above the lowest free number and fills the rest with duplicates. end() (or the
// destructor) frees them and restores the limit.
class descriptor_shortage {
 public:
  explicit descriptor_shortage(std::size_t spare = 0) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::dup(0);
    ::close(lowest_free);
    rlimit lower = saved_;
    lower.rlim_cur = static_cast<rlim_t>(lowest_free) + 8;
    ok_ = ::setrlimit(RLIMIT_NOFILE, &lower) == 0;
    for (int fd; ok_ && (fd = ::dup(0)) >= 0;) filler_.emplace_back(fd);
    ok_ = ok_ && filler_.size() > spare;
    if (ok_) filler_.resize(filler_.size() - spare);
  }
  ~descriptor_shortage() { end(); }
  descriptor_shortage(const descriptor_shortage&) = delete;
  descriptor_shortage& operator=(const descriptor_shortage&) = delete;

  bool ok() const { return ok_; }
  void end() {
    filler_.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  rlimit saved_{};
  bool ok_ = false;
  std::vector<stakker::loop::unique_fd> filler_;
};

// A runtime and its loop. Everything registered with the loop (streams, listeners, actors
// holding them) must be gone before the fixture is: declare such things in the test body.
class loop_fixture : public ::testing::Test {
 protected:
  // Turns the loop until `done()` holds; false (and a test failure) if `limit` passes
  // first, so that a bug fails the test instead of hanging it.
  template <class Pred>
  bool drive(Pred done, stakker::duration limit = std::chrono::seconds(20)) {
    const auto deadline = stakker::clock::now() + limit;
    while (!done()) {
      if (stakker::clock::now() > deadline) {
        ADD_FAILURE() << "timed out driving the loop";
        return false;
      }
      loop.turn(std::chrono::milliseconds(50));
    }
    return true;
  }

  // Turns the loop until a zero-wait turn finds nothing to do (at most `max_turns`).
  void settle(int max_turns = 100) {
    for (int i = 0; i < max_turns && loop.turn(stakker::duration::zero()); ++i) {
    }
  }

  stakker::runtime rt;
  stakker::loop::epoll_loop loop{rt};
};

// splitmix64: a good, cheap 64-bit mix.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

// Bytes [offset, offset + n) of the pseudo-random stream `seed`, into `out`.
inline void fill_pattern(std::uint64_t seed, std::size_t offset, char* out, std::size_t n) {
  const std::uint64_t base = mix64(seed);
  std::size_t i = 0;
  while (i < n) {
    const std::size_t pos = offset + i;
    const std::uint64_t word = mix64(base + pos / 8);
    const std::size_t from = pos % 8;
    const std::size_t take = std::min<std::size_t>(8 - from, n - i);
    std::memcpy(out + i, reinterpret_cast<const char*>(&word) + from, take);
    i += take;
  }
}

inline std::string pattern(std::uint64_t seed, std::size_t n, std::size_t offset = 0) {
  std::string s(n, '\0');
  fill_pattern(seed, offset, s.data(), n);
  return s;
}

// Where two byte strings first differ (their common length if one is a prefix).
inline std::size_t first_difference(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  return static_cast<std::size_t>(
      std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first -
      a.begin());
}

}  // namespace stakker_test
