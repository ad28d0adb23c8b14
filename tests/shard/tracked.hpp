// SPDX-License-Identifier: MIT OR Apache-2.0
// tracked: counts its live copies from any thread (testing::counted is single-threaded), for
// the cross-thread tests of the inbox and the shards.
#pragma once

#include <atomic>

namespace stakker::test {

struct tracked {
  std::atomic<long>* live;
  explicit tracked(std::atomic<long>& n) noexcept : live(&n) { live->fetch_add(1); }
  tracked(const tracked& o) noexcept : live(o.live) { live->fetch_add(1); }
  tracked(tracked&& o) noexcept : live(o.live) { live->fetch_add(1); }
  ~tracked() { live->fetch_sub(1); }
};

}  // namespace stakker::test
