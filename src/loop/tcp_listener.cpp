#include "stakker/loop/tcp_listener.hpp"

#include <sys/epoll.h>

#include "sys.hpp"

namespace stakker::loop {

tcp_listener tcp_listener::bind(epoll_loop& loop, const socket_address& at,
                                fwd<std::uint32_t> ready, int priority, int backlog) {
  unique_fd s = sys::make_socket(at, SOCK_STREAM);
  const int on = 1;
  if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
    sys::throw_errno("setsockopt(SO_REUSEADDR)");
  sys::bind_to(s.get(), at, "stakker::loop::tcp_listener");
  if (::listen(s.get(), backlog) < 0)
    sys::throw_errno("stakker::loop::tcp_listener: listen on " + at.to_string());
  tcp_listener l;
  l.socket_ = detail::registered_socket(loop, std::move(s), EPOLLIN, priority, std::move(ready));
  return l;
}

accepted tcp_listener::accept() {
  accepted a;
  sockaddr_storage st{};
  for (;;) {
    socklen_t len = sizeof st;
    const int fd = ::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&st), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      a.socket.reset(fd);
      a.peer = socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len);
      return a;
    }
    // Aborted connections are gone: take the next one. Errors the accept(2) page says to
    // treat like EAGAIN (pending network errors on the new socket) are retried too.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (!sys::would_block(errno)) a.error = sys::errno_code(errno);
    return a;
  }
}

socket_address tcp_listener::local_address() const { return sys::local_address_of(socket_.get()); }

void tcp_listener::close() noexcept { socket_.reset(); }

}  // namespace stakker::loop
