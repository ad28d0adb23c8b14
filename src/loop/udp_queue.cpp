// SPDX-License-Identifier: MIT OR Apache-2.0
#include "stakker/loop/udp_queue.hpp"

#include <sys/epoll.h>

#include <array>

#include "sys.hpp"

namespace stakker::loop {

namespace {

constexpr std::uint32_t udp_events = EPOLLIN | EPOLLOUT;

// A datagram socket bound to `at`, connected to `peer` if given, and registered.
detail::registered_socket open_udp(epoll_loop& loop, const socket_address& at,
                                   const socket_address* peer, fwd<std::uint32_t> ready,
                                   int priority) {
  unique_fd s = sys::make_socket(at, SOCK_DGRAM);
  sys::bind_to(s.get(), at, "stakker::loop::udp_queue");
  if (peer != nullptr && ::connect(s.get(), peer->native(), peer->native_size()) < 0)
    sys::throw_errno("stakker::loop::udp_queue: connect to " + peer->to_string());
  return detail::registered_socket(loop, std::move(s), udp_events, priority, std::move(ready));
}

}  // namespace

udp_queue udp_queue::bind(epoll_loop& loop, const socket_address& at, fwd<std::uint32_t> ready,
                          int priority) {
  udp_queue q;
  q.socket_ = open_udp(loop, at, nullptr, std::move(ready), priority);
  return q;
}

udp_queue udp_queue::connect(epoll_loop& loop, const socket_address& at, const socket_address& peer,
                             fwd<std::uint32_t> ready, int priority) {
  udp_queue q;
  q.socket_ = open_udp(loop, at, &peer, std::move(ready), priority);
  return q;
}

std::error_code udp_queue::flush() {
  std::error_code first;
  while (!out_.empty()) {
    const datagram& d = out_.front();
    const sockaddr* to = d.peer.empty() ? nullptr : d.peer.native();
    const ssize_t n = ::sendto(socket_.get(), d.data.data(), d.data.size(), MSG_NOSIGNAL, to,
                               d.peer.empty() ? 0 : d.peer.native_size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && sys::would_block(errno)) break;  // EPOLLOUT's edge calls `ready` later
    if (n < 0 && !first) first = sys::errno_code(errno);
    out_.pop_front();  // sent, or rejected and dropped
  }
  return first;
}

namespace {

// Errors that say the call itself is wrong: they would come back on every call.
bool repeats(int err) noexcept {
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL || err == ENOMEM;
}

// A bound on errors in a row (an ICMP error arriving for every datagram sent, say), so
// that a socket reporting errors without end cannot hold the runtime thread.
constexpr int max_errors_in_a_row = 64;

}  // namespace

std::error_code udp_queue::receive(std::vector<datagram>& out, std::size_t max) {
  // 64 KiB holds the largest UDP payload; each datagram is copied out at its own size.
  std::array<char, 65536> buf;
  std::error_code first;
  int errors_in_a_row = 0;
  for (std::size_t got = 0; got < max;) {
    sockaddr_storage st{};
    socklen_t len = sizeof st;
    const ssize_t n = ::recvfrom(socket_.get(), buf.data(), buf.size(), 0,
                                 reinterpret_cast<sockaddr*>(&st), &len);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (sys::would_block(err)) return first;
      // A pending socket error (e.g. ICMP port unreachable for an earlier send) is
      // reported before the datagrams queued behind it, and taken by this call: go on,
      // or they would wait for a readiness edge that never comes.
      if (!first) first = sys::errno_code(err);
      if (repeats(err) || ++errors_in_a_row >= max_errors_in_a_row) return first;
      continue;
    }
    errors_in_a_row = 0;
    out.push_back({socket_address::from_native(reinterpret_cast<sockaddr*>(&st), len),
                   std::string(buf.data(), static_cast<std::size_t>(n))});
    ++got;
  }
  return first;
}

socket_address udp_queue::local_address() const { return sys::local_address_of(socket_.get()); }

void udp_queue::close() noexcept {
  socket_.reset();
  out_.clear();
}

}  // namespace stakker::loop
