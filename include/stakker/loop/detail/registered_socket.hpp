// SPDX-License-Identifier: MIT OR Apache-2.0
// registered_socket: a socket and its epoll registration, released in the safe order.
#pragma once

#include <cstdint>
#include <utility>

#include "stakker/fwd.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/loop/unique_fd.hpp"

namespace stakker::loop::detail {

// Deregisters before closing, whether destroyed, reset or assigned over, so no readiness
// of the old socket is delivered afterwards.
class STAKKER_LOOP_EXPORT registered_socket {
 public:
  registered_socket() noexcept = default;
  // Throws std::invalid_argument for an empty socket, std::system_error if epoll refuses.
  registered_socket(epoll_loop& loop, unique_fd socket, std::uint32_t events, int priority,
                    fwd<std::uint32_t> ready);
  registered_socket(registered_socket&&) noexcept = default;
  registered_socket& operator=(registered_socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::move(o.fd_);
      source_ = std::move(o.source_);
    }
    return *this;
  }
  ~registered_socket() { reset(); }

  int get() const noexcept { return fd_.get(); }
  const fd_source& source() const noexcept { return source_; }
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
  void reset() noexcept {
    source_.reset();
    fd_.reset();
  }

 private:
  unique_fd fd_;
  fd_source source_;
};

}  // namespace stakker::loop::detail
