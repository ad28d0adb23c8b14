// SPDX-License-Identifier: MIT OR Apache-2.0
// byte_budget: a cap on the bytes that many connections hold together.
#pragma once

#include <cstddef>
#include <vector>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"

namespace stakker::loop {

// Counts bytes held by many buffers (all connections' input, say) against one limit. The
// TCP helpers charge it as their buffers fill and give back as they drain (see
// stream_options); other code may use it the same way with take/give. A reader that found
// no room can wait for some: wait() keeps a notifier that is called (with EPOLLIN) once
// bytes are given back. Shared by its users through a std::shared_ptr; the runtime's
// thread only.
class STAKKER_LOOP_EXPORT byte_budget {
 public:
  explicit byte_budget(std::size_t limit) noexcept : limit_(limit) {}
  byte_budget(const byte_budget&) = delete;
  byte_budget& operator=(const byte_budget&) = delete;

  std::size_t limit() const noexcept { return limit_; }
  std::size_t used() const noexcept { return used_; }
  // What may still be taken (0 when over the limit).
  std::size_t available() const noexcept { return used_ < limit_ ? limit_ - used_ : 0; }

  // Takes `n` bytes if they fit under the limit; false (nothing taken) otherwise.
  bool try_take(std::size_t n) noexcept {
    if (n > available()) return false;
    used_ += n;
    return true;
  }
  // Takes `n` bytes even past the limit (a write that must not fail, say).
  void force_take(std::size_t n) noexcept { used_ += n; }
  // Gives back `n` bytes taken earlier; wakes the waiting readers if any room was made.
  // Throws std::logic_error if more is given back than was taken.
  void give(std::size_t n);
  // Asks for `ready(EPOLLIN)` once bytes are given back (once; wait again if still short).
  void wait(fd_notifier ready);
  std::size_t waiting() const noexcept { return waiting_.size(); }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
  std::vector<fd_notifier> waiting_;
};

}  // namespace stakker::loop
