// SPDX-License-Identifier: MIT OR Apache-2.0
// io_buffer: the growable byte buffer behind tcp_stream's input and output.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "stakker/loop/export.hpp"

namespace stakker::loop::detail {

// Bytes in [rd_, wr_) are content. Appending compacts or grows (doubling) as needed;
// consuming only moves rd_, so input can be parsed in place and released piecewise.
class STAKKER_LOOP_EXPORT io_buffer {
 public:
  io_buffer() noexcept = default;
  io_buffer(io_buffer&& o) noexcept
      : buf_(std::move(o.buf_)), cap_(o.cap_), rd_(o.rd_), wr_(o.wr_) {
    o.cap_ = o.rd_ = o.wr_ = 0;
  }
  io_buffer& operator=(io_buffer&& o) noexcept {
    if (this != &o) {
      buf_ = std::move(o.buf_);
      cap_ = std::exchange(o.cap_, 0);
      rd_ = std::exchange(o.rd_, 0);
      wr_ = std::exchange(o.wr_, 0);
    }
    return *this;
  }

  std::string_view data() const noexcept { return {buf_.get() + rd_, wr_ - rd_}; }
  std::size_t size() const noexcept { return wr_ - rd_; }
  bool empty() const noexcept { return rd_ == wr_; }
  std::size_t capacity() const noexcept { return cap_; }

  // Drops the first `n` bytes. Throws std::out_of_range if n > size().
  void consume(std::size_t n);
  // Room for at least `min` more bytes at the end, to be filled and then committed.
  std::span<char> prepare(std::size_t min);
  void commit(std::size_t n) noexcept { wr_ += n; }
  void append(std::string_view bytes);
  void clear() noexcept { rd_ = wr_ = 0; }
  // Frees the storage if the buffer is empty.
  void release_if_empty() noexcept;

 private:
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, rd_ = 0, wr_ = 0;
};

}  // namespace stakker::loop::detail
