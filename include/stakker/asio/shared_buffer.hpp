// SPDX-License-Identifier: MIT OR Apache-2.0
// shared_buffer: an Asio dynamic buffer that shares ownership of its storage, for composed
// reads that a dropped task or a stopped actor may abandon.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "stakker/asio/config.hpp"

namespace stakker::asio {

// A DynamicBuffer_v2 with the semantics of `net::dynamic_buffer(container, max_size)`, over a
// container it holds through a shared_ptr instead of a reference.
//
// Why: Asio's composed reads into a dynamic buffer (`async_read_until`, `async_read` with a
// dynamic buffer) keep a copy of the buffer object and resize the container when each step
// completes, the cancelled last step (operation_aborted) included. When a task awaiting such
// a read is destroyed, or the actor whose state holds the container stops, the read is
// cancelled, but that last step still runs afterwards, from the runtime's queue. A container
// in the task's frame or in the actor's state would be gone by then; the operation's copy of
// a shared_buffer keeps it alive until the operation has finished with it. Plain reads and
// writes on sockets (`async_read_some`, `async_write_some`, and `async_read`/`async_write`
// over fixed buffers) do not touch their memory once cancelled and need none of this.
//
// `Container` is std::string or std::vector<char> (or anything with size, capacity, data,
// resize, erase as those have). Copying a shared_buffer copies a shared_ptr.
template <class Container = std::string>
class shared_buffer {
 public:
  using const_buffers_type = net::const_buffer;
  using mutable_buffers_type = net::mutable_buffer;

  explicit shared_buffer(std::shared_ptr<Container> c,
                         std::size_t max_size = static_cast<std::size_t>(-1)) noexcept
      : c_(std::move(c)), max_(max_size) {}

  std::size_t size() const noexcept { return std::min(c_->size(), max_); }
  std::size_t max_size() const noexcept { return max_; }
  std::size_t capacity() const noexcept { return std::min(c_->capacity(), max_); }

  mutable_buffers_type data(std::size_t pos, std::size_t n) noexcept {
    return net::buffer(net::buffer(*c_, max_) + pos, n);
  }
  const_buffers_type data(std::size_t pos, std::size_t n) const noexcept {
    return net::buffer(net::buffer(std::as_const(*c_), max_) + pos, n);
  }
  // Throws std::length_error beyond max_size(), as Asio's dynamic buffers do.
  void grow(std::size_t n) {
    if (size() > max_ || max_ - size() < n)
      throw std::length_error("stakker::asio::shared_buffer: longer than its max_size");
    c_->resize(size() + n);
  }
  void shrink(std::size_t n) { c_->resize(n > size() ? 0 : size() - n); }
  void consume(std::size_t n) {
    c_->erase(c_->begin(), c_->begin() + static_cast<std::ptrdiff_t>(std::min(n, c_->size())));
  }

  const std::shared_ptr<Container>& container() const noexcept { return c_; }

 private:
  std::shared_ptr<Container> c_;
  std::size_t max_;
};

}  // namespace stakker::asio
