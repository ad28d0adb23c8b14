// SPDX-License-Identifier: MIT OR Apache-2.0
// A test's HTTP client for the metrics endpoint: a plain socket whose responses are awaited
// while the test drives the endpoint's loop on the same thread, and a blocking GET for
// servers on other threads or processes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "stakker/loop/epoll_loop.hpp"
#include "stakker/loop/unique_fd.hpp"
#include "stakker/time.hpp"

namespace observe_test {

using namespace std::chrono_literals;

struct response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Reads one response off the front of `buf` (removing it); none while incomplete. With
// `head_only` (the answer to HEAD) there is no body whatever Content-Length says.
inline std::optional<response> take_response(std::string& buf, bool head_only) {
  const std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  response r;
  std::string_view head(buf.data(), end);
  const std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.1 ") || status_line.size() < 12)
    throw std::runtime_error("bad status line: " + std::string(status_line));
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  for (std::size_t at = line_end == std::string_view::npos ? head.size() : line_end + 2;
       at < head.size();) {
    std::size_t next = head.find("\r\n", at);
    if (next == std::string_view::npos) next = head.size();
    const std::string_view line = head.substr(at, next - at);
    const std::size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (value.starts_with(' ')) value.remove_prefix(1);
    r.headers[name] = std::string(value);
    at = next + 2;
  }
  const std::size_t length =
      head_only ? 0 : static_cast<std::size_t>(std::atoll(r.header("content-length").c_str()));
  if (buf.size() < end + 4 + length) return std::nullopt;
  r.body = buf.substr(end + 4, length);
  buf.erase(0, end + 4 + length);
  return r;
}

inline stakker::loop::unique_fd connect_loopback(std::uint16_t port) {
  stakker::loop::unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (!s || ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::system_error(errno, std::generic_category(), "connect");
  return s;
}

// A client of an endpoint whose loop the test turns: connect() completes in the kernel's
// backlog, sends are small enough for the socket buffers, and receiving turns the loop.
class client {
 public:
  explicit client(std::uint16_t port) : fd_(connect_loopback(port)) {}

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::system_error(errno, std::generic_category(), "send");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Ends the sending side (the server sees end-of-stream).
  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
  void close() { fd_.reset(); }

  // Turns `loop` until a whole response came (none if the server closed first, or after
  // `limit`).
  std::optional<response> receive(stakker::loop::epoll_loop& loop, bool head_only = false,
                                  stakker::duration limit = 10s) {
    const auto deadline = stakker::clock::now() + limit;
    for (;;) {
      if (auto r = take_response(buf_, head_only)) return r;
      if (eof_ || stakker::clock::now() > deadline) return std::nullopt;
      loop.turn(1ms);
      pump();
    }
  }
  // Turns `loop` until the server closed the connection (true) or `limit` passed.
  bool closed_by_server(stakker::loop::epoll_loop& loop, stakker::duration limit = 10s) {
    const auto deadline = stakker::clock::now() + limit;
    while (!eof_) {
      if (stakker::clock::now() > deadline) return false;
      loop.turn(1ms);
      pump();
    }
    return true;
  }
  // Turns the loop a few times and says whether any byte arrived meanwhile.
  bool got_bytes(stakker::loop::epoll_loop& loop, int turns = 5) {
    for (int i = 0; i < turns; ++i) {
      loop.turn(1ms);
      pump();
    }
    return !buf_.empty();
  }
  const std::string& received() const noexcept { return buf_; }

 private:
  void pump() {
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        buf_.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
        eof_ = true;  // an end, or a reset
        return;
      } else if (errno != EINTR) {
        return;
      }
    }
  }

  stakker::loop::unique_fd fd_;
  std::string buf_;
  bool eof_ = false;
};

// A blocking HTTP/1.0 GET of 127.0.0.1:`port` `target` (the server closes after the
// response); none if anything fails or takes over 5 s.
inline std::optional<response> blocking_get(std::uint16_t port, const std::string& target) {
  try {
    stakker::loop::unique_fd s = connect_loopback(port);
    timeval tv{5, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(s.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return std::nullopt;
    std::string buf;
    char chunk[16384];
    for (ssize_t n; (n = ::recv(s.get(), chunk, sizeof chunk, 0)) > 0;)
      buf.append(chunk, static_cast<std::size_t>(n));
    // A server answering HTTP/1.0 may send no Content-Length: the body runs to the end.
    const std::size_t end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    std::string head = buf.substr(0, end + 4);
    std::string copy = head;
    // Status line "HTTP/1.x NNN": normalized for take_response.
    if (copy.starts_with("HTTP/1.0 ")) copy.replace(0, 8, "HTTP/1.1");
    auto r = take_response(copy, true);
    if (r) r->body = buf.substr(end + 4);
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace observe_test
