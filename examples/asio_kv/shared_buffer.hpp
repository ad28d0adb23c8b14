// shared_buffer: an Asio dynamic buffer over a string it shares ownership of.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "stakker/asio/asio.hpp"

namespace kv {

namespace net = stakker::asio::net;

// A DynamicBuffer_v2 (as net::dynamic_buffer(std::string&, max) gives, with the same
// semantics) that holds a shared_ptr to its string instead of a reference.
//
// Why: Asio's composed reads into a dynamic buffer (async_read_until, async_read) keep a
// copy of the buffer object and resize the string when each step completes, even a step
// cancelled with operation_aborted. A task that awaits such a read with use_task and is
// destroyed meanwhile (its actor stopped) cancels the read but does not wait for that last
// step, which runs later from the runtime's queue; a string owned by the task's frame or by
// the actor's state would be gone by then. The operation's copy of a shared_buffer keeps the
// string alive until the operation has finished with it.
class shared_buffer {
 public:
  using const_buffers_type = net::const_buffer;
  using mutable_buffers_type = net::mutable_buffer;

  shared_buffer(std::shared_ptr<std::string> s, std::size_t max_size) noexcept
      : s_(std::move(s)), max_(max_size) {}

  std::size_t size() const noexcept { return std::min(s_->size(), max_); }
  std::size_t max_size() const noexcept { return max_; }
  std::size_t capacity() const noexcept { return std::min(s_->capacity(), max_); }

  mutable_buffers_type data(std::size_t pos, std::size_t n) noexcept {
    return net::buffer(net::buffer(*s_, max_) + pos, n);
  }
  const_buffers_type data(std::size_t pos, std::size_t n) const noexcept {
    return net::buffer(net::buffer(std::as_const(*s_), max_) + pos, n);
  }

  void grow(std::size_t n) {
    if (size() > max_ || max_ - size() < n) throw std::length_error("kv::shared_buffer too long");
    s_->resize(size() + n);
  }
  void shrink(std::size_t n) { s_->resize(n > size() ? 0 : size() - n); }
  void consume(std::size_t n) { s_->erase(0, n); }

 private:
  std::shared_ptr<std::string> s_;
  std::size_t max_;
};

}  // namespace kv
