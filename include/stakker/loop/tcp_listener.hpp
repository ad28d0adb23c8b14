// tcp_listener: a non-blocking listening TCP socket on the epoll_loop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <system_error>

#include "stakker/fwd.hpp"
#include "stakker/loop/detail/registered_socket.hpp"
#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/socket_address.hpp"
#include "stakker/loop/unique_fd.hpp"

namespace stakker::loop {

// One tcp_listener::accept outcome: a connection, "none waiting" (no socket, no error), or
// an error such as too_many_files_open (the connection stays queued in the kernel).
struct accepted {
  unique_fd socket;  // non-blocking and close-on-exec
  socket_address peer;
  std::error_code error;
};

// Listens on an address; `ready` is called (edge-triggered, on the runtime thread) when
// connections are waiting. The owner then calls accept() until it returns no socket.
// Destroying the listener deregisters and closes it. Move-only. `ready` may close or
// destroy this listener and may throw, under epoll_loop's rules for readiness callbacks.
class tcp_listener {
 public:
  tcp_listener() noexcept = default;

  // Binds (with SO_REUSEADDR; port 0 picks a free port, see local_address) and listens.
  // Throws std::system_error naming the address if that fails, e.g. the port is in use.
  static tcp_listener bind(epoll_loop& loop, const socket_address& at, fwd<std::uint32_t> ready,
                           int priority = 5, int backlog = SOMAXCONN);

  // Takes one waiting connection. EINTR and connections aborted before they were taken
  // are retried.
  accepted accept();

  socket_address local_address() const;
  int native_handle() const noexcept { return socket_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(socket_); }
  void close() noexcept;

 private:
  detail::registered_socket socket_;
};

}  // namespace stakker::loop
