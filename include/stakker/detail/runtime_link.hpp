// SPDX-License-Identifier: MIT OR Apache-2.0
// The part of a runtime that outlives it while handles still point at it.
#pragma once

#include <cstddef>

#include "stakker/detail/block_pool.hpp"

namespace stakker {
class core;
}

namespace stakker::detail {

// Actor blocks, deferrers and shutdown callbacks hold a (non-atomic) count on the link, not
// on the runtime. Once the runtime is destroyed `rt` is null: work deferred through the link
// is destroyed unrun, and blocks freed late still return to the pool they came from.
struct runtime_link {
  core* rt;
  std::size_t refs = 1;  // the runtime's own reference
  block_pool pool;

  explicit runtime_link(core* r) noexcept : rt(r) {}
  void add_ref() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) destroy(this);
  }
  // Out of line: g++ 12 otherwise reports use-after-free where two handles are released in
  // a row (it cannot see that the count keeps the link alive).
  [[gnu::noinline]] static void destroy(runtime_link* l) noexcept { delete l; }
};

}  // namespace stakker::detail
