#include "stakker/loop/tcp_stream.hpp"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <stdexcept>

#include "sys.hpp"

namespace stakker::loop {

namespace {
// Registered once for everything: edge-triggered, so writability costs nothing until the
// send buffer has been full.
constexpr std::uint32_t stream_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
// Free space guaranteed before each recv.
constexpr std::size_t read_chunk = 16 * 1024;
// An emptied output buffer up to this size is kept for the next write (no malloc per
// message); a larger one is freed.
constexpr std::size_t keep_output_capacity = 64 * 1024;
}  // namespace

tcp_stream::tcp_stream(epoll_loop& loop, unique_fd socket, fwd<std::uint32_t> ready, int priority)
    : socket_(loop, std::move(socket), stream_events, priority, std::move(ready)) {}

tcp_stream tcp_stream::connect(epoll_loop& loop, const socket_address& to, fwd<std::uint32_t> ready,
                               int priority) {
  unique_fd s = sys::make_socket(to, SOCK_STREAM);
  // A non-blocking connect returns EINPROGRESS; EINTR also leaves it going on.
  const int rc = ::connect(s.get(), to.native(), to.native_size());
  const int err = rc < 0 ? errno : 0;
  tcp_stream stream(loop, std::move(s), std::move(ready), priority);
  // An immediate failure is reported by read/flush; the unconnected socket polls as
  // hung up, so `ready` is called.
  if (err == EINPROGRESS || err == EINTR)
    stream.connecting_ = true;
  else if (err != 0)
    stream.fail(err);
  return stream;
}

void tcp_stream::fail(int err) noexcept {
  if (!error_) error_ = sys::errno_code(err);
  out_.clear();
}

read_result tcp_stream::read(std::uint32_t events) {
  if (!socket_) throw std::logic_error("stakker::loop::tcp_stream::read: stream is closed");
  read_result r;
  if (error_) {
    r.error = error_;
    return r;
  }
  if (eof_) {
    r.eof = true;
    return r;
  }
  // A hang-up may have come with the data: then read on to see the end-of-stream.
  const bool stop_short = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0;
  for (;;) {
    std::span<char> space = in_.prepare(read_chunk);
    const ssize_t n = ::recv(socket_.get(), space.data(), space.size(), 0);
    if (n > 0) {
      in_.commit(static_cast<std::size_t>(n));
      r.bytes += static_cast<std::size_t>(n);
      if (stop_short && static_cast<std::size_t>(n) < space.size()) return r;
    } else if (n == 0) {
      eof_ = r.eof = true;
      return r;
    } else if (errno == EINTR) {
      continue;
    } else if (sys::would_block(errno)) {
      return r;
    } else {
      fail(errno);
      r.error = error_;
      return r;
    }
  }
}

void tcp_stream::write(std::string_view bytes) {
  if (write_closing_) throw std::logic_error("stakker::loop::tcp_stream::write: after close_write");
  if (!error_) out_.append(bytes);
}

std::error_code tcp_stream::flush() {
  if (!socket_) throw std::logic_error("stakker::loop::tcp_stream::flush: stream is closed");
  if (error_) return error_;
  while (!out_.empty()) {
    const std::string_view d = out_.data();
    const ssize_t n = ::send(socket_.get(), d.data(), d.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      connecting_ = false;  // nothing is sent before the handshake is done
      out_.consume(static_cast<std::size_t>(n));
    } else if (errno == EINTR) {
      continue;
    } else if (sys::would_block(errno)) {
      return {};  // EPOLLOUT's edge calls `ready` when there is room
    } else {
      fail(errno);
      return error_;
    }
  }
  if (out_.capacity() > keep_output_capacity) out_.release_if_empty();
  // Nothing sent proves the connection yet: ask the socket, or a failed connect would go
  // unseen by a client that only writes (its readiness edge came once). Costs a
  // getsockopt and a getpeername per flush until the connect is seen to be done.
  if (connecting_ && !connect_done()) return error_;
  if (write_closing_ && !write_closed_) {
    if (::shutdown(socket_.get(), SHUT_WR) < 0) {
      fail(errno);
      return error_;
    }
    write_closed_ = true;
  }
  return {};
}

// Whether the connect finished: false while connecting (the connection's writability then
// calls `ready`), or if the connect failed (then error_, from the socket's pending error).
// A half-close waits for it: shutting down a socket still in its handshake would abort
// the connect (Linux disconnects a socket in SYN_SENT).
bool tcp_stream::connect_done() noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (::getpeername(socket_.get(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) {
      connecting_ = false;
      return true;
    }
    if (errno == ENOTCONN) return false;  // still connecting
    err = errno;
  }
  fail(err);
  return false;
}

std::error_code tcp_stream::close_write() {
  write_closing_ = true;
  return flush();
}

void tcp_stream::set_nodelay(bool on) {
  const int v = on ? 1 : 0;
  if (::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
    sys::throw_errno("setsockopt(TCP_NODELAY)");
}

socket_address tcp_stream::local_address() const { return sys::local_address_of(socket_.get()); }

socket_address tcp_stream::peer_address() const { return sys::peer_address_of(socket_.get()); }

void tcp_stream::close() noexcept {
  socket_.reset();
  in_ = detail::io_buffer();
  out_ = detail::io_buffer();
}

}  // namespace stakker::loop
