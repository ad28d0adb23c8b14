// SPDX-License-Identifier: MIT OR Apache-2.0
// Size-class free lists for the runtime's small fixed-size blocks (actors, prep calls).
#pragma once

#include <array>
#include <cstddef>
#include <new>
#include <vector>

#include "stakker/export.hpp"

namespace stakker::detail {

// Blocks up to `max_block` bytes come from 16-byte size classes carved out of large pages
// and are recycled through per-class free lists: no allocator header per block and no
// call into malloc once warm. Pages are released when the pool is destroyed. Larger or
// over-aligned blocks go to operator new. Not thread-safe: one runtime, one thread.
class STAKKER_EXPORT block_pool {
 public:
  static constexpr std::size_t granule = 16;
  static constexpr std::size_t max_block = 256;
  static constexpr std::size_t page_bytes = 256 * 1024;

  block_pool() = default;
  block_pool(const block_pool&) = delete;
  block_pool& operator=(const block_pool&) = delete;
  ~block_pool();

  static constexpr bool pooled(std::size_t size, std::size_t align) noexcept {
    return size <= max_block && align <= granule;
  }

  // Every block is at least 16-byte aligned (actor handles use the low bits).
  void* allocate(std::size_t size, std::size_t align) {
    if (!pooled(size, align)) return ::operator new(size, std::align_val_t(big_align(align)));
    std::size_t k = (size - 1) / granule;
    if (free_node* n = free_[k]) {
      free_[k] = n->next;
      return n;
    }
    return carve((k + 1) * granule);
  }

  void deallocate(void* p, std::size_t size, std::size_t align) noexcept {
    if (!pooled(size, align)) return ::operator delete(p, std::align_val_t(big_align(align)));
    std::size_t k = (size - 1) / granule;
    free_[k] = ::new (p) free_node{free_[k]};
  }

 private:
  static constexpr std::size_t big_align(std::size_t a) noexcept {
    return a < granule ? granule : a;
  }
  struct free_node {
    free_node* next;
  };
  void* carve(std::size_t bytes);

  std::array<free_node*, max_block / granule> free_{};
  std::byte* bump_ = nullptr;
  std::byte* bump_end_ = nullptr;
  std::vector<void*> pages_;
};

}  // namespace stakker::detail
