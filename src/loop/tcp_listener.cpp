// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/tcp_listener.hpp"

#include <sys/epoll.h>

#include <algorithm>

#include "stakker/core.hpp"
#include "sys.hpp"

namespace stakker::loop {

namespace detail {
// Shared by a listener, its slots and its retry timer, each of which may outlive the
// others (a slot kept by a connection after the listener closed, a retry timer pending
// when the listener goes).
struct listener_state {
  fd_notifier ready;  // the listener's readiness callback
  std::size_t max_connections;
  std::size_t live = 0;
  bool paused = false;  // an accept() was refused at the limit: a released slot wakes it
  duration retry_min, retry_max;
  duration backoff{};  // the current retry delay, zero after a success
  bool retry_armed = false;
};
}  // namespace detail

void connection_slot::release() noexcept {
  if (!state_) return;
  const std::shared_ptr<detail::listener_state> s = std::move(state_);
  state_.reset();
  --s->live;
  if (s->paused && s->live < s->max_connections) {
    s->paused = false;
    try {
      s->ready(EPOLLIN);
    } catch (...) {
      // Out of memory queueing readiness: the next readiness or accept() resumes it.
      s->paused = true;
    }
  }
}

tcp_listener tcp_listener::bind(epoll_loop& loop, const socket_address& at,
                                fwd<std::uint32_t> ready, const listener_options& options) {
  if (options.retry_min <= duration::zero() || options.retry_max < options.retry_min)
    throw std::invalid_argument(
        "stakker::loop::tcp_listener: retry_min must be > 0 and retry_max >= retry_min");
  unique_fd s = sys::make_socket(at, SOCK_STREAM);
  const int on = 1;
  if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
    sys::throw_errno("setsockopt(SO_REUSEADDR)");
  if (options.reuse_port && ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0)
    sys::throw_errno("setsockopt(SO_REUSEPORT)");
  sys::bind_to(s.get(), at, "stakker::loop::tcp_listener");
  if (::listen(s.get(), options.backlog) < 0)
    sys::throw_errno("stakker::loop::tcp_listener: listen on " + at.to_string());
  tcp_listener l;
  l.socket_ =
      detail::registered_socket(loop, std::move(s), EPOLLIN, options.priority, std::move(ready));
  l.state_ = std::make_shared<detail::listener_state>();
  l.state_->ready = l.socket_.source().notifier();
  l.state_->max_connections = options.max_connections;
  l.state_->retry_min = options.retry_min;
  l.state_->retry_max = options.retry_max;
  return l;
}

accepted tcp_listener::accept() {
  accepted a;
  if (!socket_) return a;
  detail::listener_state& st = *state_;
  if (st.live >= st.max_connections) {
    st.paused = true;
    return a;
  }
  sockaddr_storage addr{};
  for (;;) {
    socklen_t len = sizeof addr;
    const int fd = ::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      a.socket.reset(fd);
      a.peer = socket_address::from_native(reinterpret_cast<sockaddr*>(&addr), len);
      st.backoff = duration::zero();
      ++st.live;
      a.slot = connection_slot(state_);
      return a;
    }
    // Aborted connections are gone: take the next one. Errors the accept(2) page says to
    // treat like EAGAIN (pending network errors on the new socket) are retried too.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (sys::would_block(errno)) return a;
    a.error = sys::errno_code(errno);
    break;
  }
  // The connections stay queued and raise no new edge: call `ready` again later.
  st.backoff =
      st.backoff == duration::zero() ? st.retry_min : std::min(st.backoff * 2, st.retry_max);
  if (!st.retry_armed) {
    st.retry_armed = true;
    // The timer holds the state, not the listener: a listener closed meanwhile gets
    // nothing (its notifier is dead), and the state goes with the timer.
    // From the clock, not the runtime's time (which may be a sleep old here).
    socket_.source().loop()->rt().at(saturating_add(clock::now(), st.backoff), [s = state_](core&) {
      s->retry_armed = false;
      s->ready(EPOLLIN);
    });
  }
  return a;
}

std::size_t tcp_listener::connections() const noexcept { return state_ ? state_->live : 0; }

bool tcp_listener::at_limit() const noexcept { return state_ && state_->paused; }

socket_address tcp_listener::local_address() const { return sys::local_address_of(socket_.get()); }

void tcp_listener::close() noexcept {
  socket_.reset();
  if (state_) state_->paused = false;
}

}  // namespace stakker::loop
