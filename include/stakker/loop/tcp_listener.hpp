// SPDX-License-Identifier: MIT OR Apache-2.0
// tcp_listener: a non-blocking listening TCP socket on the epoll_loop.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <system_error>

#include "stakker/fwd.hpp"
#include "stakker/loop/detail/registered_socket.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/export.hpp"
#include "stakker/loop/socket_address.hpp"
#include "stakker/loop/unique_fd.hpp"
#include "stakker/time.hpp"

namespace stakker::loop {

namespace detail {
struct listener_state;
}

// Counts one accepted connection against its listener's max_connections while it lives:
// keep it as long as the connection (tcp_stream takes it with the accepted socket).
// Releasing the last slot over the limit lets the listener accept again: its `ready` is
// called in the loop's next turn. Move-only.
class STAKKER_LOOP_EXPORT connection_slot {
 public:
  connection_slot() noexcept = default;
  connection_slot(connection_slot&&) noexcept = default;
  connection_slot& operator=(connection_slot&& o) noexcept {
    if (this != &o) {
      release();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ~connection_slot() { release(); }
  explicit operator bool() const noexcept { return static_cast<bool>(state_); }
  void release() noexcept;

 private:
  friend class tcp_listener;
  explicit connection_slot(std::shared_ptr<detail::listener_state> s) noexcept
      : state_(std::move(s)) {}
  std::shared_ptr<detail::listener_state> state_;
};

// One tcp_listener::accept outcome: a connection, "none waiting" (no socket, no error), or
// an error such as too_many_files_open (the connection stays queued in the kernel, and the
// listener retries by itself: see listener_options).
struct accepted {
  unique_fd socket;  // non-blocking and close-on-exec
  socket_address peer;
  std::error_code error;
  connection_slot slot;  // counts the connection against max_connections (if set)
};

struct listener_options {
  int priority = 5;  // of the readiness callback (epoll_loop levels 0..10)
  int backlog = SOMAXCONN;
  // After an accept error (out of descriptors or memory: EMFILE, ENFILE, ENOBUFS, ENOMEM,
  // or anything else) the queued connections raise no new edge, so the listener calls
  // `ready` again by itself: first after retry_min, doubling on each further error up to
  // retry_max; an accepted connection resets it.
  duration retry_min = std::chrono::milliseconds(10);
  duration retry_max = std::chrono::seconds(1);
  // At most this many accepted connections alive at once (each counted by its
  // connection_slot). At the limit accept() returns "none waiting" and at_limit() is
  // true: new connections wait in the kernel's backlog (then the kernel's SYN handling)
  // until a slot is released, which calls `ready` again.
  std::size_t max_connections = std::numeric_limits<std::size_t>::max();
  // SO_REUSEPORT, set before binding: several listeners (one per thread, say) may bind the
  // same address if every one of them sets it, and the kernel spreads new connections over
  // them by a hash of the peer's address and port. Linux admits only listeners of the same
  // effective user to the group. Connections still waiting in the backlog of a listener
  // that closes are reset, not moved to the others.
  bool reuse_port = false;
};

// Listens on an address; `ready` is called (edge-triggered, on the runtime thread) when
// connections are waiting. The owner then calls accept() until it returns no socket.
// Destroying the listener deregisters and closes it (a pending retry then calls nothing).
// Move-only. `ready` may close or destroy this listener and may throw, under epoll_loop's
// rules for readiness callbacks.
class STAKKER_LOOP_EXPORT tcp_listener {
 public:
  tcp_listener() noexcept = default;

  // Binds (with SO_REUSEADDR, and SO_REUSEPORT if options.reuse_port; port 0 picks a free
  // port, see local_address) and listens.
  // Throws std::system_error naming the address if that fails, e.g. the port is in use.
  static tcp_listener bind(epoll_loop& loop, const socket_address& at, fwd<std::uint32_t> ready,
                           const listener_options& options);
  static tcp_listener bind(epoll_loop& loop, const socket_address& at, fwd<std::uint32_t> ready,
                           int priority = 5, int backlog = SOMAXCONN) {
    listener_options o;
    o.priority = priority;
    o.backlog = backlog;
    return bind(loop, at, std::move(ready), o);
  }

  // Takes one waiting connection. EINTR and connections aborted before they were taken
  // are retried. An error arms the retry (see listener_options).
  accepted accept();

  // Accepted connections whose slots are alive.
  std::size_t connections() const noexcept;
  // Whether the last accept() found max_connections reached (until a slot is released).
  bool at_limit() const noexcept;
  socket_address local_address() const;
  int native_handle() const noexcept { return socket_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(socket_); }
  void close() noexcept;

 private:
  detail::registered_socket socket_;
  std::shared_ptr<detail::listener_state> state_;
};

}  // namespace stakker::loop
