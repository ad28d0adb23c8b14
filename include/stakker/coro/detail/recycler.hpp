// SPDX-License-Identifier: MIT OR Apache-2.0
// recycler: the per-thread free lists behind coroutine frames and the bridge's small nodes.
#pragma once

#include <array>
#include <cstddef>
#include <new>

#include "stakker/coro/export.hpp"

namespace stakker::coro::detail {

// Blocks up to `max_block` bytes are rounded up to 16-byte classes and kept on a per-thread
// free list when freed (at most `max_cached_bytes` per class), so a steady state of spawning and
// completing tasks calls malloc only while warming up. g++ 12 never elides frame
// allocations, so this is where a task's cost goes.
//
// Per thread rather than per runtime: a frame may be created before any runtime runs (a
// task made at loop level and then spawned), and every block is an ordinary operator-new
// allocation, so one freed on another thread (a task made on a worker and handed over) is
// simply cached there. The cache is emptied when the thread exits; from then on (a
// runtime with static or thread_local storage destroyed later, whose teardown frees frames
// and may even spawn tasks) blocks go straight to operator new and delete.
class STAKKER_CORO_EXPORT recycler {
 public:
  static constexpr std::size_t granule = 16;
  // Frames of tasks that await Asio operations easily pass 1 KiB with g++ 12.
  static constexpr std::size_t max_block = 4096;
  // Per class: enough for bursts of thousands of live tasks (a smaller cap sent every burst
  // beyond it back to malloc, doubling the cost of spawning 10k at once).
  static constexpr std::size_t max_cached_bytes = std::size_t{1} << 20;

  // The common case inline: one thread-local load, a pop or a push; the rest out of line.
  static void* allocate(std::size_t size) {
    if (size <= max_block) [[likely]] {
      const std::size_t k = (size - 1) / granule;
      if (cache* c = tl_cache) [[likely]] {
        if (node* n = c->free[k]) [[likely]] {
          c->free[k] = n->next;
          ++c->room[k];
          return n;
        }
      }
    }
    return allocate_slow(size);
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    if (size <= max_block) [[likely]] {
      const std::size_t k = (size - 1) / granule;
      if (cache* c = tl_cache) [[likely]] {
        if (c->room[k] != 0) [[likely]] {
          c->free[k] = ::new (p) node{c->free[k]};
          --c->room[k];
          return;
        }
      }
    }
    deallocate_slow(p, size);
  }

 private:
  struct node {
    node* next;
  };
  static constexpr std::size_t classes = max_block / granule;
  struct cache {
    std::array<node*, classes> free{};
    std::array<std::size_t, classes> room{};  // how many more blocks each list may keep
    cache() noexcept {
      for (std::size_t k = 0; k < classes; ++k) room[k] = max_cached_bytes / ((k + 1) * granule);
    }
    ~cache();  // frees every cached block, then clears `tl_cache` and sets `gone`
  };
  // This thread's cache once made, null before and after. Trivially destructible and
  // constant-initialized (so read with no guard), and can be read during any later
  // thread_local or static destructor.
  static inline thread_local cache* tl_cache = nullptr;
  // Set for good once this thread's cache is destroyed (it is not made again).
  static inline thread_local bool gone = false;

  // Makes this thread's cache on first use (unless it is gone), then operator new of the
  // class's size (a block goes back to the list of the class its size rounds to).
  static void* allocate_slow(std::size_t size);
  static cache* make_cache() noexcept;  // null once gone
  static void deallocate_slow(void* p, std::size_t size) noexcept;
};

// Allocates a T through the recycler.
template <class T, class... Args>
T* recycled_new(Args&&... args) {
  void* p = recycler::allocate(sizeof(T));
  try {
    return ::new (p) T(static_cast<Args&&>(args)...);
  } catch (...) {
    recycler::deallocate(p, sizeof(T));
    throw;
  }
}

template <class T>
void recycled_delete(T* p) noexcept {
  p->~T();
  recycler::deallocate(p, sizeof(T));
}

}  // namespace stakker::coro::detail
