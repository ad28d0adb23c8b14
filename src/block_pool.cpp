// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/detail/block_pool.hpp"

namespace stakker::detail {

block_pool::~block_pool() {
  for (void* p : pages_) ::operator delete(p, std::align_val_t(granule));
}

void* block_pool::carve(std::size_t bytes) {
  if (static_cast<std::size_t>(bump_end_ - bump_) < bytes) {
    // The tail of the old page is abandoned (less than one block).
    pages_.reserve(pages_.size() + 1);
    void* page = ::operator new(page_bytes, std::align_val_t(granule));
    pages_.push_back(page);
    bump_ = static_cast<std::byte*>(page);
    bump_end_ = bump_ + page_bytes;
  }
  void* p = bump_;
  bump_ += bytes;
  return p;
}

}  // namespace stakker::detail
