// SPDX-License-Identifier: MIT OR Apache-2.0
// unique_fd: sole ownership of a POSIX file descriptor.
#pragma once

#include <utility>

#include "stakker/loop/export.hpp"

namespace stakker::loop {

// Closes its descriptor when destroyed or reset. Move-only; -1 means "none".
class STAKKER_LOOP_EXPORT unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the current descriptor (errors from close are ignored: the descriptor is gone
  // either way on Linux) and takes `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace stakker::loop
