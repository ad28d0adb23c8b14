// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/detail/io_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace stakker::loop::detail {

void io_buffer::consume(std::size_t n) {
  if (n > size()) throw std::out_of_range("stakker::loop: consume past the end of the input");
  rd_ += n;
  if (rd_ == wr_) rd_ = wr_ = 0;
}

std::span<char> io_buffer::prepare(std::size_t min) {
  if (cap_ - wr_ < min) {
    const std::size_t used = size();
    if (used + min <= cap_ && rd_ >= used) {
      // Enough room once the content moves to the front, and the move is cheap relative
      // to the space it frees (at least as much consumed as remains).
      std::memmove(buf_.get(), buf_.get() + rd_, used);
    } else {
      const std::size_t cap = std::max({cap_ * 2, used + min, std::size_t{4096}});
      auto grown = std::make_unique_for_overwrite<char[]>(cap);
      if (used != 0) std::memcpy(grown.get(), buf_.get() + rd_, used);
      buf_ = std::move(grown);
      cap_ = cap;
    }
    rd_ = 0;
    wr_ = used;
  }
  return {buf_.get() + wr_, cap_ - wr_};
}

void io_buffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(prepare(bytes.size()).data(), bytes.data(), bytes.size());
  wr_ += bytes.size();
}

void io_buffer::release_if_empty() noexcept {
  if (empty()) {
    buf_.reset();
    cap_ = rd_ = wr_ = 0;
  }
}

}  // namespace stakker::loop::detail
