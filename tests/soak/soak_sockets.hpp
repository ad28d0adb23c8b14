// SPDX-License-Identifier: MIT OR Apache-2.0
// Plain-socket helpers for the chat soak's client threads (no runtime there: the clients
// must not share the code they test), and the process's resident set size.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace soak {

// A non-blocking socket connecting to 127.0.0.1:port (the connect may still be in
// progress: the server's backlog completes it); -1 if no socket could be made. A small
// `rcvbuf` (if not 0) keeps the kernel from absorbing much for a client that never reads,
// so the server soon holds its backlog.
inline int connect_nonblocking(std::uint16_t port, int rcvbuf = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf != 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) < 0 &&
      errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What a non-blocking send or recv did.
enum class io { progress, would_block, closed };

// Sends the front of `out` (erasing what went).
inline io send_some(int fd, std::string& out) {
  if (out.empty()) return io::would_block;
  const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  if (n > 0) {
    out.erase(0, static_cast<std::size_t>(n));
    return io::progress;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOTCONN))
    return io::would_block;
  return io::closed;
}

// Appends everything waiting to `in`.
inline io recv_all(int fd, std::string& in) {
  io result = io::would_block;
  for (;;) {
    char buf[64 * 1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<std::size_t>(n));
      result = io::progress;
    } else if (n == 0) {
      return io::closed;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOTCONN) {
      return result;
    } else {
      return io::closed;
    }
  }
}

// Closes with SO_LINGER {1, 0}: the server sees a reset, not an end-of-stream.
inline void close_with_reset(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// The resident set size, from /proc/self/statm (pages), in bytes; 0 if unreadable.
inline std::size_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// Bytes the allocator has handed out and not had back (glibc, every arena): against the
// RSS it tells a leak (both grow) from fragmentation (only the RSS grows).
inline std::size_t heap_in_use() {
  const struct mallinfo2 m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace soak
