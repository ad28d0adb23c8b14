// SPDX-License-Identifier: MIT OR Apache-2.0
// A chat client for the server tests: a plain non-blocking loopback socket, pumped by the
// test between turns of the server's loop (everything runs on the test's thread).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "stakker/loop/unique_fd.hpp"

namespace stakker_test {

class line_client {
 public:
  // Connects to 127.0.0.1:port. The connect completes into the listener's backlog, so it
  // returns before the server has accepted. `rcvbuf` (if not 0) is set first: a small one
  // keeps the kernel from absorbing much of what the server sends to a client that never
  // reads.
  explicit line_client(std::uint16_t port, int rcvbuf = 0)
      : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (!fd_) throw std::system_error(errno, std::generic_category(), "socket");
    if (rcvbuf != 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) < 0)
      throw std::system_error(errno, std::generic_category(), "connect");
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  }

  // Queues bytes; pump() sends them as the socket takes them.
  void queue(std::string_view bytes) { out_.append(bytes); }
  std::size_t unsent() const { return out_.size(); }

  // Sends what it can of the queue, then (if `read`) reads everything waiting and splits
  // it into lines. A closed or reset connection sets closed().
  void pump(bool read = true) {
    while (!out_.empty() && !closed_) {
      const ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        out_.erase(0, static_cast<std::size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else if (n < 0 && errno != EINTR) {
        closed_ = true;
      }
    }
    while (read && !closed_) {
      char buf[64 * 1024];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        received_ += static_cast<std::size_t>(n);
        split(std::string_view(buf, static_cast<std::size_t>(n)));
      } else if (n == 0) {
        closed_ = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else if (errno != EINTR) {
        closed_ = true;
      }
    }
  }

  // The server closed (or reset) the connection, as seen by pump().
  bool closed() const { return closed_; }
  // Complete lines received, without their '\n'.
  const std::vector<std::string>& lines() const { return lines_; }
  std::size_t received_bytes() const { return received_; }
  // The id from the server's "HELLO <id>" (0 before it came).
  std::uint64_t id() const {
    if (lines_.empty() || !lines_[0].starts_with("HELLO ")) return 0;
    return std::stoull(lines_[0].substr(6));
  }
  // "FROM <id> " for this client's own messages.
  std::string from_prefix() const { return "FROM " + std::to_string(id()) + ' '; }

  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
  void close() { fd_.reset(); }
  int native_handle() const { return fd_.get(); }

 private:
  void split(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n') {
        lines_.push_back(std::move(partial_));
        partial_.clear();
      } else {
        partial_ += c;
      }
    }
  }

  stakker::loop::unique_fd fd_;
  std::string out_;
  std::string partial_;
  std::vector<std::string> lines_;
  std::size_t received_ = 0;
  bool closed_ = false;
};

}  // namespace stakker_test
